"""Scores on constructed ledgers (theory.md §5 and §6 reproduced exactly) and the paired
statistics on synthetic replications with a known winner and with no difference."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from market_sim import metrics
from market_sim.ledger import Ledger


def segment_ledger(cells: list[tuple[float, float, float, float]], days: int = 1) -> Ledger:
    """One seller; per segment (shopping visits, units, price paid, consumer surplus), all on
    day 0 and all new customers."""
    ledger = Ledger(days, 1, len(cells))
    for g, (views, units, price, surplus) in enumerate(cells):
        ledger.views[0, 0, g, 0] = views
        ledger.segment_units[0, 0, g, 0] = units
        ledger.segment_revenue[0, 0, g, 0] = units * price
        ledger.segment_surplus[0, 0, g, 0] = surplus
        ledger.offered[:, 0, g] = price
        ledger.consumer_surplus[0, g] = surplus  # a max-surplus market: the realised surplus
    ledger.units[0, 0] = sum(units for _, units, _, _ in cells)
    ledger.revenue[0, 0] = sum(units * price for _, units, price, _ in cells)
    ledger.shoppers[0] = sum(views for views, _, _, _ in cells)
    ledger.inventory[:] = np.inf
    ledger.price[:, 0] = cells[0][2]
    ledger.days_recorded = days
    return ledger


def uniform_valuations(high: float, n: int = 400_000) -> np.ndarray:
    """Valuations evenly filling [0, high]: a uniform distribution without sampling noise."""
    return (np.arange(n) + 0.5) / n * high


def test_fairness_gaps_and_gini_reproduce_cohen_et_al_instance():
    """theory.md §6: V₀ ~ U[0, 2] (mass 0.35), V₁ ~ U[0, 4.5] (mass 0.65), prices (1.3, 2.55)."""
    views = (42_000, 78_000)  # 0.35 and 0.65 of 120,000 shoppers
    demand = (1 - 1.3 / 2, 1 - 2.55 / 4.5)  # P(V ≥ p) = 0.35, 0.4333
    surplus = ((2 - 1.3) ** 2 / 4, (4.5 - 2.55) ** 2 / 9)  # E[(V − p)⁺] = 0.1225, 0.4225 per shopper
    cells = [
        (v, round(v * d), p, v * s) for v, d, p, s in zip(views, demand, (1.3, 2.55), surplus, strict=True)
    ]
    assert [units for _, units, _, _ in cells] == [14_700, 33_800]
    scores = metrics.run_scores(segment_ledger(cells), 0, [uniform_valuations(2), uniform_valuations(4.5)])
    assert scores["price_gap"] == pytest.approx(1.25)
    assert scores["demand_gap"] == pytest.approx(0.4333333 - 0.35, rel=1e-6)
    assert scores["surplus_gap"] == pytest.approx(0.4225 - 0.1225)
    assert scores["no_purchase_gap"] == pytest.approx(2.55 / 2 - 1.3 / 2, abs=1e-5)  # E[V | V < p] = p/2
    assert scores["price_gini"] == pytest.approx(0.121611, abs=1e-6)
    assert scores["price_ratio"] == pytest.approx(1.961538, abs=1e-6)


def test_discrimination_scores_reproduce_theory_section_5():
    """Q₁ = 110 − p, Q₂ = 100 − 2p, c = 10: prices 60 / 30 against the uniform 40, per day."""
    apart = segment_ledger([(110, 50, 60, 1250), (100, 40, 30, 400)])
    apart.price[0, 0] = 40  # the posted base price; both segments pay their own
    apart.cost_of_goods[0, 0] = 10 * 90
    together = segment_ledger([(110, 70, 40, 2450), (100, 20, 40, 100)])
    together.cost_of_goods[0, 0] = 10 * 90
    split, single = metrics.run_scores(apart, 0), metrics.run_scores(together, 0)
    assert (split["profit"], single["profit"]) == (3300, 2700)
    assert (split["consumer_surplus"], single["consumer_surplus"]) == (1650, 2550)
    assert split["price_gini"] == pytest.approx(0.158730, abs=1e-6)
    assert (split["price_ratio"], single["price_ratio"]) == (2.0, 1.0)
    assert (split["price_gap"], single["price_gap"], single["price_gini"]) == (30, 0, 0)
    # the single price has the larger demand and surplus gaps (theory.md §6: fairness notions conflict)
    assert split["demand_gap"] == pytest.approx(50 / 110 - 40 / 100)
    assert single["demand_gap"] == pytest.approx(70 / 110 - 20 / 100)
    assert single["surplus_gap"] > split["surplus_gap"]
    # every segment paid its own usual price: segment prices are not surges (issue 10, item 4;
    # this assertion said 50 / 90 when the usual price was the median posted base price)
    assert split["share_above_usual"] == 0
    assert single["share_above_usual"] == 0
    assert np.isnan(split["no_purchase_gap"])  # no valuations given


def test_inventory_and_behaviour_scores_on_a_constructed_run():
    ledger = Ledger(4, 2, 1)
    ledger.price[:, 0] = [10, 10, 12, 9]
    ledger.offered[:, 0, 0] = ledger.price[:, 0]
    ledger.units[:, 0] = [5, 5, 2, 0]
    ledger.units[:, 1] = [5, 0, 0, 8]
    ledger.revenue[:, 0] = ledger.units[:, 0] * ledger.price[:, 0]
    ledger.lost_sales[:, 0] = [0, 0, 3, 4]
    ledger.inventory[:, 0] = [7, 2, 0, 6]
    ledger.stockout[:, 0] = [False, False, True, False]
    ledger.received[:, 0] = [0, 0, 0, 6]
    ledger.ordered[:, 0] = [0, 6, 0, 0]
    ledger.shoppers[:] = 20
    ledger.segment_units[:, 0, 0, 0] = ledger.units[:, 0]
    ledger.segment_revenue[:, 0, 0, 0] = ledger.revenue[:, 0]
    ledger.days_recorded = 4
    scores = metrics.run_scores(ledger, 0)
    assert scores["units"] == 12 and scores["revenue"] == 124
    assert scores["avg_price_paid"] == pytest.approx(124 / 12)
    assert scores["market_share"] == pytest.approx(12 / 25)
    assert scores["avg_stock"] == pytest.approx(15 / 4)
    assert scores["turnover"] == pytest.approx(12 / (15 / 4))
    assert scores["fill_rate"] == pytest.approx(12 / 19)
    assert scores["leftover_units"] == 6 and scores["stockout_days"] == 1 and scores["orders_placed"] == 1
    assert scores["price_volatility"] == pytest.approx((0 + 2 + 3) / 3)
    assert scores["price_changes"] == 2
    # usual price: the median posted price, 10; the two units sold at 12 were above it
    assert scores["share_above_usual"] == pytest.approx(2 / 12)
    assert scores["profit_per_shopper"] == pytest.approx(124 / 80)


def test_unlimited_stock_has_no_average_stock_or_turnover():
    scores = metrics.run_scores(segment_ledger([(10, 4, 5.0, 3.0)]), 0)
    assert np.isnan(scores["avg_stock"]) and np.isnan(scores["turnover"])
    assert scores["leftover_units"] == 0 and scores["fill_rate"] == 1


def synthetic_scores(effects: dict[str, float], replications: int = 30, noise: float = 0.0) -> pd.DataFrame:
    """Profit per replication: a shared market shock (common random numbers), each strategy's
    effect, and `noise` of the strategy's own."""
    rng = np.random.default_rng(7)
    market = rng.normal(1000, 200, replications)
    rows = [
        {"strategy": name, "replication": r, "profit": market[r] + effect + rng.normal(0, noise)}
        for name, effect in effects.items()
        for r in range(replications)
    ]
    return pd.DataFrame(rows)


