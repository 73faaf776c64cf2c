"""Tidy tables from finished runs: daily per seller, daily per seller and segment, scores."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd

from market_sim.metrics import TOLERANCE, add_benchmarks, run_scores
from market_sim.population import Population
from market_sim.result_folder import csv_text, read_back
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
    return _concat([pd.DataFrame(daily_columns(scenario, run)) for run in runs])


def daily_columns(scenario: Scenario, run: Run) -> dict[str, np.ndarray]:
    """One run's rows of `daily_table`, column by column."""
    sellers = [s.name for s in scenario.sellers]
    ledger, days = run.ledger, run.ledger.days_recorded
    rows = days * len(sellers)
    columns = {name: getattr(ledger, name)[:days].ravel() for name in DAILY_COLUMNS}
    inventory = columns["inventory"]
    columns["inventory"] = np.where(inventory == np.inf, np.nan, inventory)  # unlimited: left empty
    return {
        "strategy": np.full(rows, run.strategy, dtype=object),
        "replication": np.full(rows, run.replication, dtype=np.int64),
        "day": np.repeat(np.arange(days, dtype=np.int64) + ledger.first_day, len(sellers)),
        "seller": np.tile(np.array(sellers, dtype=object), days),
        "shoppers": np.repeat(ledger.shoppers[:days], len(sellers)),
        **columns,
    }


def segments_table(scenario: Scenario, runs: list[Run]) -> pd.DataFrame:
    """One row per strategy × replication × day × seller × segment (new and returning
    customers together)."""
    return _concat([pd.DataFrame(segments_columns(scenario, run)) for run in runs])


def segments_columns(scenario: Scenario, run: Run) -> dict[str, np.ndarray]:
    """One run's rows of `segments_table`, column by column."""
    sellers = np.array([s.name for s in scenario.sellers], dtype=object)
    segments = np.array([s.name for s in scenario.consumers.segments], dtype=object)
    cells = len(sellers) * len(segments)
    ledger, days = run.ledger, run.ledger.days_recorded
    units, revenue = _cells(ledger.segment_units, days), _cells(ledger.segment_revenue, days)
    return {
        "strategy": np.full(days * cells, run.strategy, dtype=object),
        "replication": np.full(days * cells, run.replication, dtype=np.int64),
        "day": np.repeat(np.arange(days, dtype=np.int64) + ledger.first_day, cells),
        "seller": np.tile(np.repeat(sellers, len(segments)), days),
        "segment": np.tile(segments, days * len(sellers)),
        "visitors": _cells(ledger.views, days),
        "buyers": units,
        "units": units,
        "revenue": revenue,
        "avg_price_paid": np.divide(revenue, units, out=np.full(len(units), np.nan), where=units > 0),
        "consumer_surplus": _cells(ledger.segment_surplus, days),
    }


@dataclass(frozen=True)
class Tabulated:
    """A finished run with its share of the output tables, made where the run ran (so on many
    workers the tables are made in parallel too)."""

    run: Run
    daily_csv: str  # its rows of daily.csv, with the header
    segments_csv: str  # its rows of segments.csv, with the header
    scores: dict | None  # its row of scores.csv; None when the run failed
    offers: pd.DataFrame | None = None  # its rows of offers.csv (run --log-offers)
    impulse_csv: str = ""  # its rows of impulse.csv (batched learning runs), with the header
    shoppers_csv: str = ""  # its rows of shoppers.csv (shopper features), with the header
    # its rows of daily.csv and segments.csv as the report reads them (result_folder.parsed),
    # parsed here so that the report need not parse the whole files again
    daily: pd.DataFrame | None = None
    segments: pd.DataFrame | None = None


def tabulate(scenario: Scenario, run: Run) -> Tabulated:
    """One run's rows of every output table."""
    scores = score_row(scenario, run)
    uniform = np.nan if scores is None else scores["uniform_price"]
    daily, segments = daily_columns(scenario, run), segments_columns(scenario, run)
    daily_csv, segments_csv = csv_text(daily), csv_text(segments)
    return Tabulated(
        run,
        daily_csv,
        segments_csv,
        scores,
        offers_table(scenario, run) if hasattr(run.ledger, "offers_day") else None,
        impulse_csv=csv_text(impulse_table(scenario, [run])) if run.impulse is not None else "",
        shoppers_csv=csv_text(shoppers_table(scenario, run, uniform)) if scenario.consumers.features else "",
        daily=read_back(daily, daily_csv),
        segments=read_back(segments, segments_csv),
    )


SHOPPER_BINS = 8  # quantile bins of a feature with more distinct values than this
SHOPPERS_COLUMNS = (
    "strategy",
    "replication",
    "feature",
    "bin",
    "low",
    "high",
    "value",
    "group_by",
    "group",
    "hidden",
    "buyers",
    "units",
    "revenue",
    "paying_more",
    "paying_less",
    "uniform_price",
)


