"""Promotions on a strategy that prices shoppers one by one: the discount and the new-customer
coupon come off every personal price (personal prices replace segment prices and coupons, so
they would otherwise escape the promotion)."""

from __future__ import annotations

import textwrap

import numpy as np

from market_sim.loader import parse_scenario
from market_sim.model import MarketModel

MARKET = """
name: promotions on personal prices
days: 8
seed: 5
market: {choice: logit, outside_utility: 0}
consumers:
  population: 300
  features: {income: {dist: normal, mean: 0, sd: 1}}
  segments:
    - {name: everyone, share: 1, visit_rate: 0.6, wtp: 0, price_sensitivity: 4, wtp_per_feature: {income: 0.3}}
sellers:
  - {name: shop, focal: true, unit_cost: 1, quality: 2}
  - {name: rival, unit_cost: 1, quality: 2, strategy: {kind: fixed, price: 1.5}}
strategies:
  - kind: promotions
    base: {kind: personal_rule, markup: 0.6, feature: income, per_unit: 0.2}
    flash_every: 2
    flash_discount: 0.25
    coupon_new: 0.1
"""


def test_flash_sales_and_new_customer_coupons_come_off_personal_prices():
    model = MarketModel(parse_scenario(textwrap.dedent(MARKET), "promo.yaml"), log_offers=True)
    model.run_for(8)
    ledger = model.ledger
    day, shopper = ledger.offers_day, ledger.offers_shopper
    income, shown, bought = ledger.offers_features[:, 0], ledger.offers_price[:, 0], ledger.offers_choice == 0
    # the rule's price for each shopper (never below unit cost), then the promotion's cuts:
    # 25% off on flash days (every second day from day 0), 10% off for new customers
    rule = np.maximum(1.6 + 0.2 * income, 1.0)
    flash = np.where(day % 2 == 0, 0.75, 1.0)
    first_purchase = np.full(300, np.inf)
    np.minimum.at(first_purchase, shopper[bought], day[bought])
    new = first_purchase[shopper] >= day  # no purchase from the shop before today
    # the guardrails keep every price at unit cost or above
    np.testing.assert_allclose(shown, np.maximum(rule * flash * np.where(new, 0.9, 1.0), 1.0))
    assert new.any() and (~new).any() and len(np.unique(shown)) > 100
