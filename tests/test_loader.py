"""The scenario loader: the documented example loads, and every mistake gets one precise error."""

from __future__ import annotations

import dataclasses
import datetime as dt
import pickle
import sys
from collections.abc import Iterator
from pathlib import Path
from types import MappingProxyType

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from market_sim.distributions import Constant, Exponential, LogNormal, Normal, Triangular, Uniform
from market_sim.loader import MAX_FILE_BYTES, ScenarioError, load_scenario, parse_scenario, scenario_to_yaml
from market_sim.scenario import Event, Guardrails, Inventory, Market, StrategySpec

# verbatim from docs/scenario-format.md ("A complete example")
EXAMPLE = """\
name: Holiday rivals                 # required; shown in reports
description: |                       # optional Markdown, shown in reports
  Two shops sell the same earbuds through November.
lesson: |                            # optional "what to notice", shown in reports
  Watch how the rival's undercutting erodes margins on event days.
days: 60                             # required, >= 1
start_date: 2026-11-01               # optional; needed for weekday effects and dated events
replications: 20                     # seeds per strategy (default 10)
seed: 42                             # base seed (default 0)

market:
  choice: logit                      # logit (default) | max_surplus
  outside_utility: 0                 # utility of buying nothing, in money
  weekly_traffic: [1, 1, 1, 1, 1.1, 1.3, 1.2]   # Monday..Sunday visit multipliers (default all 1)
  events:
    - name: Singles Day
      date: 2026-11-11               # or `day: 10` (0-based) when there is no start_date
      days: 1
      traffic: 3.0                   # multiplies visit rates
      wtp: 1.0                       # multiplies willingness to pay

consumers:
  population: 20000
  segments:                          # shares must sum to 1
    - name: bargain_hunters
      share: 0.6
      observable: false              # may sellers see this segment and price it separately?
      visit_rate: 0.05               # chance of shopping on an ordinary day
      wtp: {dist: normal, mean: 45, sd: 10, min: 0}
      price_sensitivity: {dist: uniform, low: 0.3, high: 0.5}
      loyalty: 0                     # utility bonus (money) for the seller last bought from
    - name: members
      share: 0.4
      observable: true
      visit_rate: 0.08
      wtp: {dist: lognormal, mean: 60, sd: 15}
      price_sensitivity: 0.2         # a plain number wherever a distribution is allowed
      loyalty: 3

sellers:
  - name: our_shop
    focal: true                      # exactly one focal seller
    unit_cost: 20
    quality: 0                       # utility shift in money (brand, reviews, delivery)
    inventory:
      initial: 3000                  # a number or `unlimited` (default unlimited)
      reorder_point: 500             # optional (s, Q) replenishment: order when on hand + on order <= s
      order_quantity: 2500
      lead_time: 4                   # days until an order arrives
      order_cost: 50                 # fixed cost per order
      holding_cost: 0.02             # per unit on hand per day
      salvage_value: 8               # per unit left after the last day
  - name: big_rival
    unit_cost: 22
    quality: 2
    strategy: {kind: competitor_response, target: our_shop, undercut: 0.03, floor_markup: 0.1}

strategies:                          # each takes the focal seat in its own replay of the market
  - {kind: cost_plus, markup: 0.6}
  - {kind: competitor_response, undercut: 0.02, floor_markup: 0.2}
  - {kind: my_pricing.rules:WeekendSurge, surge: 0.1}    # any importable class, module:Class
  - {kind: cost_plus, markup: 0.3, name: thin margin}    # optional display name

guardrails:                          # optional; bound every focal price
  min_price: 25
  max_price: 99
  max_daily_change: 0.15             # fraction of yesterday's price
  max_segment_ratio: 1.3             # highest / lowest price offered across segments on a day
"""

