"""Shopper-randomised A/B tests (personal prices): coverage with unlimited stock and fixed
rivals, and a shared stock that the report flags."""

from __future__ import annotations

import math
import textwrap

import pandas as pd
import pytest

from market_sim import experiment
from market_sim.cli import main
from tests.test_experiment import MARKET, _profit_per_shopper, _scenario


def test_shopper_randomised_test_covers_the_truth_with_unlimited_stock():
    result = experiment.run_experiment(_scenario(unit="shopper"))
    table = result.table[result.table["arm"] == "treatment"]
    assert len(table) == 40 and (table["units"] > 100).all()
    row = result.summary.set_index("arm").loc["treatment"]
    assert row["coverage_ok"] and row["coverage"] >= 0.85
    assert abs(row["bias"]) < 3 * row["bias_std_error"]
    expected = _profit_per_shopper(1.65) - _profit_per_shopper(1.47)
    assert abs(table["true_effect"].mean() - expected) < 4 * table["true_effect"].std() / math.sqrt(40)
    # the shoppers saw their arm's price: the arms' own profit per shopper is the theory's
    arms = result.table.groupby("arm")["profit_per_shopper"].mean()
    assert arms["control"] == pytest.approx(_profit_per_shopper(1.47), abs=0.01)
    assert arms["treatment"] == pytest.approx(_profit_per_shopper(1.65), abs=0.01)


def test_shopper_randomised_test_with_a_shared_stock_misses_and_the_report_says_so(tmp_path):
    text = textwrap.dedent(
        MARKET.format(unit="shopper", stock=", inventory: {initial: 600, salvage_value: 1}")
    )
    (tmp_path / "ab.yaml").write_text(text)
    out = tmp_path / "out"
    assert (
        main(
            [
                "run",
                str(tmp_path / "ab.yaml"),
                "--out",
                str(out),
                "--replications",
                "12",
                "--quiet",
                "--workers",
                "1",
            ]
        )
        == 0
    )
    summary = pd.read_csv(out / "experiment_summary.csv").set_index("arm")
    row = summary.loc["treatment"]
    assert row["mean_true_effect"] > 0 > row["mean_effect"] and row["coverage"] < 0.5
    page = (out / "report.html").read_text()
    assert (
        "held the true effect in only" in page and "does not measure what switching the whole market" in page
    )
