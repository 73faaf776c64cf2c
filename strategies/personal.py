"""Personal prices: the benchmark that knows the true demand of every shopper it can see
(`oracle_personal`), and a rule of thumb for class (`personal_rule`).

`TrueDemand` is the market's true purchase probability for a shopper as a seller sees them:
given the shopper's visible segment and observable features, the hidden parts (the segment when
it is hidden, the drawn willingness to pay, hidden features, price sensitivity) are integrated
out with deterministic quadrature, never by sampling: exact atoms for constants and Bernoulli
features, Gauss–Legendre nodes in probability space (through the quantile function) for every
continuous distribution, and the exact distribution function of the drawn willingness to pay
under `max_surplus` choice (theory.md §9).
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

import numpy as np

from strategies.base import MarketInfo, Observation, Prices, PricingStrategy, require

NODES = 24  # quadrature nodes per continuous hidden component
GRID = 64  # prices compared per shopper before the best is polished
POLISH = 40  # golden-section steps of the polish (the bracket shrinks by 0.618 each: 4e-9)
BLOCK = 16_384  # shoppers × prices whose purchase chances are worked out at once


def written(dist: Any) -> dict[str, Any]:
    """A scenario distribution in its written form (`{dist: normal, mean: 0, sd: 1}`; a number
    for a constant as `{dist: constant, value: v}`): strategies read the scenario's public
    description, never the simulator's classes."""
    form = dist.to_yaml()
    return form if isinstance(form, dict) else {"dist": "constant", "value": float(form)}


def frozen(dist: Any) -> Any:
    """The scipy distribution of a scenario distribution (None when it has no spread)."""
    from scipy import stats  # only when an oracle prices

    d = written(dist)
    kind = d["dist"]
    if kind == "constant":
        return None
    if kind == "bernoulli":
        return stats.bernoulli(d["p"])
    if kind == "uniform":
        return None if d["high"] == d["low"] else stats.uniform(d["low"], d["high"] - d["low"])
    if kind == "normal":
        if d["sd"] == 0:
            return None
        if "min" not in d and "max" not in d:
            return stats.norm(d["mean"], d["sd"])
        low = (d["min"] - d["mean"]) / d["sd"] if "min" in d else -math.inf
        high = (d["max"] - d["mean"]) / d["sd"] if "max" in d else math.inf
        return stats.truncnorm(low, high, loc=d["mean"], scale=d["sd"])
    if kind == "lognormal":
        if d["sd"] == 0:
            return None
        sigma2 = math.log1p((d["sd"] / d["mean"]) ** 2)
        return stats.lognorm(math.sqrt(sigma2), scale=math.exp(math.log(d["mean"]) - sigma2 / 2))
    if kind == "exponential":
        return stats.expon(scale=d["mean"])
    if kind == "triangular":
        if d["high"] == d["low"]:
            return None
        return stats.triang((d["mode"] - d["low"]) / (d["high"] - d["low"]), d["low"], d["high"] - d["low"])
    raise TypeError(f"no quadrature for {d!r}")


def constant_value(dist: Any) -> float:
    """The one value of a distribution without spread."""
    d = written(dist)
    if d["dist"] == "constant":
        return d["value"]
    if d["dist"] == "normal":
        return float(np.clip(d["mean"], d.get("min"), d.get("max")))
    return d["low"] if "low" in d else d["mean"]


def nodes(dist: Any, count: int = NODES) -> tuple[np.ndarray, np.ndarray]:
    """Quadrature nodes and weights (summing to 1) for E[f(X)], X ~ dist."""
    rv = frozen(dist)
    if rv is None:
        return np.array([constant_value(dist)]), np.array([1.0])
    if written(dist)["dist"] == "bernoulli":
        p = written(dist)["p"]
        return np.array([0.0, 1.0]), np.array([1 - p, p])
    # Gauss–Legendre in probability space, X = F⁻¹(U): for a steep logistic in a normal draw
    # (β·b = 4 in tests/test_personal_oracle.py) 24 nodes put the optimal price within 1e-7,
    # where Gauss–Hermite needs about 150
    u, w = np.polynomial.legendre.leggauss(count)  # on (−1, 1), mapped to probabilities (0, 1)
    return rv.ppf((u + 1) / 2), w / w.sum()


def density(dist: Any, x: np.ndarray) -> np.ndarray:
    """The density (or probability, for 0/1 and constant features) of observed values."""
    rv = frozen(dist)
    if rv is None:
        return np.isclose(x, constant_value(dist)).astype(float)
    if written(dist)["dist"] == "bernoulli":
        return rv.pmf(np.round(x))
    return rv.pdf(x)


