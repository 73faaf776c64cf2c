"""Property test: invariants of the books hold in random valid markets."""

from __future__ import annotations

import numpy as np
import yaml
from hypothesis import given, settings
from hypothesis import strategies as st

from market_sim.loader import parse_scenario
from market_sim.metrics import run_scores
from market_sim.model import MarketModel

money = st.floats(0.5, 60, allow_nan=False).map(lambda x: round(x, 2))


@st.composite
def wtp(draw):
    low = draw(money)
    return draw(
        st.sampled_from(
            [
                low,
                {"dist": "uniform", "low": low, "high": low + 30},
                {"dist": "normal", "mean": low + 10, "sd": 5, "min": 0},
                {"dist": "lognormal", "mean": low + 5, "sd": 4},
                {"dist": "exponential", "mean": low + 1},
                {"dist": "triangular", "low": 0, "mode": low, "high": low + 20},
            ]
        )
    )


@st.composite
def inventory(draw):
    if draw(st.booleans()):
        return "unlimited"
    stock = {"initial": draw(st.integers(0, 80)), "holding_cost": draw(st.sampled_from([0, 0.05]))}
    if draw(st.booleans()):
        stock |= {
            "reorder_point": draw(st.integers(0, 30)),
            "order_quantity": draw(st.integers(1, 60)),
            "lead_time": draw(st.integers(0, 4)),
            "order_cost": draw(st.sampled_from([0, 7.5])),
            "salvage_value": draw(st.sampled_from([0, 1.25])),
        }
    return stock


@st.composite
def markets(draw) -> dict:
    segments = draw(st.integers(1, 3))
    shares = [round(1 / segments, 6)] * (segments - 1)
    shares.append(round(1 - sum(shares), 6))
    sellers = draw(st.integers(1, 3))
    pricing = st.sampled_from(
        [
            {"kind": "fixed", "price": 15},
            {"kind": "cost_plus", "markup": 0.8},
            {"kind": "competitor_response", "undercut": 0.05, "floor_markup": 0.1},
        ]
    )
    return {
        "name": "random market",
        "days": draw(st.integers(1, 12)),
        "seed": draw(st.integers(0, 1000)),
        "market": {
            "choice": draw(st.sampled_from(["logit", "max_surplus"])),
            "outside_utility": draw(st.sampled_from([0, 2])),
        },
        "consumers": {
            "population": draw(st.integers(1, 300)),
            "segments": [
                {
                    "name": f"s{g}",
                    "share": shares[g],
                    "observable": draw(st.booleans()),
                    "visit_rate": draw(st.sampled_from([0, 0.3, 1])),
                    "wtp": draw(wtp()),
                    "price_sensitivity": draw(st.sampled_from([0, 0.2, 1, 50])),
                    "loyalty": draw(st.sampled_from([0, 3])),
                }
                for g in range(segments)
            ],
        },
        "sellers": [
            {
                "name": f"seller{j}",
                "focal": j == 0,
                "unit_cost": draw(st.sampled_from([0, 4, 9.5])),
                "quality": draw(st.sampled_from([0, 1.5])),
                "inventory": draw(inventory()),
                **({} if j == 0 else {"strategy": draw(pricing)}),
            }
            for j in range(sellers)
        ],
        "strategies": [draw(pricing)],
    }


@settings(max_examples=60, deadline=None)
@given(document=markets())
def test_the_books_balance_in_any_market(document):
    scenario = parse_scenario(yaml.safe_dump(document, sort_keys=False), source="random.yaml")
    model = MarketModel(scenario)
    model.run_for(scenario.days)
    ledger = model.ledger
    population = scenario.consumers.population

    assert (ledger.shoppers <= population).all()
    assert (ledger.units.sum(axis=1) <= ledger.shoppers).all()  # buyers never exceed shoppers
    assert (ledger.units >= 0).all() and (ledger.lost_sales >= 0).all()
    np.testing.assert_allclose(ledger.revenue, ledger.price * ledger.units, rtol=1e-12)  # one price for all
    np.testing.assert_array_equal(ledger.segment_units.sum(axis=(2, 3)), ledger.units)
    np.testing.assert_allclose(ledger.segment_revenue.sum(axis=(2, 3)), ledger.revenue, rtol=1e-9, atol=1e-9)

    for j, seller in enumerate(scenario.sellers):
        stock = seller.inventory
        if stock.unlimited:
            assert (ledger.lost_sales[:, j] == 0).all()
            continue
        on_hand = stock.initial
        for day in range(scenario.days):
            available = on_hand + ledger.received[day, j]
            assert ledger.units[day, j] <= available  # never sells what it does not have
            on_hand = (
                available - ledger.units[day, j] + (ledger.ordered[day, j] if stock.lead_time == 0 else 0)
            )
            assert on_hand >= 0 and ledger.inventory[day, j] == on_hand
        leftover = ledger.inventory[-1, j]
        profit = (
            ledger.revenue[:, j].sum()
            - seller.unit_cost * (ledger.units[:, j].sum() + leftover)
            - stock.holding_cost * ledger.inventory[:, j].sum()
            - stock.order_cost * (ledger.ordered[:, j] > 0).sum()
            + stock.salvage_value * leftover
        )
        assert abs(ledger.profit[:, j].sum() - profit) < 0.005  # to the cent (rounding both can split x.xx5)

    scores = run_scores(ledger, scenario.focal_index)
    for name in ("fill_rate", "price_gini"):
        assert 0 <= scores[name] <= 1, name
    for name in ("price_gap", "demand_gap", "surplus_gap", "stockout_days", "lost_sales", "leftover_units"):
        assert scores[name] >= 0, name
    assert scores["demand_gap"] <= 1
    if ledger.units.sum():
        assert 0 <= scores["market_share"] <= 1
    always_defined = (
        "profit",
        "revenue",
        "units",
        "lost_sales",
        "fill_rate",
        "consumer_surplus",
        "price_gini",
    )
    assert all(np.isfinite(scores[name]) for name in always_defined)
