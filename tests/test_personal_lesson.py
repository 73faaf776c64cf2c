"""Lesson 7: every claim of its notes, checked against a reduced run (fewer replications)."""

from __future__ import annotations

from pathlib import Path

import pandas as pd
import pytest

from market_sim.loader import load_scenario
from market_sim.runner import comparison_jobs, run_once
from market_sim.tables import score_row, segments_table

pytest.importorskip("sklearn")

LESSON = Path(__file__).resolve().parents[1] / "scenarios" / "lessons" / "07_personalised_pricing.yaml"
UNIFORM, RULE, ML, ORACLE = (
    "one price (21.8)",
    "rule: income and loyalty",
    "ml_pricing (logistic)",
    "oracle_personal (benchmark)",
)


@pytest.fixture(scope="module")
def lesson_run():
    scenario = load_scenario(LESSON, overrides=[("replications", 2)])
    runs = [run_once(job) for job in comparison_jobs(scenario)]
    assert all(run.failure is None for run in runs)
    scores = (
        pd.DataFrame([score_row(scenario, run) for run in runs]).groupby("strategy").mean(numeric_only=True)
    )
    segments = segments_table(scenario, runs)
    focal = (
        segments[segments["seller"] == "shop"]
        .groupby(["strategy", "segment"])[["revenue", "units", "visitors", "consumer_surplus"]]
        .sum()
    )
    focal["price"] = focal["revenue"] / focal["units"]
    focal["surplus_per_visit"] = focal["consumer_surplus"] / focal["visitors"]
    return scores, focal


def test_the_notes_on_profit(lesson_run):
    scores, _ = lesson_run
    profit = scores["profit"]
    assert profit[UNIFORM] < profit[RULE] < profit[ML] < profit[ORACLE]
    assert scores.loc[ORACLE, "gain_over_uniform"] > 0.1 * profit[UNIFORM]  # more than 10% over one price
    assert abs(scores.loc[UNIFORM, "uniform_price"] - 21.8) < 0.1  # one price is the best uniform price


def test_the_notes_on_consumers_and_winners(lesson_run):
    scores, focal = lesson_run
    surplus = scores["consumer_surplus"]
    assert (
        surplus[ORACLE] < surplus[UNIFORM] and surplus[ML] < surplus[UNIFORM] and surplus[RULE] < surplus[ML]
    )
    assert scores.loc[ORACLE, "share_paying_less"] > 0.5  # most buyers pay less than one price
    assert scores.loc[RULE, "share_paying_more"] > 0.5
    assert focal.loc[(ORACLE, "younger"), "price"] < 21.8 < focal.loc[(ORACLE, "older"), "price"]


def test_the_notes_on_proxy_discrimination(lesson_run):
    scores, focal = lesson_run
    for strategy in (ML, ORACLE):
        assert focal.loc[(strategy, "older"), "price"] > focal.loc[(strategy, "younger"), "price"] + 2
        assert scores.loc[strategy, "hidden_price_gap"] > 2
    assert scores.loc[UNIFORM, "hidden_price_gap"] == pytest.approx(0, abs=1e-9)
    older = focal.xs("older", level="segment")["surplus_per_visit"]
    assert older[ORACLE] < 0.7 * older[UNIFORM]  # the hidden group loses most
