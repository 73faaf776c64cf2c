"""`history` data against the market that made them: a logit market's parameters come back
with honest intervals, and OLS on prices that follow demand is biased the way theory says."""

from __future__ import annotations

import dataclasses
import json
import textwrap
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from market_sim import estimate
from market_sim.cli import main
from market_sim.history import simulate_history
from market_sim.loader import load_scenario, parse_scenario
from market_sim.scenario import StrategySpec

pytest.importorskip("statsmodels")
LESSONS = Path(__file__).resolve().parents[1] / "scenarios" / "lessons"

# prices vary by flash sales on a fixed rhythm (every 2nd and 3rd day): exogenous to the shoppers' tastes
LOGIT_MARKET = """
name: logit market for estimation
days: 30
seed: 7
market: {choice: logit, outside_utility: 0}
consumers:
  population: 400
  segments:
    - {name: everyone, share: 1, visit_rate: 0.5, wtp: 0, price_sensitivity: 4}
sellers:
  - {name: shop, focal: true, unit_cost: 1, quality: 2}
  - name: rival
    unit_cost: 1
    quality: 1.8
    strategy: {kind: promotions, base: {kind: fixed, price: 1.5}, flash_every: 3, flash_discount: 0.2}
strategies:
  - {kind: promotions, base: {kind: fixed, price: 1.7}, flash_every: 2, flash_discount: 0.25}
"""

# lesson 1's market (Q = 100 − 2p on ordinary days), with busy days (1.3 × the shoppers) on which
# the shop charges more: the price follows the demand shock
BUSY_DAYS = [3, 4, 10, 11, 17, 18, 24, 25, 31, 32, 38, 39, 45, 46, 52, 53]
FOLLOWING_MARKET = f"""
name: prices that follow demand
days: 60
seed: 4
market:
  choice: max_surplus
  events: [{", ".join(f"{{name: busy, day: {d}, traffic: 1.3}}" for d in BUSY_DAYS)}]
consumers:
  population: 1000
  segments:
    - {{name: everyone, share: 1, visit_rate: 0.1, wtp: {{dist: uniform, low: 0, high: 50}}}}
sellers:
  - {{name: shop, focal: true, unit_cost: 10}}
strategies:
  - {{kind: "lesson_pricing:EventPrices", regular: 25, events: {{busy: 33}}}}
"""


def _logit_market():
    return parse_scenario(textwrap.dedent(LOGIT_MARKET), "logit.yaml")


def test_history_writes_data_that_estimate_reads_and_recovers_the_truth(tmp_path, capsys):
    (tmp_path / "market.yaml").write_text(textwrap.dedent(LOGIT_MARKET))
    assert main(["history", str(tmp_path / "market.yaml"), "--out", str(tmp_path / "data")]) == 0
    data = tmp_path / "data"
    assert {p.name for p in data.iterdir()} == {"sales.csv", "choices.csv", "README.md", "truth.json"}
    sales = pd.read_csv(data / "sales.csv")
    assert len(sales) == 30 * 2 and set(sales.columns) >= {"day", "seller", "price", "units", "visitors"}
    choices = pd.read_csv(data / "choices.csv")
    assert (choices.groupby("situation")["chosen"].sum() == 1).all()
    # the choice data add up to the sales
    bought = choices[choices["chosen"] == 1].groupby(["day", "alternative"]).size()
    shop = sales[sales["seller"] == "shop"].set_index("day")["units"]
    assert (bought.xs("shop", level="alternative").reindex(shop.index, fill_value=0) == shop).all()
    assert "choices.csv" in (data / "README.md").read_text()

    out = tmp_path / "fit"
    assert (
        main(["estimate", str(data / "choices.csv"), "--model", "logit", "--base", "none", "--out", str(out)])
        == 0
    )
    truth = json.loads((data / "truth.json").read_text())
    assert truth == {"price": -4.0, "const:shop": 8.0, "const:rival": pytest.approx(7.2)}
    table = pd.read_csv(out / "estimates.csv").set_index("parameter")
    for name, value in truth.items():
        assert abs(table.loc[name, "estimate"] - value) < 3 * table.loc[name, "std_error"]


