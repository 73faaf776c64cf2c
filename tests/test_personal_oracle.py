"""`oracle_personal` reproduces theory.md §9: the Lambert-W personal optimum of logit demand and
its expected profit, the gain over the best uniform price, the linear max-surplus rule, and
no gain at all when every feature is hidden."""

from __future__ import annotations

import dataclasses

import numpy as np
import pytest
from scipy import integrate, optimize, special, stats

from market_sim.model import MarketModel
from market_sim.scenario import StrategySpec
from tests.conftest import run_model, scenario_from

A, B, COST, BETA = 20.0, 8.0, 10.0, 0.5

LOGIT = f"""
name: personal logit
days: 6
market: {{choice: logit, outside_utility: 0}}
consumers:
  population: 2000
  features:
    x: {{dist: normal, mean: 0, sd: 1, observable: OBSERVABLE}}
  segments:
    - {{name: all, share: 1, visit_rate: 1, wtp: {A}, wtp_per_feature: {{x: {B}}}, price_sensitivity: {BETA}}}
sellers:
  - {{name: us, focal: true, unit_cost: {COST}}}
strategies: [{{kind: oracle_personal}}]
"""


def logit_market(observable: bool = True):
    return scenario_from(LOGIT.replace("OBSERVABLE", str(observable).lower()))


def lambert_price(m: np.ndarray) -> np.ndarray:
    """theory.md §9: p*(x) = c + (1 + W(e^{β(m(x) − c) − 1})) / β."""
    return COST + (1 + special.lambertw(np.exp(BETA * (m - COST) - 1)).real) / BETA


def first_day_prices(scenario):
    """The oracle's personal prices on day 0 and the consumers they are for."""
    model = MarketModel(scenario, scenario.strategies[0])
    model.today = model.arrivals(0)
    obs = model.observation(model.sellers[0], 0)
    decision = model.sellers[0].strategy.price(obs)
    rows = model.today.shoppers[model.table_order()]
    return decision, model.population, rows


def test_logit_personal_prices_are_the_lambert_w_optimum():
    decision, population, rows = first_day_prices(logit_market())
    m = population.wtp[rows]
    np.testing.assert_allclose(decision.personal, lambert_price(m), atol=1e-6)
    assert np.ptp(decision.personal) > 5  # the prices really differ by shopper


def test_logit_personal_profit_and_its_gain_over_the_best_uniform_price_match_theory():
    scenario = logit_market()
    personal = run_model(scenario)
    m = personal.population.wtp  # a + b·x: everyone shops every day
    p = lambert_price(m)
    chance = special.expit(BETA * (m - p))
    days = scenario.days
    expected = days * ((p - COST) * chance).sum()
    sd = np.sqrt(days * ((p - COST) ** 2 * chance * (1 - chance)).sum())
    realised = personal.ledger.profit[:, 0].sum()
    assert abs(realised - expected) < 4 * sd

    # the best uniform price for these consumers, and what personalisation should gain over it
    def uniform_profit(price):
        return ((price - COST) * special.expit(BETA * (m - price))).sum()

    best = optimize.minimize_scalar(
        lambda q: -uniform_profit(q), bounds=(COST, 60), method="bounded", options={"xatol": 1e-9}
    )
    predicted_gain = expected - days * uniform_profit(best.x)
    uniform_scenario = dataclasses.replace(
        scenario, strategies=(StrategySpec("fixed", {"price": float(best.x)}),)
    )
    uniform = run_model(uniform_scenario)
    uniform_sd = np.sqrt(
        days
        * (
            (best.x - COST) ** 2 * special.expit(BETA * (m - best.x)) * special.expit(-BETA * (m - best.x))
        ).sum()
    )
    gain = realised - uniform.ledger.profit[:, 0].sum()
    assert predicted_gain > 8 * (sd + uniform_sd)  # a gain the test can see
    assert abs(gain - predicted_gain) < 4 * (sd + uniform_sd)
    # ... and the population's figure is the theory's E over x ~ N(0, 1), up to sampling of x
    per_shopper = integrate.quad(
        lambda x: (
            stats.norm.pdf(x)
            * (lambert_price(A + B * x) - COST)
            * special.expit(BETA * (A + B * x - lambert_price(A + B * x)))
        ),
        -8,
        8,
    )[0]
    assert expected / days / len(m) == pytest.approx(per_shopper, rel=0.03)


