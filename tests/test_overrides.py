"""Overrides (`--set PATH=VALUE`): a changed field is validated exactly like one written in the file."""

from __future__ import annotations

import pickle
import textwrap

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from market_sim.cli import main
from market_sim.distributions import Uniform
from market_sim.loader import OverrideError, ScenarioError, load_scenario, parse_scenario

BASE = textwrap.dedent(
    """
    name: override test
    days: 6
    replications: 2
    consumers:
      population: 300
      segments:
        - {name: a, share: 0.5, visit_rate: 0.4, wtp: {dist: normal, mean: 30, sd: 5}, price_sensitivity: 0.5}
        - {name: b, share: 0.5, visit_rate: 0.2, wtp: 30, price_sensitivity: 0.3}
    sellers:
      - {name: us, focal: true, unit_cost: 8}
      - {name: them, unit_cost: 9, strategy: {kind: fixed, price: 20}}
    strategies:
      - {kind: cost_plus, markup: 1.5}
      - {kind: fixed, price: 25, name: list price}
    """
)


def parse(*overrides: tuple[str, str], text: str = BASE):
    return parse_scenario(text, "base.yaml", overrides=overrides)


def test_override_equals_writing_the_value_in_the_file():
    edited = BASE.replace("mean: 30, sd: 5", "mean: 50, sd: 5")
    assert parse(("consumers.segments[0].wtp.mean", "50")) == parse(text=edited)


@given(mean=st.floats(min_value=-1e6, max_value=1e6, allow_nan=False), days=st.integers(1, 36_500))
@settings(max_examples=30, deadline=None)
def test_any_valid_value_loads_as_if_written(mean, days):
    edited = BASE.replace("mean: 30", f"mean: {mean!r}").replace("days: 6", f"days: {days}")
    overridden = parse(("consumers.segments[0].wtp.mean", repr(mean)), ("days", str(days)))
    assert overridden == parse(text=edited)


def test_override_leaves_other_fields_and_later_loads_alone():
    changed = parse(("consumers.segments[0].wtp.mean", "50"))
    base = parse()
    assert changed.consumers.segments[1] == base.consumers.segments[1]
    assert changed.sellers == base.sellers
    assert base.consumers.segments[0].wtp.mean == 30  # the shared tree of the file was not modified


def test_strategy_parameter_override_renames_the_strategy_unless_it_has_a_name():
    scenario = parse(("strategies[0].markup", "0.4"), ("strategies[1].price", "27"))
    assert [spec.name for spec in scenario.strategies] == ["cost_plus(markup=0.4)", "list price"]
    assert scenario.strategies[0].params["markup"] == 0.4
    assert scenario.strategies[1].params["price"] == 27


def test_values_are_yaml_lists_mappings_and_words():
    scenario = parse(
        ("consumers.segments[1].wtp", "{dist: uniform, low: 10, high: 40}"),
        ("sellers[0].inventory", "unlimited"),
        ("sellers[1].inventory", "{initial: 50}"),
        ("start_date", "2026-11-02"),
    )
    assert scenario.consumers.segments[1].wtp == Uniform(10.0, 40.0)
    assert scenario.sellers[0].inventory.unlimited
    assert scenario.sellers[1].inventory.initial == 50
    assert scenario.weekday(0) == 0  # 2026-11-02 is a Monday


def test_missing_mappings_are_created():
    assert parse(("guardrails.max_price", "90")).guardrails.max_price == 90
    assert parse(("market.outside_utility", "2")).market.outside_utility == 2


def test_load_scenario_takes_overrides(tmp_path):
    path = tmp_path / "base.yaml"
    path.write_text(BASE)
    assert load_scenario(path, [("days", "9")]).days == 9


@pytest.mark.parametrize(
    ("override", "message"),
    [
        (
            ("consumers.segments[0].wtp.mean", "lots"),
            "--set consumers.segments[0].wtp.mean: must be a number, got 'lots'",
        ),
        (("dayz", "3"), "--set dayz: unknown key 'dayz'; did you mean 'days'?"),
        (
            ("guardrails.max_pric", "9"),
            "--set guardrails.max_pric: unknown key 'max_pric'; did you mean 'max_price'?",
        ),
        (
            ("consumers.segments[2].share", "0.1"),
            "--set consumers.segments[2].share: consumers.segments has 2 entries, so there is no consumers.segments[2]",
        ),
        (
            ("strategy[0].markup", "1"),
            "--set strategy[0].markup: strategy is not in the scenario, so there is no strategy[0]",
        ),
        (
            ("consumers.segments[1].wtp.mean", "40"),
            "--set consumers.segments[1].wtp.mean: consumers.segments[1].wtp is 30, not a mapping",
        ),
        (
            ("consumers..population", "3"),
            "--set consumers..population: 'consumers..population' is not a field path",
        ),
        (
            ("consumers.segments[0].wtp", "{dist: uniform, low: 5, high: 1}"),
            "--set consumers.segments[0].wtp.high: must be a number >= low (5), got 1",
        ),
        (("days", "[1"), "--set days: cannot read the value '[1': invalid YAML"),
        (("strategies[0].markup", "cheap"), "--set strategies[0].markup:"),
    ],
)
def test_bad_override_names_the_option_and_field(override, message):
    with pytest.raises(OverrideError) as error:
        parse(override)
    assert str(error.value).startswith(message)


def test_file_value_made_wrong_by_an_override_names_the_override():
    with pytest.raises(ScenarioError) as error:
        parse(("consumers.segments[0].share", "0.3"))
    assert str(error.value) == (
        "base.yaml:7: consumers.segments: shares must sum to 1, got 0.8 (with --set consumers.segments[0].share=0.3)"
    )


def test_override_error_survives_pickling():
    with pytest.raises(OverrideError) as error:
        parse(("days", "0"))
    assert str(pickle.loads(pickle.dumps(error.value))) == str(error.value)


def test_run_with_set_uses_the_changed_scenario(tmp_path):
    path = tmp_path / "base.yaml"
    path.write_text(BASE)
    out = tmp_path / "out"
    code = main(
        [
            "run",
            str(path),
            "--out",
            str(out),
            "--quiet",
            "--workers",
            "1",
            "--set",
            "days=3",
            "--set",
            "strategies[0].markup=0.4",
        ]
    )
    assert code == 0
    written = load_scenario(out / "scenario.yaml")
    assert written.days == 3
    assert written.strategies[0].name == "cost_plus(markup=0.4)"


def test_run_with_a_bad_set_exits_2_without_output(tmp_path, capsys):
    path = tmp_path / "base.yaml"
    path.write_text(BASE)
    out = tmp_path / "out"
    assert main(["run", str(path), "--out", str(out), "--set", "consumers.population=-5"]) == 2
    error = capsys.readouterr().err
    assert error.startswith("error: --set consumers.population: must be a whole number")
    assert "Traceback" not in error
    assert not out.exists()
