"""Benchmarks that use hidden truth (consumers' parameters, the market's future): no real
seller could play them; they show how much a real strategy leaves on the table.

Both get the whole market model through `reveal`, which the engine calls only for strategies
that declare `uses_hidden_truth` and whose kind starts with `oracle_`; `oracle_best_fixed`
asks the model's `fixed_price_profits` what each fixed price would have earned (one recorded
replay where the market allows it exactly, a replay per price otherwise), so no strategy
imports the engine (see the import contracts in pyproject.toml).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import numpy as np

from strategies.base import MarketInfo, Observation, Prices, PricingStrategy, require


class _Oracle(PricingStrategy):
    """What both benchmarks share: a grid of prices to search (each declares its own default)."""

    grid: int

    def check(self) -> None:
        require(self.grid >= 3, "grid", f"must be at least 3, got {self.grid}")

    def reset(self, info: MarketInfo) -> None:
        self.info = info


class OracleBestResponse(_Oracle):
    """Benchmark (uses hidden truth): knows every consumer's true willingness to pay, price
    sensitivity, loyalty and visit rate, today's traffic and event multipliers, and plays the
    myopic best response: the price that maximises today's expected profit against the rivals'
    latest posted prices (on day 0, before any is posted, against prices at their unit costs).

    grid: prices compared before the best is polished (logit choice; with `max_surplus` the
        optimum is found exactly among the shoppers' reservation prices).
    """

    kind = "oracle_best_response"
    uses_hidden_truth = True
    grid: int = 64

    def reveal(self, model: Any) -> None:
        self.model = model
        self.me = next(s.index for s in model.sellers if s.name == self.info.seller)

    def price(self, obs: Observation) -> Prices:
        model, spec = self.model, self.model.spec
        rivals = [s for s in model.sellers if s.index != self.me]
        posted = [obs.rival_prices[s.name] for s in rivals]
        rival_price = np.array(
            [p[-1] if len(p) else s.unit_cost for s, p in zip(rivals, posted, strict=True)]
        )
        population = model.population
        visit = np.minimum(population.visit_rate * spec.traffic(obs.day), 1.0)
        value = population.wtp[:, None] * spec.wtp_multiplier(obs.day) + model.quality[None, :]
        value = value + np.where(
            population.last_seller[:, None] == np.arange(len(model.sellers)), population.loyalty[:, None], 0.0
        )
        others = value[:, [s.index for s in rivals]] - rival_price[None, :]
        own = value[:, self.me]
        low, high = _bounds(self.info, obs.unit_cost, own - spec.market.outside_utility, model)
        if spec.market.choice == "logit":
            price = self._logit_best(obs, own, others, visit, low, high)
        else:
            price = self._reservation_best(obs, own, others, visit, low, high)
        shown = (
            ", ".join(f"{s.name} {p:.2f}" for s, p in zip(rivals, rival_price, strict=True)) or "no rivals"
        )
        return Prices(price, reason=f"oracle best response to {shown} (hidden truth)")

    def _logit_best(
        self,
        obs: Observation,
        own: np.ndarray,
        others: np.ndarray,
        visit: np.ndarray,
        low: float,
        high: float,
    ) -> float:
        """Maximise (p − c) · min(Σ visit · logit share, stock): a grid, then a bounded polish."""
        from scipy import special  # imported when first used: loading a scenario stays fast

        beta, outside = self.model.population.price_sensitivity, self.model.spec.market.outside_utility
        # log of the denominator's terms that do not depend on our price: rivals and buying nothing
        rest = special.logsumexp(np.column_stack([beta[:, None] * others, beta * outside]), axis=1)

        def loss(price: float) -> float:
            units = (visit * special.expit(beta * (own - price) - rest)).sum()
            return -(price - obs.unit_cost) * min(units, obs.stock)

        return _grid_then_polish(loss, low, high, self.grid)

    def _reservation_best(
        self,
        obs: Observation,
        own: np.ndarray,
        others: np.ndarray,
        visit: np.ndarray,
        low: float,
        high: float,
    ) -> float:
        """Max surplus: a shopper buys from us at any price up to their reservation price, so the
        best price is one of those (a hair below, so that a tie with a rival is not left to chance)."""
        best_alternative = np.max(others, axis=1, initial=self.model.spec.market.outside_utility)
        reservation = own - best_alternative
        order = np.argsort(-reservation)
        candidates = reservation[order]
        units = np.minimum(np.cumsum(visit[order]), obs.stock)
        inside = (candidates >= low) & (candidates <= high)
        if not inside.any():
            return low
        profit = np.where(inside, (candidates - obs.unit_cost) * units, -np.inf)
        best = candidates[int(np.argmax(profit))]
        return max(best - 1e-9 * max(abs(best), 1.0), low)


class OracleBestFixed(_Oracle):
    """Benchmark (uses hidden truth): the best single price in hindsight. Before day 0 it replays
    this very replication (the same shoppers, visits, taste shocks and rivals) with a fixed
    price in its seat, for `grid` prices from its unit cost up to the most any shopper could
    value its offer, polishes the best of them, and then posts that price every day. Its
    profit is exactly the best replay's. Focal seat only.

    grid: fixed prices compared before the best is polished (each a replay's profit; one
        recorded replay answers for all of them when rivals cannot react to the price).
    """

    kind = "oracle_best_fixed"
    uses_hidden_truth = True
    grid: int = 16

    def reveal(self, model: Any) -> None:
        me = next(s.index for s in model.sellers if s.name == self.info.seller)
        if not model.spec.sellers[me].focal:
            raise ValueError("oracle_best_fixed benchmarks the focal seat only")
        replays: dict[float, float] = {}
        profits = model.fixed_price_profits(me)  # as the replays' ledgers would book them

        def loss(price: float) -> float:
            replays[price] = profits([price])[0]
            return -replays[price]

        population, seller = model.population, model.spec.sellers[me]
        value = (
            population.wtp * max(map(model.spec.wtp_multiplier, range(model.days)))
            + seller.quality
            + population.loyalty
            - model.spec.market.outside_utility
        )
        low, high = _bounds(self.info, seller.unit_cost, value, model)
        _grid_then_polish(loss, low, high, self.grid, tolerance=1e-4 * (high - low))
        self.best = max(replays, key=replays.get)
        self.replays = len(replays)

    def price(self, obs: Observation) -> Prices:
        return Prices(
            self.best,
            reason=f"oracle best fixed price in hindsight {self.best:.2f} "
            f"({self.replays} replays, hidden truth)",
        )


def _bounds(info: MarketInfo, cost: float, value: np.ndarray, model: Any) -> tuple[float, float]:
    """Prices worth searching: from unit cost to the highest value any shopper puts on the offer
    (with logit, plus room for taste shocks: 20 / the lowest price sensitivity), inside the guardrails."""
    logit = model.spec.market.choice == "logit"
    shocks = 20 / max(model.population.price_sensitivity.min(), 1e-3) if logit else 0.0
    low, high = cost, max(cost, float(value.max())) + shocks
    if info.guardrails is not None:
        low = max(low, info.guardrails.min_price)
        high = max(min(high, info.guardrails.max_price), low)
    return low, high


def _grid_then_polish(
    loss: Callable[[float], float], low: float, high: float, points: int, tolerance: float = 1e-6
) -> float:
    """The minimiser of `loss` on [low, high]: the best of an even grid, then a bounded Brent
    search between its neighbours."""
    from scipy import optimize  # imported when first used: loading a scenario stays fast

    grid = np.linspace(low, high, points)
    losses = [loss(price) for price in grid]
    k = int(np.argmin(losses))
    left, right = grid[max(k - 1, 0)], grid[min(k + 1, points - 1)]
    if right <= left:
        return float(grid[k])
    polished = optimize.minimize_scalar(
        loss, bounds=(left, right), method="bounded", options={"xatol": tolerance}
    )
    return float(polished.x) if polished.fun <= losses[k] else float(grid[k])