def test_max_surplus_personal_prices_follow_the_linear_rule():
    a, b, h = 30.0, 5.0, 10.0
    text = f"""
    name: personal max surplus
    days: 3
    market: {{choice: max_surplus}}
    consumers:
      population: 1000
      features: {{x: {{dist: normal, mean: 0, sd: 1}}}}
      segments:
        - {{name: all, share: 1, visit_rate: 1, wtp: {{dist: uniform, low: {a - h}, high: {a + h}}}, wtp_per_feature: {{x: {b}}}}}
    sellers:
      - {{name: us, focal: true, unit_cost: {COST}}}
    strategies: [{{kind: oracle_personal}}]
    """
    decision, population, rows = first_day_prices(scenario_from(text))
    x = population.features[rows, 0]
    m = a + b * x
    rule = np.clip((m + h + COST) / 2, m - h, m + h)
    sells = m + h > COST + 1e-6  # others never buy at or above cost: any price is as good
    assert sells.mean() > 0.95
    np.testing.assert_allclose(decision.personal[sells], rule[sells], atol=1e-5)


def test_with_every_feature_hidden_personal_pricing_earns_what_the_best_uniform_price_earns():
    scenario = logit_market(observable=False)
    decision, _, _ = first_day_prices(scenario)
    assert np.ptp(decision.personal) == 0  # nobody can be told apart

    def expected_profit(price):  # E over x ~ N(0, 1) of (p − c)·σ(β(a + b x − p))
        return integrate.quad(
            lambda x: stats.norm.pdf(x) * (price - COST) * special.expit(BETA * (A + B * x - price)), -10, 10
        )[0]

    best = optimize.minimize_scalar(
        lambda q: -expected_profit(q), bounds=(COST, 60), method="bounded", options={"xatol": 1e-9}
    )
    assert decision.personal[0] == pytest.approx(best.x, abs=1e-4)
    assert decision.base == pytest.approx(best.x, abs=1e-4)
    personal = run_model(scenario).ledger.profit[:, 0].sum()
    uniform = run_model(
        dataclasses.replace(scenario, strategies=(StrategySpec("fixed", {"price": float(best.x)}),))
    )
    assert personal == pytest.approx(uniform.ledger.profit[:, 0].sum(), rel=1e-3)


def test_oracle_personal_is_a_benchmark():
    from strategies import resolve

    cls = resolve("oracle_personal")
    assert cls.uses_hidden_truth and cls.kind.startswith("oracle_")


def test_a_hidden_segment_is_integrated_out_by_its_posterior_given_the_observed_features():
    text = f"""
    name: hidden segments
    days: 2
    market: {{choice: logit}}
    consumers:
      population: 400
      features: {{x: {{dist: normal, mean: 0, sd: 1}}}}
      segments:
        - {{name: rich, share: 0.3, visit_rate: 0.5, features: {{x: {{dist: normal, mean: 1, sd: 1}}}}, wtp: 30, wtp_per_feature: {{x: 4}}, price_sensitivity: {BETA}}}
        - {{name: poor, share: 0.7, visit_rate: 1, wtp: 20, wtp_per_feature: {{x: 4}}, price_sensitivity: {BETA}}}
    sellers:
      - {{name: us, focal: true, unit_cost: {COST}}}
    strategies: [{{kind: oracle_personal}}]
    """
    decision, population, rows = first_day_prices(scenario_from(text))
    x = population.features[rows, 0]
    # Bayes: P(rich | x, shopping today) ∝ 120 consumers × visit chance 0.5 × φ(x − 1)
    rich = 120 * 0.5 * stats.norm.pdf(x, 1, 1)
    poor = 280 * 1.0 * stats.norm.pdf(x, 0, 1)
    w = rich / (rich + poor)
    for k in range(0, len(x), 37):

        def loss(p, k=k):
            chance = w[k] * special.expit(BETA * (30 + 4 * x[k] - p)) + (1 - w[k]) * special.expit(
                BETA * (20 + 4 * x[k] - p)
            )
            return -(p - COST) * chance

        best = optimize.minimize_scalar(loss, bounds=(COST, 80), method="bounded", options={"xatol": 1e-10}).x
        assert decision.personal[k] == pytest.approx(best, abs=1e-4)
