"""Promotions: discounts on top of any other strategy, on event days, flash-sale days, or for
new customers."""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping
from types import MappingProxyType
from typing import Any

import numpy as np

import strategies as library  # the registry; read when a promotion is built, not at import
from strategies.base import (
    DayResult,
    MarketInfo,
    Observation,
    ParameterError,
    Prices,
    PricingStrategy,
    percent,
    require,
)


class Promotions(PricingStrategy):
    """Wraps another strategy (`base`) and discounts its prices on promotion days, and gives
    new customers a coupon.

    base: the wrapped strategy as a scenario names it, e.g. {kind: cost_plus, markup: 0.6}.
    event_discount: fraction off every price on the days of public calendar events (0: none).
    events: only these events (names; default: every event on the calendar).
    lead_days: start each event's discount this many days before the event.
    flash_every: a flash sale every this many days (0: none), starting on day `flash_offset`;
        flash_discount: its fraction off.
    coupon_new: fraction of the price off for shoppers who have never bought from this seller.
        The engine knows only new and returning customers (no "lapsed" status), so a win-back
        coupon for customers who stopped buying cannot be expressed.
    Discounts do not add up: on a day that is both, the larger one applies. The wrapped
    strategy learns from the prices actually posted (discounts included). When the wrapped
    strategy prices shoppers one by one (`Prices(personal=...)`, which replaces segment prices
    and coupons), the discount and the new-customer coupon come off each personal price (the
    coupon for the rows of `obs.shoppers` with no purchase yet).
    """

    kind = "promotions"
    base: Mapping[str, Any] = MappingProxyType({"kind": "cost_plus"})
    event_discount: float = 0.2
    events: list[str] | None = None
    lead_days: int = 0
    flash_every: int = 0
    flash_offset: int = 0
    flash_discount: float = 0.1
    coupon_new: float = 0.0

    def check(self) -> None:
        for name in ("event_discount", "flash_discount", "coupon_new"):
            value = getattr(self, name)
            require(0 <= value < 1, name, f"must be a fraction in [0, 1), got {value}")
        for name in ("lead_days", "flash_every", "flash_offset"):
            require(getattr(self, name) >= 0, name, f"must not be negative, got {getattr(self, name)}")
        require(
            self.events is None or all(isinstance(e, str) for e in self.events),
            "events",
            f"must be a list of event names, got {self.events!r}",
        )
        self.inner = self._build_base()

    def _build_base(self) -> PricingStrategy:
        """The wrapped strategy, built now so that a bad `base` is reported with the scenario."""
        spec = dict(self.base)
        kind = spec.pop("kind", None)
        require(isinstance(kind, str), "base", f"needs a `kind`, e.g. {{kind: cost_plus}}, got {self.base!r}")
        try:
            inner = library.build(kind, spec)
        except ParameterError as error:
            raise ParameterError("base", f"{kind}: {error.param}: {error}") from None
        except library.UnknownStrategy as error:
            raise ParameterError("base", str(error)) from None
        require(not inner.uses_hidden_truth, "base", "an oracle benchmark cannot be wrapped")
        return inner

    @property
    def allow_below_cost(self) -> bool:
        """A promotion may go below cost only if the strategy it wraps may (a loss leader)."""
        return self.inner.allow_below_cost

    def reset(self, info: MarketInfo) -> None:
        unknown = sorted(set(self.events or ()) - {event.name for event in info.events})
        if unknown:
            known = ", ".join(sorted({event.name for event in info.events})) or "none"
            raise ValueError(f"events: {', '.join(unknown)} not on the calendar (events: {known})")
        self.calendar = [e for e in info.events if self.events is None or e.name in self.events]
        self.inner.reset(info)

    def price(self, obs: Observation) -> Prices:
        decision = self.inner.price(obs)
        if not isinstance(decision, Prices):
            decision = Prices(float(decision))
        discount, why = self._discount(obs.day)
        coupon = self.coupon_new * decision.base
        if discount:
            decision = dataclasses.replace(
                decision,
                base=decision.base * (1 - discount),
                segments=MappingProxyType({k: v * (1 - discount) for k, v in decision.segments.items()}),
            )
        if decision.personal is not None and (discount or coupon):
            personal = np.asarray(decision.personal, dtype=float) * (1 - discount)
            if coupon:  # a fraction off for shoppers who never bought here, as the coupon below
                personal = personal * np.where(
                    obs.shoppers["purchases"].to_numpy() > 0, 1.0, 1 - self.coupon_new
                )
            decision = dataclasses.replace(decision, personal=personal)
        if coupon:
            decision = dataclasses.replace(
                decision, coupon_new=max(decision.coupon_new, coupon * (1 - discount))
            )
            why.append(f"new-customer coupon {percent(self.coupon_new)}")
        if not why:
            return decision
        inner = f" on {decision.reason}" if decision.reason else ""
        return dataclasses.replace(decision, reason=f"{', '.join(why)}{inner}")

    def _discount(self, day: int) -> tuple[float, list[str]]:
        """Today's discount and its reasons, e.g. `Singles Day −20%`."""
        offers = [
            (self.event_discount, event.name + (" (ahead)" if day < event.first_day else ""))
            for event in self.calendar
            if event.first_day - self.lead_days <= day < event.first_day + event.days
        ]
        if (
            self.flash_every
            and day >= self.flash_offset
            and (day - self.flash_offset) % self.flash_every == 0
        ):
            offers.append((self.flash_discount, "flash sale"))
        offers = [(d, name) for d, name in offers if d > 0]
        if not offers:
            return 0.0, []
        discount, name = max(offers)
        return discount, [f"{name} −{percent(discount)}"]

    def posted(self, prices: Prices) -> None:
        self.inner.posted(prices)

    def observe(self, result: DayResult) -> None:
        self.inner.observe(result)