PLUGIN = '''\
from strategies import PricingStrategy


class WeekendSurge(PricingStrategy):
    """Charge more on Saturdays and Sundays."""

    markup: float = 0.5
    surge: float = 0.1

    def price(self, obs):
        base = obs.unit_cost * (1 + self.markup)
        return base * (1 + self.surge) if obs.weekday >= 5 else base


class Picky(PricingStrategy):
    """Checks its parameters in its own way."""

    surge: float = 0.1

    def __init__(self, **params):
        super().__init__(**params)
        if self.surge < 0:
            raise ValueError("surge must not be negative")

    def price(self, obs):
        return obs.unit_cost
'''
PLUGIN_MODULES = ("my_pricing", "my_pricing.rules")

# lines:  1 name, 2 days, 3 consumers, 5 segments, 6-8 the segment, 9 sellers, 10-12 us, 13-14 them
MINIMAL = """\
name: Two shops
days: 30
consumers:
  population: 1000
  segments:
    - name: everyone
      share: 1
      wtp: {dist: uniform, low: 0, high: 50}
sellers:
  - name: us
    focal: true
    unit_cost: 10
  - name: them
    unit_cost: 12
"""
COST_PLUS = StrategySpec("cost_plus", MappingProxyType({}), "cost_plus()")


def edit(old: str, new: str, text: str = MINIMAL) -> str:
    """`text` with the one occurrence of `old` replaced."""
    assert text.count(old) == 1, old
    return text.replace(old, new)


def write(folder: Path, text: str, name: str = "scenario.yaml") -> Path:
    path = folder / name
    path.write_text(text, encoding="utf-8")
    return path


def error_of(text: str) -> ScenarioError:
    with pytest.raises(ScenarioError) as caught:
        parse_scenario(text, source="case.yaml")
    return caught.value


@pytest.fixture
def folder(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Path]:
    """A scenario folder holding the my_pricing plug-in; sys.path and imports are restored after."""
    package = tmp_path / "my_pricing"
    package.mkdir()
    (package / "__init__.py").write_text("")
    (package / "rules.py").write_text(PLUGIN)
    monkeypatch.setattr(sys, "path", list(sys.path))
    saved = {name: sys.modules.pop(name) for name in PLUGIN_MODULES if name in sys.modules}
    yield tmp_path
    for name in PLUGIN_MODULES:
        sys.modules.pop(name, None)
    sys.modules.update(saved)


def test_documented_example_loads_with_its_plugin(folder: Path) -> None:
    path = write(folder, EXAMPLE)
    scenario = load_scenario(path)

    assert scenario.source == str(path)
    assert (scenario.name, scenario.days, scenario.replications, scenario.seed) == (
        "Holiday rivals",
        60,
        20,
        42,
    )
    assert scenario.start_date == dt.date(2026, 11, 1)
    assert scenario.description == "Two shops sell the same earbuds through November.\n"
    assert scenario.market.choice == "logit"
    assert scenario.market.weekly_traffic == (1.0, 1.0, 1.0, 1.0, 1.1, 1.3, 1.2)
    assert scenario.market.events == (
        Event("Singles Day", first_day=10, days=1, traffic=3.0, wtp=1.0, date=dt.date(2026, 11, 11)),
    )

    bargain, members = scenario.consumers.segments
    assert (bargain.name, bargain.share, bargain.observable, bargain.visit_rate) == (
        "bargain_hunters",
        0.6,
        False,
        0.05,
    )
    assert bargain.wtp == Normal(45.0, 10.0, min=0.0)
    assert bargain.price_sensitivity == Uniform(0.3, 0.5)
    assert bargain.loyalty == Constant(0.0)
    assert (members.observable, members.visit_rate) == (True, 0.08)
    assert members.wtp == LogNormal(60.0, 15.0)
    assert members.price_sensitivity == Constant(0.2)
    assert members.loyalty == Constant(3.0)
    assert scenario.consumers.segment_sizes() == (12000, 8000)

    ours, rival = scenario.sellers
    assert scenario.focal is ours and ours.strategy is None
    assert ours.inventory == Inventory(3000, 500, 2500, 4, 50, 0.02, 8)
    assert (rival.name, rival.unit_cost, rival.quality, rival.inventory.unlimited) == (
        "big_rival",
        22,
        2,
        True,
    )
    assert rival.strategy == StrategySpec(
        "competitor_response",
        MappingProxyType({"target": "our_shop", "undercut": 0.03, "floor_markup": 0.1}),
        "competitor_response(target=our_shop, undercut=0.03, floor_markup=0.1)",
    )

    assert [spec.name for spec in scenario.strategies] == [
        "cost_plus(markup=0.6)",
        "competitor_response(undercut=0.02, floor_markup=0.2)",
        "my_pricing.rules:WeekendSurge(surge=0.1)",
        "thin margin",
    ]
    assert scenario.strategies[3] == StrategySpec(
        "cost_plus", MappingProxyType({"markup": 0.3}), "thin margin"
    )
    assert isinstance(scenario.strategies[0].params, MappingProxyType)
    assert scenario.guardrails == Guardrails(
        min_price=25, max_price=99, max_daily_change=0.15, max_segment_ratio=1.3
    )
    assert sys.path.count(str(folder)) == 1


