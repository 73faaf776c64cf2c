"""Shopper-level arms on the personal-price path: each arm prices its own shoppers and learns
from its own sales; the seller's books hold what shoppers were shown and paid."""

from __future__ import annotations

import textwrap

import numpy as np
import pytest

from market_sim.experiment import _run
from market_sim.loader import parse_scenario
from market_sim.scenario import StrategySpec

# two observable segments, so that segment prices and coupons reach the arms' shoppers
MARKET = """
name: arms
days: 12
seed: 3
market: {choice: logit, outside_utility: 0}
consumers:
  population: 400
  segments:
    - {name: young, share: 0.5, visit_rate: 0.4, wtp: 0, price_sensitivity: 4, observable: true}
    - {name: old, share: 0.5, visit_rate: 0.4, wtp: 0.3, price_sensitivity: 3, observable: true}
sellers:
  - {name: our_shop, focal: true, unit_cost: 1, quality: 2}
  - {name: rival, unit_cost: 1, quality: 2, strategy: {kind: competitor_response, target: our_shop}}
strategies:
  - {kind: fixed, price: 1.5}
"""
LEARNERS = [
    {"kind": "thompson_grid", "params": {}},
    {"kind": "segment_pricing", "params": {"coupon_new": 0.1, "warmup": 3}},
    {"kind": "promotions", "params": {"base": {"kind": "cost_plus", "markup": 0.5}, "coupon_new": 0.2}},
]


def _scenario():
    return parse_scenario(textwrap.dedent(MARKET), "arms.yaml")


def _arms(arms, arm_of):
    params = {"arms": arms, "arm_of": list(arm_of), "every_segment_observable": True}
    return StrategySpec("market_sim.experiment:ArmsByShopper", params, "experiment")


@pytest.mark.parametrize("learner", LEARNERS, ids=lambda spec: spec["kind"])
def test_one_arm_holding_every_shopper_is_the_strategy_alone(learner):
    """Every shopper in one arm: the arm sees, learns and sells exactly as the strategy alone
    does, so its view of its own history and results is the seat's."""
    scenario = _scenario()
    alone = _run(scenario, StrategySpec(learner["kind"], learner["params"]), 0, per_shopper=True)
    wrapped = _run(scenario, _arms([learner], np.zeros(400, dtype=int)), 0, per_shopper=True)
    a, b = alone.ledger, wrapped.ledger
    np.testing.assert_array_equal(a.units, b.units)
    np.testing.assert_allclose(a.revenue, b.revenue, rtol=1e-12)
    np.testing.assert_array_equal(a.offers_price, b.offers_price)  # every shopper saw the same price
    np.testing.assert_array_equal(a.offers_choice, b.offers_choice)
    assert len(np.unique(a.offers_price[:, 0])) > 1  # prices moved (by day, segment or coupon)


def test_two_learning_arms_each_learn_from_their_own_shoppers():
    scenario = _scenario()
    arm_of = np.resize([0, 1], 400)
    arms = [
        {"kind": "thompson_grid", "params": {}},
        {"kind": "promotions", "params": {"base": {"kind": "cost_plus", "markup": 0.5}, "coupon_new": 0.2}},
    ]
    model = _run(scenario, _arms(arms, arm_of), 0, per_shopper=True)
    ledger, seat = model.ledger, model.sellers[0].strategy
    histories = seat._histories
    arm = arm_of[ledger.offers_shopper]
    bought = ledger.offers_choice == 0
    paid = ledger.offers_price[:, 0]
    for k, history in enumerate(histories):
        mine = arm == k
        # each arm's own books: its shoppers, its sales, what they paid, day by day
        np.testing.assert_array_equal(history.views, np.bincount(ledger.offers_day[mine], minlength=12))
        np.testing.assert_array_equal(
            history.units, np.bincount(ledger.offers_day[mine & bought], minlength=12)
        )
        np.testing.assert_allclose(
            history.revenue, np.bincount(ledger.offers_day[mine & bought], paid[mine & bought], minlength=12)
        )
    # the seller's books hold what shoppers paid: the two arms' revenue and units, not the average price's
    np.testing.assert_allclose(ledger.revenue[:, 0], histories[0].revenue + histories[1].revenue)
    np.testing.assert_array_equal(ledger.units[:, 0], histories[0].units + histories[1].units)
    # the posted price rivals see is the average of the arms' base prices
    np.testing.assert_allclose(ledger.price[:, 0], (histories[0].prices + histories[1].prices) / 2)
    # cost plus 50% for the promotion arm, 20% off for its new customers; returning pay 1.5
    returning = np.isclose(paid, 1.5) & (arm == 1)
    new = np.isclose(paid, 1.2) & (arm == 1)
    assert np.all(returning | new | (arm == 0))
    assert returning.any() and new.any()
    # the Thompson arm explored several prices of its own
    assert len(np.unique(histories[0].prices)) > 2