def test_paired_difference_finds_a_known_winner_that_separate_intervals_miss():
    scores = synthetic_scores({"base": 0.0, "better": 25.0}, noise=5.0)
    comparison = metrics.paired(scores, "better", "base", "profit")
    assert comparison.verdict == "better"
    assert comparison.ci_low > 0 and comparison.ci_low < 25 < comparison.ci_high
    assert comparison.better_share > 0.95
    summary = metrics.summarise(scores).set_index("strategy")
    # the market shock (sd 200) swamps the effect in each strategy's own interval
    assert summary.loc["better", "profit_ci_low"] < summary.loc["base", "profit_ci_high"]
    assert summary.loc["better", "profit_verdict"] == "better"
    assert summary.loc["base", "profit_verdict"] == "baseline"
    verdict = metrics.verdict(scores)
    assert verdict.leader == "better" and verdict.tied == ()
    assert verdict.text.startswith("Winner on profit: better.")


def test_no_real_difference_is_reported_as_none():
    scores = synthetic_scores({"a": 0.0, "b": 0.0, "c": 0.0}, noise=10.0)
    for other in ("b", "c"):
        assert metrics.paired(scores, other, "a", "profit").verdict == metrics.NO_DIFFERENCE
    verdict = metrics.verdict(scores)
    assert len(verdict.tied) == 2
    assert verdict.text.startswith("No clear winner on profit:")


def test_identical_strategies_differ_by_exactly_zero_despite_rounding():
    scores = synthetic_scores({"a": 0.0, "b": 0.0})
    scores.loc[scores["strategy"] == "b", "profit"] += 1e-12  # summation-order noise
    comparison = metrics.paired(scores, "b", "a", "profit")
    assert (comparison.mean, comparison.better_share, comparison.verdict) == (0, 0, metrics.NO_DIFFERENCE)


