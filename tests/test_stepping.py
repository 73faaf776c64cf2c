"""Less Python around each day (issue 13): days are stepped without a new Mesa event each (the
same clock, step count and numbers as Mesa's own stepping, which takes over whenever something
else is scheduled), the calendar is worked out once per run, observations and prices are built
without the frozen dataclass's field-by-field `__init__`."""

from __future__ import annotations

import copy
import dataclasses
import datetime as dt
import inspect

import numpy as np
import pytest

from market_sim.loader import load_scenario
from market_sim.model import MarketModel, Trading
from market_sim.scenario import Event
from strategies import PricingStrategy
from strategies.base import EMPTY, DayResult, History, Observation, Prices
from tests.test_surplus_booking import market

ARRAYS = ("price", "units", "revenue", "inventory", "lost_sales", "consumer_surplus", "segment_units")


class Calls:
    """A scheduled event's callback (Mesa holds callbacks weakly: keep this object alive)."""

    def __init__(self, model: MarketModel):
        self.model, self.seen = model, []

    def __call__(self) -> None:
        self.seen.append((self.model.time, self.model.steps))


def same_ledgers(a: MarketModel, b: MarketModel) -> bool:
    return all(np.array_equal(getattr(a.ledger, name), getattr(b.ledger, name)) for name in ARRAYS)


def test_stepping_directly_is_mesas_stepping_to_the_bit():
    scenario = dataclasses.replace(market(), days=30)
    direct = MarketModel(scenario)
    direct.run_for(30)
    by_step = MarketModel(scenario)
    while by_step.running:
        by_step.step()
    by_mesa = MarketModel(scenario)  # an event far ahead: every day goes through Mesa's own step
    far = Calls(by_mesa)
    by_mesa.schedule_event(far, at=1000)
    for _ in range(30):
        by_mesa.step()
    for model in (direct, by_step, by_mesa):
        assert (model.time, model.steps, model.running) == (30.0, 30, False)
        assert model._default_schedule.execution_count == 30
        assert model.ledger.days_recorded == 30
    assert same_ledgers(direct, by_step) and same_ledgers(direct, by_mesa)
    assert far.seen == []


def test_a_mesa_without_35s_private_schedule_steps_its_own_way_to_the_same_numbers():
    scenario = dataclasses.replace(market(), days=12)
    direct = MarketModel(scenario)
    direct.run_for(12)
    other = MarketModel(scenario)
    calls = []
    mesa_step = other._mesa_step
    other._mesa_step = lambda: (calls.append(other.time), mesa_step())
    for _ in range(6):
        del other._default_schedule._current_event  # as if another Mesa kept it elsewhere
        other.step()
    other.run_for(6)  # (Mesa's own run_until)
    assert calls == [0.0, 1.0, 2.0, 3.0, 4.0, 5.0] and (other.time, other.steps) == (12.0, 12)
    assert same_ledgers(direct, other)


def test_the_quick_inits_take_the_dataclass_fields_with_their_defaults():
    for cls in (Observation, Prices, DayResult, Trading):
        parameters = list(inspect.signature(cls.__init__).parameters.values())[1:]
        assert [p.name for p in parameters] == [f.name for f in dataclasses.fields(cls)]
        for p, f in zip(parameters, dataclasses.fields(cls), strict=True):
            default = f.default_factory() if f.default_factory is not dataclasses.MISSING else f.default
            assert p.default == (inspect.Parameter.empty if default is dataclasses.MISSING else default)


def test_an_event_scheduled_between_days_runs_at_its_time():
    scenario = dataclasses.replace(market(), days=20)
    model = MarketModel(scenario)
    calls = Calls(model)
    model.schedule_event(calls, at=5.5)
    model.run_for(8)
    assert calls.seen == [(5.5, 5)]
    assert (model.time, model.steps) == (8.0, 8)
    model.run_until(20)
    reference = MarketModel(scenario)
    reference.run_for(20)
    assert (model.time, model.steps) == (20.0, 20)
    assert same_ledgers(model, reference)