def test_plugin_folder_is_added_to_the_import_path_once(folder: Path) -> None:
    path = write(folder, EXAMPLE)
    load_scenario(path)
    load_scenario(path)
    assert sys.path.count(str(folder)) == 1


def test_resolved_yaml_reads_back_to_an_equal_scenario(folder: Path) -> None:
    scenario = load_scenario(write(folder, EXAMPLE))
    text = scenario_to_yaml(scenario)
    assert parse_scenario(text, source=scenario.source) == scenario
    assert "inventory: unlimited" in text
    assert "date: 2026-11-11" in text
    assert "name: thin margin" in text


def test_minimal_scenario_gets_the_documented_defaults() -> None:
    scenario = parse_scenario(MINIMAL, source="minimal.yaml")
    assert scenario.source == "minimal.yaml"
    assert (scenario.replications, scenario.seed, scenario.start_date, scenario.description) == (
        10,
        0,
        None,
        "",
    )
    assert scenario.market == Market()
    segment = scenario.consumers.segments[0]
    assert (segment.share, segment.observable, segment.visit_rate) == (1.0, False, 1.0)
    assert (segment.price_sensitivity, segment.loyalty) == (Constant(1.0), None)
    us, them = scenario.sellers
    assert (us.strategy, us.inventory, us.quality) == (None, Inventory(), 0.0)
    assert them.strategy == COST_PLUS
    assert scenario.strategies == (COST_PLUS,)
    assert scenario.guardrails == Guardrails()
    assert parse_scenario(scenario_to_yaml(scenario), source="minimal.yaml") == scenario


def test_without_strategies_the_focal_seller_keeps_its_own() -> None:
    text = edit("    focal: true\n", "    focal: true\n    strategy: {kind: fixed, price: 20}\n")
    scenario = parse_scenario(text)
    assert scenario.strategies == (StrategySpec("fixed", MappingProxyType({"price": 20}), "fixed(price=20)"),)
    assert scenario.focal.strategy == scenario.strategies[0]


def test_events_by_day_may_lie_beyond_the_run_and_are_written_back_by_day() -> None:
    text = MINIMAL + (
        "market:\n"
        "  choice: max_surplus\n"
        "  events:\n"
        "    - {name: Launch, day: 3, days: 2, traffic: 1.5}\n"
        "    - {name: Next year, day: 400}\n"
    )
    scenario = parse_scenario(text)
    assert scenario.market.choice == "max_surplus"
    assert scenario.market.events == (Event("Launch", 3, days=2, traffic=1.5), Event("Next year", 400))
    assert [day for day in range(scenario.days) if scenario.market.events[0].covers(day)] == [3, 4]
    written = scenario_to_yaml(scenario)
    assert "day: 3" in written and "date:" not in written
    assert parse_scenario(written) == scenario


