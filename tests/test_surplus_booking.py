"""The logit consumer surplus of small days is booked many days at once (issue 13): the same
numbers, bit for bit, as booking each day alone, whenever the run stops."""

from __future__ import annotations

import dataclasses

import numpy as np
import pytest
from scipy import special

from market_sim.agents import StrategyFailure
from market_sim.model import MarketModel, log_sum_exp
from strategies.base import PricingStrategy
from tests.conftest import run_model, scenario_from

# stock runs out (so on some mornings an offer is closed), one segment has no price sensitivity
# (its shoppers keep their realised surplus), and few shoppers a day (days of one shopper)
MARKET = """
name: small logit market
days: 60
market: {{choice: logit, outside_utility: {outside}}}
consumers:
  population: {population}
  segments:
    - {{name: keen, share: 0.7, visit_rate: {visit}, wtp: {{dist: uniform, low: 5, high: 40}},
       price_sensitivity: {{dist: uniform, low: 0.1, high: 0.6}}}}
    - {{name: {second}, share: 0.3, visit_rate: {visit}, wtp: 25, price_sensitivity: {beta}}}
sellers:
  - {{name: us, focal: true, unit_cost: 5,
     inventory: {{initial: 30, reorder_point: 5, order_quantity: 30, lead_time: 4}}}}
  - {{name: them, unit_cost: 6, quality: 1, strategy: {{kind: fixed, price: 14}}}}
  - {{name: corner, unit_cost: 7, quality: -1, strategy: {{kind: cost_plus, markup: 0.9}},
     inventory: {{initial: 10, reorder_point: 2, order_quantity: 10, lead_time: 3}}}}
strategies: [{{kind: cost_plus, markup: 1.0}}]
"""


def market(population=400, visit=0.2, beta=0.3, outside=0, second="steady"):
    return scenario_from(
        MARKET.format(population=population, visit=visit, beta=beta, outside=outside, second=second)
    )


class DayByDay(MarketModel):
    """The reference: every day's surplus booked on its own day."""

    def book_consumer_surplus(self, day, trading, segments):
        self.ledger.consumer_surplus[day] = self.consumer_surplus(day, trading, segments)


def reference(scenario, days=None):
    model = DayByDay(scenario, scenario.strategies[0], 0)
    model.run_for(days or scenario.days)
    return model.ledger


@pytest.mark.parametrize(
    "options",
    [
        {},
        {"beta": 0, "outside": 1.5},  # shoppers with no price sensitivity: realised surplus
        {"population": 20, "visit": 0.1},  # days of no shopper and of one shopper
        {"population": 30000, "visit": 1.0},  # more shoppers a day than one pass takes
    ],
    ids=["stock-outs", "insensitive shoppers", "one shopper", "large days"],
)
def test_surplus_booked_later_is_the_surplus_of_each_day_to_the_last_bit(options):
    scenario = market(**options)
    days = 60 if options.get("population") != 30000 else 3
    if days != scenario.days:
        scenario = dataclasses.replace(scenario, days=days)
    ledger = run_model(scenario).ledger
    expected = reference(scenario)
    assert np.array_equal(ledger.consumer_surplus, expected.consumer_surplus)
    assert (ledger.consumer_surplus[ledger.shoppers > 0].sum(axis=1) != 0).all()
    if not options:
        # some morning found a seller sold out: its offer was left out of the log-sum
        assert (ledger.inventory[:-1] == 0).any()
        assert ledger.consumer_surplus[ledger.inventory[:, 0] == 0].sum() > 0


def test_the_ledger_is_complete_after_run_for_and_after_a_failure():
    scenario = market()
    full = reference(scenario)
    partial = MarketModel(scenario, scenario.strategies[0], 0)
    partial.run_for(7)
    assert np.array_equal(partial.ledger.consumer_surplus[:7], full.consumer_surplus[:7])
    assert (partial.ledger.consumer_surplus[:7] > 0).any()

    class FailsOnDay9(PricingStrategy):
        kind = "fails_on_day_9"

        def price(self, obs):
            if obs.day == 9:
                raise RuntimeError("no price today")
            return 10.0

    model = MarketModel(scenario, scenario.strategies[0], 0)
    model.sellers[0].strategy = FailsOnDay9()
    with pytest.raises(StrategyFailure):
        while model.running:
            model.step()
    assert model.ledger.days_recorded == 9
    alone = DayByDay(scenario, scenario.strategies[0], 0)
    alone.sellers[0].strategy = FailsOnDay9()
    with pytest.raises(StrategyFailure):
        while alone.running:
            alone.step()
    assert np.array_equal(model.ledger.consumer_surplus, alone.ledger.consumer_surplus)
    assert (model.ledger.consumer_surplus[:9].sum(axis=1) > 0).all()


def test_a_closed_offer_as_minus_infinity_changes_no_log_sum():
    """The booking's premise: a row of −inf (an offer out of stock) leaves every column's
    log-sum as it was, bit for bit, and both are scipy's."""
    rng = np.random.default_rng(7)
    a = rng.normal(0, 20, (4, 3000))
    a[0] = 0.0
    a[1, :40] = a[2, :40]  # ties of the largest term
    a[3, 40:60] = 0.0  # ties with the outside option
    closed = np.insert(a, [2, 4], -np.inf, axis=0)
    assert np.array_equal(log_sum_exp(closed), log_sum_exp(a))
    assert np.array_equal(log_sum_exp(a), special.logsumexp(a, axis=0))


def test_rival_prices_are_read_only_copies_made_when_read():
    seen = {}

    class Watches(PricingStrategy):
        kind = "watches"

        def price(self, obs):
            prices = obs.rival_prices
            assert sorted(prices) == ["corner", "them"] and len(prices) == 2
            seen[obs.day] = dict(prices)
            with pytest.raises(TypeError):
                prices["them"] = np.zeros(obs.day)  # type: ignore[index]
            with pytest.raises(ValueError):
                prices["them"][...] = 0.0
            return 12.0

    scenario = market()
    model = MarketModel(scenario, scenario.strategies[0], 0)
    model.sellers[0].strategy = Watches()
    model.run_for(scenario.days)
    assert np.array_equal(seen[30]["them"], model.ledger.price[:30, 1])
    assert np.array_equal(seen[30]["corner"], model.ledger.price[:30, 2])
    assert seen[0]["them"].shape == (0,)
