"""Property test: every broken scenario file gets exit status 2 and one message naming the
file and the field, with no traceback and no output folder."""

from __future__ import annotations

import copy
import os
import re
import time
import uuid

import pytest
import yaml
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from market_sim.cli import main

VALID = {
    "name": "valid",
    "days": 5,
    "replications": 2,
    "start_date": "2026-11-01",
    "market": {
        "choice": "logit",
        "weekly_traffic": [1, 1, 1, 1, 1, 1.2, 1.2],
        "events": [{"name": "sale", "date": "2026-11-03", "traffic": 2.0}],
    },
    "consumers": {
        "population": 100,
        "segments": [
            {"name": "a", "share": 0.5, "visit_rate": 0.3, "wtp": {"dist": "uniform", "low": 5, "high": 30}},
            {
                "name": "b",
                "share": 0.5,
                "observable": True,
                "visit_rate": 0.2,
                "wtp": 20,
                "price_sensitivity": 0.5,
            },
        ],
    },
    "sellers": [
        {
            "name": "us",
            "focal": True,
            "unit_cost": 5,
            "inventory": {
                "initial": 50,
                "reorder_point": 10,
                "order_quantity": 30,
                "lead_time": 2,
                "holding_cost": 0.1,
            },
        },
        {"name": "them", "unit_cost": 6, "strategy": {"kind": "fixed", "price": 15}},
    ],
    "strategies": [{"kind": "cost_plus", "markup": 1}, {"kind": "fixed", "price": 12}],
    "guardrails": {"min_price": 1, "max_price": 100},
}

REQUIRED = [
    "name",
    "days",
    "consumers",
    "sellers",
    "consumers.population",
    "consumers.segments",
    "consumers.segments[0].share",
    "consumers.segments[1].wtp",
    "sellers[0].unit_cost",
    "sellers[1].name",
    "strategies[0].kind",
    "market.events[0].name",
]
NUMBERS = [
    "days",
    "replications",
    "consumers.population",
    "consumers.segments[0].share",
    "consumers.segments[0].visit_rate",
    "consumers.segments[0].wtp.low",
    "sellers[0].unit_cost",
    "sellers[0].inventory.initial",
    "sellers[0].inventory.lead_time",
    "sellers[0].inventory.holding_cost",
    "strategies[0].markup",
    "sellers[1].strategy.price",
    "guardrails.max_price",
    "market.events[0].traffic",
    "market.weekly_traffic[2]",
]
NON_NEGATIVE = [
    "days",
    "consumers.population",
    "consumers.segments[1].visit_rate",
    "sellers[0].unit_cost",
    "sellers[0].inventory.initial",
    "sellers[0].inventory.holding_cost",
    "sellers[0].inventory.lead_time",
    "market.events[0].traffic",
    "guardrails.min_price",
    "market.weekly_traffic[0]",
]
MAPPINGS = [
    "",
    "market",
    "consumers",
    "consumers.segments[1]",
    "sellers[0]",
    "sellers[0].inventory",
    "strategies[1]",
    "guardrails",
    "consumers.segments[0].wtp",
    "market.events[0]",
]
LISTS = ["consumers.segments", "sellers", "strategies"]
NAMES = ["name", "consumers.segments[0].name", "sellers[1].name"]


def locate(document: dict, path: str):
    """The container holding `path`'s last step, and that step."""
    steps = [int(p) if p.isdigit() else p for p in path.replace("[", ".").replace("]", "").split(".")]
    node = document
    for step in steps[:-1]:
        node = node[step]
    return node, steps[-1]


def put(document: dict, path: str, value) -> dict:
    document = copy.deepcopy(document)
    container, key = locate(document, path)
    container[key] = value
    return document


def drop(document: dict, path: str) -> dict:
    document = copy.deepcopy(document)
    container, key = locate(document, path)
    del container[key]
    return document


