"""The report's personal-pricing section, end to end through `run`."""

from __future__ import annotations

import pandas as pd
import pytest

from market_sim.cli import main
from tests.test_personal_scores import PROXY

pytest.importorskip("sklearn")


def test_run_reports_gains_hidden_gaps_winners_losers_and_model_quality(tmp_path):
    scenario = tmp_path / "proxy.yaml"
    text = PROXY.replace("population: 3000", "population: 400").replace("days: 5", "days: 6\nreplications: 2")
    text = text.replace(
        "strategies: [{kind: oracle_personal}, {kind: fixed, price: 20}]",
        "strategies: [{kind: fixed, price: 20}, {kind: oracle_personal}, {kind: ml_pricing, retrain_every: 2}, "
        "{kind: personal_rule, feature: income, per_unit: 3}]",
    )
    scenario.write_text(text)
    out = tmp_path / "out"
    assert main(["run", str(scenario), "--out", str(out), "--quiet", "--workers", "1"]) == 0
    scores = pd.read_csv(out / "scores.csv")
    means = scores.groupby("strategy")["hidden_price_gap"].mean()
    assert means["fixed(price=20)"] == 0 and means["oracle_personal()"] > 1
    assert (scores["uniform_price"].round(9).nunique()) == 2  # one per replication, whatever the strategy
    html = (out / "report.html").read_text()
    assert "<h2 id='personal'>Personal prices</h2>" in html
    assert "older (hidden)" in html and "loses" in html
    assert "Model quality over time" in html and "ml_pricing(retrain_every=2)" in html
    assert not (out / "offers.csv").exists()  # only with --log-offers
