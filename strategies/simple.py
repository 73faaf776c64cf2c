"""Rule-based strategies: a fixed price, cost-plus, and reacting to rivals' prices."""

from __future__ import annotations

import math
from types import MappingProxyType
from typing import Literal

import numpy as np

from strategies.base import Observation, Prices, PricingStrategy


class Fixed(PricingStrategy):
    """The same price every day.

    price: the posted price.
    """

    kind = "fixed"
    aliases = MappingProxyType({"price": "fixed_price"})
    fixed_price: float = 10.0

    def price(self, obs: Observation) -> Prices:
        return Prices(self.fixed_price, reason=f"fixed at {self.fixed_price:.2f}")


class CostPlus(PricingStrategy):
    """Unit cost times (1 + markup), optionally rounded up to a price ending such as .99.

    markup: fraction added to the unit cost (0.5 means cost × 1.5).
    ending: if given, the price is raised to the next value ending in these cents (0.99).
    """

    kind = "cost_plus"
    markup: float = 0.5
    ending: float | None = None

    def price(self, obs: Observation) -> Prices:
        price = obs.unit_cost * (1 + self.markup)
        if self.ending is not None:
            price = math.floor(price - self.ending) + 1 + self.ending
        return Prices(price, reason=f"cost {obs.unit_cost:.2f} + {self.markup:.0%}")


class CompetitorResponse(PricingStrategy):
    """Price against rivals' posted prices of yesterday (or `delay` days earlier).

    reference: `lowest` or `average` rival price (or the one rival named by `target`).
    undercut: fraction below the reference (0.02 = 2% cheaper); `premium` is a fraction above;
    undercut_amount: money below the reference, after the fractions.
    floor_markup: never below unit cost × (1 + floor_markup); ceiling: never above this price.
    delay: extra days before reacting to a rival's price.
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

    def price(self, obs: Observation) -> Prices:
        floor = obs.unit_cost * (1 + self.floor_markup)
        seen = self._rival_prices(obs)
        if not seen:
            return Prices(
                max(floor, obs.unit_cost * (1 + self.opening_markup)),
                reason="no rival price yet",
            )
        who = self.target or (min(seen, key=seen.get) if self.reference == "lowest" else "rivals")
        reference = seen[who] if who in seen else float(np.mean(list(seen.values())))
        price = reference * (1 - self.undercut + self.premium) - self.undercut_amount
        reason = f"{self._move()} {who} {reference:.2f}"
        if price < floor:
            price, reason = floor, f"{reason}; held at floor {floor:.2f}"
        if self.ceiling is not None and price > self.ceiling:
            price, reason = self.ceiling, f"{reason}; capped at {self.ceiling:.2f}"
        return Prices(price, reason=reason)

    def _rival_prices(self, obs: Observation) -> dict[str, float]:
        names = [self.target] if self.target else list(obs.rival_prices)
        return {
            name: float(obs.rival_prices[name][-1 - self.delay])
            for name in names
            if name in obs.rival_prices and len(obs.rival_prices[name]) > self.delay
        }

    def _move(self) -> str:
        change = self.premium - self.undercut
        if change == 0 and self.undercut_amount == 0:
            return "match"
        if change > 0:
            return f"{change:.0%} above"
        amount = f" by {-change:.0%}" if change else ""
        money = f" and {self.undercut_amount:.2f}" if self.undercut_amount else ""
        return f"undercut{amount}{money}"
