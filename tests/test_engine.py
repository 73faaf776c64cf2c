"""The engine: agent-by-agent and vectorised agree; stock, replenishment and money add up."""

from __future__ import annotations

import numpy as np
import pytest

from market_sim.model import MarketModel
from tests.conftest import run_model, scenario_from

SMALL_MARKET = """
name: small market
days: 12
start_date: 2026-11-01
market:
  choice: {choice}
  outside_utility: 1
  weekly_traffic: [1, 1, 1, 1, 1.2, 1.5, 1.5]
  events: [{{name: sale, date: 2026-11-05, days: 2, traffic: 2, wtp: 1.2}}]
consumers:
  population: 400
  segments:
    - name: hunters
      share: 0.7
      visit_rate: 0.3
      wtp: {wtp}
      price_sensitivity: {{dist: uniform, low: 0.2, high: 0.8}}
      loyalty: {{dist: exponential, mean: 2}}
    - name: members
      share: 0.3
      observable: true
      visit_rate: 0.5
      wtp: {{dist: triangular, low: 20, mode: 40, high: 70}}
      price_sensitivity: 0.3
      loyalty: 4
sellers:
  - name: us
    focal: true
    unit_cost: 10
    inventory: {inventory}
  - name: rival
    unit_cost: 12
    quality: 1
    inventory: {{initial: {stock}}}
    strategy: {{kind: fixed, price: 30}}
  - name: discounter
    unit_cost: 8
    quality: -2
    strategy: {{kind: competitor_response, undercut: 0.1, floor_markup: 0.5}}
strategies:
  - {{kind: segment_test.prices:MemberPrices}}
"""


@pytest.mark.parametrize(
    ("choice", "wtp", "stock"),
    [
        ("logit", "{dist: normal, mean: 30, sd: 8, min: 0}", 25),
        ("logit", "{dist: lognormal, mean: 35, sd: 10}", "unlimited"),
        ("max_surplus", "32", 25),  # equal values: ties broken at random, the same way
        ("max_surplus", "{dist: uniform, low: 10, high: 60}", 15),
    ],
)
def test_agent_by_agent_and_vectorised_make_identical_purchases(plugin_folder, choice, wtp, stock):
    inventory = (
        "unlimited"
        if stock == "unlimited"
        else f"{{initial: {stock}, reorder_point: 10, order_quantity: 40, lead_time: 2, holding_cost: 0.1}}"
    )
    scenario = scenario_from(SMALL_MARKET.format(choice=choice, wtp=wtp, stock=stock, inventory=inventory))
    vectorised = run_model(scenario).ledger
    agents = run_model(scenario, engine="agents").ledger
    for name in ("units", "revenue", "lost_sales", "inventory", "segment_units", "segment_revenue", "views"):
        np.testing.assert_array_equal(getattr(agents, name), getattr(vectorised, name), err_msg=name)
    np.testing.assert_array_equal(agents.segment_surplus, vectorised.segment_surplus)
    assert vectorised.units.sum() > 100
    if stock != "unlimited":
        assert vectorised.lost_sales[:, :2].sum() > 0, "the case is meant to have stock-outs"


FCFS = """
name: fcfs
days: 3
market: {choice: max_surplus}
consumers:
  population: 50
  segments: [{name: all, share: 1, visit_rate: 1, wtp: 100}]
sellers:
  - {name: cheap, focal: true, unit_cost: 1, inventory: {initial: 7}}
  - {name: dear, unit_cost: 1, strategy: {kind: fixed, price: 60}}
strategies: [{kind: fixed, price: 20}]
"""


def test_first_come_first_served_sells_exactly_the_stock_and_counts_lost_sales():
    ledger = run_model(scenario_from(FCFS)).ledger
    assert ledger.units[:, 0].tolist() == [7, 0, 0]
    assert ledger.units[:, 1].tolist() == [43, 50, 50]  # everyone else substitutes
    assert ledger.lost_sales[:, 0].tolist() == [43, 50, 50]
    assert ledger.stockout[:, 0].tolist() == [True, True, True]


REPLENISHMENT = """
name: replenishment
days: 8
market: {choice: max_surplus}
consumers:
  population: 30
  segments: [{name: all, share: 1, visit_rate: 1, wtp: 100}]
sellers:
  - name: shop
    focal: true
    unit_cost: 4
    inventory:
      initial: 50
      reorder_point: 25
      order_quantity: 40
      lead_time: 3
      order_cost: 7.5
      holding_cost: 0.03
      salvage_value: 1.25
strategies: [{kind: fixed, price: 9.99}]
"""


def test_replenishment_arrives_after_its_lead_time():
    ledger = run_model(scenario_from(REPLENISHMENT)).ledger
    # day 0 sells 30 (20 left <= 25: order 40, due day 3); day 1 sells 20; day 2 sells 0
    assert ledger.units[:, 0].tolist() == [30, 20, 0, 30, 10, 0, 30, 10]
    assert ledger.ordered[:, 0].tolist() == [40, 0, 0, 40, 0, 0, 40, 0]
    assert ledger.received[:, 0].tolist() == [0, 0, 0, 40, 0, 0, 40, 0]
    assert ledger.inventory[:, 0].tolist() == [20, 0, 0, 10, 0, 0, 10, 0]


