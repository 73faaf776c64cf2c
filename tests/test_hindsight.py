"""The hindsight oracle's one-pass evaluation of fixed prices against replays, figure for figure."""

from __future__ import annotations

import numpy as np
import pytest

from tests.conftest import run_model, scenario_from

SELLERS = {
    "one shop": "sellers: [{name: shop, focal: true, unit_cost: 10}]",
    "fixed rival": """sellers:
  - {name: shop, focal: true, unit_cost: 10, quality: 1}
  - {name: rival, unit_cost: 8, strategy: {kind: fixed, price: 26}}
  - {name: third, unit_cost: 9, strategy: {kind: cost_plus, markup: 2.0}}""",
    "limited stock": """sellers:
  - {name: shop, focal: true, unit_cost: 10, inventory: {initial: 60, reorder_point: 5, order_quantity: 20,
     lead_time: 2, holding_cost: 0.1, order_cost: 3, salvage_value: 4}}
  - {name: rival, unit_cost: 8, strategy: {kind: fixed, price: 30}}""",
}
MARKET = """name: hindsight
days: 12
seed: 5
market: {{choice: {choice}}}
consumers:
  population: 600
  segments:
    - {{name: students, share: 0.4, visit_rate: 0.2, wtp: {{dist: uniform, low: 0, high: 40}}}}
    - {{name: others, share: 0.6, visit_rate: 0.1, wtp: {{dist: uniform, low: 10, high: 60}}, price_sensitivity: 0.5}}
{sellers}
strategies:
  - {{kind: fixed, price: 20}}
"""


@pytest.mark.parametrize("choice", ["max_surplus", "logit"])
@pytest.mark.parametrize("sellers", list(SELLERS))
def test_one_recorded_replay_books_every_fixed_price_as_its_own_replay_would(choice, sellers):
    """Exact equality (not approx): the oracle must choose the same price either way."""
    model = run_model(scenario_from(MARKET.format(choice=choice, sellers=SELLERS[sellers])), 0)
    profits = model.fixed_price_profits(0)
    prices = [25.0, *np.linspace(10, 55, 10), 25.0, 31.123456789, 12.5]
    fast = profits(prices)
    assert profits.exact and profits.flat is not None  # the one-pass path answered
    replayed = [float(model.replay("fixed", {"price": p}).profit[:, 0].sum()) for p in prices]
    assert fast == replayed
    assert len(set(fast)) >= 4  # prices that differ earn differently


def test_a_rival_that_reacts_is_replayed():
    reacting = SELLERS["fixed rival"].replace("{kind: fixed, price: 26}", "{kind: demand_response}")
    model = run_model(scenario_from(MARKET.format(choice="logit", sellers=reacting)), 0)
    profits = model.fixed_price_profits(0)
    prices = [22.0, 35.0]
    assert not profits.exact
    assert profits(prices) == [float(model.replay("fixed", {"price": p}).profit[:, 0].sum()) for p in prices]
