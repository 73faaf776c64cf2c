"""Tidy tables from finished runs: daily per seller, daily per seller and segment, scores."""

from __future__ import annotations

import numpy as np
import pandas as pd

from market_sim.metrics import run_scores
from market_sim.runner import Run
from market_sim.scenario import Scenario

DAILY_COLUMNS = (
    "price",
    "units",
    "revenue",
    "cost_of_goods",
    "holding_cost",
    "order_cost",
    "salvage",
    "profit",
    "inventory",
    "lost_sales",
    "received",
    "ordered",
    "stockout",
    "guardrail_hits",
    "reason",
)


def daily_table(scenario: Scenario, runs: list[Run]) -> pd.DataFrame:
    """One row per strategy × replication × day × seller."""
    sellers = [s.name for s in scenario.sellers]
    frames = []
    for run in runs:
        ledger, days = run.ledger, run.ledger.days_recorded
        columns = {name: getattr(ledger, name)[:days].ravel() for name in DAILY_COLUMNS}
        frame = pd.DataFrame(
            {
                "strategy": run.strategy,
                "replication": run.replication,
                "day": np.repeat(np.arange(days), len(sellers)),
                "seller": np.tile(sellers, days),
                "shoppers": np.repeat(ledger.shoppers[:days], len(sellers)),
                **columns,
            }
        )
        frame["inventory"] = frame["inventory"].replace(np.inf, np.nan)  # unlimited: left empty
        frames.append(frame)
    return _concat(frames)


def segments_table(scenario: Scenario, runs: list[Run]) -> pd.DataFrame:
    """One row per strategy × replication × day × seller × segment (new and returning
    customers together)."""
    sellers = [s.name for s in scenario.sellers]
    segments = [s.name for s in scenario.consumers.segments]
    cells = len(sellers) * len(segments)
    frames = []
    for run in runs:
        ledger, days = run.ledger, run.ledger.days_recorded
        units, revenue = _cells(ledger.segment_units, days), _cells(ledger.segment_revenue, days)
        frames.append(
            pd.DataFrame(
                {
                    "strategy": run.strategy,
                    "replication": run.replication,
                    "day": np.repeat(np.arange(days), cells),
                    "seller": np.tile(np.repeat(sellers, len(segments)), days),
                    "segment": np.tile(segments, days * len(sellers)),
                    "visitors": _cells(ledger.views, days),
                    "buyers": units,
                    "units": units,
                    "revenue": revenue,
                    "avg_price_paid": np.divide(
                        revenue, units, out=np.full(len(units), np.nan), where=units > 0
                    ),
                    "consumer_surplus": _cells(ledger.segment_surplus, days),
                }
            )
        )
    return _concat(frames)


def scores_table(scenario: Scenario, runs: list[Run]) -> pd.DataFrame:
    """One row per strategy × replication: the focal seller's scores (finished runs only)."""
    focal = scenario.focal_index
    rows = [
        {"strategy": run.strategy, "replication": run.replication, **run_scores(run.ledger, focal)}
        for run in runs
        if run.failure is None
    ]
    return pd.DataFrame(rows)


def _cells(array: np.ndarray, days: int) -> np.ndarray:
    """Day × seller × segment cells, new and returning customers added up."""
    return array[:days].sum(axis=-1).ravel()


def _concat(frames: list[pd.DataFrame]) -> pd.DataFrame:
    return pd.concat(frames, ignore_index=True) if frames else pd.DataFrame()