def test_part_of_a_day_moves_the_clock_as_mesa_does():
    scenario = dataclasses.replace(market(), days=20)
    model = MarketModel(scenario)
    model.run_for(2.5)
    assert (model.time, model.steps) == (2.5, 2)
    model.step()  # Mesa's own step from half past: the day due at 3.0, the clock at 3.5
    assert (model.time, model.steps) == (3.5, 3)
    model.run_until(10)
    assert (model.time, model.steps) == (10, 10)
    model.step()
    assert (model.time, model.steps) == (11.0, 11)
    with pytest.warns(RuntimeWarning):
        model.run_for(0)
    with pytest.warns(RuntimeWarning):
        model.run_until(5)
    assert (model.time, model.steps) == (11.0, 11)


def test_a_paused_day_schedule_is_left_to_mesa():
    scenario = dataclasses.replace(market(), days=20)
    model = MarketModel(scenario)
    model.run_for(3)
    model._default_schedule.pause()
    model.run_for(2)  # no day is scheduled: the clock moves, no day runs
    assert (model.time, model.steps, model.ledger.days_recorded) == (5.0, 3, 3)
    model._default_schedule.resume()
    model.step()
    assert (model.time, model.steps, model.ledger.days_recorded) == (6.0, 4, 4)


def test_observations_and_prices_are_still_frozen_dataclasses():
    history = History(None, 0, 3, {})
    obs = Observation(3, 4, None, 7, ("sale",), None, 12.0, ((5, 10),), history)
    assert obs.rival_prices is EMPTY and obs.shopper_table is None
    assert dataclasses.replace(obs, day=4).day == 4 and dataclasses.replace(obs, day=4).history is history
    assert [f.name for f in dataclasses.fields(obs)][:5] == [
        "day",
        "weekday",
        "date",
        "days_left",
        "events_today",
    ]
    assert obs == Observation(3, 4, None, 7, ("sale",), None, 12.0, ((5, 10),), history)
    with pytest.raises(dataclasses.FrozenInstanceError):
        obs.day = 5  # type: ignore[misc]
    prices = Prices(10.0, reason="ten")
    assert (prices.segments, prices.coupon_new, prices.coupon_returning, prices.personal) == (
        EMPTY,
        0.0,
        0.0,
        None,
    )
    assert prices.segments is EMPTY
    assert prices == Prices(10.0, EMPTY, 0.0, 0.0, "ten") != Prices(10.5, reason="ten")
    assert (
        repr(prices)
        == "Prices(base=10.0, segments=mappingproxy({}), coupon_new=0.0, coupon_returning=0.0, reason='ten')"
    )
    with pytest.raises(dataclasses.FrozenInstanceError):
        prices.base = 1.0  # type: ignore[misc]


def test_every_observation_carries_the_scenarios_calendar_of_its_day():
    scenario = load_scenario("scenarios/holiday_market.yaml")
    seen = []

    class Looks(PricingStrategy):
        kind = "looks"

        def price(self, obs):
            seen.append((obs.day, obs.weekday, obs.date, obs.days_left, obs.events_today))
            return 30.0

    model = MarketModel(scenario)
    model.sellers[0].strategy = Looks()
    model.run_for(scenario.days)
    expected = [
        (
            day,
            scenario.weekday(day),
            scenario.date(day),
            scenario.days - day,
            tuple(e.name for e in scenario.events_on(day)),
        )
        for day in range(scenario.days)
    ]
    assert seen == expected
    assert seen[10][1:3] == (2, dt.date(2026, 11, 11)) and seen[10][4] == ("Singles Day",)  # a Wednesday
    long = MarketModel(dataclasses.replace(scenario, days=3000))  # the calendar is worked out in blocks
    for day in (2999, 5, 1024, 1023, 2048):
        assert long.calendar(day) == (day, scenario.weekday(day), scenario.date(day), 3000 - day, ())
    undated = dataclasses.replace(scenario, start_date=None)
    assert [MarketModel(undated).calendar(day)[1:3] for day in (0, 6, 7, 9)] == [
        (0, None),
        (6, None),
        (0, None),
        (2, None),
    ]


