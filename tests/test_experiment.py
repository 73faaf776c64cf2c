"""A/B tests that know the truth: the `experiment:` block, the estimates against the effect of
switching the whole market, coverage, bias, peeking, and the run's files and report."""

from __future__ import annotations

import json
import math
import textwrap

import numpy as np
import pandas as pd
import pytest

from market_sim import experiment
from market_sim.cli import main
from market_sim.loader import ScenarioError, parse_scenario, scenario_to_yaml

# the logit duopoly of theory.md §3 with the rival fixed at the Nash price; arms 1.47 and 1.65
MARKET = """
name: A/B test
days: 20
replications: 40
seed: 8
market: {{choice: logit, outside_utility: 0}}
consumers:
  population: 300
  segments:
    - {{name: everyone, share: 1, visit_rate: 0.3, wtp: 0, price_sensitivity: 4}}
sellers:
  - {{name: our_shop, focal: true, unit_cost: 1, quality: 2{stock}}}
  - {{name: rival, unit_cost: 1, quality: 2, strategy: {{kind: fixed, price: 1.47}}}}
strategies:
  - {{kind: fixed, price: 1.47, name: control}}
  - {{kind: fixed, price: 1.65, name: treatment}}
experiment:
  arms:
    - control: control
    - treatment: treatment
  unit: {unit}
  days: 20
"""


def _scenario(unit="day", stock="", **changes):
    text = textwrap.dedent(MARKET.format(unit=unit, stock=stock))
    return parse_scenario(text, "ab.yaml", overrides=list(changes.items()))


def _profit_per_shopper(price: float, rival: float = 1.47) -> float:
    """(p − c) s(p): the logit share against the rival and the outside option (theory.md §3)."""
    own, other = math.exp(4 * (2 - price)), math.exp(4 * (2 - rival))
    return (price - 1) * own / (1 + own + other)


def test_experiment_block_loads_and_round_trips():
    scenario = _scenario()
    assert [(a.name, a.strategy) for a in scenario.experiment.arms] == [
        ("control", "control"),
        ("treatment", "treatment"),
    ]
    assert scenario.experiment.unit == "day" and scenario.experiment.days == 20
    again = parse_scenario(scenario_to_yaml(scenario), "ab.yaml")
    assert again.experiment == scenario.experiment


@pytest.mark.parametrize(
    ("path", "value", "message"),
    [
        ("experiment.arms", "[{control: control}]", "needs two or more arms"),
        (
            "experiment.arms",
            "[{control: contrl}, {t: treatment}]",
            "no strategy named 'contrl' in `strategies`; did you mean 'control'?",
        ),
        ("experiment.arms", "[{a: control}, {a: treatment}]", "duplicate arm name 'a'"),
        (
            "experiment.arms",
            "[{a: control, b: treatment}, {t: treatment}]",
            "must be one `arm name: strategy name` pair",
        ),
        ("experiment.unit", "week", "must be one of shopper, day"),
        ("experiment.days", "3", "at least two days"),
        ("experiment.detect", "-1", "must be a number > 0"),
        ("experiment.peek", "true", "unknown key 'peek'"),
    ],
)
def test_bad_experiment_blocks_name_the_field(path, value, message):
    with pytest.raises(ScenarioError) as error:
        _scenario(**{path: value})
    assert message in str(error.value) and (error.value.path.startswith(path.rsplit(".", 1)[0]))


def test_a_shopper_level_test_needs_drawn_shoppers():
    with pytest.raises(ScenarioError) as error:
        _scenario(unit="shopper", **{"market.demand": "expected"})
    assert error.value.path == "experiment.unit" and "use unit: day" in str(error.value)
    assert _scenario(unit="day", **{"market.demand": "expected"}).experiment.unit == "day"


def test_an_oracle_cannot_be_an_arm():
    text = textwrap.dedent(MARKET.format(unit="day", stock="")).replace(
        "  - {kind: fixed, price: 1.65, name: treatment}", "  - {kind: oracle_best_fixed, name: treatment}"
    )
    with pytest.raises(ScenarioError, match="is an oracle"):
        parse_scenario(text, "ab.yaml")


