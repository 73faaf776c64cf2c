"""Shopper features in the market: drawn per segment, observable or hidden, added to willingness
to pay; the engine's per-seller history with each consumer; strict validation."""

from __future__ import annotations

import dataclasses
import textwrap

import numpy as np
import pytest

from market_sim.loader import ScenarioError, parse_scenario, scenario_to_yaml
from market_sim.population import Population
from market_sim.streams import Purpose, stream
from tests.conftest import run_model, scenario_from

# the example of format-additions.md §1, completed into a scenario
CONTRACT_EXAMPLE = """
name: features example
days: 8
consumers:
  population: 2000
  features:                                   # name -> distribution (+ observable, default true)
    income: {dist: normal, mean: 0, sd: 1}
    ios_user: {dist: bernoulli, p: 0.4}       # new distribution: 0 or 1
    age_over_60: {dist: bernoulli, p: 0.2, observable: false}   # hidden from sellers, audited
  segments:
    - name: north
      share: 0.5
      visit_rate: 0.5
      features: {income: {dist: normal, mean: 0.5, sd: 1}}      # this segment's own distribution
      wtp: {dist: normal, mean: 20, sd: 2}
      wtp_per_feature: {income: 6, ios_user: 3}                 # wtp = drawn wtp + 6 income + 3 ios_user
      price_sensitivity: 0.5
    - name: south
      share: 0.5
      visit_rate: 0.5
      wtp: {dist: normal, mean: 20, sd: 2}
      price_sensitivity: 0.5
sellers:
  - {name: us, focal: true, unit_cost: 5}
  - {name: rival, unit_cost: 5, strategy: {kind: fixed, price: 21}}
strategies: [{kind: fixed, price: 20}]
"""


def population_of(scenario, replication=0):
    return Population.draw(
        scenario.consumers, len(scenario.sellers), stream(scenario.seed, replication, Purpose.POPULATION)
    )


def test_the_contract_example_loads_and_draws_each_segments_own_distribution():
    scenario = scenario_from(CONTRACT_EXAMPLE)
    features = scenario.consumers.features
    assert list(features) == ["income", "ios_user", "age_over_60"]
    assert [f.observable for f in features.values()] == [True, True, False]
    population = population_of(scenario)
    north, south = population.segment == 0, population.segment == 1
    income, ios, older = population.features.T
    # 1000 draws each: standard errors 0.032 (normal) and 0.016 / 0.013 (bernoulli)
    assert income[north].mean() == pytest.approx(0.5, abs=0.13)
    assert income[south].mean() == pytest.approx(0.0, abs=0.13)
    assert income[north].std() == pytest.approx(1.0, abs=0.1)
    assert set(np.unique(ios)) == {0.0, 1.0} and set(np.unique(older)) == {0.0, 1.0}
    assert ios.mean() == pytest.approx(0.4, abs=0.05)
    assert older.mean() == pytest.approx(0.2, abs=0.04)
    np.testing.assert_array_equal(population.feature_observable, [True, True, False])


def test_wtp_per_feature_adds_linearly_and_leaves_the_other_draws_alone():
    scenario = scenario_from(CONTRACT_EXAMPLE)
    north = scenario.consumers.segments[0]
    plain = dataclasses.replace(
        scenario,
        consumers=dataclasses.replace(
            scenario.consumers,
            segments=(dataclasses.replace(north, wtp_per_feature={}), scenario.consumers.segments[1]),
        ),
    )
    weighted, unweighted = population_of(scenario), population_of(plain)
    income, ios, _ = weighted.features.T
    expected = np.where(weighted.segment == 0, 6 * income + 3 * ios, 0.0)
    np.testing.assert_allclose(weighted.wtp - unweighted.wtp, expected, atol=1e-12)
    np.testing.assert_array_equal(weighted.price_sensitivity, unweighted.price_sensitivity)


