"""The market reproduces the textbook (numbers from docs/theory.md)."""

from __future__ import annotations

import math

import numpy as np
import pytest

from tests.conftest import run_model, scenario_from

LINEAR = """
name: linear demand
days: {days}
replications: {replications}
market: {{choice: max_surplus}}
consumers:
  population: {population}
  segments:
    - {{name: all, share: 1, visit_rate: {visit_rate}, wtp: {{dist: uniform, low: 0, high: {wtp_max}}}}}
sellers:
  - {{name: shop, focal: true, unit_cost: 10}}
strategies:
{strategies}
"""


@pytest.mark.parametrize("price", [10.0, 25.0, 30.0, 42.0])
def test_uniform_wtp_gives_linear_demand(price):
    """V shoppers with wtp ~ U[0, W] buy V (1 − p/W) a day on average: a = 100, b = 2."""
    population, visit_rate, wtp_max, days, replications = 20_000, 0.005, 50.0, 40, 6
    scenario = scenario_from(
        LINEAR.format(
            days=days,
            replications=replications,
            population=population,
            visit_rate=visit_rate,
            wtp_max=wtp_max,
            strategies=f"  - {{kind: fixed, price: {price}}}",
        )
    )
    daily_means = [run_model(scenario, replication=r).ledger.units[:, 0].mean() for r in range(replications)]
    expected = population * visit_rate * (1 - price / wtp_max)
    assert expected == pytest.approx(100 - 2 * price)
    # variance of one replication's daily mean: who is in the population, then who visits
    q = 1 - price / wtp_max
    sd = math.sqrt(population * q * (visit_rate**2 * (1 - q) + visit_rate * (1 - visit_rate) / days))
    standard_error = sd / math.sqrt(replications)
    assert abs(np.mean(daily_means) - expected) < 4 * standard_error


CALVANO = """
name: logit
days: 20
market: {{choice: logit, outside_utility: 0}}
consumers:
  population: 20000
  segments:
    - {{name: all, share: 1, visit_rate: 1, wtp: 0, price_sensitivity: 4}}
sellers:
{sellers}
strategies:
  - {{kind: fixed, price: {price}}}
"""


@pytest.mark.parametrize(
    ("sellers", "price", "share"),
    [
        (1, 1.801985, 0.688273),  # monopoly
        (2, 1.472927, 0.471377),  # Bertrand–Nash
        (2, 1.924981, 0.364862),  # joint optimum
        (3, 1.370163, 0.324621),  # three-seller Nash
    ],
)
def test_logit_shares_match_closed_form(sellers, price, share):
    """Calvano baseline (a = 2, a₀ = 0, c = 1, μ = 0.25): shares at fixed prices."""
    rows = ["  - {name: firm_0, focal: true, unit_cost: 1, quality: 2}"]
    rows += [
        f"  - {{name: firm_{k}, unit_cost: 1, quality: 2, strategy: {{kind: fixed, price: {price}}}}}"
        for k in range(1, sellers)
    ]
    model = run_model(scenario_from(CALVANO.format(sellers="\n".join(rows), price=price)))
    ledger = model.ledger
    decisions = ledger.shoppers.sum()
    closed_form = math.exp((2 - price) / 0.25) / (sellers * math.exp((2 - price) / 0.25) + 1)
    assert closed_form == pytest.approx(share, abs=1e-6)
    standard_error = math.sqrt(share * (1 - share) / decisions)
    for seller in range(sellers):
        assert ledger.units[:, seller].sum() / decisions == pytest.approx(share, abs=4 * standard_error)
    profit_per_shopper = ledger.profit[:, 0].sum() / decisions
    assert profit_per_shopper == pytest.approx((price - 1) * share, abs=4 * (price - 1) * standard_error)