def test_an_observation_makes_its_history_rival_prices_and_shopper_table_when_first_read():
    model = MarketModel(dataclasses.replace(market(), days=10))
    model.run_for(4)
    seller, rival = model.sellers[0], model.sellers[1]
    obs = model.observation(seller, 4)
    assert {"history", "rival_prices", "shopper_table"}.isdisjoint(vars(obs))  # none made yet
    history = obs.history
    assert isinstance(history, History) and obs.history is history
    assert history.prices.tolist() == model.ledger.price[:4, 0].tolist() and history.units.shape == (4,)
    assert obs.rival_prices[rival.name].tolist() == model.ledger.price[:4, 1].tolist()
    assert obs.shopper_table is model.observation(seller, 4).shopper_table  # one table a seller and day
    assert not obs.shopper_table.called
    copied = copy.copy(obs)  # (an Observation never pickled: its shopper table calls the model)
    assert type(copied) is Observation and copied.day == 4 and copied.history is history
    later = dataclasses.replace(model.observation(rival, 4), day=5)
    assert (later.day, later.history.prices.tolist()) == (5, model.ledger.price[:4, 1].tolist())
    assert obs.last_price == model.ledger.price[3, 0] and obs.unit_cost == seller.unit_cost


def test_the_days_factors_worked_out_by_block_are_the_scenarios_day_by_day():
    scenario = load_scenario("scenarios/holiday_market.yaml")
    market = scenario.market
    events = (
        *market.events,
        Event("straddles a block", first_day=1020, days=9, traffic=1.5, wtp=0.9),
        Event("overlaps it", first_day=1025, days=3, traffic=0.7, wtp=1.25),
    )
    week = (1, 1.0, 0.9, 1.1, 1.2, 1.4, 0.8)  # an integer among them, as a file may give
    long = dataclasses.replace(
        scenario, days=2100, market=dataclasses.replace(market, events=events, weekly_traffic=week)
    )
    model = MarketModel(long)
    for dated in (long, dataclasses.replace(long, start_date=None)):
        for first, stop in ((0, 1024), (1024, 2048), (2048, 2100), (1000, 1030)):
            traffic, wtp = dated.day_factors(first, stop)
            expected = [(dated.traffic(d), dated.wtp_multiplier(d)) for d in range(first, stop)]
            assert list(zip(traffic, wtp, strict=True)) == expected
            assert [type(x) for pair in zip(traffic, wtp, strict=True) for x in pair] == [
                type(x) for pair in expected for x in pair
            ]
    assert long.day_factors(1026, 1027) == ([long.traffic(1026)], [0.9 * 1.25])
    assert long.traffic(1026) == week[long.weekday(1026)] * (1.5 * 0.7)
    for day in (0, 10, 1023, 1024, 1026, 2099):
        assert model.day_factors(day) == (long.traffic(day), long.wtp_multiplier(day))
        assert model.calendar(day)[4] == tuple(e.name for e in long.events_on(day))


def test_day_results_are_still_frozen_dataclasses():
    result = DayResult(4, 12.5, 30, 7, 87.5, 2, 40.0)
    assert result.bought is None and dataclasses.replace(result, units=8).units == 8
    assert result == DayResult(4, 12.5, 30, 7, 87.5, 2, 40.0, np.ones(3, bool))  # `bought` is not compared
    assert (
        repr(result)
        == "DayResult(day=4, price=12.5, views=30, units=7, revenue=87.5, lost_sales=2, stock=40.0)"
    )
    with pytest.raises(dataclasses.FrozenInstanceError):
        result.units = 3  # type: ignore[misc]


def test_rival_prices_come_from_each_sellers_own_copy_and_never_show_a_day_ahead():
    scenario = dataclasses.replace(market(), days=40)
    kept, ahead = {}, []

    class Keeps(PricingStrategy):
        kind = "keeps"

        def price(self, obs):
            kept[obs.day] = obs.rival_prices["them"]
            return 12.0

    class Rewrites(PricingStrategy):
        kind = "rewrites"

        def price(self, obs):
            past = obs.rival_prices["us"]
            ahead.append(bool(past.base[obs.day :].any()))  # days not yet over: never filled in
            past.base.setflags(write=True)
            past.base[: obs.day] = -1.0  # its own copy only
            return 14.0 + obs.day % 3

    model = MarketModel(scenario)
    model.sellers[0].strategy, model.sellers[1].strategy = Keeps(), Rewrites()
    model.run_for(scenario.days)
    them = model.ledger.price[:, 1]
    assert sorted(set(them)) == [14.0, 15.0, 16.0] and (model.ledger.price[:, 0] == 12.0).all()
    for day, past in kept.items():  # each day's view still holds the days before it, as they were
        assert np.array_equal(past, them[:day]) and not past.flags.writeable
    assert ahead == [False] * scenario.days