def test_inventory_without_reordering_and_with_unlimited_words() -> None:
    text = edit("    unit_cost: 10\n", "    unit_cost: 10\n    inventory: {initial: 40, holding_cost: 0.5}\n")
    text = edit("    unit_cost: 12\n", "    unit_cost: 12\n    inventory: {initial: unlimited}\n", text)
    us, them = parse_scenario(text).sellers
    assert us.inventory == Inventory(initial=40.0, holding_cost=0.5)
    assert them.inventory == Inventory()


@pytest.mark.parametrize(
    ("written", "expected"),
    [
        ("7", Constant(7.0)),
        ("-2.5", Constant(-2.5)),
        ("{dist: uniform, low: 1, high: 5}", Uniform(1.0, 5.0)),
        ("{dist: normal, mean: 10, sd: 2}", Normal(10.0, 2.0)),
        ("{dist: normal, mean: 10, sd: 2, min: 5, max: 15}", Normal(10.0, 2.0, 5.0, 15.0)),
        ("{dist: normal, mean: 3, sd: 0, min: 3, max: 3}", Normal(3.0, 0.0, 3.0, 3.0)),
        ("{dist: lognormal, mean: 60, sd: 15}", LogNormal(60.0, 15.0)),
        ("{dist: exponential, mean: 4}", Exponential(4.0)),
        ("{dist: triangular, low: 1, mode: 1, high: 9}", Triangular(1.0, 1.0, 9.0)),
    ],
)
def test_every_distribution_form_is_read(written: str, expected: object) -> None:
    text = edit("{dist: uniform, low: 0, high: 50}", written)
    assert parse_scenario(text).consumers.segments[0].wtp == expected


@pytest.mark.parametrize(
    ("written", "field", "message"),
    [
        ("{dist: uniform, low: 5, high: 1}", "high", "must be a number >= low (5), got 1"),
        ("{dist: normal, mean: 3, sd: -1}", "sd", "must be a number >= 0, got -1"),
        ("{dist: normal, mean: 3, sd: 1, min: 2, max: 2}", "max", "must be a number > min (2), got 2"),
        ("{dist: normal, mean: 3}", "sd", "required field is missing"),
        (
            "{dist: normal, mean: 3, sd: 1, sigma: 3}",
            "sigma",
            "unknown key 'sigma'; expected one of: dist, mean",
        ),
        ("{dist: lognormal, mean: 0, sd: 1}", "mean", "must be a number > 0, got 0"),
        ("{dist: exponential, mean: -1}", "mean", "must be a number > 0, got -1"),
        ("{dist: triangular, low: 1, mode: 9, high: 5}", "high", "must be a number >= mode (9), got 5"),
        ("{dist: norml, mean: 3}", "dist", "got 'norml'; did you mean 'normal'?"),
        ("{mean: 3}", "dist", "required field is missing"),
    ],
)
def test_bad_distribution_names_the_parameter(written: str, field: str, message: str) -> None:
    error = error_of(edit("{dist: uniform, low: 0, high: 50}", written))
    assert (error.path, error.line) == (f"consumers.segments[0].wtp.{field}", 8)
    assert message in error.message


BOMB = "".join(
    f"{name}: &{name} [{', '.join([previous] * 10)}]\n"
    for name, previous in zip("abcdefghi", ['"lol"', *("*" + letter for letter in "abcdefgh")], strict=True)
)
STRATEGIES = "strategies:\n"  # on line 15, after MINIMAL