def test_lower_is_better_scores_and_too_few_replications():
    scores = pd.DataFrame(
        {
            "strategy": ["a", "a", "a", "b", "b", "b"],
            "replication": [0, 1, 2] * 2,
            "stockout_days": [5, 6, 7, 1, 2, 3],
        }
    )
    assert metrics.paired(scores, "b", "a", "stockout_days").verdict == "better"
    assert metrics.paired(scores, "a", "b", "stockout_days").verdict == "worse"
    one = scores[scores["replication"] == 0]
    assert metrics.paired(one, "b", "a", "stockout_days").verdict == metrics.TOO_FEW


def test_pairs_only_replications_both_strategies_finished():
    scores = synthetic_scores({"a": 0.0, "b": 10.0}, replications=5)
    scores = scores[~((scores["strategy"] == "b") & (scores["replication"] == 3))]
    comparison = metrics.paired(scores, "b", "a", "profit")
    assert comparison.replications == 4 and comparison.mean == pytest.approx(10)


def test_comparisons_hold_every_ordered_pair_and_score():
    scores = synthetic_scores({"a": 0.0, "b": 3.0, "c": -3.0}, replications=4)
    table = metrics.comparisons(scores)
    assert len(table) == 3 * 2 and set(table["score"]) == {"profit"}  # the scores the table has
    assert len(metrics.comparisons(scores, versus="a")) == 2
    row = table[(table["strategy"] == "b") & (table["versus"] == "c") & (table["score"] == "profit")].iloc[0]
    assert row["mean"] == pytest.approx(6) and row["verdict"] == "better"


def test_regret_against_the_oracle_and_profit_gain_index():
    scores = pd.DataFrame(
        {
            "strategy": ["oracle", "oracle", "nash", "nash", "cartel", "cartel"],
            "replication": [0, 1] * 3,
            "profit": [10.0, 12.0, 7.0, 8.0, 9.0, 12.0],
            "profit_per_shopper": [0.3, 0.3, 0.222927, 0.222927, 0.337490, 0.337490],
        }
    )
    scored = metrics.add_benchmarks(scores, oracle="oracle", nash_profit=0.222927, joint_profit=0.337490)
    assert scored["regret"].tolist() == [0, 0, 3, 4, 1, 0]
    assert scored.loc[scored["strategy"] == "nash", "profit_gain"].tolist() == [0, 0]
    assert scored.loc[scored["strategy"] == "cartel", "profit_gain"].tolist() == pytest.approx([1, 1])
    plain = metrics.add_benchmarks(scores)
    assert plain["regret"].isna().all() and plain["profit_gain"].isna().all()


def test_summary_has_mean_sd_and_t_interval():
    scores = pd.DataFrame({"strategy": "s", "replication": range(4), "profit": [1.0, 2.0, 3.0, 4.0]})
    row = metrics.summarise(scores).iloc[0]
    half = 3.182446305284263 * np.std([1, 2, 3, 4], ddof=1) / 2  # t(0.975, 3)
    assert row["profit_mean"] == 2.5 and row["profit_sd"] == pytest.approx(1.2909944)
    assert (row["profit_ci_low"], row["profit_ci_high"]) == pytest.approx((2.5 - half, 2.5 + half))
    assert np.isnan(row["units_mean"])  # a score nobody recorded stays empty, not zero


def test_segment_scores_from_the_daily_segment_table():
    segments = pd.DataFrame(
        {
            "strategy": "s",
            "replication": 0,
            "day": [0, 0, 0, 0, 1, 1, 1, 1],
            "seller": ["us", "us", "them", "them"] * 2,
            "segment": ["a", "b"] * 4,
            "visitors": [10, 20, 10, 20, 10, 20, 10, 20],
            "units": [2, 4, 1, 1, 2, 0, 0, 3],
            "revenue": [20, 32, 9, 9, 24, 0, 0, 27],
            "consumer_surplus": [5, 6, 1, 1, 3, 0, 0, 2],
        }
    )
    table = metrics.segment_scores(segments, "us").set_index("segment")
    assert table.loc["a", "visitors"] == 20 and table.loc["a", "units"] == 4
    assert table.loc["a", "avg_price_paid"] == pytest.approx(11)
    assert table.loc["b", "purchase_rate"] == pytest.approx(4 / 40)
    assert table.loc["a", "consumer_surplus"] == 9  # every seller's buyers
    assert table.loc["a", "surplus_per_visit"] == pytest.approx(8 / 20)  # the focal seller's


def brute_force_gini(values: np.ndarray, weights: np.ndarray) -> float:
    x = np.repeat(values, weights)
    return float(np.abs(x[:, None] - x[None, :]).sum() / (2 * len(x) ** 2 * x.mean()))


