"""Pace sales to stock and time left: Gallego & van Ryzin (1994), theory.md §4, in days."""

from __future__ import annotations

import math
from collections.abc import Mapping
from typing import Any

import numpy as np

from strategies.base import DayResult, MarketInfo, Observation, ParameterError, Prices, require
from strategies.learning import DemandCurve, DemandModel, LearningStrategy

# multiply-adds of one dynamic programme beyond which the fluid plan is used: a plan made once
# for a stated demand may take a second, one remade every day for a learned demand a few ms
PLAN_ONCE_BUDGET, PLAN_DAILY_BUDGET = 2e8, 2e6
TAIL = 1e-12  # demand beyond this upper-tail probability is treated as impossible
RECENT_DAYS = 28  # days of traffic that forecast the days left


class InventoryAware(LearningStrategy):
    """Paces sales to stock and days left, in the spirit of Gallego & van Ryzin (theory.md §4):
    it raises the price when stock is scarce for the days remaining and marks down when there
    is more than will sell as the end nears.

    Every morning it plans the rest of the season for its demand model: exactly, by dynamic
    programming over (units left, days left) with Poisson daily demand, when that is small
    enough (days × units × most daily sales × grid ≤ 2·10⁸ for a stated demand, planned once;
    ≤ 2·10⁶ for a learned one, planned anew every day), else by the fluid plan
    (the price at which expected sales over the days left equal the stock; never below the
    price that is best without a stock limit). Units in stock were paid for already, so a sale
    costs nothing more, unless the seller restocks (an order in transit, or stock that rose
    overnight): then a sale costs the unit cost. With unlimited stock it is simply the
    profit-maximising price.

    demand: the seller's own statement of its daily demand, e.g. {model: log_linear, a: 2,
        b: 1} for λ(p) = 2 e^(−p) units a day (`linear`: a − b p, `log_log`: a p^(−b)), say
        from a market study; it is a belief, not hidden truth. None (default): learned from its
        own history per shopper visit, the way demand_response learns (model defaults to
        `log_linear`), times the shoppers expected each day (the recent average for that weekday).
    salvage: what the seller expects for each unit left after the last day.
    grid: prices compared by the dynamic programme (between the best unconstrained price and
        the ceiling).
    allow_below_cost: may mark down below unit cost to clear stock (the guardrails otherwise
        keep every price at or above cost).
    The learning parameters (model, explore, window, start_price, start_markup, warmup,
    explore_width, max_move, floor, ceiling, rivals, bandwidth) are those of demand_response;
    with a stated demand the start price defaults to its best unconstrained price.
    """

    kind = "inventory_aware"
    model: DemandModel = "log_linear"
    demand: Mapping[str, Any] | None = None
    salvage: float = 0.0
    grid: int = 60
    allow_below_cost: bool = False

    def check(self) -> None:
        super().check()
        require(self.salvage >= 0, "salvage", f"must not be negative, got {self.salvage}")
        require(self.grid >= 3, "grid", f"must be at least 3, got {self.grid}")
        self.stated = None if self.demand is None else stated_curve(self.demand)

    def default_start(self, info: MarketInfo) -> float:
        if self.stated is not None:
            return self.stated.best_price(info.unit_cost, 0.0, math.inf) or super().default_start(info)
        return super().default_start(info)

    def reset(self, info: MarketInfo) -> None:
        super().reset(info)
        self.restocked = False
        self.last_stock: float | None = None
        # the stated demand's plan: (cost, units, days) it was made for, its prices, best choices
        self.table: tuple[tuple[float, int, int], np.ndarray, np.ndarray] | None = None

    def observe(self, result: DayResult) -> None:
        self.last_stock = result.stock

    def price(self, obs: Observation) -> Prices:
        self.restocked |= bool(obs.on_order) or (self.last_stock is not None and obs.stock > self.last_stock)
        cost = obs.unit_cost if self.restocked or math.isinf(obs.stock) else 0.0
        arriving = sum(units for day, units in obs.on_order if day < obs.day + obs.days_left)
        stock = obs.stock + arriving
        if stock == 0:
            return Prices(self.high, reason="sold out")
        if self.stated is not None:
            price, how = self._plan(self.stated, np.ones(obs.days_left), stock, cost, cache=True)
            return Prices(price, reason=f"{how} → {price:.2f} (stated demand {self.stated.describe()} a day)")
        history = obs.history
        past_rivals, rivals = self.rival_average(obs)
        keep = self.usable_days(history)
        estimate = None
        if obs.day >= self.warmup:
            estimate = self.estimate(history.prices, history.views, history.units, keep, past_rivals)
        if estimate is None:
            price, reason = self.untaught(obs.day, obs.last_price)
            return Prices(price, reason=reason)
        traffic = self._traffic(obs, keep)
        how = {}

        def plan(curve: DemandCurve) -> float:
            price, how["plan"] = self._plan(curve, traffic, stock, cost)
            return price

        choice = self.experiment(estimate, plan, rivals, obs.last_price)
        return Prices(choice.price, reason=f"{how['plan']}; {self.describe(estimate, choice, rivals)}")

    def _plan(
        self, curve: DemandCurve, traffic: np.ndarray, stock: float, cost: float, cache: bool = False
    ) -> tuple[float, str]:
        """Today's price for `curve` (times `traffic`, the shoppers on each day left), and how it
        was found. With `cache` (stated demand: the same every day) one plan serves every later day."""
        from scipy import stats  # imported when first used: loading a scenario stays fast

        unconstrained = curve.best_price(cost, self.low, self.high)
        if math.isinf(stock):
            return unconstrained, "unlimited stock: best price"
        units, days = int(stock), len(traffic)
        where = f"plan for {units} units, {days} days left"
        if cache and self.table is not None:
            (planned_cost, planned_units, planned_days), prices, best = self.table
            if planned_cost == cost and units <= planned_units and days <= planned_days:
                return float(prices[best[days, units]]), where
        prices = np.linspace(unconstrained, self.high, self.grid)
        rates = traffic[::-1, None] * curve.rate(prices)[None, :]  # by days left, 1 first
        peak = float(rates.max())  # a wild sampled curve may give inf or nan: then plan for any sales
        most = min(units, int(stats.poisson.isf(TAIL, peak)) + 1) if peak < units else units
        budget = PLAN_ONCE_BUDGET if cache else PLAN_DAILY_BUDGET
        if unconstrained >= self.high or days * (units + 1) * (most + 1) * self.grid > budget:
            return self._fluid(curve, traffic, units, cost, unconstrained)
        _, best = sales_values(prices, demand_pmf(rates, most), units, cost, self.salvage)
        if cache:
            self.table = ((cost, units, days), prices, best)
        return float(prices[best[days, units]]), where

    def _fluid(
        self, curve: DemandCurve, traffic: np.ndarray, units: int, cost: float, unconstrained: float
    ) -> tuple[float, str]:
        """The price that sells the stock by the end if demand were its expectation; never below
        the best price for a unit that would otherwise be salvaged."""
        paced = curve.price_for_rate(units / traffic.sum())
        lowest = curve.best_price(max(cost, self.salvage), unconstrained, self.high)
        price = float(np.clip(max(paced, lowest), self.low, self.high))
        return price, f"pace {units} units over {len(traffic)} days"

    def _traffic(self, obs: Observation, keep: np.ndarray) -> np.ndarray:
        """Shoppers expected on each day left: the recent average of the same weekday."""
        views = obs.history.views.astype(float)
        past = np.arange(obs.day)
        recent = keep & (past >= obs.day - RECENT_DAYS)
        recent = recent if recent.any() else keep
        weekday = (obs.weekday - (obs.day - past)) % 7
        overall = views[recent].mean()
        by_weekday = [
            views[recent & (weekday == w)].mean() if (recent & (weekday == w)).any() else overall
            for w in range(7)
        ]
        return np.asarray(by_weekday)[(obs.weekday + np.arange(obs.days_left)) % 7]