def key_path(mapping: str, key: str) -> str:
    return f"{mapping}.{key}" if mapping else key


def as_text(document: dict) -> str:
    return yaml.safe_dump(document, sort_keys=False, allow_unicode=True)


@st.composite
def broken_files(draw) -> tuple[str, str]:
    """(file text, what the message must contain)."""
    kind = draw(
        st.sampled_from(
            [
                "missing",
                "unknown",
                "type",
                "non-finite",
                "negative",
                "huge",
                "empty",
                "long name",
                "duplicate",
                "syntax",
                "alias bomb",
                "deep",
            ]
        )
    )
    if kind == "missing":
        path = draw(st.sampled_from(REQUIRED))
        parent = path.rsplit(".", 1)[0] if "." in path else ""
        return as_text(drop(VALID, path)), path.rsplit(".", 1)[-1] if parent else path
    if kind == "unknown":
        mapping = draw(st.sampled_from(MAPPINGS))
        key = draw(st.text("abcdefghijklmnopqrstuvwxyzé_", min_size=3, max_size=12).map(lambda k: "zz" + k))
        return as_text(put(VALID, key_path(mapping, key), 1)), key_path(mapping, key)
    if kind == "type":
        path = draw(st.sampled_from(NUMBERS))
        value = draw(st.sampled_from(["abc", [1, 2], {"a": 1}, True, None, "2026-01-01x"]))
        return as_text(put(VALID, path, value)), path
    if kind == "non-finite":
        path = draw(st.sampled_from(NUMBERS))
        return as_text(
            put(VALID, path, draw(st.sampled_from([float("nan"), float("inf"), float("-inf")])))
        ), path
    if kind == "negative":
        path = draw(st.sampled_from(NON_NEGATIVE))
        return as_text(put(VALID, path, draw(st.sampled_from([-1, -0.5, -1e9])))), path
    if kind == "huge":
        path = draw(st.sampled_from(NUMBERS))
        return as_text(put(VALID, path, draw(st.sampled_from([1e300, 10**30, -1e200])))), path
    if kind == "empty":
        path = draw(st.sampled_from(LISTS))
        return as_text(put(VALID, path, [])), path
    if kind == "long name":
        path = draw(st.sampled_from(NAMES))
        name = draw(st.text(min_size=1, max_size=3).filter(str.strip)) * 300
        return as_text(put(VALID, path, name[:1000])), path
    text = as_text(VALID)
    lines = text.splitlines()
    if kind == "duplicate":
        fields = [line for line in lines if re.fullmatch(r"[a-z_]+: \S.*", line)]  # top-level scalars
        return text + draw(st.sampled_from(fields)) + "\n", "duplicate key"
    if kind == "syntax":
        at = draw(st.integers(0, len(lines) - 1))
        lines.insert(at, draw(st.sampled_from(["oops: {a: 1", "oops: [1, 2", "oops: &a [*a"])))
        return "\n".join(lines) + "\n", "invalid YAML"
    if kind == "alias bomb":
        bomb = "a: &a [x, x, x, x, x, x, x, x, x, x]\n" + "".join(
            f"{chr(98 + i)}: &{chr(98 + i)} [*{chr(97 + i)}, *{chr(97 + i)}, *{chr(97 + i)}, *{chr(97 + i)}, *{chr(97 + i)}, *{chr(97 + i)}, *{chr(97 + i)}, *{chr(97 + i)}, *{chr(97 + i)}, *{chr(97 + i)}]\n"
            for i in range(8)
        )
        return bomb + text, "too many values"
    return "name: " + "[" * 200 + "]" * 200 + "\n" + text, "nested deeper"


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(case=broken_files())
def test_every_broken_file_exits_2_naming_the_field(tmp_path, capsys, case):
    text, expected = case
    scenario = tmp_path / "broken.yaml"
    scenario.write_text(text, encoding="utf-8")
    out = tmp_path / f"out-{uuid.uuid4().hex}"  # fresh for every example
    started = time.perf_counter()
    code = main(["run", str(scenario), "--out", str(out), "--quiet"])
    elapsed = time.perf_counter() - started
    err = capsys.readouterr().err
    assert code == 2, err
    assert err.startswith(f"error: {scenario}") and err.count("\n") == 1, err
    assert expected in err
    assert "Traceback" not in err
    assert not out.exists()
    assert elapsed < 30, (
        f"took {elapsed:.2f} s"
    )  # a hang guard (an unbudgeted bomb takes hours), not a benchmark


