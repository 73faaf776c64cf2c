"""Tidy tables from finished runs: daily per seller, daily per seller and segment, scores."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd

from market_sim.metrics import add_benchmarks, run_scores
from market_sim.population import Population
from market_sim.result_folder import csv_text
from market_sim.runner import Run
from market_sim.scenario import Scenario
from market_sim.streams import Purpose, stream
from market_sim.theory import logit_profits

ORACLE = "oracle_best_fixed"  # the benchmark that `regret` is measured against

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


@dataclass(frozen=True)
class Tabulated:
    """A finished run with its share of the output tables, made where the run ran (so on many
    workers the tables are made in parallel too)."""

    run: Run
    daily_csv: str  # its rows of daily.csv, with the header
    segments_csv: str  # its rows of segments.csv, with the header
    scores: dict | None  # its row of scores.csv; None when the run failed
    offers: pd.DataFrame | None = None  # its rows of offers.csv (run --log-offers)


def tabulate(scenario: Scenario, run: Run) -> Tabulated:
    """One run's rows of every output table."""
    return Tabulated(
        run,
        csv_text(daily_table(scenario, [run])),
        csv_text(segments_table(scenario, [run])),
        score_row(scenario, run),
        offers_table(scenario, run) if hasattr(run.ledger, "offers_day") else None,
    )


def offers_table(scenario: Scenario, run: Run) -> pd.DataFrame:
    """One row per shopper × seller × day shown an offer: the shopper as the seller sees them
    (pseudonym, visible segment, observable features), the price shown and whether they bought."""
    ledger, sellers = run.ledger, [s.name for s in scenario.sellers]
    names = [s.name for s in scenario.consumers.segments]
    observable = [name for name, f in scenario.consumers.features.items() if f.observable]
    count = len(ledger.offers_day)
    segment = np.array([*names, ""], dtype=object)[ledger.offers_segment]  # −1: the hidden ""
    features = ledger.offers_features.reshape(count, len(observable))
    columns = {
        "strategy": run.strategy,
        "replication": run.replication,
        "day": np.repeat(ledger.offers_day, len(sellers)),
        "seller": np.tile(sellers, count),
        "shopper": np.repeat(ledger.offers_shopper, len(sellers)),
        "segment": np.repeat(segment, len(sellers)),
    }
    columns |= {name: np.repeat(features[:, k], len(sellers)) for k, name in enumerate(observable)}
    columns["price"] = ledger.offers_price.reshape(count, len(sellers)).ravel()
    bought = ledger.offers_choice[:, None] == np.arange(len(sellers))[None, :]
    columns["bought"] = bought.ravel().astype(int)
    return pd.DataFrame(columns)


def score_row(scenario: Scenario, run: Run) -> dict | None:
    """The focal seller's scores of one finished run."""
    if run.failure is not None:
        return None
    valuations = focal_valuations(scenario, run.replication)
    scores = run_scores(run.ledger, scenario.focal_index, valuations)
    return {"strategy": run.strategy, "replication": run.replication, **scores}


def scores_from_rows(scenario: Scenario, rows: list[dict]) -> pd.DataFrame:
    """scores.csv from the finished runs' rows, with the benchmark scores that compare runs."""
    logit = logit_profits(scenario)
    return add_benchmarks(
        pd.DataFrame(rows) if rows else pd.DataFrame(columns=["strategy", "replication"]),
        oracle=next((spec.name for spec in scenario.strategies if spec.kind == ORACLE), None),
        nash_profit=logit[0] if logit else None,
        joint_profit=logit[1] if logit else None,
    )


def scores_table(scenario: Scenario, runs: list[Run]) -> pd.DataFrame:
    """One row per strategy × replication: the focal seller's scores (finished runs only), with
    regret against `oracle_best_fixed` when it is compared and Δ where a logit closed form exists."""
    rows = [score_row(scenario, run) for run in runs]
    return scores_from_rows(scenario, [row for row in rows if row is not None])


def focal_valuations(scenario: Scenario, replication: int) -> list[np.ndarray]:
    """Per segment, every consumer's valuation of the focal offer on an ordinary day (wtp + focal
    quality − outside utility): the replication's population, drawn again from its own stream."""
    population = Population.draw(
        scenario.consumers, len(scenario.sellers), stream(scenario.seed, replication, Purpose.POPULATION)
    )
    value = population.wtp + scenario.focal.quality - scenario.market.outside_utility
    return [value[population.segment == g] for g in range(len(population.segment_names))]


def _cells(array: np.ndarray, days: int) -> np.ndarray:
    """Day × seller × segment cells, new and returning customers added up."""
    return array[:days].sum(axis=-1).ravel()


def _concat(frames: list[pd.DataFrame]) -> pd.DataFrame:
    return pd.concat(frames, ignore_index=True) if frames else pd.DataFrame()