@given(
    st.lists(
        st.tuples(st.floats(0.01, 100, allow_nan=False), st.integers(1, 5)),
        min_size=1,
        max_size=12,
    )
)
def test_weighted_gini_matches_its_definition(pairs):
    values = np.array([v for v, _ in pairs])
    weights = np.array([w for _, w in pairs])
    assert metrics.gini((values, weights)) == pytest.approx(brute_force_gini(values, weights), abs=1e-9)
    assert 0 <= metrics.gini((values, weights)) < 1
    assert metrics.gini((values * 3.7, weights)) == pytest.approx(metrics.gini((values, weights)), abs=1e-9)


@pytest.mark.parametrize(
    ("value", "text"),
    [(48112.0, "48,112"), (30.0, "30.00"), (1.472927, "1.473"), (0.0, "0"), (0.0000123, "0.000012")]
    + [(2.368e-15, "0"), (-6.3e-18, "0"), (4e-7, "0")],  # rounding noise: 0, never "0.000000"
)
def test_numbers_read_well_and_never_in_exponent_form(value, text):
    assert metrics.readable(value) == text
    assert metrics.readable(12_345_678.9) == "12,345,679"
    assert metrics.readable(np.nan) == "–"


# --- intervals within each score's range (issue 10, item 5) -----------------------------------


def test_intervals_stay_within_what_each_score_can_take():
    """A fill rate near 100%, lost sales and leftovers near 0: the t interval alone would say
    99.7% [99.2%, 100.1%] or lost sales [−0.22, 1.22]."""
    replications = 8
    scores = pd.DataFrame(
        {
            "strategy": "s",
            "replication": range(replications),
            "fill_rate": [1, 1, 1, 1, 1, 1, 1, 0.976],
            "lost_sales": [0, 0, 0, 0, 0, 0, 0, 1],
            "leftover_units": [0, 0, 0, 0, 0, 0, 0, 40],
            "price_ratio": [1, 1, 1, 1, 1, 1, 1, 1.3],
            "profit": [-5, 0, 5, -5, 0, 5, -5, 0],
        }
    )
    row = metrics.summarise(scores).iloc[0]
    assert row["fill_rate_ci_high"] == 1 and row["fill_rate_ci_low"] == pytest.approx(
        0.997 - 2.364624 * 0.0084853 / np.sqrt(8), abs=1e-6
    )
    assert row["lost_sales_ci_low"] == 0 and row["leftover_units_ci_low"] == 0
    assert row["lost_sales_ci_high"] == pytest.approx(
        0.125 + 2.364624 * np.sqrt(0.125) / np.sqrt(8), abs=1e-5
    )
    assert row["price_ratio_ci_low"] == 1
    assert row["profit_ci_low"] < -3  # money can be negative: not cut
    # the segment table is cut too: a purchase rate is a share
    segments = pd.DataFrame(
        {
            "strategy": "s",
            "segment": "a",
            "replication": range(4),
            **{s.name: [0.0, 0.0, 0.0, 0.1] for s in metrics.SEGMENT_SCORES},
        }
    )
    assert metrics.summarise_segments(segments).iloc[0]["purchase_rate_ci_low"] == 0


@settings(max_examples=25, deadline=None)
@given(st.lists(st.floats(0, 1), min_size=2, max_size=30))
def test_every_summarised_interval_lies_in_the_score_range(values):
    scores = pd.DataFrame({"strategy": "s", "replication": range(len(values))})
    for score in metrics.SCORES:
        low, high = score.bounds
        scores[score.name] = np.clip(values, low, high)
    row = metrics.summarise(scores).iloc[0]
    for score in metrics.SCORES:
        low, high = score.bounds
        assert low <= row[f"{score.name}_ci_low"] <= row[f"{score.name}_ci_high"] <= high, score.name


def test_the_segment_price_ratio_is_the_largest_daily_ratio_not_a_ratio_of_averages():
    """Two days within a 1.25 cap whose run averages are 1.3 apart would read 1.3 as a ratio of
    averages (issue 10, item 7)."""
    ledger = Ledger(2, 1, 2)
    ledger.offered[:, 0] = [[50, 40], [25, 20]]  # each day 1.25 apart
    ledger.segment_units[:, 0, :, 0] = [[10, 0], [0, 10]]  # the dear segment buys on the dear day
    ledger.segment_revenue[:, 0, :, 0] = ledger.segment_units[:, 0, :, 0] * ledger.offered[:, 0]
    ledger.days_recorded = 2
    scores = metrics.run_scores(ledger, 0)
    assert scores["price_ratio"] == pytest.approx(1.25)
    assert scores["price_gap"] == pytest.approx(50 - 20)  # averages paid: labelled as such
