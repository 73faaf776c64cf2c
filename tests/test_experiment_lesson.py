"""Lesson 8: the A/B test that tells the truth and the two that do not, with the biases its
notes state (run small here: 8 of the lesson's 40 replications)."""

from __future__ import annotations

from pathlib import Path

import pytest

from market_sim.experiment import run_experiment
from market_sim.loader import load_scenario

LESSON = Path(__file__).resolve().parents[1] / "scenarios" / "lessons" / "08_testing_prices.yaml"
STOCK = ("sellers[0].inventory", "{initial: 3000, salvage_value: 1}")
RIVAL = ("sellers[1].strategy", "{kind: competitor_response, target: our_shop, reference: average}")


def _treatment(*overrides):
    scenario = load_scenario(LESSON, overrides)
    return run_experiment(scenario, replications=8).summary.set_index("arm").loc["treatment"]


def test_the_notes_state_what_the_lesson_measures():
    notes = load_scenario(LESSON).lesson
    for stated in ("−0.0248", "bias −0.0012 ± 0.0007", "Bias −0.052 ±", "Bias −0.082 ±", "+0.029", "+0.064"):
        assert stated in notes


def test_unlimited_stock_and_a_fixed_rival_tell_the_truth():
    row = _treatment()
    assert row["mean_true_effect"] == pytest.approx(-0.0248, abs=0.004)
    assert abs(row["bias"]) < 3 * row["bias_std_error"] and row["coverage"] >= 0.75


@pytest.mark.parametrize(
    ("override", "truth", "estimate", "bias"),
    [(STOCK, 0.029, -0.024, -0.052), (RIVAL, 0.064, -0.018, -0.082)],
)
def test_a_shared_stock_or_a_reacting_rival_mislead_by_the_stated_bias(override, truth, estimate, bias):
    row = _treatment(override)
    assert row["mean_true_effect"] == pytest.approx(truth, abs=0.006)
    assert row["mean_effect"] == pytest.approx(estimate, abs=0.006)
    assert row["bias"] == pytest.approx(bias, abs=max(0.006, 4 * row["bias_std_error"]))
    assert row["coverage"] < 0.5 and not row["coverage_ok"]
