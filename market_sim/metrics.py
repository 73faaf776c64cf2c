"""Scores of one run from its ledger, and their statistics across replications.

Every score is defined once, in `SCORES` (the report's glossary prints these definitions), and
computed by `run_scores` from one run's ledger, or by `add_benchmarks` from the scores of all
runs. Statistics: `summarise` (mean, sd and t interval per strategy), `paired` (a strategy
against another on the same replications: common random numbers make the difference of each
replication's scores the honest measure), `comparisons` (every pair) and `verdict`.
"""

from __future__ import annotations

import functools
import math
from collections.abc import Collection, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Literal

import numpy as np
import pandas as pd

from market_sim.ledger import Ledger

if TYPE_CHECKING:
    from market_sim.scenario import StrategySpec

CONFIDENCE = 0.95
END_DAYS = 100  # the end of a run, where learning has settled: `delta` and the limit prices
NO_DIFFERENCE = "no clear difference"
TOO_FEW = "too few replications"
# paired differences this small (relative to the scores) are rounding, not strategy
TOLERANCE = 1e-9


@dataclass(frozen=True)
class Score:
    """One score: its column name, how the report shows it, and what it means."""

    name: str
    label: str
    group: str
    unit: Literal["money", "count", "share", "price", "ratio", "index"]
    better: Literal["higher", "lower", ""]  # "" where neither direction is better in itself
    definition: str

    @property
    def bounds(self) -> tuple[float, float]:
        """The values the score can take: its intervals are cut there."""
        return BOUNDS.get(self.name, UNIT_BOUNDS[self.unit])


# the range of each kind of score (money may be negative: profit, surplus, regret)
UNIT_BOUNDS = {
    "money": (-np.inf, np.inf),
    "count": (0.0, np.inf),
    "share": (0.0, 1.0),
    "price": (0.0, np.inf),
    "ratio": (0.0, np.inf),
    "index": (0.0, 1.0),
}
BOUNDS = {
    "revenue": (0.0, np.inf),
    "cost_of_goods": (0.0, np.inf),
    "holding_cost": (0.0, np.inf),
    "order_cost": (0.0, np.inf),
    "salvage": (0.0, np.inf),
    "margin": (-np.inf, 1.0),  # profit / revenue: a loss can exceed the revenue
    "price_ratio": (1.0, np.inf),
    "profit_gain": (-np.inf, np.inf),  # Δ leaves [0, 1] below Nash or above the cartel
}