def test_the_valid_base_file_runs(tmp_path):
    scenario = tmp_path / "valid.yaml"
    scenario.write_text(as_text(VALID))
    assert main(["validate", str(scenario)]) == 0


@pytest.mark.parametrize("size", [2_000_000])
def test_a_document_over_the_size_limit_is_refused(tmp_path, capsys, size):
    scenario = tmp_path / "big.yaml"
    scenario.write_text("name: x\n" + "# padding\n" * (size // 10))
    assert main(["validate", str(scenario)]) == 2
    assert "larger than 1 MB" in capsys.readouterr().err


def merge_bomb(levels: int) -> str:
    """Nested merge keys over empty mappings: each level merges the one before twice, so
    expanding it takes 2**levels steps (the file is some 600 bytes)."""
    lines = ["m0: &m0 {}"] + [f"m{i}: &m{i} {{<<: [*m{i - 1}, *m{i - 1}]}}" for i in range(1, levels)]
    return "\n".join(lines) + "\n"


def test_merge_keys_are_budgeted_like_aliases(tmp_path, capsys):
    scenario = tmp_path / "merge.yaml"
    scenario.write_text(merge_bomb(25) + as_text(VALID))
    assert len(merge_bomb(25)) < 700
    assert main(["validate", str(scenario)]) == 2
    assert "too many values: more than 100000 (an alias *name or a merge << counts" in capsys.readouterr().err


def test_a_merge_bomb_in_a_set_value_is_refused(tmp_path, capsys):
    scenario = tmp_path / "valid.yaml"
    scenario.write_text(as_text(VALID))
    value = "{" + ", ".join(merge_bomb(25).replace("\n", ", ").rstrip(", ").split(", ")) + "}"
    assert main(["run", str(scenario), "--set", f"market={value}", "--out", str(tmp_path / "o")]) == 2
    err = capsys.readouterr().err
    assert err.startswith("error: --set market: cannot read the value") and "too many values" in err
    assert not (tmp_path / "o").exists()


def test_a_fifo_given_as_the_scenario_is_refused_at_once(tmp_path, capsys):
    fifo = tmp_path / "scenario.yaml"
    os.mkfifo(fifo)
    assert main(["validate", str(fifo)]) == 2  # no writer ever comes: reading would wait forever
    assert capsys.readouterr().err == f"error: {fifo}: is not a regular file; give a scenario file\n"


@pytest.mark.parametrize(
    ("path", "value", "message"),
    [
        # the limit the value breaks, not the range's lower bound
        ("consumers.segments[0].visit_rate", 1e100, "must be at most 1e+12 in size, got 1e+100"),
        ("seed", 10**30, "must be at most 1e+12 in size, got 1000000000000000000000000000000"),
        ("days", 40000, "must be at most 36500, got 40000"),
        (
            "consumers.segments[0].wtp",
            {"dist": "lognormal", "mean": 1e-200, "sd": 1},
            "must be at most 1e+100 times the mean (1e-200), got 1",
        ),
    ],
)
def test_limit_messages_name_the_condition_broken(tmp_path, capsys, path, value, message):
    scenario = tmp_path / "limits.yaml"
    scenario.write_text(as_text(put(VALID, path, value)))
    assert main(["validate", str(scenario)]) == 2
    assert message in capsys.readouterr().err
