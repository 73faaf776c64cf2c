"""Lost sales count a stocked-out seller's unmet demand, not only the shoppers who put it first
(issue 10, item 8): the second choice of everyone, sold out, must not read "fill rate 100%"."""

from __future__ import annotations

import numpy as np

from market_sim import metrics
from market_sim.clearing import allocate
from tests.conftest import run_model, scenario_from


def test_a_sold_out_second_choice_counts_the_shoppers_it_would_have_served():
    # ten shoppers in arrival order, all preferring seller 0 to seller 1 to nothing
    scores = np.tile([2.0, 1.0], (10, 1))
    allocation = allocate(scores, np.zeros(10), np.array([3.0, 2.0]))
    assert allocation.choice.tolist() == [0, 0, 0, 1, 1] + [-1] * 5
    assert allocation.lost_sale.tolist() == [-1] * 3 + [0] * 7  # the first choice, as before
    # seller 0 missed the seven who came after its stock ran out; seller 1 the last five
    assert allocation.unmet.tolist() == [7, 5]


def test_nobody_counts_as_unmet_demand_of_a_seller_ranked_below_what_they_bought():
    scores = np.tile([2.0, 1.0, 3.0], (6, 1))  # seller 2 is everyone's favourite and has stock
    allocation = allocate(scores, np.zeros(6), np.array([0.0, 0.0, np.inf]))
    assert allocation.unmet.tolist() == [0, 0, 0] and (allocation.choice == 2).all()


SECOND_CHOICE = """
name: everyone's second choice
days: 6
market: {choice: max_surplus}
consumers:
  population: 400
  segments: [{name: all, share: 1, visit_rate: 0.5, wtp: {dist: uniform, low: 40, high: 60}}]
sellers:
  - {name: us, focal: true, unit_cost: 5, inventory: {initial: 30}}
  - {name: favourite, unit_cost: 5, quality: 5, inventory: {initial: 100}, strategy: {kind: fixed, price: 20}}
strategies: [{kind: fixed, price: 20}]
"""


def test_everyones_second_choice_sold_out_shows_lost_sales_and_a_fill_rate_below_one():
    """Everyone prefers the favourite; once it is out, they come to us until we are out too;
    every shopper after that is demand we could not meet."""
    model = run_model(scenario_from(SECOND_CHOICE))
    ledger = model.ledger
    assert ledger.units[:, 0].sum() == 30 and ledger.stockout[-1, 0]
    scores = metrics.run_scores(ledger, 0)
    assert scores["lost_sales"] > 0 and scores["fill_rate"] < 1
    assert scores["fill_rate"] == 30 / (30 + scores["lost_sales"])
    # every shopper turned away once both were out is unmet demand of both
    assert (ledger.lost_sales[:, 0] <= ledger.lost_sales[:, 1]).all()
