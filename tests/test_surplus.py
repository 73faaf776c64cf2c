"""Consumer surplus in logit markets is the standard log-sum over the offers and the outside
option, divided by price sensitivity; max-surplus markets keep the realised money surplus
(issue 10, item 6)."""

from __future__ import annotations

import math

import pytest

from market_sim import metrics
from tests.conftest import run_model, scenario_from

LOGIT = """
name: dear logit market
days: 5
market: {choice: logit, outside_utility: 1}
consumers:
  population: 300
  segments: [{name: all, share: 1, visit_rate: 0.5, wtp: 10, price_sensitivity: 0.8}]
sellers:
  - {name: us, focal: true, unit_cost: 2, quality: 0.5}
  - {name: them, unit_cost: 2, strategy: {kind: fixed, price: 12}}
strategies: [{kind: fixed, price: 15}]
"""


def test_logit_surplus_is_the_log_sum_over_offers_and_outside_option():
    model = run_model(scenario_from(LOGIT))
    ledger = model.ledger
    beta, outside = 0.8, 1.0
    gains = [10 + 0.5 - 15 - outside, 10 - 12 - outside]  # both offers are worth less than their price
    per_visit = math.log(1 + sum(math.exp(beta * g) for g in gains)) / beta
    assert metrics.run_scores(ledger, 0)["consumer_surplus"] == pytest.approx(
        ledger.shoppers.sum() * per_visit, rel=1e-12
    )
    # the realised money surplus of these purchases is negative: shoppers bought on taste shocks
    assert ledger.units.sum() > 0 and ledger.segment_surplus.sum() < 0


def test_max_surplus_markets_keep_the_realised_money_surplus():
    text = LOGIT.replace("choice: logit, outside_utility: 1", "choice: max_surplus").replace(
        "wtp: 10", "wtp: 20"
    )
    ledger = run_model(scenario_from(text)).ledger
    # everyone buys the cheaper offer (them at 12, worth 20): surplus 8 per visit
    assert metrics.run_scores(ledger, 0)["consumer_surplus"] == pytest.approx(8 * ledger.shoppers.sum())
    assert ledger.consumer_surplus.sum() == pytest.approx(ledger.segment_surplus.sum())