BAD_INPUT = [
    pytest.param(
        edit("days: 30", "days: 30: 40"),
        "",
        2,
        "invalid YAML: mapping values are not allowed",
        id="yaml syntax",
    ),
    pytest.param(
        edit("days: 30", "days: [30"), "", 3, "invalid YAML: expected ',' or ']'", id="unclosed list"
    ),
    pytest.param(
        edit("      share: 1", "      shares: 1"),
        "consumers.segments[0].shares",
        7,
        "unknown key 'shares'; did you mean 'share'?",
        id="unknown key",
    ),
    pytest.param(
        MINIMAL + "colour: red\n",
        "colour",
        15,
        "unknown key 'colour'; expected one of: name,",
        id="unknown key without a close match",
    ),
    pytest.param(
        edit("share: 1", "share: abc"),
        "consumers.segments[0].share",
        7,
        "must be a number > 0 and <= 1, got 'abc'",
        id="wrong type",
    ),
    pytest.param(
        edit("share: 1", "share: 1\n      visit_rate: 2"),
        "consumers.segments[0].visit_rate",
        8,
        "must be a number between 0 and 1, got 2",
        id="out of range",
    ),
    pytest.param(
        edit("name: Two shops", "name: 2024"),
        "name",
        1,
        "must be text, got 2024 (put it in quotes)",
        id="number for text",
    ),
    pytest.param(
        edit("focal: true", "focal: 1"),
        "sellers[0].focal",
        11,
        "must be true or false, got 1",
        id="number for a flag",
    ),
    pytest.param(
        edit("days: 30", "days: 2.5"),
        "days",
        2,
        "must be a whole number between 1 and 36500, got 2.5",
        id="fractional days",
    ),
    pytest.param(
        edit("    unit_cost: 10\n", ""),
        "sellers[0].unit_cost",
        10,
        "required field is missing",
        id="missing field",
    ),
    pytest.param(
        edit("      wtp: {dist: uniform, low: 0, high: 50}\n", ""),
        "consumers.segments[0].wtp",
        6,
        "required field is missing",
        id="missing distribution",
    ),
    pytest.param(
        edit("share: 1", "share: 0.6").replace("sellers:", "    - {name: few, share: 0.3, wtp: 5}\nsellers:"),
        "consumers.segments",
        5,
        "shares must sum to 1, got 0.9",
        id="shares not summing to 1",
    ),
    pytest.param(
        edit("    focal: true\n", ""),
        "sellers",
        9,
        "exactly one seller must have `focal: true`, found 0",
        id="no focal seller",
    ),
    pytest.param(
        edit("  - name: them\n", "  - name: them\n    focal: true\n"),
        "sellers",
        9,
        "found 2 (us, them)",
        id="two focal sellers",
    ),
    pytest.param(
        edit("name: them", "name: us"),
        "sellers[1].name",
        13,
        "duplicate seller name 'us'",
        id="duplicate seller",
    ),
    pytest.param(
        edit("unit_cost: 10", "unit_cost: -1"),
        "sellers[0].unit_cost",
        12,
        "must be a number >= 0, got -1",
        id="negative unit cost",
    ),
    pytest.param(
        edit("unit_cost: 10", "unit_cost: .nan"),
        "sellers[0].unit_cost",
        12,
        "must be a number >= 0, got nan",
        id="nan",
    ),
    pytest.param(
        edit("unit_cost: 12", "unit_cost: .inf"),
        "sellers[1].unit_cost",
        14,
        "must be a number >= 0, got inf",
        id="inf",
    ),
    pytest.param(
        edit("wtp: {dist: uniform, low: 0, high: 50}", "wtp: -.inf"),
        "consumers.segments[0].wtp",
        8,
        "must be a number, got -inf",
        id="inf constant",
    ),
    pytest.param(
        edit("      share: 1\n", "      share: 1\n      share: 1\n"),
        "consumers.segments[0].share",
        8,
        "duplicate key 'share' (first given on line 7)",
        id="duplicate key",
    ),
    pytest.param(
        MINIMAL + STRATEGIES + "  - {kind: cost_plus, markup: 0.5}\n  - {kind: cost_plus, markup: 0.5}\n",
        "strategies[1]",
        17,
        "duplicate strategy name 'cost_plus(markup=0.5)' (also strategies[0])",
        id="duplicate strategy name",
    ),
    pytest.param(
        MINIMAL + STRATEGIES + "  - {kind: cost_plus, name: a}\n  - {kind: fixed, name: a}\n",
        "strategies[1].name",
        17,
        "duplicate strategy name 'a'",
        id="duplicate given strategy name",
    ),
    pytest.param(
        MINIMAL + "strategies: []\n", "strategies", 15, "must list at least one entry", id="empty strategies"
    ),
    pytest.param(
        MINIMAL + "strategies: [cost_plus]\n",
        "strategies[0]",
        15,
        "must be a mapping such as {kind: cost_plus, markup: 0.5}, got 'cost_plus'",
        id="strategy as a word",
    ),
    pytest.param(
        MINIMAL + STRATEGIES + "  - {kind: cost_pluss}\n",
        "strategies[0].kind",
        16,
        "unknown strategy 'cost_pluss'",
        id="unknown strategy kind",
    ),
    pytest.param(
        MINIMAL + STRATEGIES + "  - {kind: no_such_module:Thing}\n",
        "strategies[0].kind",
        16,
        "cannot import 'no_such_module'",
        id="plug-in that cannot be imported",
    ),
    pytest.param(
        MINIMAL + STRATEGIES + "  - {kind: cost_plus, markup: high}\n",
        "strategies[0].markup",
        16,
        "must be a number, got 'high'",
        id="bad strategy parameter type",
    ),
    pytest.param(
        MINIMAL + STRATEGIES + "  - kind: cost_plus\n    markp: 0.4\n",
        "strategies[0].markp",
        17,
        "unknown parameter (this strategy takes: markup, ending); did you mean 'markup'?",
        id="unknown strategy parameter",
    ),
    pytest.param(
        MINIMAL + STRATEGIES + "  - {kind: cost_plus, markup: .inf}\n",
        "strategies[0].markup",
        16,
        "must be a finite number, got inf",
        id="infinite strategy parameter",
    ),
    pytest.param(
        edit("    unit_cost: 12\n", "    unit_cost: 12\n    strategy: {kind: fixed, prize: 3}\n"),
        "sellers[1].strategy.prize",
        15,
        "did you mean 'price'?",
        id="rival strategy parameter",
    ),
    pytest.param(
        MINIMAL + "market:\n  events:\n    - {name: Sale, date: 2026-11-11}\n",
        "market.events[0].date",
        17,
        "needs the top-level `start_date`",
        id="dated event without start_date",
    ),
    pytest.param(
        MINIMAL + "start_date: 2026-11-01\nmarket:\n  events:\n    - {name: Sale, date: 2026-10-11}\n",
        "market.events[0].date",
        18,
        "must not be before start_date (2026-11-01), got 2026-10-11",
        id="event before start_date",
    ),
    pytest.param(
        MINIMAL + "market:\n  events:\n    - {name: Sale, day: 2, date: 2026-11-11}\n",
        "market.events[0]",
        17,
        "needs exactly one of `date` (YYYY-MM-DD) or `day` (0-based), got both",
        id="event date and day",
    ),
    pytest.param(
        MINIMAL + "start_date: 2026-11-01 10:00:00\n",
        "start_date",
        15,
        "must be a date written as YYYY-MM-DD, got 2026-11-01T10:00:00",
        id="time for a date",
    ),
    pytest.param(
        MINIMAL + "start_date: 2026-02-30\n",
        "start_date",
        15,
        "day is out of range for month",
        id="impossible date",
    ),
    pytest.param(
        MINIMAL + "market:\n  weekly_traffic: [1, 1, 1, 1, 1, 1]\n",
        "market.weekly_traffic",
        16,
        "must list 7 numbers (Monday..Sunday), got 6",
        id="weekly_traffic of wrong length",
    ),
    pytest.param(
        MINIMAL + "market: {choice: logt}\n",
        "market.choice",
        15,
        "must be one of logit, max_surplus, got 'logt'; did you mean 'logit'?",
        id="unknown choice rule",
    ),
    pytest.param(
        edit("      wtp:", "      price_sensitivity: {dist: normal, mean: 1, sd: 0.2}\n      wtp:"),
        "consumers.segments[0].price_sensitivity",
        8,
        "a normal without `min: 0` can produce negative values; it would make shoppers prefer higher",
        id="negative-capable price sensitivity",
    ),
    pytest.param(
        edit("      wtp:", "      price_sensitivity: {dist: uniform, low: -0.5, high: 1}\n      wtp:"),
        "consumers.segments[0].price_sensitivity",
        8,
        "can produce negative values (down to -0.5)",
        id="negative uniform price sensitivity",
    ),
    pytest.param(
        edit(
            "    unit_cost: 10\n",
            "    unit_cost: 10\n    inventory: {reorder_point: 5, order_quantity: 9}\n",
        ),
        "sellers[0].inventory.reorder_point",
        13,
        "needs a limited `initial` stock",
        id="reordering unlimited stock",
    ),
    pytest.param(
        edit("    unit_cost: 10\n", "    unit_cost: 10\n    inventory: {initial: 50, reorder_point: 5}\n"),
        "sellers[0].inventory.order_quantity",
        13,
        "required field is missing",
        id="reorder point without quantity",
    ),
    pytest.param(
        edit("    unit_cost: 10\n", "    unit_cost: 10\n    inventory: {initial: 50.5}\n"),
        "sellers[0].inventory.initial",
        13,
        "must be a whole number >= 0 or `unlimited`, got 50.5",
        id="fractional stock",
    ),
    pytest.param(
        edit("    unit_cost: 10\n", "    unit_cost: 10\n    inventory: {initial: 50, order_quantity: 5}\n"),
        "sellers[0].inventory.order_quantity",
        13,
        "is used only with a `reorder_point`",
        id="order quantity without reorder point",
    ),
    pytest.param(
        MINIMAL + "guardrails: {min_price: 10, max_price: 10}\n",
        "guardrails.max_price",
        15,
        "must be a number > min_price (10), got 10",
        id="empty price band",
    ),
    pytest.param(BOMB, "", None, "too many values: more than 100000", id="alias bomb"),
    pytest.param("a: &a [*a]\n", "", 1, "nested deeper than 50 levels", id="recursive alias"),
    pytest.param(
        "a: " + "[" * 60 + "]" * 60 + "\n", "", 1, "nested deeper than 50 levels", id="deep nesting"
    ),
    pytest.param(
        MINIMAL + "description: !!python/object/apply:os.system [ls]\n",
        "description",
        15,
        "cannot read this value: unsupported tag",
        id="unsafe tag",
    ),
    pytest.param("", "", None, "the file is empty", id="empty document"),
    pytest.param("# nothing here\n", "", None, "the file is empty", id="only comments"),
    pytest.param(
        "- name: x\n- days: 3\n", "", 1, "must be a mapping of scenario fields", id="top-level list"
    ),
    pytest.param(MINIMAL + "---\nname: again\n", "", 15, "expected a single document", id="two documents"),
]