def test_day_randomised_test_covers_the_truth_with_unlimited_stock():
    result = experiment.run_experiment(_scenario())
    table = result.table[result.table["arm"] == "treatment"]
    assert len(table) == 40 and (table["units"] == 10).all()
    # the truth is the logit closed form up to the replication's own draws
    expected = _profit_per_shopper(1.65) - _profit_per_shopper(1.47)
    assert expected == pytest.approx(-0.024787, abs=1e-6)
    assert abs(table["true_effect"].mean() - expected) < 4 * table["true_effect"].std() / math.sqrt(40)
    summary = result.summary.set_index("arm")
    row = summary.loc["treatment"]
    assert row["coverage_ok"] and row["coverage"] >= 0.85
    assert abs(row["bias"]) < 3 * row["bias_std_error"]
    # an A/A split of the control: about 5% false positives once, more when peeking daily
    aa = summary.loc["A/A (control split in two)"]
    assert aa["significant_once"] <= 0.15 and aa["significant_peeking"] >= aa["significant_once"]
    # the power preview: MDE = (z₀.₉₇₅ + z₀.₈) σ √(2/n) from the pilot's daily outcomes
    power = result.preview
    assert power["units_per_arm"] == 10
    assert power["minimum_detectable_effect"] == pytest.approx(
        2.8016 * power["outcome_sd"] * math.sqrt(2 / 10), rel=1e-3
    )


def test_a_shared_limited_stock_breaks_the_test_and_it_says_so():
    # about 42 shoppers a day buy at 1.47: 600 units last the control alone about 14 of 20 days
    result = experiment.run_experiment(
        _scenario(stock=", inventory: {initial: 600, salvage_value: 1}"), replications=20
    )
    row = result.summary.set_index("arm").loc["treatment"]
    # switching the whole market to 1.65 paces the stock and earns more; the test sees the opposite sign
    assert row["mean_true_effect"] > 0 > row["mean_effect"]
    # day randomisation gives wide intervals (10 days an arm), and still they miss the truth
    assert not row["coverage_ok"] and row["coverage"] < 0.85 and row["bias"] < -5 * row["bias_std_error"]


def test_run_writes_the_experiment_files_and_the_report_section(tmp_path):
    (tmp_path / "ab.yaml").write_text(textwrap.dedent(MARKET.format(unit="day", stock="")))
    out = tmp_path / "out"
    assert (
        main(
            [
                "run",
                str(tmp_path / "ab.yaml"),
                "--out",
                str(out),
                "--replications",
                "4",
                "--quiet",
                "--workers",
                "1",
            ]
        )
        == 0
    )
    table = pd.read_csv(out / "experiment.csv")
    assert len(table) == 4 * 2
    assert {"replication", "arm", "effect", "ci_low", "ci_high", "p_value", "true_effect"} <= set(
        table.columns
    )
    control = table[table["arm"] == "control"]
    assert (control["effect"] == 0).all() and control["p_value"].isna().all()
    assert json.loads((out / "experiment_preview.json").read_text())["unit"] == "day"
    page = (out / "report.html").read_text()
    assert "A/B test against the truth" in page and "Peeking" in page


def test_effect_estimators_on_known_numbers():
    # days: Welch's t on each day's profit per shopper
    margin, visits = np.array([10.0, 12, 20, 22]), np.array([10.0, 10, 10, 10])
    arms = np.array([0, 0, 1, 1])
    effect = experiment.estimate_effect(margin, visits, arms, 1, 0, "day")
    assert effect.estimate == pytest.approx(1.0) and effect.std_error == pytest.approx(
        math.sqrt(0.02 / 2 + 0.02 / 2)
    )
    # shoppers: ratio of totals, delta-method variance clustered by shopper
    margin, visits = np.array([1.0, 3, 0, 2, 6, 4]), np.array([1.0, 2, 1, 1, 2, 1])
    arms = np.array([0, 0, 0, 1, 1, 1])
    effect = experiment.estimate_effect(margin, visits, arms, 1, 0, "shopper")
    assert effect.estimate == pytest.approx(12 / 4 - 4 / 4)
    r0, r1 = 1.0, 3.0
    var0 = ((1 - r0) ** 2 + (3 - 2 * r0) ** 2 + (0 - r0) ** 2) / 16 * 3 / 2
    var1 = ((2 - r1) ** 2 + (6 - 2 * r1) ** 2 + (4 - r1) ** 2) / 16 * 3 / 2
    assert effect.std_error == pytest.approx(math.sqrt(var0 + var1))


def test_the_experiment_gives_the_same_numbers_on_one_process_or_two():
    scenario = _scenario()
    one = experiment.run_experiment(scenario, replications=4, workers=1)
    two = experiment.run_experiment(scenario, replications=4, workers=2)
    pd.testing.assert_frame_equal(one.table, two.table)
    pd.testing.assert_frame_equal(one.summary, two.summary)
    assert one.preview == two.preview