SCORES: tuple[Score, ...] = (
    Score(
        "profit",
        "Profit",
        "Profit",
        "money",
        "higher",
        "Revenue − cost of goods − holding costs − order costs + salvage, over the whole run. Cost of "
        "goods is the unit cost of every unit received (initial stock and deliveries): charged as units "
        "sell, and for units left after the last day, when their salvage value is credited.",
    ),
    Score("revenue", "Revenue", "Profit", "money", "higher", "Money taken from sales: Σ price paid."),
    Score("cost_of_goods", "Cost of goods", "Profit", "money", "", "Unit cost × (units sold + units left)."),
    Score(
        "holding_cost",
        "Holding cost",
        "Profit",
        "money",
        "lower",
        "Holding cost × units on hand each evening.",
    ),
    Score(
        "order_cost", "Order costs", "Profit", "money", "lower", "Fixed cost of every replenishment order."
    ),
    Score("salvage", "Salvage", "Profit", "money", "", "Salvage value × units left after the last day."),
    Score("units", "Units sold", "Profit", "count", "higher", "Units the focal seller sold."),
    Score(
        "avg_price_paid",
        "Average price paid",
        "Profit",
        "price",
        "",
        "Revenue / units sold: the price buyers actually paid (segment prices and coupons included).",
    ),
    Score("margin", "Margin", "Profit", "share", "higher", "Profit / revenue."),
    Score(
        "market_share",
        "Market share",
        "Profit",
        "share",
        "higher",
        "Focal units sold / units sold by all sellers.",
    ),
    Score(
        "profit_per_shopper",
        "Profit per shopper",
        "Profit",
        "money",
        "higher",
        "Profit / shopping visits to the market (every visitor sees every seller).",
    ),
    Score(
        "avg_stock",
        "Average stock",
        "Inventory",
        "count",
        "",
        "Mean of the units on hand at the end of each day (empty when stock is unlimited).",
    ),
    Score(
        "stockout_days",
        "Stock-out days",
        "Inventory",
        "count",
        "lower",
        "Days the seller ended with nothing left on the shelf (sold out that day or earlier, before any "
        "delivery); with unlimited stock always 0.",
    ),
    Score(
        "lost_sales",
        "Lost sales",
        "Inventory",
        "count",
        "lower",
        "Unmet demand: shoppers who would have bought from the focal seller had it had stock (the "
        "other sellers as they were), whether it was their first choice or the one they turned to "
        "after their first choice had run out. They then bought elsewhere or nothing.",
    ),
    Score(
        "fill_rate",
        "Fill rate",
        "Inventory",
        "share",
        "higher",
        "Units sold / (units sold + lost sales); 100% when nobody asked.",
    ),
    Score(
        "leftover_units",
        "Units left",
        "Inventory",
        "count",
        "lower",
        "Units on hand after the last day (0 when stock is unlimited).",
    ),
    Score(
        "turnover",
        "Turnover",
        "Inventory",
        "ratio",
        "higher",
        "Units sold / average stock on hand (empty when stock is unlimited).",
    ),
    Score("orders_placed", "Orders placed", "Inventory", "count", "", "Replenishment orders placed."),
    Score(
        "price_gap",
        "Price gap (averages paid)",
        "Fairness",
        "price",
        "lower",
        "Max − min across segments of the average price each segment paid the focal seller "
        "(segments that bought; theory.md §6).",
    ),
    Score(
        "demand_gap",
        "Demand gap",
        "Fairness",
        "share",
        "lower",
        "Max − min across segments of the purchase rate: units bought from the focal seller per "
        "shopping visit of the segment.",
    ),
    Score(
        "surplus_gap",
        "Surplus gap",
        "Fairness",
        "money",
        "lower",
        "Max − min across segments of the consumer surplus from focal purchases per shopping visit.",
    ),
    Score(
        "no_purchase_gap",
        "No-purchase valuation gap",
        "Fairness",
        "money",
        "lower",
        "Max − min across segments of N = E[V | V < p]: the mean valuation of the segment's consumers "
        "whose valuation V (wtp + focal quality − outside utility, an ordinary day, no loyalty bonus) "
        "is below the average price p the segment paid; all of them when the segment bought nothing.",
    ),
    Score(
        "price_gini",
        "Gini of prices paid",
        "Fairness",
        "index",
        "lower",
        "Gini coefficient over the focal seller's transactions of the price paid: "
        "Σᵢ Σⱼ |xᵢ − xⱼ| / (2 n² x̄); 0 when everyone paid the same.",
    ),
    Score(
        "price_ratio",
        "Highest / lowest segment price (largest daily ratio)",
        "Fairness",
        "ratio",
        "lower",
        "The largest, over the days, of that day's highest ÷ lowest price offered across segments "
        "(each segment's own price or the base price, before coupons): what a `max_segment_ratio` "
        "guardrail or `max_ratio` caps. 1 when every segment is offered the same price.",
    ),
    Score(
        "share_above_usual",
        "Purchases above the usual price",
        "Fairness",
        "share",
        "lower",
        "Share of units sold at a price above the usual price of the buyer's segment (the median, "
        "over the run, of the price that segment was offered): surges, not segment prices.",
    ),
    Score(
        "guardrail_hits",
        "Guardrail interventions",
        "Fairness",
        "count",
        "",
        "Prices the guardrails changed (a base or segment price moved into bounds).",
    ),
    Score(
        "consumer_surplus",
        "Consumer surplus",
        "Consumers",
        "money",
        "higher",
        "Of every shopper in the market (whichever seller they bought from, or none), in money. Logit "
        "markets: the standard logit surplus, each shopping visit's expected best utility over the "
        "offers of sellers with stock at opening and the outside option, ln(1 + Σⱼ exp(β (uⱼ − u₀))) / β "
        "(β the shopper's price sensitivity, uⱼ = wtp × event multiplier + quality + loyalty − price, "
        "u₀ the outside utility); never negative. Max-surplus markets: the realised surplus of every "
        "purchase, uⱼ − u₀ of the offer bought.",
    ),
    Score(
        "price_volatility",
        "Price volatility",
        "Behaviour",
        "price",
        "",
        "Mean absolute change from one day to the next of the prices on offer: the price each segment "
        "was offered (its own, or the base price), averaged over segments. A base price that no shopper "
        "is offered does not count.",
    ),
    Score(
        "price_changes",
        "Price changes",
        "Behaviour",
        "count",
        "",
        "Days on which a price on offer (to any segment) changed.",
    ),
    Score(
        "regret",
        "Regret",
        "Benchmarks",
        "money",
        "lower",
        "Profit of oracle_best_fixed minus this strategy's profit, replication by replication (when "
        "that oracle is among the strategies compared).",
    ),
    Score(
        "profit_gain",
        "Profit gain Δ",
        "Benchmarks",
        "index",
        "higher",
        "(π − π^N) / (π^M − π^N), π = profit per shopper, π^N and π^M the focal seller's profit per "
        "shopper at the scenario's Bertrand–Nash and joint-optimum prices: 0 at Nash, 1 at the cartel "
        "(logit scenarios with a closed form; theory.md §3).",
    ),
    Score(
        "delta",
        "Δ at the end",
        "Learning",
        "index",
        "higher",
        f"The profit gain Δ over the last {END_DAYS} days of the run: the play learning has settled "
        "into (for replications run by the batched learning engine, greedy play after learning, as "
        "Calvano et al. 2020 score it).",
    ),
    Score(
        "limit_price",
        "Limit price",
        "Learning",
        "price",
        "",
        f"The focal seller's mean posted price over the last {END_DAYS} days of the run.",
    ),
    Score(
        "rival_limit_price",
        "Rivals' limit price",
        "Learning",
        "price",
        "",
        f"The other sellers' mean posted price over the last {END_DAYS} days of the run.",
    ),
    Score(
        "converged",
        "Converged",
        "Learning",
        "share",
        "higher",
        "Share of replications in which every learner's greedy policy stood unchanged for "
        "`stop_when_stable` days before the last day (batched learning runs).",
    ),
    Score(
        "learning_days",
        "Days to convergence",
        "Learning",
        "count",
        "",
        "Days of learning before the run stopped: at convergence, or at the last day (batched "
        "learning runs).",
    ),
)
SCORES += (
    Score(
        "price_dispersion",
        "Price dispersion",
        "Personal prices",
        "price",
        "",
        "Standard deviation of the price paid over the focal seller's transactions (0 when everyone "
        "paid the same).",
    ),
    Score(
        "uniform_price",
        "Best uniform price",
        "Personal prices",
        "price",
        "",
        "Scenarios with shopper features: the single price that maximises the focal seller's expected "
        "profit over this run's shopping visits, from every consumer's true willingness to pay and price "
        "sensitivity, against the rivals' average posted prices (an ordinary day, no stock limit, no "
        "loyalty).",
    ),
    Score(
        "gain_over_uniform",
        "Gain over the best uniform price",
        "Personal prices",
        "money",
        "higher",
        "Profit minus the expected profit of the best uniform price over the same visits.",
    ),
    Score(
        "share_paying_more",
        "Buyers paying more",
        "Personal prices",
        "share",
        "",
        "Share of the focal seller's customers whose average price paid is above the best uniform price.",
    ),
    Score(
        "share_paying_less",
        "Buyers paying less",
        "Personal prices",
        "share",
        "",
        "Share of the focal seller's customers whose average price paid is below the best uniform price.",
    ),
    Score(
        "feature_price_gap",
        "Observable-feature price gap",
        "Personal prices",
        "price",
        "",
        "Largest gap in the average price paid between the two halves of an observable feature (0 / 1 for "
        "yes/no features, below / above the median otherwise).",
    ),
    Score(
        "hidden_price_gap",
        "Hidden-group price gap (proxy discrimination)",
        "Personal prices",
        "price",
        "lower",
        "The same gap for the groups the seller never sees: hidden features and hidden segments. Personal "
        "prices that never used a hidden trait still treat its groups differently when it correlates with "
        "what the seller sees (theory.md §9).",
    ),
)
SCORE = {score.name: score for score in SCORES}
GROUPS = tuple(dict.fromkeys(score.group for score in SCORES))