def test_logit_intervals_cover_the_truth_about_95_percent_of_the_time():
    """40 independent markets (replications): each parameter's 95% interval should hold the
    truth in about 38 of them (binomial sd 1.4), and the errors in units of their standard
    error should look standard normal (mean |z| ≈ 0.80). Halved standard errors would cover
    about 68% and give mean |z| ≈ 1.6; doubled ones mean |z| ≈ 0.4."""
    scenario = _logit_market()
    z = []
    for replication in range(40):
        history = simulate_history(scenario, replication=replication)
        fit = estimate.fit_logit(history.choices, (), "none")
        table = fit.parameters.set_index("parameter")
        z.append(
            [(table.loc[k, "estimate"] - v) / table.loc[k, "std_error"] for k, v in history.truth.items()]
        )
    z = np.abs(np.array(z))
    coverage = (z < estimate.Z95).mean(axis=0)
    assert (coverage >= 0.85).all(), coverage
    assert 0.6 < z.mean() < 1.0
    assert abs(np.median(z) - 0.674) < 0.2  # the median of |N(0, 1)|


def test_the_market_built_from_a_fit_gives_back_its_parameters(tmp_path):
    history = simulate_history(_logit_market())
    history.choices.to_csv(tmp_path / "choices.csv", index=False)
    args = ["estimate", str(tmp_path / "choices.csv"), "--model", "logit", "--base", "none"]
    assert main([*args, "--unit-cost", "1", "--out", str(tmp_path / "fit")]) == 0
    fitted = pd.read_csv(tmp_path / "fit" / "estimates.csv").set_index("parameter")
    built = load_scenario(tmp_path / "fit" / "scenario.yaml")
    # vary the built market's prices the same way, then estimate again from its own data
    rival = dataclasses.replace(built.sellers[1], strategy=_logit_market().sellers[1].strategy)
    varied = dataclasses.replace(
        built, sellers=(built.sellers[0], rival), strategies=_logit_market().strategies, days=30
    )
    again = simulate_history(varied, replication=3)
    refit = estimate.fit_logit(again.choices, (), "none").parameters.set_index("parameter")
    for name in fitted.index:
        both = np.hypot(fitted.loc[name, "std_error"], refit.loc[name, "std_error"])
        assert abs(refit.loc[name, "estimate"] - fitted.loc[name, "estimate"]) < 3 * both


def test_ols_on_prices_that_follow_demand_is_biased_towards_flat_and_warns(tmp_path, capsys):
    scenario = parse_scenario(textwrap.dedent(FOLLOWING_MARKET), "following.yaml", LESSONS)
    slopes = []
    for replication in range(5):
        sales = simulate_history(scenario, replication=replication).sales
        fit = estimate.fit_sales(sales, (), "linear", unit_cost=10)
        slopes.append(fit.estimate("price"))
        assert any("too flat" in w and "'visitors'" in w for w in fit.warnings)
    # the demand line is Q = 100 − 2p on ordinary days (theory.md §1); busy days at the high price
    # pull the fitted slope towards zero, so the fit overstates the best price
    assert np.mean(slopes) > -1.7 and max(slopes) < 0
    # the same market with prices that do not follow demand: no bias, no warning
    random_prices = dataclasses.replace(
        scenario,
        strategies=(
            StrategySpec(
                "promotions",
                {
                    "base": {"kind": "fixed", "price": 33},
                    "flash_every": 2,
                    "flash_discount": 0.25,
                    "event_discount": 0,
                },
            ),
        ),
    )
    honest = []
    for replication in range(5):
        sales = simulate_history(random_prices, replication=replication).sales
        fit = estimate.fit_sales(sales, (), "linear", unit_cost=10)
        honest.append(fit.estimate("price"))
        assert fit.warnings == []
    assert abs(np.mean(honest) + 2 * (1 + 0.3 * len(BUSY_DAYS) / 60)) < 0.25  # the average day's slope

    # and the command line says so
    history = simulate_history(scenario)
    history.sales.to_csv(tmp_path / "sales.csv", index=False)
    out = tmp_path / "fit"
    assert (
        main(
            [
                "estimate",
                str(tmp_path / "sales.csv"),
                "--model",
                "linear",
                "--features",
                "",
                "--unit-cost",
                "10",
                "--out",
                str(out),
            ]
        )
        == 0
    )
    err = capsys.readouterr().err
    assert err.startswith("warning: Prices move with demand") and "'visitors'" in err
    assert "Prices move with demand" in (out / "report.html").read_text()
    assert json.loads((out / "fit.json").read_text())["best_price"] > 30  # the textbook p* is 30