def test_profit_is_revenue_less_costs_plus_salvage_to_the_cent():
    scenario = scenario_from(REPLENISHMENT.replace("days: 8", "days: 7"))
    ledger = run_model(scenario).ledger
    units, leftover = ledger.units[:, 0].sum(), ledger.inventory[-1, 0]
    assert leftover == 10
    revenue = round(9.99 * units, 2)
    cost_of_goods = 4 * (units + leftover)  # every unit received: sold or left over
    holding = round(0.03 * ledger.inventory[:, 0].sum(), 2)
    orders = 7.5 * (ledger.ordered[:, 0] > 0).sum()
    salvage = 1.25 * leftover
    expected = revenue - cost_of_goods - holding - orders + salvage
    assert round(ledger.profit[:, 0].sum(), 2) == round(expected, 2)
    assert round(expected, 2) == round(9.99 * 120 - 4 * 130 - 0.03 * 40 - 7.5 * 3 + 12.5, 2)


def test_two_strategies_on_one_seed_meet_the_same_shoppers():
    scenario = scenario_from(
        FCFS.replace(
            "strategies: [{kind: fixed, price: 20}]",
            "strategies: [{kind: fixed, price: 20}, {kind: fixed, price: 70}]",
        )
    )
    first, second = run_model(scenario, strategy=0), run_model(scenario, strategy=1)
    np.testing.assert_array_equal(first.ledger.shoppers, second.ledger.shoppers)
    np.testing.assert_array_equal(first.population.wtp, second.population.wtp)


def test_log_sum_exp_is_scipys_to_the_last_bit():
    """The consumer surplus's log-sum: equal to scipy.special.logsumexp bit for bit, ties of
    the largest term, −inf and overflowing terms included."""
    from scipy import special

    from market_sim.model import log_sum_exp

    rng = np.random.default_rng(4)
    a = rng.normal(0, 30, (4, 5000))
    a[0] = 0.0  # the outside option's row, as in the surplus
    a[1, :50] = a[2, :50]  # ties of the largest term
    a[2, 50:60] = -np.inf
    a[3, 60:70] = 800.0  # exp overflows
    a[:, 70:80] = -np.inf
    assert np.array_equal(log_sum_exp(a), special.logsumexp(a, axis=0), equal_nan=True)
    assert log_sum_exp(a[:, :0]).shape == (0,)


LISTENERS = """
name: listeners
days: 5
market: {choice: logit}
consumers:
  population: 200
  segments: [{name: all, share: 1, visit_rate: 0.3, wtp: {dist: uniform, low: 0, high: 40}, price_sensitivity: 0.3}]
sellers:
  - {name: us, focal: true, unit_cost: 10, inventory: {initial: 30, reorder_point: 5, order_quantity: 20}}
  - {name: rival, unit_cost: 12, strategy: {kind: cost_plus, markup: 0.8}}
strategies: [{kind: cost_plus, markup: 1.0}]
"""


def test_every_strategy_that_listens_hears_each_posted_price_and_each_day():
    """A strategy's own `posted` and `observe` are called every day, also when set on the
    instance (the base class's, which do nothing, may be skipped); the results add up."""
    from strategies import Prices, PricingStrategy, build

    class ByClass(PricingStrategy):
        def __init__(self):
            super().__init__()
            self.heard: list = []

        def price(self, obs):
            return Prices(20.0 + obs.day, reason="by class")

        def posted(self, prices):
            self.heard.append(("posted", prices.base))

        def observe(self, result):
            self.heard.append(("observed", result.day, result.price, result.units, result.revenue))

    class ByInstance(PricingStrategy):
        def reset(self, info):
            self.results = []
            self.observe = self.results.append

        def price(self, obs):
            return 25

    listener = ByClass()
    model = MarketModel(scenario_from(LISTENERS), seats=[listener, build("cost_plus", {"markup": 0.8})])
    model.run_for(5)
    units, revenue = model.ledger.units[:, 0], model.ledger.revenue[:, 0]
    assert units.sum() > 0
    assert listener.heard == [
        event
        for day in range(5)
        for event in (("posted", 20.0 + day), ("observed", day, 20.0 + day, units[day], revenue[day]))
    ]
    by_instance = ByInstance()
    model = MarketModel(scenario_from(LISTENERS), seats=[by_instance, build("cost_plus", {"markup": 0.8})])
    model.run_for(5)
    assert [(r.day, r.price, r.units, r.stock) for r in by_instance.results] == [
        (day, 25.0, model.ledger.units[day, 0], model.ledger.inventory[day, 0]) for day in range(5)
    ]