def run_scores(
    ledger: Ledger, seller: int, valuations: Sequence[np.ndarray] | None = None
) -> dict[str, float]:
    """Every ledger-based score of one seller over one run (benchmarks come from `add_benchmarks`).

    `valuations` holds, per segment, every consumer's valuation of the seller's offer, for the
    no-purchase valuation gap (NaN without it).
    """
    days = ledger.days_recorded
    return {
        **_profit_scores(ledger, seller, days),
        **_inventory_scores(ledger, seller, days),
        **_fairness_scores(ledger, seller, days, valuations),
        "consumer_surplus": float(ledger.consumer_surplus[:days].sum()),
        **_behaviour_scores(ledger.offered[:days, seller]),
        **personal_scores(ledger, seller, days),
        **_end_scores(ledger, seller, days),
    }


def _end_scores(ledger: Ledger, seller: int, days: int) -> dict[str, float]:
    """Profit per shopper and prices over the last END_DAYS days (for `delta`)."""
    end = slice(max(days - END_DAYS, 0), days)
    profit, shoppers = ledger.profit[end, seller].sum(), ledger.shoppers[end].sum()
    others = np.delete(ledger.price[end], seller, axis=1)
    return {
        "end_profit_per_shopper": _ratio(profit, shoppers),
        "limit_price": float(ledger.price[end, seller].mean()) if days else np.nan,
        "rival_limit_price": float(others.mean()) if days and others.size else np.nan,
    }


def personal_scores(ledger: Ledger, seller: int, days: int) -> dict[str, float]:
    """The personal-pricing scores: dispersion of prices paid, and with shopper features (the
    ledger's audit of the focal seller) the comparison with the best uniform price and the price
    gaps between groups of consumers, observable and hidden."""
    units = ledger.units[:days, seller].sum()
    mean = _ratio(ledger.revenue[:days, seller].sum(), units)
    square = _ratio(ledger.paid_square[:days, seller].sum(), units)
    scores = {"price_dispersion": float(np.sqrt(max(square - mean**2, 0.0))) if units else np.nan}
    names = ("uniform_price", "gain_over_uniform", "share_paying_more", "share_paying_less")
    scores |= dict.fromkeys((*names, "feature_price_gap", "hidden_price_gap"), np.nan)
    audit = ledger.audit
    if audit is None or not days:
        return scores
    rival_prices = ledger.price[:days, audit["rivals"]].mean(axis=0)
    uniform, expected = best_uniform_price(audit, rival_prices)
    profit = ledger.profit[:days, seller].sum()
    bought = audit["purchases"] > 0
    paid = audit["spend"][bought] / audit["purchases"][bought]
    slack = TOLERANCE * max(1.0, abs(uniform))
    scores |= {
        "uniform_price": uniform,
        "gain_over_uniform": float(profit - expected),
        "share_paying_more": float(np.mean(paid > uniform + slack)) if len(paid) else np.nan,
        "share_paying_less": float(np.mean(paid < uniform - slack)) if len(paid) else np.nan,
    }
    groups = group_prices(audit)
    for observable, score in ((True, "feature_price_gap"), (False, "hidden_price_gap")):
        gaps = [abs(high - low) for name, seen, low, high in groups if seen == observable]
        scores[score] = max(gaps) if gaps else np.nan
    return scores


def best_uniform_price(audit: dict, rival_prices: np.ndarray) -> tuple[float, float]:
    """The focal seller's best single price over the run's visits, and its expected profit."""
    from scipy import optimize, special

    visits, wtp, cost = audit["visits"], audit["wtp"], audit["unit_cost"]
    shopped = visits > 0
    visits, wtp, beta = visits[shopped], wtp[shopped], audit["price_sensitivity"][shopped]
    outside = audit["outside_utility"]
    rivals = wtp[:, None] + audit["rival_quality"][None, :] - rival_prices[None, :]
    best_rival = np.max(rivals, axis=1, initial=outside)
    own = wtp + audit["quality"]
    if audit["choice"] == "logit":
        rest = special.logsumexp(np.column_stack([beta[:, None] * rivals, beta * outside]), axis=1)

        def units(price: float) -> float:
            return float((visits * special.expit(beta * (own - price) - rest)).sum())
    else:

        def units(price: float) -> float:
            return float(visits[own - price >= best_rival].sum())

    def loss(price: float) -> float:
        return -(price - cost) * units(price)

    spread = 20 / max(beta.min(), 1e-3) if audit["choice"] == "logit" and len(beta) else 0.0
    high = max(cost, float((own - np.minimum(best_rival, outside)).max(initial=cost))) + spread
    grid = np.linspace(cost, high, 200)
    k = int(np.argmin([loss(p) for p in grid]))
    left, right = grid[max(k - 1, 0)], grid[min(k + 1, len(grid) - 1)]
    polished = optimize.minimize_scalar(loss, bounds=(left, right), method="bounded", options={"xatol": 1e-8})
    price = float(polished.x) if polished.fun <= loss(grid[k]) else float(grid[k])
    return price, -loss(price)