def shoppers_table(scenario: Scenario, run: Run, uniform_price: float) -> pd.DataFrame:
    """What the focal seller's customers paid against their features, when it set personal
    prices: one row per observable feature × bin of it × group of consumers (hidden segments,
    else a hidden feature's halves): customers who bought (`buyers`), their `units` and
    `revenue` (so `revenue / units` is the average price paid), the mean feature value of the
    bin's buyers (`value`), and how many paid on average more / less than the run's best uniform
    price. A feature with few values gets a bin per value, others `SHOPPER_BINS` quantile bins of
    the whole population ([low, high), the last one closed). No rows when the seller never
    priced shoppers one by one."""
    ledger, focal = run.ledger, scenario.focal_index
    audit = ledger.audit
    days = ledger.days_recorded
    if run.failure is not None or audit is None or not ledger.personal[:days, focal].any():
        return pd.DataFrame(columns=SHOPPERS_COLUMNS)
    bought = audit["purchases"] > 0
    units, spend = audit["purchases"][bought], audit["spend"][bought]
    paid = spend / units
    slack = TOLERANCE * max(1.0, abs(uniform_price))
    group_by, labels, hidden, group = _shopper_groups(audit)
    group = group[bought]
    rows = []
    for f in np.flatnonzero(audit["feature_observable"]):
        everyone = audit["features"][:, f]
        x = everyone[bought]
        lows, highs = _bins(everyone)
        where = np.searchsorted(lows[1:], x, side="right")
        for b in range(len(lows)):
            for g, label in enumerate(labels):
                cell = (where == b) & (group == g)
                if not cell.any():
                    continue
                rows.append(
                    {
                        "strategy": run.strategy,
                        "replication": run.replication,
                        "feature": str(audit["feature_names"][f]),
                        "bin": b,
                        "low": lows[b],
                        "high": highs[b],
                        "value": float(x[cell].mean()),
                        "group_by": group_by,
                        "group": label,
                        "hidden": hidden[g],
                        "buyers": int(cell.sum()),
                        "units": int(units[cell].sum()),
                        "revenue": float(spend[cell].sum()),
                        "paying_more": int((paid[cell] > uniform_price + slack).sum()),
                        "paying_less": int((paid[cell] < uniform_price - slack).sum()),
                        "uniform_price": uniform_price,
                    }
                )
    return pd.DataFrame(rows, columns=SHOPPERS_COLUMNS)


def _bins(values: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Lower and upper edges of a feature's bins: one per value when it has few, else
    quantiles of the whole population."""
    distinct = np.unique(values)
    if len(distinct) <= SHOPPER_BINS:
        return distinct, distinct
    edges = np.unique(np.quantile(values, np.linspace(0, 1, SHOPPER_BINS + 1)))
    return edges[:-1], edges[1:]


def _shopper_groups(audit: dict) -> tuple[str, list[str], list[bool], np.ndarray]:
    """The groups shoppers are told apart by (what, labels, hidden from the seller?, each
    consumer's group): the segments when there are several, else the first hidden feature (its
    values, or below / above its median), else everyone together."""
    names = [str(n) for n in audit["segment_names"]]
    if len(names) > 1:
        return "segment", names, [not bool(o) for o in audit["segment_observable"]], audit["segment"]
    concealed = np.flatnonzero(~np.asarray(audit["feature_observable"], dtype=bool))
    if len(concealed):
        f = concealed[0]
        name, x = str(audit["feature_names"][f]), audit["features"][:, f]
        if np.isin(x, (0.0, 1.0)).all():
            return name, [f"{name} = 0", f"{name} = 1"], [True, True], (x > 0.5).astype(int)
        upper = (x > np.median(x)).astype(int)
        return name, [f"{name} below median", f"{name} above median"], [True, True], upper
    return "all", ["all"], [False], np.zeros(len(audit["segment"]), dtype=int)


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


def impulse_table(scenario: Scenario, runs: list[Run]) -> pd.DataFrame:
    """One row per strategy × replication × day × seller of the impulse response: day −1 before
    the focal seller's one-day deviation, day 0 the deviation, then the days after."""
    sellers = [s.name for s in scenario.sellers]
    frames = []
    for run in runs:
        if run.impulse is None:
            continue
        days = len(run.impulse)
        frames.append(
            pd.DataFrame(
                {
                    "strategy": run.strategy,
                    "replication": run.replication,
                    "day": np.repeat(np.arange(days) - 1, len(sellers)),
                    "seller": np.tile(sellers, days),
                    "price": run.impulse.ravel(),
                }
            )
        )
    return _concat(frames)


def score_row(scenario: Scenario, run: Run) -> dict | None:
    """The focal seller's scores of one finished run."""
    if run.failure is not None:
        return None
    valuations = focal_valuations(scenario, run.replication)
    scores = run_scores(run.ledger, scenario.focal_index, valuations)
    return {"strategy": run.strategy, "replication": run.replication, **scores, **(run.learning or {})}


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
