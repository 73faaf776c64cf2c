"""Scores of personal pricing: the best uniform price and the gain over it, who pays more or
less, price dispersion, and price gaps between observable and hidden groups."""

from __future__ import annotations

import numpy as np
import pytest
from scipy import optimize, special

from market_sim.metrics import run_scores
from tests.conftest import run_model, scenario_from
from tests.test_personal_oracle import BETA, COST, lambert_price, logit_market

PROXY = """
name: proxy discrimination
days: 5
market: {choice: logit}
consumers:
  population: 3000
  features:
    income: {dist: normal, mean: 0, sd: 1}
  segments:
    - {name: older, share: 0.4, visit_rate: 1, features: {income: {dist: normal, mean: 1, sd: 1}}, wtp: 20, wtp_per_feature: {income: 6}, price_sensitivity: 0.5}
    - {name: younger, share: 0.6, visit_rate: 1, wtp: 20, wtp_per_feature: {income: 6}, price_sensitivity: 0.5}
sellers:
  - {name: us, focal: true, unit_cost: 10}
strategies: [{kind: oracle_personal}, {kind: fixed, price: 20}]
"""


def test_gain_over_the_best_uniform_price_and_who_pays_more():
    scenario = logit_market()
    model = run_model(scenario)
    scores = run_scores(model.ledger, 0)
    m = model.population.wtp
    best = optimize.minimize_scalar(
        lambda q: -((q - COST) * special.expit(BETA * (m - q))).sum(),
        bounds=(COST, 60),
        method="bounded",
        options={"xatol": 1e-10},
    ).x
    assert scores["uniform_price"] == pytest.approx(best, abs=1e-5)
    expected_uniform = scenario.days * ((best - COST) * special.expit(BETA * (m - best))).sum()
    assert scores["gain_over_uniform"] == pytest.approx(model.ledger.profit[:, 0].sum() - expected_uniform)
    # every buyer paid p*(x) each time: more than the uniform price exactly when p*(x) is
    bought = model.population.purchases[0] > 0
    assert scores["share_paying_more"] == pytest.approx(np.mean(lambert_price(m[bought]) > best))
    assert scores["share_paying_more"] + scores["share_paying_less"] == pytest.approx(1)
    assert scores["price_dispersion"] > 1 and scores["feature_price_gap"] > 5
    assert np.isnan(scores["hidden_price_gap"])  # nothing hidden in this market


def test_hidden_groups_pay_different_prices_under_personal_pricing_only():
    scenario = scenario_from(PROXY)
    personal = run_scores(run_model(scenario, 0).ledger, 0)
    uniform = run_scores(run_model(scenario, 1).ledger, 0)
    # the hidden segments differ in income, which the seller sees: older shoppers (higher income)
    # pay more on average although no price used the segment
    assert personal["hidden_price_gap"] > 1.5
    assert uniform["hidden_price_gap"] == 0 and uniform["price_dispersion"] == 0
    assert uniform["share_paying_more"] == 1.0 or uniform["share_paying_less"] == 1.0