def group_prices(audit: dict) -> list[tuple[str, bool, float, float]]:
    """(group, observable?, average price paid by its lower half, by its upper half) for every
    feature (0 / 1, or below / above the median) and, for segments, the cheapest and the dearest
    segment (hidden segments count as unobservable groups)."""
    bought = audit["purchases"] > 0
    units, spend = audit["purchases"][bought], audit["spend"][bought]

    def average(mask: np.ndarray) -> float:
        return float(spend[mask].sum() / units[mask].sum()) if units[mask].sum() else np.nan

    rows = []
    for f, name in enumerate(audit["feature_names"]):
        x = audit["features"][bought, f]
        upper = x > 0.5 if np.isin(x, (0.0, 1.0)).all() else x > np.median(x) if len(x) else x > 0
        low, high = average(~upper), average(upper)
        if not (np.isnan(low) or np.isnan(high)):
            rows.append((name, bool(audit["feature_observable"][f]), low, high))
    segment = audit["segment"][bought]
    for seen in (True, False):
        levels = [
            average(segment == g)
            for g in range(len(audit["segment_names"]))
            if bool(audit["segment_observable"][g]) == seen and (segment == g).any()
        ]
        if len(levels) > 1:
            rows.append(("segments", seen, min(levels), max(levels)))
    return rows


def _profit_scores(ledger: Ledger, seller: int, days: int) -> dict[str, float]:
    revenue = ledger.revenue[:days, seller].sum()
    units = ledger.units[:days, seller].sum()
    profit = ledger.profit[:days, seller].sum()
    all_units, shoppers = ledger.units[:days].sum(), ledger.shoppers[:days].sum()
    return {
        "profit": float(profit),
        "revenue": float(revenue),
        "cost_of_goods": float(ledger.cost_of_goods[:days, seller].sum()),
        "holding_cost": float(ledger.holding_cost[:days, seller].sum()),
        "order_cost": float(ledger.order_cost[:days, seller].sum()),
        "salvage": float(ledger.salvage[:days, seller].sum()),
        "units": float(units),
        "avg_price_paid": _ratio(revenue, units),
        "margin": _ratio(profit, revenue),
        "market_share": _ratio(units, all_units),
        "profit_per_shopper": _ratio(profit, shoppers),
    }


def _inventory_scores(ledger: Ledger, seller: int, days: int) -> dict[str, float]:
    on_hand = ledger.inventory[:days, seller]
    limited = days > 0 and bool(np.isfinite(on_hand).all())
    units, lost = ledger.units[:days, seller].sum(), ledger.lost_sales[:days, seller].sum()
    average = float(on_hand.mean()) if limited else np.nan
    return {
        "avg_stock": average,
        "stockout_days": float(ledger.stockout[:days, seller].sum()),
        "lost_sales": float(lost),
        "fill_rate": _ratio(units, units + lost) if units + lost else 1.0,
        "leftover_units": float(on_hand[-1]) if limited else 0.0,
        "turnover": _ratio(units, average) if limited else np.nan,
        "orders_placed": float((ledger.ordered[:days, seller] > 0).sum()),
    }


def _fairness_scores(
    ledger: Ledger, seller: int, days: int, valuations: Sequence[np.ndarray] | None
) -> dict[str, float]:
    # per segment over the run, new and returning customers together
    units = ledger.segment_units[:days, seller].sum(axis=(0, 2))
    revenue = ledger.segment_revenue[:days, seller].sum(axis=(0, 2))
    views = ledger.views[:days, seller].sum(axis=(0, 2))
    surplus = ledger.segment_surplus[:days, seller].sum(axis=(0, 2))
    bought, visited = units > 0, views > 0
    prices = revenue[bought] / units[bought]
    paid = paid_prices(ledger, seller)
    return {
        "price_gap": spread(prices),
        "demand_gap": spread(units[visited] / views[visited]),
        "surplus_gap": spread(surplus[visited] / views[visited]),
        "no_purchase_gap": _no_purchase_gap(valuations, revenue, units),
        "price_gini": gini(paid),
        "price_ratio": _largest_daily_ratio(ledger.offered[:days, seller]),
        "share_above_usual": _share_above_usual(ledger, seller, days),
        "guardrail_hits": float(ledger.guardrail_hits[:days, seller].sum()),
    }


def _behaviour_scores(offered: np.ndarray) -> dict[str, float]:
    """From the prices offered, day × segment."""
    steps = np.abs(np.diff(offered, axis=0))
    return {
        "price_volatility": float(steps.mean()) if steps.size else 0.0,
        "price_changes": float(np.count_nonzero(steps.any(axis=1))),
    }


def _share_above_usual(ledger: Ledger, seller: int, days: int) -> float:
    """Share of units sold above the usual (median offered) price of the buyer's segment."""
    units = ledger.segment_units[:days, seller]  # day × segment × new/returning
    if not days or not units.sum():
        return np.nan
    usual = np.broadcast_to(np.median(ledger.offered[:days, seller], axis=0)[None, :, None], units.shape)
    sold = units > 0
    paid = ledger.segment_revenue[:days, seller][sold] / units[sold]
    above = paid > usual[sold] + TOLERANCE * np.maximum(1.0, np.abs(usual[sold]))
    return float(units[sold][above].sum() / units[sold].sum())


def paid_prices(ledger: Ledger, seller: int) -> tuple[np.ndarray, np.ndarray]:
    """Distinct prices paid and how many units at each: within a (day, segment, new or
    returning) cell everyone paid the same price."""
    units = ledger.segment_units[: ledger.days_recorded, seller].ravel()
    revenue = ledger.segment_revenue[: ledger.days_recorded, seller].ravel()
    sold = units > 0
    return revenue[sold] / units[sold], units[sold]


def gini(weighted: tuple[np.ndarray, np.ndarray]) -> float:
    """Gini of values with weights: Σᵢ Σⱼ wᵢ wⱼ |xᵢ − xⱼ| / (2 W² x̄); 0 for no data."""
    values, weights = weighted
    if len(values) == 0 or not values.any():
        return 0.0
    order = np.argsort(values, kind="stable")
    x, w = values[order], weights[order].astype(float)
    total = w.sum()
    mean = (w * x).sum() / total
    weight_below = np.cumsum(w) - w
    value_below = np.cumsum(w * x) - w * x
    pairs = (w * (x * weight_below - value_below)).sum()  # Σ over pairs i > j of wᵢ wⱼ (xᵢ − xⱼ)
    return float(np.clip(pairs / (total**2 * mean), 0.0, 1.0))  # rounding may leave ±1e-17


