"""Rule-based strategies: a fixed price, cost-plus, and reacting to rivals' prices."""

from __future__ import annotations

import math
from collections.abc import Callable
from types import MappingProxyType
from typing import Literal

import numpy as np

from strategies.base import MarketInfo, Observation, Prices, PricingStrategy, percent, require


def _quote(strategy: PricingStrategy, key: tuple, make: Callable[..., Prices], *args: object) -> Prices:
    """The decision `make(*args)` builds, kept while `key` (all it depends on) stays the same: a
    price that does not change is not formatted again every day (a `Prices` is immutable)."""
    kept = getattr(strategy, "_quoted", None)
    if kept is None or kept[0] != key:
        kept = strategy._quoted = (key, make(*args))
    return kept[1]


class Fixed(PricingStrategy):
    """The same price every day.

    price: the posted price.
    """

    kind = "fixed"
    market_blind = True
    aliases = MappingProxyType({"price": "fixed_price"})
    fixed_price: float = 10.0

    def check(self) -> None:
        require(self.fixed_price >= 0, "price", f"must not be negative, got {self.fixed_price}")

    def price(self, obs: Observation) -> Prices:
        return _quote(self, (self.fixed_price,), self._fixed)

    def _fixed(self) -> Prices:
        return Prices(self.fixed_price, reason=f"fixed at {self.fixed_price:.2f}")


class CostPlus(PricingStrategy):
    """Unit cost times (1 + markup), optionally rounded up to a price ending such as .99.

    markup: fraction added to the unit cost (0.5 means cost × 1.5); at least −1.
    ending: if given (0 <= ending < 1), the price is raised to the nearest value at or above it
        that ends in these cents (0.99 turns 30.00 into 30.99 and leaves 29.99 as it is).
    """

    kind = "cost_plus"
    market_blind = True
    markup: float = 0.5
    ending: float | None = None

    def check(self) -> None:
        require(self.markup >= -1, "markup", f"must be at least -1, got {self.markup}")
        require(
            self.ending is None or 0 <= self.ending < 1, "ending", f"must be in [0, 1), got {self.ending}"
        )

    def price(self, obs: Observation) -> Prices:
        return _quote(self, (obs.unit_cost, self.markup, self.ending), self._cost_plus, obs)

    def _cost_plus(self, obs: Observation) -> Prices:
        price = obs.unit_cost * (1 + self.markup)
        reason = f"cost {obs.unit_cost:.2f} + {percent(self.markup)}"
        if self.ending is not None:
            # rounded first, so that float noise (29.99 − 0.99 = 28.99999...) keeps a price's own ending
            price = math.ceil(round(price - self.ending, 6)) + self.ending
            reason += f", ending .{round(self.ending * 100):02d}"
        return Prices(price, reason=reason)


class CompetitorResponse(PricingStrategy):
    """Price against rivals' posted prices of yesterday (or `delay` days earlier).

    target: react to this one rival only (default: all rivals).
    reference: `lowest` or `average` rival price.
    undercut: fraction below the reference (0.02 = 2% cheaper); `premium` is a fraction above.
    undercut_amount: money below the reference, after the fractions.
    floor_markup: never below unit cost × (1 + floor_markup); ceiling: never above this price.
    delay: extra days before reacting to a rival's price (0: react to yesterday's).
    opening_markup: markup over cost while no rival price is known yet (day 0).
    """

    kind = "competitor_response"
    target: str | None = None
    reference: Literal["lowest", "average"] = "lowest"
    undercut: float = 0.0
    premium: float = 0.0
    undercut_amount: float = 0.0
    floor_markup: float = 0.0
    ceiling: float | None = None
    delay: int = 0
    opening_markup: float = 0.5

    def check(self) -> None:
        require(0 <= self.undercut < 1, "undercut", f"must be in [0, 1), got {self.undercut}")
        require(self.premium >= 0, "premium", f"must not be negative, got {self.premium}")
        require(
            self.undercut_amount >= 0, "undercut_amount", f"must not be negative, got {self.undercut_amount}"
        )
        require(self.floor_markup >= -1, "floor_markup", f"must be at least -1, got {self.floor_markup}")
        require(self.delay >= 0, "delay", f"must not be negative, got {self.delay}")
        require(self.ceiling is None or self.ceiling > 0, "ceiling", f"must be positive, got {self.ceiling}")

    def reset(self, info: MarketInfo) -> None:
        if self.target is not None and self.target not in info.rivals:
            raise ValueError(f"target {self.target!r} is not a rival (rivals: {', '.join(info.rivals)})")

    def price(self, obs: Observation) -> Prices:
        floor = obs.unit_cost * (1 + self.floor_markup)
        seen = self._rival_prices(obs)
        if not seen:
            price, reason = obs.unit_cost * (1 + self.opening_markup), "no rival price yet: opening markup"
        else:
            who = self.target or (min(seen, key=seen.get) if self.reference == "lowest" else "rival average")
            reference = seen[who] if who in seen else float(np.mean(list(seen.values())))
            price = reference * (1 - self.undercut + self.premium) - self.undercut_amount
            reason = self._move(f"{who} {reference:.2f}")
            if self.delay:
                reason += f" (seen {self.delay + 1} days ago)"
        if price < floor:
            price, reason = floor, f"{reason}; held at floor {floor:.2f}"
        if self.ceiling is not None and price > self.ceiling:
            price, reason = self.ceiling, f"{reason}; capped at {self.ceiling:.2f}"
        return Prices(price, reason=reason)

    def _rival_prices(self, obs: Observation) -> dict[str, float]:
        rivals, delay, seen = obs.rival_prices, self.delay, {}
        for name in [self.target] if self.target else rivals:
            prices = rivals.get(name)
            if prices is not None and len(prices) > delay:
                seen[name] = float(prices[-1 - delay])
        return seen

    def _move(self, reference: str) -> str:
        """E.g. `undercut big_rival 41.00 by 2%`, `5% above rival average 40.10`."""
        terms = (self.premium, self.undercut, self.undercut_amount)
        kept = getattr(self, "_moves", None)
        if kept is None or kept[0] != terms:  # the words around the reference, once per parameters
            kept = self._moves = (terms, *self._move_words())
        return f"{kept[1]}{reference}{kept[2]}"

    def _move_words(self) -> tuple[str, str]:
        """What `_move` writes before and after the reference."""
        change = self.premium - self.undercut
        if change > 0:
            return f"{percent(change)} above ", (
                f" less {self.undercut_amount:.2f}" if self.undercut_amount else ""
            )
        amounts = [percent(-change)] if change else []
        amounts += [f"{self.undercut_amount:.2f}"] if self.undercut_amount else []
        return ("undercut ", f" by {' and '.join(amounts)}") if amounts else ("match ", "")