@pytest.mark.parametrize(("text", "path", "line", "message"), BAD_INPUT)
def test_bad_input_gets_one_precise_error(text: str, path: str, line: int | None, message: str) -> None:
    error = error_of(text)
    assert (error.source, error.path, error.line) == ("case.yaml", path, line)
    assert message in error.message
    assert "\n" not in str(error)


def test_plugin_constructor_failure_is_reported_on_the_strategy(folder: Path) -> None:
    path = write(
        folder,
        MINIMAL + STRATEGIES + "  - {kind: cost_plus}\n  - {kind: 'my_pricing.rules:Picky', surge: -1}\n",
    )
    with pytest.raises(ScenarioError) as caught:
        load_scenario(path)
    assert (caught.value.path, caught.value.line) == ("strategies[1]", 17)
    assert "surge must not be negative" in caught.value.message


def test_error_reads_as_one_line_and_survives_pickling() -> None:
    error = ScenarioError("shop.yaml", "sellers[0].unit_cost", 12, "must be a number >= 0, got -1")
    assert str(error) == "shop.yaml:12: sellers[0].unit_cost: must be a number >= 0, got -1"
    assert str(ScenarioError("shop.yaml", "", None, "the file is empty")) == "shop.yaml: the file is empty"
    copy = pickle.loads(pickle.dumps(error))
    assert (copy.source, copy.path, copy.line, copy.message) == (
        "shop.yaml",
        "sellers[0].unit_cost",
        12,
        error.message,
    )