def spread(values: np.ndarray) -> float:
    """Max − min, 0 with fewer than two values."""
    return float(values.max() - values.min()) if len(values) > 1 else 0.0


def no_purchase_valuation(valuations: np.ndarray, price: float) -> float:
    """E[V | V < price] over the given valuations (Cohen et al.'s N); NaN if none is below."""
    below = valuations[valuations < price]
    return float(below.mean()) if len(below) else np.nan


def _no_purchase_gap(
    valuations: Sequence[np.ndarray] | None, revenue: np.ndarray, units: np.ndarray
) -> float:
    if valuations is None:
        return np.nan
    levels = [
        no_purchase_valuation(values, revenue[g] / units[g]) if units[g] else float(values.mean())
        for g, values in enumerate(valuations)
        if len(values)
    ]
    return spread(np.array([level for level in levels if not np.isnan(level)]))


def _largest_daily_ratio(offered: np.ndarray) -> float:
    """Max over days of the highest ÷ lowest price offered that day (day × segment)."""
    if not offered.size:
        return np.nan
    high, low = offered.max(axis=1), offered.min(axis=1)
    if (low <= 0).any():
        return np.nan if (high > 0).any() else 1.0
    return float((high / low).max())


def _ratio(numerator: float, denominator: float) -> float:
    return float(numerator / denominator) if denominator else np.nan


def add_benchmarks(
    scores: pd.DataFrame,
    oracle: str | None = None,
    nash_profit: float | None = None,
    joint_profit: float | None = None,
) -> pd.DataFrame:
    """`scores` with `regret` (against the strategy named `oracle`, replication by replication)
    and `profit_gain` Δ (from the focal seller's profit per shopper at Nash and joint optimum), over
    the whole run and, as `delta`, over its end."""
    scores = scores.copy()
    scores["regret"] = np.nan
    if oracle is not None and len(scores):
        best = scores.loc[scores["strategy"] == oracle].set_index("replication")["profit"]
        scores["regret"] = scores["replication"].map(best) - scores["profit"]
    scores["profit_gain"] = np.nan
    scores["delta"] = np.nan
    known = nash_profit is not None and joint_profit is not None and joint_profit != nash_profit
    if known and len(scores):
        scores["profit_gain"] = (scores["profit_per_shopper"] - nash_profit) / (joint_profit - nash_profit)
        if "end_profit_per_shopper" in scores:
            scores["delta"] = (scores["end_profit_per_shopper"] - nash_profit) / (joint_profit - nash_profit)
    return scores


def benchmarks(specs: Sequence[StrategySpec]) -> frozenset[str]:
    """The names of the strategies that use hidden truth (the oracles): benchmarks that no seller
    could run, ranked apart and never the winner or the default baseline."""
    return frozenset(spec.name for spec in specs if _sees_hidden_truth(spec))


def _sees_hidden_truth(spec: StrategySpec) -> bool:
    """What the strategy's class says; a plug-in module this process has not imported is never
    imported for it (a forwarded run folder is read, not run) and counts as no benchmark."""
    import sys

    from strategies import resolve

    if spec.python_class is not None:
        return spec.python_class.uses_hidden_truth
    module, plugin, _ = spec.kind.partition(":")
    if plugin and module not in sys.modules:
        return False
    return resolve(spec.kind).uses_hidden_truth


def default_baseline(names: Sequence[str], benchmark: Collection[str] = ()) -> str:
    """The first strategy a seller could run (the first of all when every one is a benchmark)."""
    return next((name for name in names if name not in benchmark), names[0] if names else "")


def summarise(
    scores: pd.DataFrame,
    baseline: str | None = None,
    confidence: float = CONFIDENCE,
    benchmark: Collection[str] = (),
) -> pd.DataFrame:
    """Mean, standard deviation and t confidence interval of every score, per strategy, and the
    paired profit difference against `baseline` (default: the first strategy that is not a
    `benchmark`).

    `scores` has one row per (strategy, replication); the result one row per strategy, in the
    order strategies first appear, with `benchmark` true for the strategies named in `benchmark`.
    """
    if scores.empty:
        return pd.DataFrame()
    wide = _Wide(scores)
    names = wide.names
    baseline = baseline if baseline in names else default_baseline(names, benchmark)
    against = {row[0]: Comparison(*row) for row in _pairs(wide, "profit", baseline, confidence)}
    against[baseline] = _paired(wide, baseline, baseline, "profit", confidence)
    members = [np.flatnonzero(wide.codes == s) for s in range(len(names))]  # each one's rows, in order
    columns: dict[str, list] = {
        "strategy": names,
        "benchmark": [name in benchmark for name in names],
        "replications": [len(rows) for rows in members],
    }
    for score in SCORES:
        described = [interval(wide.present(score.name, rows), confidence, score.bounds) for rows in members]
        columns.update(zip(_statistics(score.name), map(list, zip(*described, strict=True)), strict=True))
    columns |= {
        "baseline": [baseline] * len(names),
        "profit_diff_mean": [against[name].mean for name in names],
        "profit_diff_ci_low": [against[name].ci_low for name in names],
        "profit_diff_ci_high": [against[name].ci_high for name in names],
        "profit_better_share": [against[name].better_share for name in names],
        "profit_verdict": ["baseline" if name == baseline else against[name].verdict for name in names],
    }
    return pd.DataFrame(columns)


SEGMENT_SCORES: tuple[Score, ...] = (
    Score(
        "visitors", "Shopping visits", "Segments", "count", "", "Shopping visits of the segment's consumers."
    ),
    Score(
        "units", "Units bought", "Segments", "count", "", "Units the segment bought from the focal seller."
    ),
    Score(
        "purchase_rate",
        "Purchase rate",
        "Segments",
        "share",
        "",
        "Units bought from the focal seller per shopping visit.",
    ),
    Score(
        "avg_price_paid",
        "Average price paid",
        "Segments",
        "price",
        "",
        "Revenue / units of the segment's purchases from the focal seller.",
    ),
    Score(
        "consumer_surplus",
        "Realised surplus",
        "Segments",
        "money",
        "",
        "The money surplus the segment's purchases at every seller realised (value − price − outside "
        "utility, taste shocks left out). The ranking's consumer surplus is this in max-surplus markets; "
        "in logit markets it is the log-sum, which also counts the taste shocks.",
    ),
    Score(
        "surplus_per_visit",
        "Surplus per visit",
        "Segments",
        "money",
        "",
        "The segment's consumer surplus from focal purchases per shopping visit.",
    ),
)