@dataclass(frozen=True)
class _Hidden:
    """One segment's hidden part of willingness to pay and its price sensitivity, as quadrature
    nodes: `offset` (hidden features' contribution) and `beta` jointly with `weight`; the drawn
    willingness to pay either as nodes too (`wtp`, logit) or through its exact distribution
    function (`wtp_dist`, max surplus)."""

    offset: np.ndarray
    beta: np.ndarray
    weight: np.ndarray
    wtp: np.ndarray
    wtp_weight: np.ndarray
    wtp_dist: Any


class TrueDemand:
    """The market's true chance that a shopper buys from one seller at a price, given what that
    seller may observe of the shopper and the other sellers' prices (myopic: today, stock and
    loyalty bonuses left out)."""

    def __init__(self, model: Any, seller: int):
        self.model, self.seller = model, seller
        spec, population = model.spec, model.population
        self.segments = spec.consumers.segments
        self.features = spec.consumers.features
        self.names = population.feature_names
        self.observable = [name for name, f in self.features.items() if f.observable]
        self.logit = spec.market.choice == "logit"
        self.outside = spec.market.outside_utility
        self.sizes = population.segment_sizes
        self.hidden = [self._hidden(segment) for segment in self.segments]

    def _hidden(self, segment: Any) -> _Hidden:
        offset, weight = np.zeros(1), np.ones(1)
        for name, feature in self.features.items():
            w = segment.wtp_per_feature.get(name, 0.0)
            if feature.observable or w == 0:
                continue
            x, p = nodes(segment.features.get(name, feature.dist))
            offset, weight = (offset[:, None] + w * x).ravel(), (weight[:, None] * p).ravel()
        beta, beta_weight = nodes(segment.price_sensitivity) if self.logit else (np.ones(1), np.ones(1))
        offset = np.repeat(offset, len(beta))
        weight = (weight[:, None] * beta_weight).ravel()
        beta = np.tile(beta, len(weight) // len(beta))
        wtp, wtp_weight = nodes(segment.wtp)
        return _Hidden(offset, beta, weight, wtp, wtp_weight, None if self.logit else segment.wtp)

    def segment_weights(self, visible: np.ndarray, observed: np.ndarray, traffic: float) -> np.ndarray:
        """(rows, segments): the chance that each shopper belongs to each segment, given their
        visible segment (index, or −1 when hidden) and observable features (rows, observable):
        Bayes over the hidden segments with their numbers, visit chances and feature densities."""
        weights = np.zeros((len(visible), len(self.segments)))
        for g, segment in enumerate(self.segments):
            if segment.observable:
                weights[:, g] = visible == g
                continue
            prior = self.sizes[g] * min(segment.visit_rate * traffic, 1.0)
            likelihood = np.full(len(visible), prior, dtype=float)
            for k, name in enumerate(self.observable):
                likelihood *= density(segment.features.get(name, self.features[name].dist), observed[:, k])
            weights[:, g] = np.where(visible < 0, likelihood, 0.0)
        total = weights.sum(axis=1, keepdims=True)
        return np.divide(weights, total, out=np.zeros_like(weights), where=total > 0)

    def probability(
        self,
        prices: np.ndarray,
        weights: np.ndarray,
        observed: np.ndarray,
        quality: float,
        rivals: np.ndarray,
        multiplier: float,
    ) -> np.ndarray:
        """P(buy from this seller) for each shopper (rows) at each of their prices (rows, k)."""
        block = max(BLOCK // prices.shape[1], 16)
        if len(prices) > block:  # in blocks of rows: the quadrature arrays stay small
            return np.concatenate(
                [
                    self.probability(
                        prices[i : i + block],
                        weights[i : i + block],
                        observed[i : i + block],
                        quality,
                        rivals,
                        multiplier,
                    )
                    for i in range(0, len(prices), block)
                ]
            )
        result = np.zeros(prices.shape)
        for g, (segment, hidden) in enumerate(zip(self.segments, self.hidden, strict=True)):
            rows = weights[:, g] > 0
            if not rows.any():
                continue
            seen = np.zeros(rows.sum())
            for k, name in enumerate(self.observable):
                seen += segment.wtp_per_feature.get(name, 0.0) * observed[rows, k]
            p = prices[rows]
            if self.logit:
                chance = self._logit(p, seen, hidden, quality, rivals, multiplier)
            else:
                chance = self._max_surplus(p, seen, hidden, quality, rivals, multiplier)
            result[rows] += weights[rows, g][:, None] * chance
        return result

    def _logit(self, p, seen, hidden, quality, rivals, multiplier):
        # wtp nodes × hidden nodes: value = (drawn + seen + hidden offset) × multiplier
        base = (hidden.wtp[:, None] + hidden.offset[None, :]).ravel()
        weight = (hidden.wtp_weight[:, None] * hidden.weight[None, :]).ravel()
        beta = np.tile(hidden.beta, len(hidden.wtp))
        value = (seen[:, None] + base[None, :]) * multiplier  # (rows, nodes)
        # log-denominator of everything but our offer: outside option and rivals (rival prices
        # are the same for everyone, so their terms depend on the shopper's value only)
        rest = np.broadcast_to(beta * self.outside, value.shape)  # (rows, nodes)
        for q, r in rivals:
            rest = np.logaddexp(rest, beta * (value + q - r))
        own = beta * (value[:, None, :] + quality - p[:, :, None])  # (rows, k, nodes)
        from scipy import special

        return (special.expit(own - rest[:, None, :]) * weight).sum(axis=-1)

    def _max_surplus(self, p, seen, hidden, quality, rivals, multiplier):
        # we win the shopper over every rival when our offer's value net of price beats theirs
        # (the same wtp for every seller); ties are broken at random, one in (ties + 1)
        margin = quality - p
        beats, ties = np.ones(p.shape), np.zeros(p.shape)
        for q, r in rivals:
            beats *= margin >= q - r - 1e-12
            ties += np.abs(margin - (q - r)) <= 1e-12
        share = beats / (1 + ties)
        # and the outside option: (drawn + seen + offset) × multiplier + quality − p ≥ outside
        threshold = (self.outside - margin)[:, :, None] / multiplier - seen[:, None, None] - hidden.offset
        rv = frozen(hidden.wtp_dist)  # exact: P(drawn wtp ≥ threshold)
        buys = (
            (constant_value(hidden.wtp_dist) >= threshold).astype(float) if rv is None else rv.sf(threshold)
        )
        return share * (buys * hidden.weight).sum(axis=-1)


def golden_best(
    profit: Any, low: np.ndarray, high: np.ndarray, steps: int = POLISH
) -> tuple[np.ndarray, np.ndarray]:
    """Per row, the price in [low, high] that maximises `profit(prices)` ((rows, 1) → (rows, 1)),
    by golden-section search (the profit is unimodal inside the bracket); and its profit."""
    ratio = (math.sqrt(5) - 1) / 2
    a, b = low.copy(), high.copy()
    c, d = b - ratio * (b - a), a + ratio * (b - a)
    fc, fd = profit(c[:, None])[:, 0], profit(d[:, None])[:, 0]
    for _ in range(steps):
        left = fc >= fd
        b = np.where(left, d, b)
        a = np.where(left, a, c)
        new_c, new_d = b - ratio * (b - a), a + ratio * (b - a)
        c2 = np.where(left, new_c, d)
        d2 = np.where(left, c, new_d)
        probe = np.where(left, c2, d2)
        fp = profit(probe[:, None])[:, 0]
        fc, fd = np.where(left, fp, fd), np.where(left, fc, fp)
        c, d = c2, d2
    best = np.where(fc >= fd, c, d)
    return best, np.maximum(fc, fd)


class OraclePersonal(PricingStrategy):
    """Benchmark (uses hidden truth): the myopic profit-maximising price for every shopper, from
    the true demand model given everything the seller may observe about them (visible segment
    and observable features; hidden segments, hidden features, drawn willingness to pay and
    price sensitivity integrated out by quadrature) and the rivals' latest posted prices (on day
    0, their unit costs). Stock limits and loyalty bonuses are left out (myopic). Its base price
    is the best single price for today's shoppers.

    grid: prices compared per shopper before the best is polished by golden-section search.
    """

    kind = "oracle_personal"
    uses_hidden_truth = True
    grid: int = GRID

    def check(self) -> None:
        require(self.grid >= 3, "grid", f"must be at least 3, got {self.grid}")

    def reset(self, info: MarketInfo) -> None:
        self.info = info

    def reveal(self, model: Any) -> None:
        self.model = model
        self.me = next(s.index for s in model.sellers if s.name == self.info.seller)
        self.demand = TrueDemand(model, self.me)

    def price(self, obs: Observation) -> Prices:
        model = self.model
        table = obs.shoppers
        if table.empty:
            return Prices(obs.last_price or obs.unit_cost, personal=np.zeros(0), reason="no shoppers today")
        rivals = [s for s in model.sellers if s.index != self.me]
        rival_price = [float(obs.rival_prices[s.name][-1]) if obs.day else s.unit_cost for s in rivals]
        offers = [(s.quality, p) for s, p in zip(rivals, rival_price, strict=True)]
        names = model.population.segment_names
        visible = np.array([names.index(v) if v else -1 for v in table["segment"].astype(str)], dtype=int)
        observed = table[self.demand.observable].to_numpy(dtype=float)
        # shoppers who look alike to the seller get the same price: work out each kind once
        kinds, which = np.unique(np.column_stack([visible, observed]), axis=0, return_inverse=True)
        prices, best_uniform = self.best_prices(
            kinds[:, 0].astype(int), kinds[:, 1:], offers, obs, np.bincount(which.ravel())
        )
        shown = (
            ", ".join(f"{s.name} {p:.2f}" for s, p in zip(rivals, rival_price, strict=True)) or "no rivals"
        )
        personal = prices[which.ravel()]
        return Prices(
            best_uniform,
            personal=personal,
            reason=f"oracle personal prices {personal.min():.2f}–{personal.max():.2f} against {shown} "
            "(hidden truth)",
        )

    def best_prices(
        self,
        visible: np.ndarray,
        observed: np.ndarray,
        offers: list[tuple[float, float]],
        obs: Observation,
        counts: np.ndarray,
    ) -> tuple[np.ndarray, float]:
        """The best price for each kind of shopper, and the best single price for all of them."""
        spec, cost = self.model.spec, obs.unit_cost
        quality = self.model.sellers[self.me].quality
        multiplier = spec.wtp_multiplier(obs.day)
        weights = self.demand.segment_weights(visible, observed, spec.traffic(obs.day))

        def chance(prices: np.ndarray) -> np.ndarray:
            return self.demand.probability(prices, weights, observed, quality, offers, multiplier)

        low, high = self.bounds(cost)
        grid = np.linspace(low, high, self.grid)
        profit = (grid - cost) * chance(np.broadcast_to(grid, (len(visible), self.grid)))
        k = profit.argmax(axis=1)
        left, right = grid[np.maximum(k - 1, 0)], grid[np.minimum(k + 1, self.grid - 1)]
        best, top = golden_best(lambda p: (p - cost) * chance(p), left, right)
        best = np.where(top >= profit.max(axis=1), best, grid[k])
        # the best uniform price: the same search over the total profit of today's shoppers
        total = (counts[:, None] * profit).sum(axis=0)
        j = int(total.argmax())

        def total_profit(p: np.ndarray) -> np.ndarray:  # (1, 1) → (1, 1)
            shown = np.broadcast_to(p, (len(visible), 1))
            return (p - cost) * (counts[:, None] * chance(shown)).sum(axis=0, keepdims=True)

        edges = np.array([grid[max(j - 1, 0)]]), np.array([grid[min(j + 1, self.grid - 1)]])
        uniform, top_uniform = golden_best(total_profit, *edges)
        return best, float(uniform[0] if top_uniform[0] >= total[j] else grid[j])

    def bounds(self, cost: float) -> tuple[float, float]:
        """Prices worth searching: unit cost to well above anyone's value, inside the guardrails."""
        population = self.model.population
        spread = 20 / max(population.price_sensitivity.min(), 1e-3) if self.demand.logit else 0.0
        multiplier = max(map(self.model.spec.wtp_multiplier, range(self.model.days)))
        quality = self.model.sellers[self.me].quality
        low, high = cost, max(cost, float(population.wtp.max()) * multiplier + quality - self.demand.outside)
        high += spread + 1e-9
        rails = self.info.guardrails
        if rails is not None:
            low = max(low, rails.min_price)
            high = max(min(high, rails.max_price), low)
        return low, high


class PersonalRule(PricingStrategy):
    """A rule of thumb for personal prices, for class: unit cost × (1 + markup), plus `per_unit`
    for every unit of an observable feature and `per_purchase` for every earlier purchase
    from this seller, never below unit cost. What a seller might write without any model.

    markup: the base price's markup on unit cost.
    feature: the observable feature (a column of obs.shoppers) the price rises with; empty for none.
    per_unit: money added per unit of that feature.
    per_purchase: money added per earlier purchase from this seller.
    """

    kind = "personal_rule"
    markup: float = 0.5
    feature: str = ""
    per_unit: float = 0.0
    per_purchase: float = 0.0

    def check(self) -> None:
        require(self.markup >= -1, "markup", f"must be at least -1, got {self.markup}")

    def price(self, obs: Observation) -> Prices:
        table = obs.shoppers
        base = obs.unit_cost * (1 + self.markup)
        personal = np.full(len(table), base) + self.per_purchase * table["purchases"].to_numpy(dtype=float)
        if self.feature:
            if self.feature not in table.columns or self.feature in ("shopper", "segment"):
                observable = [c for c in table.columns if c not in ("shopper", "segment")]
                raise ValueError(
                    f"personal_rule: feature {self.feature!r} is not a column of obs.shoppers "
                    f"(a seller sees: {', '.join(observable)})"
                )
            personal += self.per_unit * table[self.feature].to_numpy(dtype=float)
        return Prices(
            base,
            personal=np.maximum(personal, obs.unit_cost),
            reason=f"rule: {base:.2f} + {self.per_unit:g} × {self.feature or 'nothing'} "
            f"+ {self.per_purchase:g} × purchases",
        )
