"""Every quantitative claim in the notes of the strategy scenarios (scenarios/strategies/),
checked against a shortened run of the scenario (issue 10, item 2)."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from market_sim import theory
from tests.test_lessons import LessonRun, inside, notes, run_lesson

LAST = 30  # days: "over the last 30 days"


def late_prices(run: LessonRun, strategy: str, first_day: int) -> pd.Series:
    """Each seller's mean price from `first_day` on, all replications together."""
    rows = run.everyone[(run.everyone["strategy"] == strategy) & (run.everyone["day"] >= first_day)]
    return rows.groupby("seller")["price"].mean()


# --- learning_duopoly ---------------------------------------------------------------------------


@pytest.fixture(scope="module")
def duopoly(tmp_path_factory) -> LessonRun:
    return run_lesson(tmp_path_factory, "learning_duopoly", "--replications", "2")


def test_learning_duopoly_notes(duopoly):
    text = notes("learning_duopoly")
    first = 120 - LAST
    assert "over the last 30 days both charge about 1.47–1.51 on average" in text
    learners = late_prices(duopoly, "learner", first)
    assert learners.between(1.47, 1.51).all(), learners
    assert "at least 0.03 above the learner that watches the rival over the last 30 days" in text
    blind = late_prices(duopoly, "learner that ignores the rival", first)["firm_1"]
    assert blind > learners["firm_1"] + 0.03 and blind > 1.4729 + 0.03
    assert "within 0.01 of 1.4729 over the last 30 days" in text
    oracle = late_prices(duopoly, "oracle best response", first)
    assert oracle["firm_1"] == pytest.approx(1.472927, abs=0.01)
    assert duopoly.summary.loc["oracle best response", "benchmark"]


# --- learning_to_price ---------------------------------------------------------------------------

DAYS = 180  # half a year: the claims are about the first months


@pytest.fixture(scope="module")
def learning(tmp_path_factory) -> LessonRun:
    return run_lesson(tmp_path_factory, "learning_to_price", "--replications", "2", "--days", str(DAYS))


def changes(run: LessonRun, strategy: str, first: int, last: int) -> pd.Series:
    """Per replication, the number of days in [first, last) on which the price changed."""
    rows = run.daily[run.daily["strategy"] == strategy].sort_values(["replication", "day"])
    moved = rows.groupby("replication")["price"].diff().abs() > 1e-9
    inside_days = rows["day"].between(first, last - 1)
    return moved[inside_days].groupby(rows.loc[inside_days, "replication"]).sum()


def test_learning_to_price_notes(learning):
    text = notes("learning_to_price")
    thompson, greedy = "Thompson sampling", "greedy (certainty equivalent)"
    wrong = "Thompson sampling, wrong (exponential) model"
    assert "its price changes every day" in text
    assert (changes(learning, thompson, 30, DAYS) == DAYS - 30).all()
    assert "settles near 30 (within 1 on average over the last two months)" in text
    assert "still ends near 30 (within 1 over the last two months)" in text
    for strategy in (thompson, wrong):
        assert late_prices(learning, strategy, DAYS - 60)["shop"] == pytest.approx(30, abs=1), strategy
    # regret: what the best fixed price in hindsight earned that day, less Thompson's
    assert "over the first three months several times what it pays over the next three" in text
    profit = learning.daily.pivot_table(index="day", columns="strategy", values="profit")  # mean
    regret = profit["oracle: best fixed price in hindsight"] - profit[thompson]
    assert regret.loc[:89].sum() > 3 * regret.loc[90:].sum() > 0
    assert (
        "by the sixth month, in some replications its price changes on 3 days of the month or fewer" in text
    )
    stalled = changes(learning, greedy, DAYS - LAST, DAYS)
    assert (stalled <= 3).any(), stalled
    assert learning.summary.loc["oracle: best fixed price in hindsight", "benchmark"]


# --- season_stock --------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def season(tmp_path_factory) -> LessonRun:
    return run_lesson(tmp_path_factory, "season_stock", "--replications", "3")


