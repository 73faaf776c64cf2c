"""A price per shopper: `obs.shoppers` and `Prices(personal=...)` through both engines, with the
guardrails, common random numbers and bad answers."""

from __future__ import annotations

from dataclasses import replace

import numpy as np
import pandas as pd
import pytest

from market_sim.model import MarketModel
from market_sim.runner import Job, run_once
from market_sim.scenario import Guardrails
from strategies import Prices, PricingStrategy
from tests.conftest import run_model, scenario_from
from tests.test_engine import SMALL_MARKET

FEATURES = """consumers:
  population: 400
  features:
    income: {dist: normal, mean: 0, sd: 1}
    mobile: {dist: bernoulli, p: 0.5}
    secret: {dist: uniform, low: 0, high: 1, observable: false}
"""


class FeaturePrices(PricingStrategy):
    """Test strategy: a price that rises with income and past purchases, with a little noise."""

    base: float = 30.0

    def reset(self, info):
        self.rng = info.rng

    def price(self, obs):
        table = obs.shoppers
        personal = self.base + 4 * table["income"] + 2 * table["purchases"] - 3 * table["mobile"]
        personal = personal + self.rng.uniform(-1, 1, len(table))
        return Prices(self.base, personal=np.maximum(personal.to_numpy(), 1.0), reason="by features")


class Recorder(FeaturePrices):
    """Keeps every table it was shown (copies) and the prices it asked for."""

    def reset(self, info):
        super().reset(info)
        self.tables, self.asked = [], []

    def price(self, obs):
        decision = super().price(obs)
        self.tables.append(obs.shoppers.copy())
        self.asked.append(decision.personal)
        return decision


class Broken(PricingStrategy):
    answer: str = "short"

    def price(self, obs):
        n = len(obs.shoppers)
        if obs.day < 2:
            return Prices(20, personal=np.full(n, 20.0))
        bad = {
            "short": np.full(n - 1, 20.0),
            "nan": np.where(np.arange(n) == 3, np.nan, 20.0),
            "negative": np.where(np.arange(n) == 1, -2.0, 20.0),
            "text": ["x"] * n,
            "matrix": np.full((n, 2), 20.0),
        }
        return Prices(20, personal=bad[self.answer])


def market(
    choice="logit",
    wtp="{dist: normal, mean: 30, sd: 8, min: 0}",
    stock=25,
    strategy="FeaturePrices",
    extra="",
):
    inventory = (
        f"{{initial: {stock}, reorder_point: 10, order_quantity: 40, lead_time: 2, holding_cost: 0.1}}"
    )
    text = SMALL_MARKET.format(choice=choice, wtp=wtp, stock=stock, inventory=inventory)
    text = text.replace("consumers:\n  population: 400\n", FEATURES)
    text = text.replace(
        "      wtp: {dist: triangular",
        "      wtp_per_feature: {secret: 10, income: 5}\n      wtp: {dist: triangular",
    )
    text = text.replace(
        "{kind: segment_test.prices:MemberPrices}", f"{{kind: tests.test_personal_prices:{strategy}{extra}}}"
    )
    return scenario_from(text)


@pytest.mark.parametrize(
    ("choice", "wtp", "stock"),
    [
        ("logit", "{dist: normal, mean: 30, sd: 8, min: 0}", 25),
        ("max_surplus", "32", 25),
        ("max_surplus", "{dist: uniform, low: 10, high: 60}", 15),
    ],
)
def test_agent_by_agent_and_vectorised_make_identical_purchases_with_personal_prices(choice, wtp, stock):
    # the equivalence test of tests/test_engine.py, with the focal seller pricing every shopper
    scenario = market(choice, wtp, stock)
    vectorised = run_model(scenario).ledger
    agents = run_model(scenario, engine="agents").ledger
    for name in (
        "units",
        "revenue",
        "lost_sales",
        "inventory",
        "segment_units",
        "segment_revenue",
        "views",
        "paid_square",
    ):
        np.testing.assert_array_equal(getattr(agents, name), getattr(vectorised, name), err_msg=name)
    np.testing.assert_array_equal(agents.segment_surplus, vectorised.segment_surplus)
    assert vectorised.personal[:, 0].all() and not vectorised.personal[:, 1:].any()
    assert vectorised.units[:, 0].sum() > 50
    assert vectorised.lost_sales[:, :2].sum() > 0, "the case is meant to have stock-outs"


def test_buyers_pay_their_own_price_and_the_books_add_up():
    scenario = market()
    model = MarketModel(scenario, scenario.strategies[0])
    recorder = Recorder()
    model.sellers[0].strategy = recorder
    recorder.reset(model.sellers[0].info)
    model.run_for(scenario.days)
    ledger, population = model.ledger, model.population
    # revenue is the sum of the personal prices paid, not units × a posted price
    np.testing.assert_allclose(population.spend[0].sum(), ledger.revenue[:, 0].sum())
    shown = np.concatenate(recorder.asked)
    paid_mean = ledger.revenue[:, 0].sum() / ledger.units[:, 0].sum()
    assert shown.min() < paid_mean < shown.max()
    assert ledger.paid_square[:, 0].sum() / ledger.units[:, 0].sum() > paid_mean**2  # prices differ
    # history in the table: yesterday's purchases show up today, spend matches
    first, later = recorder.tables[0], recorder.tables[-1]
    assert (first[["visits", "purchases", "spend"]].to_numpy() == 0).all()
    assert first["days_since_purchase"].isna().all()
    assert later["purchases"].sum() > 0 and (later["days_since_purchase"].dropna() >= 1).all()


