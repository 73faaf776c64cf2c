"""`personal_rule`: a price that rises with a named feature and with past purchases."""

from __future__ import annotations

import numpy as np
import pytest

from market_sim.model import MarketModel
from market_sim.runner import Job, run_once
from tests.conftest import scenario_from
from tests.test_personal_oracle import LOGIT


def rule_market(params: str):
    text = LOGIT.replace("OBSERVABLE", "true").replace(
        "{kind: oracle_personal}", "{kind: personal_rule" + params + "}"
    )
    return scenario_from(text)


def test_the_rule_prices_each_shopper_by_feature_and_purchases():
    scenario = rule_market(", markup: 1, feature: x, per_unit: 4, per_purchase: 0.5")
    model = MarketModel(scenario, scenario.strategies[0])
    model.run_for(3)
    model.today = model.arrivals(3)
    obs = model.observation(model.sellers[0], 3)
    table = obs.shoppers
    decision = model.sellers[0].strategy.price(obs)
    expected = np.maximum(20 + 4 * table["x"] + 0.5 * table["purchases"], 10)
    np.testing.assert_allclose(decision.personal, expected)
    assert decision.base == 20 and table["purchases"].max() > 0 and (decision.personal == 10).any()


def test_a_feature_the_seller_cannot_see_fails_the_run_with_the_names_it_can():
    text = LOGIT.replace("OBSERVABLE", "false").replace(
        "{kind: oracle_personal}", "{kind: personal_rule, feature: x, per_unit: 2}"
    )
    run = run_once(Job(scenario_from(text), 0, 0))
    assert run.failure.startswith(
        "us on day 0: ValueError: personal_rule: feature 'x' is not a column of obs.shoppers"
    )
    assert "(a seller sees: visits, purchases, days_since_purchase, spend)" in run.failure


def test_personal_strategies_cope_with_a_day_without_shoppers():
    pytest.importorskip("sklearn")
    text = (
        LOGIT.replace("OBSERVABLE", "true")
        .replace("visit_rate: 1", "visit_rate: 0.002")
        .replace("population: 2000", "population: 300")
    )
    text = text.replace(
        "[{kind: oracle_personal}]", "[{kind: oracle_personal}, {kind: ml_pricing}, {kind: personal_rule}]"
    )
    scenario = scenario_from(text)
    for strategy in range(3):
        run = run_once(Job(scenario, strategy, 0))
        assert run.failure is None
        assert (run.ledger.shoppers == 0).any()