def test_missing_file_is_a_scenario_error(tmp_path: Path) -> None:
    with pytest.raises(ScenarioError) as caught:
        load_scenario(tmp_path / "nowhere.yaml")
    assert (caught.value.path, caught.value.line) == ("", None)
    assert caught.value.message == "cannot read the file: No such file or directory"


def test_file_over_the_size_limit_is_refused_before_parsing(tmp_path: Path) -> None:
    path = write(tmp_path, "# padding\n" + "[" * MAX_FILE_BYTES)  # would be a syntax error if parsed
    with pytest.raises(ScenarioError) as caught:
        load_scenario(path)
    assert (caught.value.source, caught.value.line) == (str(path), None)
    assert "larger than 1 MB" in caught.value.message


def test_empty_file_is_a_scenario_error(tmp_path: Path) -> None:
    path = write(tmp_path, "")
    with pytest.raises(ScenarioError, match="the file is empty") as caught:
        load_scenario(path)
    assert str(caught.value).startswith(f"{path}: ")


def test_file_that_is_not_utf8_names_the_line(tmp_path: Path) -> None:
    path = tmp_path / "latin.yaml"
    path.write_bytes(b"name: Caf\xe9\n")
    with pytest.raises(ScenarioError, match="not UTF-8") as caught:
        load_scenario(path)
    assert caught.value.line == 1