def test_a_scenario_without_features_draws_the_same_consumers_as_before():
    hidden = ("features:", "wtp_per_feature:", "income:", "ios_user:", "age_over_60:")
    text = "\n".join(line for line in CONTRACT_EXAMPLE.splitlines() if not line.strip().startswith(hidden))
    scenario = scenario_from(text)
    population = population_of(scenario)
    rng = stream(scenario.seed, 0, Purpose.POPULATION)
    wtp = np.concatenate([rng.normal(20, 2, 1000), rng.normal(20, 2, 1000)])
    np.testing.assert_array_equal(population.wtp, wtp)
    assert population.features.shape == (2000, 0)


def test_features_survive_the_resolved_scenario_file():
    scenario = scenario_from(CONTRACT_EXAMPLE)
    again = parse_scenario(scenario_to_yaml(scenario), source="again.yaml")
    assert again.consumers == scenario.consumers


def test_the_engine_keeps_each_sellers_history_with_each_consumer():
    scenario = scenario_from(CONTRACT_EXAMPLE)
    model = run_model(scenario)
    population, ledger = model.population, model.ledger
    assert population.visits.sum() == ledger.shoppers.sum()
    np.testing.assert_array_equal(population.purchases.sum(axis=1), ledger.units.sum(axis=0))
    np.testing.assert_allclose(population.spend.sum(axis=1), ledger.revenue.sum(axis=0))
    bought = population.purchases > 0
    assert (population.last_purchase[bought] >= 0).all() and (population.last_purchase[~bought] == -1).all()
    assert population.last_purchase.max() == scenario.days - 1
    assert (population.purchases <= population.visits[None, :]).all()


def error_of(text: str) -> ScenarioError:
    with pytest.raises(ScenarioError) as caught:
        parse_scenario(textwrap.dedent(text), source="test.yaml")
    return caught.value


@pytest.mark.parametrize(
    ("old", "new", "path", "message"),
    [
        (
            "wtp_per_feature: {income: 6,",
            "wtp_per_feature: {incme: 6,",
            "consumers.segments[0].wtp_per_feature.incme",
            "unknown feature 'incme'; did you mean 'income'?",
        ),
        (
            "features: {income: {dist",
            "features: {wealth: {dist",
            "consumers.segments[0].features.wealth",
            "unknown feature 'wealth'",
        ),
        (
            "features: {income: {dist: normal, mean: 0.5, sd: 1}}",
            "features: {income: {dist: normal, mean: 0.5, sd: 1, observable: false}}",
            "consumers.segments[0].features.income.observable",
            "is set once, under consumers.features",
        ),
        (
            "{dist: bernoulli, p: 0.4}",
            "{dist: bernoulli, p: 1.4}",
            "consumers.features.ios_user.p",
            "must be a number between 0 and 1, got 1.4",
        ),
        (
            "{dist: bernoulli, p: 0.4}",
            "{dist: bernouli, p: 0.4}",
            "consumers.features.ios_user.dist",
            "did you mean 'bernoulli'?",
        ),
        (
            "{dist: bernoulli, p: 0.4}",
            "{dist: bernoulli, q: 0.4}",
            "consumers.features.ios_user.q",
            "unknown key 'q'",
        ),
        ("ios_user: {dist", "spend: {dist", "consumers.features.spend", "taken by a column of obs.shoppers"),
        (
            "p: 0.2, observable: false}",
            "p: 0.2, observable: nope}",
            "consumers.features.age_over_60.observable",
            "must be true or false",
        ),
        (
            "ios_user: 3}",
            "ios_user: high}",
            "consumers.segments[0].wtp_per_feature.ios_user",
            "must be a number",
        ),
    ],
)
def test_bad_features_get_one_error_naming_the_field(old, new, path, message):
    assert old in CONTRACT_EXAMPLE
    error = error_of(CONTRACT_EXAMPLE.replace(old, new, 1))
    assert error.path == path
    assert message in error.message


def test_a_segment_may_not_name_features_when_none_are_declared():
    lines = CONTRACT_EXAMPLE.splitlines()
    start = lines.index(
        "  features:                                   # name -> distribution (+ observable, default true)"
    )
    error = error_of("\n".join(lines[:start] + lines[start + 4 :]))
    assert error.path == "consumers.segments[0].features.income"
    assert "declare features under consumers.features" in error.message