def test_obs_shoppers_shows_what_a_seller_may_see_and_nothing_else():
    scenario = market(strategy="Recorder")
    model = run_model(scenario)
    tables = model.sellers[0].strategy.tables
    table = tables[3]
    assert list(table.columns) == [
        "shopper",
        "segment",
        "income",
        "mobile",
        "visits",
        "purchases",
        "days_since_purchase",
        "spend",
    ]
    assert set(table["segment"]) == {"", "members"}  # hunters are not observable: empty
    assert table["shopper"].is_unique and table["shopper"].is_monotonic_increasing  # pseudonym order
    # pseudonyms are stable: the same consumer keeps its id, and its features, from day to day
    ids = pd.concat(tables).drop_duplicates("shopper").set_index("shopper")
    merged = pd.concat(tables).merge(ids[["income"]], on="shopper", suffixes=("", "_first"))
    np.testing.assert_array_equal(merged["income"], merged["income_first"])
    # ...and say nothing of the hidden segment: members are not all at one end of the ids
    members = table["segment"] == "members"
    assert 0.2 < members.iloc[: len(table) // 2].mean() / members.mean() < 1.8
    # the table's features are the consumers' own
    population = model.population
    rows = np.argsort(model.pseudonyms())[table["shopper"].to_numpy()]
    np.testing.assert_array_equal(table["income"], population.features[rows, 0])


def test_the_shopper_table_is_read_only_and_built_only_when_asked(monkeypatch):
    built = []
    original = MarketModel.shopper_table
    monkeypatch.setattr(MarketModel, "shopper_table", lambda self, *a: built.append(a) or original(self, *a))
    run_model(market(strategy="Recorder"))
    assert len(built) == 12  # once a day for the focal seller, none for the rivals
    built.clear()
    fixed = SMALL_MARKET.format(choice="logit", wtp="30", stock=25, inventory="unlimited")
    run_model(
        scenario_from(fixed.replace("{kind: segment_test.prices:MemberPrices}", "{kind: fixed, price: 30}"))
    )
    assert built == []
    model = MarketModel(market(), None)
    model.today = model.arrivals(0)
    table = model.observation(model.sellers[0], 0).shoppers
    with pytest.raises(ValueError, match="read-only"):
        table.loc[table.index[0], "income"] = 99.0


def test_personal_prices_keep_common_random_numbers():
    personal = market()
    uniform = replace(
        personal, strategies=(replace(personal.strategies[0], kind="fixed", params={"price": 30}),)
    )
    a, b = run_model(personal), run_model(uniform)
    np.testing.assert_array_equal(a.ledger.shoppers, b.ledger.shoppers)  # the same visitors every day
    np.testing.assert_array_equal(a.population.visits, b.population.visits)
    np.testing.assert_array_equal(a.ledger.views.sum(axis=-1), b.ledger.views.sum(axis=-1))


def test_guardrails_hold_every_personal_price_and_count_them():
    scenario = market()
    guarded = replace(scenario, guardrails=Guardrails(min_price=28, max_price=33))
    model = MarketModel(guarded, guarded.strategies[0])
    recorder = Recorder()
    model.sellers[0].strategy = recorder
    recorder.reset(model.sellers[0].info)
    model.run_for(guarded.days)
    asked = np.concatenate(recorder.asked)
    expected_moves = np.count_nonzero((asked < 28) | (asked > 33))
    assert expected_moves > 100
    assert model.ledger.guardrail_hits[:, 0].sum() == expected_moves
    paid = model.population.spend[0].sum() / model.population.purchases[0].sum()
    assert 28 <= paid <= 33
    assert "personal prices moved (min_price, max_price)" in model.ledger.reason[0, 0]
    assert model.sellers[0].decision.personal.min() >= 28 and model.sellers[0].decision.personal.max() <= 33


@pytest.mark.parametrize(
    ("answer", "message"),
    [
        ("short", "one number per row of obs.shoppers"),
        ("nan", "finite and not negative, got nan in row 3"),
        ("negative", "finite and not negative, got -2.0 in row 1"),
        ("text", "personal prices must be numbers"),
        ("matrix", "got an array of shape"),
    ],
)
def test_a_bad_personal_price_array_fails_the_run_naming_seller_and_day(answer, message):
    scenario = market(strategy="Broken", extra=f", answer: {answer}")
    run = run_once(Job(scenario, 0, 0))
    assert run.failure is not None and run.failure.startswith("us on day 2: ")
    assert message in run.failure
    assert run.ledger.days_recorded == 2  # the days before it are kept