def segment_scores(segments: pd.DataFrame, focal: str) -> pd.DataFrame:
    """One row per strategy × replication × segment, from the daily segment table (`segments.csv`)."""
    keys = ["strategy", "replication", "segment"]
    everyone = segments.groupby(keys, sort=False)["consumer_surplus"].sum()
    own = (
        segments[segments["seller"] == focal]
        .groupby(keys, sort=False)[["visitors", "units", "revenue", "consumer_surplus"]]
        .sum()
    )
    visits, units = own["visitors"].to_numpy(), own["units"].to_numpy()
    with np.errstate(divide="ignore", invalid="ignore"):  # a segment with no visit or no sale: NaN
        scores = {
            "visitors": visits,
            "units": units,
            "purchase_rate": np.where(visits > 0, units / visits, np.nan),
            "avg_price_paid": np.where(units > 0, own["revenue"].to_numpy() / units, np.nan),
            "consumer_surplus": everyone.reindex(own.index).to_numpy(),
            "surplus_per_visit": np.where(visits > 0, own["consumer_surplus"].to_numpy() / visits, np.nan),
        }
    return pd.DataFrame({key: own.index.get_level_values(key) for key in keys} | scores)


def summarise_segments(table: pd.DataFrame, confidence: float = CONFIDENCE) -> pd.DataFrame:
    """Mean, sd and interval of every segment score, per strategy and segment."""
    if table.empty:
        return pd.DataFrame()
    group, count = groups(table, ["strategy", "segment"])
    members = [np.flatnonzero(group == g) for g in range(count)]  # each group's rows, in order
    strategies, segments = table["strategy"].tolist(), table["segment"].tolist()
    columns: dict[str, list] = {
        "strategy": [strategies[rows[0]] for rows in members],
        "segment": [segments[rows[0]] for rows in members],
        "replications": [len(rows) for rows in members],
    }
    for score in SEGMENT_SCORES:
        values = table[score.name].to_numpy()
        described = [
            interval(_present(table, score.name, values, rows), confidence, score.bounds) for rows in members
        ]
        columns.update(zip(_statistics(score.name), map(list, zip(*described, strict=True)), strict=True))
    return pd.DataFrame(columns)


def groups(table: pd.DataFrame, keys: list[str]) -> tuple[np.ndarray, int]:
    """Each row's group by `keys` (numbered in the order the groups first appear, as
    `groupby(keys, sort=False).ngroup()` numbers them) and the number of groups."""
    combined = np.zeros(len(table), dtype=np.int64)
    for key in keys:
        codes, distinct = pd.factorize(table[key])
        if (codes < 0).any():  # a missing key: its rows are in no group
            grouped = table.groupby(keys, sort=False)
            return grouped.ngroup().to_numpy(), grouped.ngroups
        combined = combined * len(distinct) + codes
    group, distinct = pd.factorize(combined)
    return group, len(distinct)


def _present(table: pd.DataFrame, name: str, values: np.ndarray, rows: np.ndarray) -> np.ndarray:
    """`table[name].iloc[rows].dropna().to_numpy()`, from `values` (its `to_numpy()`)."""
    if values.dtype == np.float64:
        chosen = values[rows]
        return chosen[~np.isnan(chosen)]
    if values.dtype.kind in "iub":  # nothing is missing
        return values[rows]
    return table[name].iloc[rows].dropna().to_numpy()


@functools.cache
def _statistics(name: str) -> tuple[str, str, str, str]:
    """The summary's columns of a score: what `interval` gives, in its order."""
    return f"{name}_mean", f"{name}_sd", f"{name}_ci_low", f"{name}_ci_high"


def interval(
    values: np.ndarray,
    confidence: float = CONFIDENCE,
    bounds: tuple[float, float] = (-np.inf, np.inf),
) -> tuple[float, float, float, float]:
    """Mean, standard deviation and the t confidence interval of the mean (NaN where undefined),
    cut at `bounds`, the values the score can take: the true mean lies within them, so the cut
    interval covers it exactly as often, and never shows a share above 100% or a negative count.

    The numbers are numpy's (`mean`, `std(ddof=1)`, `clip`) to the bit; thousands of these make a
    report, so a float64 array takes a shorter road to them (`_mean_sd`, and Python's `min` and
    `max`, which cut as `np.clip` does, NaN and signed zeros included: tests/test_output_stage.py)."""
    n = len(values)
    if n < 2:
        return (float(values.mean()) if n else np.nan), np.nan, np.nan, np.nan
    return _t_interval(*_mean_sd(values), n, confidence, bounds)


def _t_interval(
    mean: float, sd: float, n: int, confidence: float, bounds: tuple[float, float] = (-np.inf, np.inf)
) -> tuple[float, float, float, float]:
    """`interval` of n ≥ 2 values with this mean and sd."""
    half = _t_quantile(confidence, n - 1) * sd / math.sqrt(n)
    low, high = bounds
    return mean, sd, float(min(max(mean - half, low), high)), float(min(max(mean + half, low), high))


def _mean_sd(values: np.ndarray) -> tuple[float, float]:
    """`values.mean()` and `values.std(ddof=1)` (at least two values), the same bits: for a 1-D
    float64 array the very steps numpy's own take (a pairwise sum divided by the count, the
    deviations from that mean squared and summed pairwise, divided by count − 1, the square root),
    without their overhead."""
    if not (isinstance(values, np.ndarray) and values.dtype == np.float64 and values.ndim == 1):
        return float(values.mean()), float(values.std(ddof=1))
    n = len(values)
    mean = float(np.add.reduce(values)) / n
    deviations = values - mean
    np.multiply(deviations, deviations, out=deviations)
    return mean, math.sqrt(float(np.add.reduce(deviations)) / (n - 1))