def test_merge_keys_and_exponent_numbers_are_read() -> None:
    segments = (
        "    - &base {name: everyone, share: 0.5, visit_rate: 0.2, wtp: 9}\n"
        "    - <<: *base\n"
        "      name: others\n"
    )
    text = edit(
        "    - name: everyone\n      share: 1\n      wtp: {dist: uniform, low: 0, high: 50}\n", segments
    )
    scenario = parse_scenario(edit("  population: 1000", "  population: 1e3", text))
    assert scenario.consumers.population == 1000
    first, second = scenario.consumers.segments
    assert (first.name, second.name) == ("everyone", "others")
    assert (second.share, second.visit_rate, second.wtp) == (0.5, 0.2, Constant(9.0))


finite = st.floats(-1e6, 1e6, allow_nan=False)
distributions = st.one_of(
    finite.map(Constant),
    st.lists(finite, min_size=2, max_size=2).map(sorted).map(lambda b: Uniform(*b)),
    st.builds(Normal, finite, st.floats(0, 1e3)),
    st.builds(LogNormal, st.floats(1e-3, 1e6), st.floats(0, 1e3)),
    st.builds(Exponential, st.floats(1e-3, 1e6)),
    st.lists(finite, min_size=3, max_size=3).map(sorted).map(lambda t: Triangular(*t)),
)


@settings(max_examples=60, deadline=None)
@given(wtp=distributions, loyalty=distributions, unit_cost=st.floats(0, 1e6), markup=st.floats(-1, 1e6))
def test_any_valid_scenario_round_trips_through_yaml(wtp, loyalty, unit_cost, markup) -> None:
    base = parse_scenario(MINIMAL)
    segment = dataclasses.replace(base.consumers.segments[0], wtp=wtp, loyalty=loyalty)
    scenario = dataclasses.replace(
        base,
        consumers=dataclasses.replace(base.consumers, segments=(segment,)),
        sellers=(dataclasses.replace(base.sellers[0], unit_cost=unit_cost), base.sellers[1]),
        strategies=(StrategySpec("cost_plus", MappingProxyType({"markup": markup}), "mine"),),
    )
    assert parse_scenario(scenario_to_yaml(scenario)) == scenario
