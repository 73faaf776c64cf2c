"""Lesson 8: the A/B test that tells the truth and the two that do not. Its notes state what
these tests check: the lesson as it is on all 40 of its replications (the same numbers on
every machine), the two misleading variants on 8 of them against the figures stated."""

from __future__ import annotations

from pathlib import Path

import pytest

from market_sim.experiment import run_experiment
from market_sim.loader import load_scenario

LESSON = Path(__file__).resolve().parents[1] / "scenarios" / "lessons" / "08_testing_prices.yaml"
STOCK = ("sellers[0].inventory", "{initial: 3000, salvage_value: 1}")
RIVAL = ("sellers[1].strategy", "{kind: competitor_response, target: our_shop, reference: average}")


def _notes() -> str:
    return " ".join(load_scenario(LESSON).lesson.split())  # line breaks as spaces


def _minus(value: float, digits: int) -> str:
    return f"{value:+.{digits}f}".replace("-", "−")


def test_the_lesson_as_it_is_tells_the_truth_and_peeking_misleads():
    result = run_experiment(load_scenario(LESSON))
    summary = result.summary.set_index("arm")
    row, aa = summary.loc["treatment"], summary.loc["A/A (control split in two)"]
    treated = result.table[result.table["arm"] == "treatment"]
    covered = (
        (treated["ci_low"] <= treated["true_effect"]) & (treated["true_effect"] <= treated["ci_high"])
    ).sum()
    notes = _notes()
    assert row["mean_true_effect"] == pytest.approx(-0.0248, abs=0.001)  # theory's −0.0248
    assert (
        f"the test estimates {_minus(row['mean_effect'], 4)} against a true {_minus(row['mean_true_effect'], 4)}"
    ).replace("+", "") in notes
    assert f"bias {_minus(row['bias'], 4)} ± {row['bias_std_error']:.4f}" in notes
    assert f"hold the truth in {covered} of 40" in notes
    assert abs(row["bias"]) < 2 * row["bias_std_error"] and row["coverage_ok"]
    once, peeking = round(aa["significant_once"] * 40), round(aa["significant_peeking"] * 40)
    assert f"{once} of 40 replications show p < 0.05" in notes and f"p < 0.05, {peeking} of 40 do" in notes
    assert peeking == 2 * once  # "peeking doubles the false positives"


@pytest.mark.parametrize(
    ("override", "truth", "estimate", "bias"),
    [(STOCK, 0.029, -0.023, -0.051), (RIVAL, 0.064, -0.016, -0.080)],
)
def test_a_shared_stock_or_a_reacting_rival_mislead_by_the_stated_bias(override, truth, estimate, bias):
    notes = _notes()
    assert f"{_minus(truth, 3)}" in notes and f"reports {_minus(estimate, 3)}" in notes
    assert f"Bias {_minus(bias, 3)} ± 0.001" in notes
    row = (
        run_experiment(load_scenario(LESSON, [override]), replications=8)
        .summary.set_index("arm")
        .loc["treatment"]
    )
    assert row["mean_true_effect"] == pytest.approx(truth, abs=0.006)
    assert row["mean_effect"] == pytest.approx(estimate, abs=0.006)
    assert row["bias"] == pytest.approx(bias, abs=max(0.006, 4 * row["bias_std_error"]))
    assert row["coverage"] < 0.5 and not row["coverage_ok"]
