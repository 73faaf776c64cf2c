"""Shared helpers: scenarios from YAML text, and running a model to the end."""

from __future__ import annotations

import textwrap

import pytest

from market_sim.loader import parse_scenario
from market_sim.model import MarketModel
from market_sim.scenario import Scenario


def scenario_from(text: str) -> Scenario:
    return parse_scenario(textwrap.dedent(text), source="test.yaml")


def run_model(scenario: Scenario, strategy: int = 0, replication: int = 0, **options) -> MarketModel:
    model = MarketModel(scenario, scenario.strategies[strategy], replication, **options)
    model.run_for(scenario.days)
    return model


@pytest.fixture
def make_scenario():
    return scenario_from