def _rows_mean_sd(rows: np.ndarray) -> tuple[list[float], list[float]]:
    """`_mean_sd` of each row of a C-ordered float64 array (at least two columns), all at once,
    the same bits: numpy sums each row of such an array pairwise, just as it sums the row alone
    (tests/test_output_stage.py), and every other step is elementwise."""
    n = rows.shape[1]
    means = np.add.reduce(rows, axis=1) / n
    deviations = rows - means[:, None]
    np.multiply(deviations, deviations, out=deviations)
    return means.tolist(), np.sqrt(np.add.reduce(deviations, axis=1) / (n - 1)).tolist()


@functools.cache
def _t_quantile(confidence: float, dof: int) -> float:
    """The two-sided t critical value; cached, since thousands of comparisons share a few sizes."""
    from scipy import special  # stats.t.ppf's own routine, without importing all of scipy.stats

    return float(special.stdtrit(dof, 0.5 + confidence / 2))


@dataclass(frozen=True)
class Comparison:
    """A strategy against another on the same replications: differences of one score."""

    strategy: str
    versus: str
    score: str
    replications: int
    mean: float
    sd: float
    ci_low: float
    ci_high: float
    better_share: float  # share of replications in which `strategy` did better (strictly)
    worse_share: float
    verdict: str


def paired(
    scores: pd.DataFrame, strategy: str, versus: str | None, score: str, confidence: float = CONFIDENCE
) -> Comparison:
    """`strategy` minus `versus` on `score`, replication by replication (common random numbers).

    The verdict is "better" or "worse" (or "higher"/"lower" for scores with no better direction)
    only when the confidence interval of the mean difference excludes zero.
    """
    return _paired(_Wide(scores), strategy, versus, score, confidence)


def comparisons(
    scores: pd.DataFrame, versus: str | None = None, confidence: float = CONFIDENCE
) -> pd.DataFrame:
    """Every ordered pair of strategies (or every strategy against `versus` only) on every score:
    one row per (strategy, versus, score)."""
    wide = _Wide(scores)
    rows = [
        comparison
        for score in SCORES
        if score.name in scores
        for comparison in _pairs(wide, score.name, versus, confidence)
    ]
    return pd.DataFrame(rows, columns=list(Comparison.__dataclass_fields__))


class _Wide:
    """The scores by strategy and replication: `grid(score)` is what
    `scores.pivot(index="replication", columns="strategy", values=score)` holds (a row per
    strategy, in the order they first appear; a column per replication, sorted; NaN where a
    strategy has no row), placed with numpy instead of a pivot per score and strategy."""

    def __init__(self, scores: pd.DataFrame):
        self.scores = scores
        self.codes, names = pd.factorize(scores["strategy"]) if len(scores) else (np.zeros(0, int), [])
        self.names: list[str] = list(names)
        self._columns: dict[str, np.ndarray] = {}
        self._float_columns: dict[str, np.ndarray] | None = None
        if not len(scores):
            self.cells, self.replications, self.placed = None, 0, False
            return
        replication = scores["replication"].to_numpy()
        distinct, position = np.unique(replication, return_inverse=True)
        self.replications = len(distinct)
        self.cells = self.codes * self.replications + position
        # numpy places the values only where the pivot is sure to be the same: whole-number
        # replications, one row per (strategy, replication); otherwise the pivot (and its errors)
        self.placed = (
            replication.dtype.kind in "iu"
            and bool((self.codes >= 0).all())
            and len(np.unique(self.cells)) == len(self.cells)
        )

    def column(self, score: str) -> np.ndarray:
        """`scores[score].to_numpy()` (float64 columns: a view of all of them taken at once)."""
        floats = self._floats()
        if score in floats:
            return floats[score]
        if score not in self._columns:
            self._columns[score] = self.scores[score].to_numpy()
        return self._columns[score]

    def _floats(self) -> dict[str, np.ndarray]:
        if self._float_columns is None:
            names = [name for name, kind in self.scores.dtypes.items() if kind == np.float64]
            values = self.scores[names].to_numpy().T if names else np.empty((0, len(self.scores)))
            self._float_columns = dict(zip(names, values, strict=True))
        return self._float_columns

    def grid(self, score: str) -> np.ndarray:
        """(strategy × replication) values of `score`; no replication when it is not a column."""
        if score not in self.scores or not len(self.scores):
            return np.empty((len(self.names), 0))
        values = self.column(score)
        if self.placed and values.dtype == np.float64:
            grid = np.full(len(self.names) * self.replications, np.nan)
            grid[self.cells] = values
            return grid.reshape(len(self.names), self.replications)
        table = self.scores.pivot(index="replication", columns="strategy", values=score)
        return np.array([table[name].to_numpy() for name in self.names])

    def present(self, score: str, rows: np.ndarray) -> np.ndarray:
        """`scores[score].iloc[rows].dropna().to_numpy()`: the values the rows have (none when
        `score` is not a column)."""
        if score not in self.scores:
            return np.empty(0)
        return _present(self.scores, score, self.column(score), rows)


def _paired(wide: _Wide, strategy: str, versus: str | None, score: str, confidence: float) -> Comparison:
    """`paired` on scores laid out by `_Wide`."""
    if strategy in wide.names and versus in wide.names:
        grid = wide.grid(score)
        a, b = grid[[wide.names.index(strategy)]], grid[[wide.names.index(versus)]]
    else:
        a = b = np.empty((1, 0))
    return Comparison(*_compared([strategy], [versus], score, a, b, confidence)[0])


