"""Shared helpers: scenarios from YAML text, running a model to the end, and a plug-in folder
with a segment-pricing strategy (`segment_test.prices:MemberPrices`)."""

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


MEMBER_PRICES = """
from strategies import Prices, PricingStrategy


class MemberPrices(PricingStrategy):
    def price(self, obs):
        return Prices(30, segments={"members": 34}, coupon_new=3)
"""


@pytest.fixture
def plugin_folder(tmp_path, monkeypatch):
    (tmp_path / "segment_test").mkdir()
    (tmp_path / "segment_test" / "__init__.py").write_text("")
    (tmp_path / "segment_test" / "prices.py").write_text(MEMBER_PRICES)
    monkeypatch.syspath_prepend(str(tmp_path))
    return tmp_path
