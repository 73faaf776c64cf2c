"""The command line, as a user meets it: outputs, determinism, and bad input (exit 2)."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pandas as pd
import pytest

import market_sim
from market_sim.cli import main

ROOT = Path(__file__).resolve().parents[1]

SMALL = """
name: small cli test
days: 6
replications: 3
seed: 11
start_date: 2026-11-01
market:
  choice: logit
  events: [{name: promo day, date: 2026-11-03, traffic: 2}]
consumers:
  population: 300
  segments:
    - {name: a, share: 0.5, visit_rate: 0.4, wtp: {dist: uniform, low: 10, high: 40}, price_sensitivity: 0.5}
    - {name: b, share: 0.5, observable: true, visit_rate: 0.2, wtp: 30, price_sensitivity: 0.3, loyalty: 2}
sellers:
  - {name: us, focal: true, unit_cost: 8, inventory: {initial: 150, reorder_point: 20, order_quantity: 50, lead_time: 2}}
  - {name: them, unit_cost: 9, strategy: {kind: fixed, price: 20}}
strategies:
  - {kind: cost_plus, markup: 1.5}
  - {kind: fixed, price: 25}
"""


@pytest.fixture
def scenario_file(tmp_path) -> Path:
    path = tmp_path / "small.yaml"
    path.write_text(SMALL)
    return path


def run_cli(*args: str) -> int:
    return main([str(a) for a in args])


def test_run_writes_every_documented_file_and_column(scenario_file, tmp_path):
    out = tmp_path / "out"
    assert run_cli("run", scenario_file, "--out", out, "--quiet", "--workers", "1") == 0
    assert sorted(p.name for p in out.iterdir()) == [
        "comparisons.csv",
        "daily.csv",
        "manifest.json",
        "report.html",
        "report_data.npz",  # the figures' data for `report DIR` (issue 13)
        "scenario.yaml",
        "scores.csv",
        "segments.csv",
        "summary.csv",
    ]
    summary = pd.read_csv(out / "summary.csv")
    documented = "strategy, replications, profit_mean, profit_ci_low, profit_ci_high, revenue_mean, units_mean, avg_price_paid_mean, stockout_days_mean, lost_sales_mean, fill_rate_mean, leftover_units_mean, consumer_surplus_mean, price_gini_mean, price_gap_mean, demand_gap_mean, surplus_gap_mean"
    assert set(documented.split(", ")) <= set(summary.columns)
    assert summary["strategy"].tolist() == ["cost_plus(markup=1.5)", "fixed(price=25)"]
    assert summary["avg_price_paid_mean"].tolist() == pytest.approx([20.0, 25.0])
    daily = pd.read_csv(out / "daily.csv")
    assert set(
        [
            "strategy",
            "replication",
            "day",
            "seller",
            "price",
            "units",
            "revenue",
            "profit",
            "inventory",
            "lost_sales",
        ]
    ) <= set(daily.columns)
    assert len(daily) == 2 * 3 * 6 * 2
    segments = pd.read_csv(out / "segments.csv")
    assert set(["visitors", "buyers", "units", "avg_price_paid", "consumer_surplus"]) <= set(segments.columns)
    assert len(segments) == 2 * 3 * 6 * 2 * 2
    # the tables agree with each other
    us = daily[daily["seller"] == "us"].groupby("strategy", sort=False)["profit"].sum() / 3
    assert us.to_numpy() == pytest.approx(summary["profit_mean"].to_numpy())
    by_segment = segments.groupby(["strategy", "replication", "day", "seller"])["units"].sum()
    assert (
        by_segment.to_numpy().tolist()
        == daily.sort_values(["strategy", "replication", "day", "seller"])["units"].tolist()
    )


def test_same_scenario_and_seed_give_byte_identical_csv_whatever_the_workers(scenario_file, tmp_path):
    assert run_cli("run", scenario_file, "--out", tmp_path / "one", "--quiet", "--workers", "1") == 0
    assert run_cli("run", scenario_file, "--out", tmp_path / "two", "--quiet", "--workers", "2") == 0
    for name in ("summary.csv", "daily.csv", "segments.csv", "scenario.yaml"):
        assert (tmp_path / "one" / name).read_bytes() == (tmp_path / "two" / name).read_bytes(), name


def test_strategies_on_one_seed_see_identical_daily_shoppers(scenario_file, tmp_path):
    run_cli("run", scenario_file, "--out", tmp_path / "out", "--quiet")
    daily = pd.read_csv(tmp_path / "out" / "daily.csv")
    shoppers = daily[daily["seller"] == "us"].pivot_table(
        index=["replication", "day"], columns="strategy", values="shoppers"
    )
    assert (shoppers.nunique(axis=1) == 1).all()
    assert shoppers.iloc[:, 0].groupby(level="replication").sum().nunique() == 3  # replications differ


def test_overrides_and_strategy_selection(scenario_file, tmp_path):
    out = tmp_path / "out"
    code = run_cli(
        "run",
        scenario_file,
        "--out",
        out,
        "--quiet",
        "--days",
        "3",
        "--replications",
        "2",
        "--seed",
        "5",
        "--strategies",
        "fixed(price=25)",
    )
    assert code == 0
    daily = pd.read_csv(out / "daily.csv")
    assert daily["day"].max() == 2 and daily["replication"].nunique() == 2
    assert daily["strategy"].unique().tolist() == ["fixed(price=25)"]
    assert "seed: 5" in (out / "scenario.yaml").read_text()


def test_existing_output_folder_is_kept_unless_overwrite(scenario_file, tmp_path, capsys):
    out = tmp_path / "out"
    out.mkdir()
    (out / "keep.txt").write_text("mine")
    assert run_cli("run", scenario_file, "--out", out, "--quiet") == 2
    assert "--overwrite" in capsys.readouterr().err
    assert (out / "keep.txt").exists()
    # issue 11: --overwrite replaces only a folder this program wrote
    assert run_cli("run", scenario_file, "--out", out, "--quiet", "--overwrite") == 2
    assert "was not written by market-sim" in capsys.readouterr().err
    assert (out / "keep.txt").read_text() == "mine"
    ours = tmp_path / "ours"
    assert run_cli("run", scenario_file, "--out", ours, "--quiet") == 0
    (ours / "stale.txt").write_text("")
    assert run_cli("run", scenario_file, "--out", ours, "--quiet", "--overwrite") == 0
    assert not (ours / "stale.txt").exists() and (ours / "summary.csv").exists()


@pytest.mark.parametrize(
    ("edit", "field"),
    [
        (lambda s: s.replace("days: 6", "days: 0"), "days"),
        (lambda s: s.replace("days: 6", "dayz: 6"), "dayz"),
        (lambda s: s.replace("share: 0.5, observable", "share: 0.4, observable"), "consumers.segments"),
        (lambda s: s.replace("unit_cost: 8", "unit_cost: -8"), "sellers[0].unit_cost"),
        (lambda s: s.replace("{name: us, focal: true,", "{name: us,"), "sellers"),
        (lambda s: s.replace("{name: them,", "{name: them, focal: true,"), "sellers"),
        (
            lambda s: s.replace("price_sensitivity: 0.5", "price_sensitivity: .nan"),
            "consumers.segments[0].price_sensitivity",
        ),
        (lambda s: s.replace("markup: 1.5", "markup: lots"), "strategies[0].markup"),
        (lambda s: s.replace("kind: fixed, price: 25", "kind: fixd, price: 25"), "strategies[1].kind"),
        (lambda s: s.replace("market:\n", "market:\n  - oops\n"), ""),
        (lambda s: s.replace("population: 300", "population: [300"), ""),
    ],
)
def test_bad_scenario_exits_2_naming_the_field(scenario_file, tmp_path, capsys, edit, field):
    scenario_file.write_text(edit(SMALL))
    out = tmp_path / "out"
    assert run_cli("run", scenario_file, "--out", out) == 2
    message = capsys.readouterr().err
    assert message.startswith(f"error: {scenario_file}:")
    assert field in message
    assert "Traceback" not in message
    assert not out.exists()


@pytest.mark.parametrize(
    "args",
    [
        ["--days", "0"],
        ["--replications", "many"],
        ["--strategies", "nonexistent"],
    ],
)
def test_bad_arguments_exit_2(scenario_file, tmp_path, args, capsys):
    with pytest.raises(SystemExit) as stop:
        code = run_cli("run", scenario_file, "--out", tmp_path / "out", *args)
        raise SystemExit(code)
    assert stop.value.code == 2
    assert not (tmp_path / "out").exists()


def test_console_entry_runs_as_a_script_with_clean_errors(tmp_path):
    broken = tmp_path / "broken.yaml"
    broken.write_text("name: x\ndays: one\n")
    result = subprocess.run(
        [sys.executable, str(ROOT / "run_sim.py"), "validate", str(broken)], capture_output=True, text=True
    )
    assert result.returncode == 2
    assert result.stderr.strip().startswith(f"error: {broken}:2: days:")
    assert "Traceback" not in result.stderr


def test_validate_accepts_every_shipped_scenario(capsys):
    for path in sorted((ROOT / "scenarios").rglob("*.yaml")):
        assert run_cli("validate", path) == 0, path
    assert "ok" in capsys.readouterr().out


def test_version_is_the_package_version(capsys):
    from importlib.metadata import version as installed_version

    version = installed_version("market-sim")  # pyproject reads it from market_sim.__version__
    assert version == market_sim.__version__
    with pytest.raises(SystemExit) as stop:
        run_cli("--version")
    assert stop.value.code == 0
    assert capsys.readouterr().out == f"market-sim {version}\n"


def test_strategies_lists_every_built_in_with_parameters_and_defaults(capsys):
    assert run_cli("strategies") == 0
    out = capsys.readouterr().out
    kinds = [
        line.split(":")[0] for line in out.splitlines() if line and not line.startswith((" ", "Details"))
    ]
    assert kinds == [
        "fixed",
        "cost_plus",
        "competitor_response",
        "demand_response",
        "segment_pricing",
        "promotions",
        "inventory_aware",
        "oracle_best_fixed",
        "oracle_best_response",
        "oracle_personal",
        "ml_pricing",
        "personal_rule",
        "q_learning",
        "ucb",
        "thompson_grid",
    ]
    # one-line descriptions are the docstrings' first sentences; parameters by their scenario names
    assert "fixed: The same price every day.\n    price: float = 10.0\n" in out
    assert "    markup: float = 0.5\n    ending: float | None = null\n" in out  # defaults in YAML
    assert "    reference: Literal['lowest', 'average'] = lowest\n" in out
    assert "oracle_best_fixed: Benchmark (uses hidden truth): the best single price in hindsight.\n" in out
    assert "    grid: int = 16\n" in out and "    grid: int = 64\n" in out
    assert "    base: Mapping[str, Any] = {kind: cost_plus}\n" in out


def test_strategies_kind_shows_the_whole_documentation_and_refuses_unknown_kinds(capsys):
    assert run_cli("strategies", "inventory_aware") == 0
    out = capsys.readouterr().out
    assert "Gallego & van Ryzin" in out and "    salvage: float = 0.0\n" in out
    assert run_cli("strategies", "cheap") == 2
    assert "no built-in strategy 'cheap'" in capsys.readouterr().err


def test_an_interrupt_inside_an_extension_modules_import_ends_as_interrupted(monkeypatch, tmp_path, capsys):
    """Ctrl-C while a C extension initialises (matplotlib's ft2font did, in a fault test)
    surfaces as that module's ImportError caused by the KeyboardInterrupt: still status 130,
    "interrupted" and no traceback."""
    from market_sim.commands import validate

    def import_interrupted(args):
        try:
            raise KeyboardInterrupt
        except KeyboardInterrupt as interrupt:
            raise ImportError("initialization failed") from interrupt

    monkeypatch.setattr(validate, "run", import_interrupted)
    assert main(["validate", str(tmp_path / "any.yaml")]) == 130
    assert capsys.readouterr().err == "interrupted\n"


def test_an_interrupt_while_the_commands_load_ends_as_interrupted(monkeypatch, capsys):
    """Ctrl-C while the parser imports the commands' modules (a fault test's random interrupt
    landed there): status 130, "interrupted" and no traceback, as for one inside a command."""
    from market_sim import cli

    def loading_interrupted():
        raise KeyboardInterrupt

    monkeypatch.setattr(cli, "parser", loading_interrupted)
    assert main(["validate", "any.yaml"]) == 130
    assert capsys.readouterr().err == "interrupted\n"


def test_an_interrupt_that_lands_in_a_finaliser_still_interrupts(monkeypatch, tmp_path, capfd):
    """Ctrl-C inside a library's `__del__` (llvmlite's, while numba loaded the kernels, in a
    fault test): Python prints such an exception with a traceback and goes on, so the command
    would have run to its end. It is raised again: status 130, "interrupted", no traceback."""
    import gc
    import signal
    import time

    from market_sim.commands import validate

    class Finalised:
        def __del__(self):
            raise KeyboardInterrupt

    def interrupted_in_a_finaliser(args):
        Finalised()
        gc.collect()
        time.sleep(5)  # (the interrupt comes at once: the test would take 5 s without it)
        return 0

    monkeypatch.setattr(validate, "run", interrupted_in_a_finaliser)
    previous = signal.signal(signal.SIGINT, signal.default_int_handler)
    try:
        assert main(["validate", str(tmp_path / "any.yaml")]) == 130
    finally:
        signal.signal(signal.SIGINT, previous)
    err = capfd.readouterr().err
    assert err == "interrupted\n"


def test_the_program_under_a_profiler_ends_the_usual_way(tmp_path):
    """The program ends at once when its command returns (`cli._end_now`), except under a
    profiler, which writes what it saw after `main`: `python -m cProfile -o FILE run_sim.py ...`
    leaves its FILE."""
    profile = tmp_path / "validate.prof"
    command = [sys.executable, "-m", "cProfile", "-o", str(profile), str(ROOT / "run_sim.py")]
    done = subprocess.run(
        [*command, "validate", str(ROOT / "scenarios" / "holiday_market.yaml")],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert done.returncode == 0, done.stderr
    assert profile.stat().st_size > 0