def _pairs(wide: _Wide, score: str, versus: str | None, confidence: float) -> list[tuple]:
    """Every strategy against every other (or against `versus` only) on `score`, in the order of
    `comparisons`: each a tuple of the `Comparison` fields."""
    count = len(wide.names)
    if versus is None:
        pairs = [(a, b) for a in range(count) for b in range(count) if a != b]
    elif versus in wide.names:
        against = wide.names.index(versus)
        pairs = [(a, against) for a in range(count) if a != against]
    else:
        pairs = []
    grid = wide.grid(score)
    first, second = [a for a, _ in pairs], [b for _, b in pairs]
    return _compared(
        [wide.names[a] for a in first],
        [wide.names[b] for b in second],
        score,
        grid[first],
        grid[second],
        confidence,
    )


def _compared(
    strategies: Sequence[str],
    versus: Sequence[str | None],
    score: str,
    a: np.ndarray,
    b: np.ndarray,
    confidence: float,
) -> list[tuple]:
    """Row p of `a` minus row p of `b` (paired values, a column per replication) on the
    replications where both have one: `strategies[p]` against `versus[p]`, as a tuple of the
    `Comparison` fields. Every step is elementwise, and each mean and sd is taken from that
    comparison's own differences (`interval`): each is what it would be alone."""
    both = ~(np.isnan(a) | np.isnan(b))
    difference = a - b
    difference[np.abs(difference) <= TOLERANCE * np.maximum(1.0, np.maximum(np.abs(a), np.abs(b)))] = 0.0
    better = SCORE[score].better if score in SCORE else "higher"
    above, below = (difference > 0) & both, (difference < 0) & both
    wins, losses = (below, above) if better == "lower" else (above, below)
    counts, whole = both.sum(axis=1).tolist(), both.all(axis=1).tolist()
    won, lost = wins.sum(axis=1).tolist(), losses.sum(axis=1).tolist()
    every = [p for p, complete in enumerate(whole) if complete]  # the pairs with a value every replication
    moments = {}
    if every and difference.dtype == np.float64 and difference.shape[1] >= 2:
        means, sds = _rows_mean_sd(np.ascontiguousarray(difference[every]))
        moments = {p: (mean, sd) for p, mean, sd in zip(every, means, sds, strict=True)}
    found = []
    for p, n in enumerate(counts):
        if p in moments:
            ends = _t_interval(*moments[p], n, confidence)
        else:
            ends = interval(difference[p] if whole[p] else difference[p][both[p]], confidence)
        low, high = ends[2], ends[3]
        shares = (won[p] / n, lost[p] / n) if n else (np.nan, np.nan)
        found.append(
            (strategies[p], versus[p] or "", score, n, *ends, *shares, _verdict(low, high, n, better))
        )
    return found


def _verdict(low: float, high: float, n: int, better: str) -> str:
    if n == 0:
        return ""  # nothing to compare: the score does not apply
    if n < 2:
        return TOO_FEW
    if np.isnan(low) or low <= 0 <= high:
        return NO_DIFFERENCE
    up = low > 0
    if better == "":
        return "higher" if up else "lower"
    return "better" if up == (better == "higher") else "worse"


def readable(value: float) -> str:
    """About four significant digits, thousands separated, never in exponent form; "–" for none."""
    if value is None or math.isnan(value):
        return "–"
    decimals = 6 if value == 0 else min(6, max(0, 3 - math.floor(np.log10(abs(value)))))
    if round(value, decimals) == 0:  # 0, and rounding noise such as 2e-15: never "0.000000"
        return "0"
    return f"{value:,.{decimals}f}"


@dataclass(frozen=True)
class Verdict:
    """Who did best on a score among the strategies a seller could run, and whether the others
    are clearly behind; the benchmarks (oracles) are ranked apart."""

    leader: str | None
    tied: tuple[str, ...]  # strategies not clearly behind the leader (paired interval includes 0)
    behind: tuple[Comparison, ...]  # the leader against each other strategy
    text: str
    benchmarks: tuple[Comparison, ...] = ()  # each benchmark against the leader


def verdict(
    scores: pd.DataFrame,
    score: str = "profit",
    confidence: float = CONFIDENCE,
    benchmark: Collection[str] = (),
) -> Verdict:
    """The runnable strategy (not a `benchmark`) with the best mean `score`, declared the winner
    only if its paired interval against every other runnable strategy excludes zero; the text
    then says how each benchmark compares with it."""
    means = scores.groupby("strategy", sort=False)[score].mean().dropna() if len(scores) else pd.Series()
    oracles = [name for name in means.index if name in benchmark]
    means = means.drop(oracles)
    if means.empty:
        text = "No strategy finished." if not oracles else "Only benchmarks that use hidden truth finished."
        return Verdict(None, (), (), text)
    better = SCORE[score].better or "higher"
    leader = str(means.idxmin() if better == "lower" else means.idxmax())
    label = SCORE[score].label.lower()
    wide = _Wide(scores)
    against = tuple(
        _paired(wide, leader, other, score, confidence) for other in means.index if other != leader
    )
    tied = tuple(c.versus for c in against if c.verdict != "better")
    if len(means) == 1:
        text = f"Only one strategy a seller could run was compared: {leader}."
    elif not tied:
        closest = min(against, key=lambda c: abs(c.mean))
        text = (
            f"Winner on {label}: {leader}. Its paired {confidence:.0%} interval excludes zero against "
            f"every other strategy; the runner-up, {closest.versus}, trails by {readable(closest.mean)} "
            f"[{readable(closest.ci_low)}, {readable(closest.ci_high)}]."
        )
    else:
        text = (
            f"No clear winner on {label}: {leader} has the best mean, but there is no clear difference "
            f"from {', '.join(tied)} (paired {confidence:.0%} interval includes zero)."
        )
    measured = tuple(_paired(wide, name, leader, score, confidence) for name in oracles)
    for comparison in measured:
        text += (
            f" Benchmark {comparison.strategy} (uses hidden truth, ranked apart): "
            f"{_signed(comparison.mean)} [{readable(comparison.ci_low)}, {readable(comparison.ci_high)}] "
            f"against {leader}."
        )
    return Verdict(leader, tied, against, text, measured)


def _signed(value: float) -> str:
    text = readable(value)
    return f"+{text}" if value > 0 else text
