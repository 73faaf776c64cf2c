"""Scores of one run from its ledger, and their statistics across replications.

One definition per score (the report's glossary quotes these docstrings):
- profit: revenue − cost of goods − holding − order costs + salvage. Cost of goods is the
  unit cost of every unit received (initial stock and deliveries): charged as units sell,
  and for units left after the last day, when their salvage value is credited.
- fill_rate: units sold / (units sold + lost sales); 1 when nobody asked.
- stockout_days: days the seller ended with nothing left on the shelf.
- consumer_surplus: over every purchase in the market, the buyer's money value of the offer
  (wtp × event multiplier + quality + loyalty − price) minus the outside utility; taste
  shocks are not money and are left out.
- price_gini: Gini coefficient of the prices paid in the focal seller's transactions.
- price_gap, demand_gap, surplus_gap: max − min across segments of, for the focal seller,
  the average price paid, the purchase rate per shopping visit, and the consumer surplus per
  shopping visit.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
from scipy import stats

from market_sim.ledger import Ledger

SCORES = (
    "profit",
    "revenue",
    "units",
    "avg_price_paid",
    "market_share",
    "stockout_days",
    "lost_sales",
    "fill_rate",
    "leftover_units",
    "holding_cost",
    "orders_placed",
    "consumer_surplus",
    "price_gini",
    "price_gap",
    "demand_gap",
    "surplus_gap",
    "guardrail_hits",
    "price_changes",
)


def run_scores(ledger: Ledger, seller: int) -> dict[str, float]:
    """Every score of one seller over one run."""
    days = slice(0, ledger.days_recorded)
    units = ledger.units[days, seller].sum()
    revenue = ledger.revenue[days, seller].sum()
    lost = ledger.lost_sales[days, seller].sum()
    all_units = ledger.units[days].sum()
    seg_units = ledger.segment_units[days, seller].sum(axis=(0, 2))
    seg_revenue = ledger.segment_revenue[days, seller].sum(axis=(0, 2))
    seg_views = ledger.views[days, seller].sum(axis=(0, 2))
    seg_surplus = ledger.segment_surplus[days, seller].sum(axis=(0, 2))
    visited = seg_views > 0
    leftover = ledger.inventory[ledger.days_recorded - 1, seller] if ledger.days_recorded else 0.0
    prices = ledger.price[days, seller]
    return {
        "profit": float(ledger.profit[days, seller].sum()),
        "revenue": float(revenue),
        "units": float(units),
        "avg_price_paid": float(revenue / units) if units else np.nan,
        "market_share": float(units / all_units) if all_units else np.nan,
        "stockout_days": float(ledger.stockout[days, seller].sum()),
        "lost_sales": float(lost),
        "fill_rate": float(units / (units + lost)) if units + lost else 1.0,
        "leftover_units": float(leftover) if np.isfinite(leftover) else 0.0,
        "holding_cost": float(ledger.holding_cost[days, seller].sum()),
        "orders_placed": float((ledger.ordered[days, seller] > 0).sum()),
        "consumer_surplus": float(ledger.segment_surplus[days].sum()),
        "price_gini": gini(_paid_prices(ledger, seller)),
        "price_gap": spread(seg_revenue[seg_units > 0] / seg_units[seg_units > 0]),
        "demand_gap": spread(seg_units[visited] / seg_views[visited]),
        "surplus_gap": spread(seg_surplus[visited] / seg_views[visited]),
        "guardrail_hits": float(ledger.guardrail_hits[days, seller].sum()),
        "price_changes": float(np.count_nonzero(np.diff(prices))),
    }


def _paid_prices(ledger: Ledger, seller: int) -> tuple[np.ndarray, np.ndarray]:
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
    return float(pairs / (total**2 * mean))


def spread(values: np.ndarray) -> float:
    """Max − min, 0 with fewer than two values."""
    return float(values.max() - values.min()) if len(values) > 1 else 0.0


def summarise(scores: pd.DataFrame, confidence: float = 0.95) -> pd.DataFrame:
    """Mean, standard deviation and t confidence interval of every score, per strategy.

    `scores` has one row per (strategy, replication); the result one row per strategy, in the
    order strategies first appear.
    """
    rows = []
    for strategy, group in scores.groupby("strategy", sort=False):
        row = {"strategy": strategy, "replications": len(group)}
        for score in SCORES:
            row.update(_describe(group[score].dropna().to_numpy(), score, confidence))
        rows.append(row)
    return pd.DataFrame(rows)


def _describe(values: np.ndarray, score: str, confidence: float) -> dict[str, float]:
    n = len(values)
    mean = values.mean() if n else np.nan
    sd = values.std(ddof=1) if n > 1 else np.nan
    half = stats.t.ppf(0.5 + confidence / 2, n - 1) * sd / np.sqrt(n) if n > 1 else np.nan
    return {
        f"{score}_mean": mean,
        f"{score}_sd": sd,
        f"{score}_ci_low": mean - half,
        f"{score}_ci_high": mean + half,
    }