def test_season_stock_notes(season):
    text = notes("season_stock")
    told, learned = "inventory-aware, told the demand", "inventory-aware, learning the demand"
    ignoring = {"best price without a stock limit (1.5)": 6, "demand-response (ignores the stock)": 11}
    assert "the shop stands empty on about 6 (the price 1.5) and 11 (demand_response) of the 50 days" in text
    for strategy, days in ignoring.items():
        empty = season.daily[(season.daily["strategy"] == strategy) & (season.daily["inventory"] <= 0)]
        assert empty.groupby("replication")["day"].min().max() < 50 - 3, strategy  # days before the end
        assert season.contains(strategy, "stockout_days", days), strategy
    assert "against under one day for inventory_aware" in text
    assert season.mean(told, "stockout_days") < 1 and season.mean(learned, "stockout_days") < 1
    assert "J*(200, 50) − 200 × 0.5 = 219.1" in text
    optimum = theory.gvr_optimal_revenue(20, 1, 200, 50) - 200 * 0.5
    assert f"{optimum:.1f}" == "219.1" and season.contains(told, "profit", optimum)
    assert "it earns only a few less (about 3, under 3% of the profit, on the same shoppers)" in text
    difference = season.versus(learned, told)
    assert inside(difference, -3) and abs(difference.mean) < 0.03 * optimum
    assert season.summary.loc["oracle: best fixed price in hindsight", "benchmark"]


# --- segments_and_coupons ------------------------------------------------------------------------


@pytest.fixture(scope="module")
def segments(tmp_path_factory) -> LessonRun:
    return run_lesson(tmp_path_factory, "segments_and_coupons", "--replications", "2")


def test_segments_and_coupons_notes(segments):
    text = notes("segments_and_coupons")
    half = 60  # of 120 days
    learned, capped = "segment prices, learned", "learned, at most 1.3 × apart"
    coupon, single, given = (
        "(62 / 32), 4 off for new customers",
        "best single price (40)",
        "segment prices (60 / 30)",
    )
    assert "the segments pay within 1.5 of 60 and 30" in text
    assert segments.paid(learned, "regulars", half) == pytest.approx(60, abs=1.5)
    assert segments.paid(learned, "students", half) == pytest.approx(30, abs=1.5)
    assert (
        "the cheaper segment pays more (over 32 in the second half), the dearer one less (under 55)" in text
    )
    assert segments.paid(capped, "students", half) > 32 and segments.paid(capped, "regulars", half) < 55
    assert "below the uncapped learner's, above the single price 40's" in text
    assert segments.versus(capped, learned).ci_high < 0 < segments.versus(capped, single).ci_low
    assert "each segment pays on average between the coupon price and the full price" in text
    assert 58 < segments.paid(coupon, "regulars", 0) < 62 and 28 < segments.paid(coupon, "students", 0) < 32
    assert "profit ends within 1% of the (60, 30) prices'" in text
    assert abs(segments.versus(coupon, given).mean) < 0.01 * segments.mean(given, "profit")


# --- promotions_and_guardrails ------------------------------------------------


@pytest.fixture(scope="module")
def promotions(tmp_path_factory) -> LessonRun:
    return run_lesson(tmp_path_factory, "promotions_and_guardrails", "--replications", "3")


def test_promotions_scenario_notes_rank_the_promotions_as_the_run_does(promotions):
    text = notes("promotions_and_guardrails")
    everyday = "everyday price (cost + 80%)"
    claims = {
        "25% off on events": (-1700, "(about −1,700 over the run)"),
        "25% off, from two days before": (-11_000, "(about −11,000, second to last)"),
        "Friday flash sales and a new-customer coupon": (13_000, "(about +13,000 over the run)"),
        "learned price, 20% off on events": (-37_000, "comes last (about −37,000)"),
    }
    for strategy, (difference, phrase) in claims.items():
        assert phrase in text
        assert promotions.versus(strategy, everyday).mean == pytest.approx(difference, rel=0.2), strategy
    ranked = promotions.summary["profit_mean"].sort_values(ascending=False).index.tolist()
    assert ranked[-2:] == ["25% off, from two days before", "learned price, 20% off on events"]
    assert ranked[0] == "Friday flash sales and a new-customer coupon"
    assert np.all(promotions.summary.loc[list(claims)[:2], "units_mean"] > promotions.mean(everyday, "units"))