def stated_curve(demand: Mapping[str, Any]) -> DemandCurve:
    """A seller's stated daily demand {model, a, b} as a curve (raises ParameterError)."""
    model, a, b = demand.get("model", "log_linear"), demand.get("a"), demand.get("b")
    unknown = sorted(set(demand) - {"model", "a", "b"})
    if unknown or model not in ("linear", "log_linear", "log_log"):
        shape = "{model: linear | log_linear | log_log, a: ..., b: ...}"
        raise ParameterError("demand", f"must be {shape}, got {dict(demand)}")
    for name, value in (("a", a), ("b", b)):
        if isinstance(value, bool) or not isinstance(value, int | float) or value <= 0:
            raise ParameterError("demand", f"{name} must be a positive number, got {value!r}")
    return DemandCurve(model, float(a), float(b))


def demand_pmf(rates: np.ndarray, most: int) -> np.ndarray:
    """Poisson probabilities of 0, 1, …, most − 1 units wanted and, last, of `most` or more, for
    each mean in `rates` (a new last axis of length most + 1)."""
    from scipy import stats  # imported when first used: loading a scenario stays fast

    wanted = np.arange(most)
    exact = stats.poisson.pmf(wanted, np.asarray(rates)[..., None])
    return np.concatenate([exact, stats.poisson.sf(most - 1, rates)[..., None]], axis=-1)


def sales_values(
    prices: np.ndarray, pmf: np.ndarray, stock: int, cost: float, salvage: float
) -> tuple[np.ndarray, np.ndarray]:
    """Backward induction of the finite-stock, finite-horizon pricing problem, day by day.

    pmf[t − 1, g, k] is the chance that k units are wanted at prices[g] on the day with t days
    left (the last k: that many or more); a sale earns its price less `cost`, and each unit
    left after the last day earns `salvage`. Returns value[t, n], the expected earnings of n
    units with t days left under the best policy, and best[t, n], the index of its price.
    """
    days, _, width = pmf.shape
    units = np.arange(stock + 1)
    sold = np.minimum(np.arange(width)[None, :], units[:, None])  # (units, wanted)
    left = units[:, None] - sold
    sold_by_outcome = sold.T.astype(float)  # float once, not in every matrix product
    margin = np.asarray(prices)[:, None] - cost
    value = np.zeros((days + 1, stock + 1))
    best = np.zeros((days + 1, stock + 1), dtype=np.intp)
    value[0] = salvage * units
    for t in range(1, days + 1):
        later = value[t - 1][left]  # value tomorrow after each outcome
        expected = margin * (pmf[t - 1] @ sold_by_outcome) + pmf[t - 1] @ later.T  # (prices, units)
        best[t] = expected.argmax(axis=0)
        value[t] = expected[best[t], units]
    return value, best
