"""The Python API (issue 18): the same comparisons as the command line, results as DataFrames,
errors as exceptions with the command line's messages, strategies written in a notebook."""

from __future__ import annotations

import os
import sys
import textwrap
import warnings
from pathlib import Path

import pandas as pd
import pytest
from test_cli import SMALL

import market_sim as ms
from market_sim.cli import main
from market_sim.report import read_table
from strategies.simple import CostPlus

ROOT = Path(__file__).resolve().parents[1]
TABLES = ("summary.csv", "scores.csv", "comparisons.csv", "daily.csv", "segments.csv", "scenario.yaml")

# a strategy as a notebook cell would define it; the same text is also saved as a module
RULE = textwrap.dedent(
    """
    import os

    from strategies import Prices, PricingStrategy


    class Surge(PricingStrategy):
        \"\"\"A markup over cost, higher on the days after a good one.\"\"\"

        markup: float = 0.5
        surge: float = 0.2

        def price(self, obs):
            sold = obs.history.units
            good = len(sold) > 0 and sold[-1] >= 5
            return obs.unit_cost * (1 + self.markup) * (1 + self.surge if good else 1)


    class WhereAmI(PricingStrategy):
        \"\"\"A fixed price whose reason names the process that ran it.\"\"\"

        def price(self, obs):
            return Prices(20.0, reason=f"pid {os.getpid()}")
    """
)


@pytest.fixture
def scenario_file(tmp_path) -> Path:
    path = tmp_path / "small.yaml"
    path.write_text(SMALL)
    return path


def notebook_module() -> dict:
    """The rules as a notebook defines them: classes of `__main__` that no worker can import."""
    namespace = {"__name__": "__main__"}
    exec(compile(RULE, "<notebook cell>", "exec"), namespace)
    return namespace


def test_compare_then_save_writes_the_same_files_as_run(scenario_file, tmp_path):
    options = ("--days", "4", "--replications", "2", "--seed", "3")
    assert (
        main(
            ["run", str(scenario_file), "--out", str(tmp_path / "cli"), "--quiet", "--workers", "2", *options]
        )
        == 0
    )
    results = ms.compare(ms.load(scenario_file), days=4, replications=2, seed=3, workers=1, progress=False)
    results.save(tmp_path / "api")
    for name in TABLES:
        assert (tmp_path / "api" / name).read_bytes() == (tmp_path / "cli" / name).read_bytes(), name
    assert (tmp_path / "api" / "report.html").is_file()
    # the DataFrames are the saved tables
    pd.testing.assert_frame_equal(results.daily, read_table(tmp_path / "cli" / "daily.csv"))
    pd.testing.assert_frame_equal(results.segments, read_table(tmp_path / "cli" / "segments.csv"))
    saved_scores = read_table(tmp_path / "cli" / "scores.csv")
    pd.testing.assert_frame_equal(results.scores, saved_scores, check_exact=False, rtol=1e-15)
    assert results.summary["strategy"].tolist() == ["cost_plus(markup=1.5)", "fixed(price=25)"]
    assert results.summary["avg_price_paid_mean"].tolist() == pytest.approx([8 * 2.5, 25.0])
    assert len(results.comparisons) == len(read_table(tmp_path / "cli" / "comparisons.csv"))


def test_load_changes_fields_with_the_checks_of_set(scenario_file, capsys):
    scenario = ms.load(
        scenario_file, days=9, **{"consumers.segments[0].wtp.high": 60, "sellers[1].unit_cost": "12"}
    )
    assert scenario.days == 9
    assert scenario.consumers.segments[0].wtp.high == 60
    assert scenario.sellers[1].unit_cost == 12
    with pytest.raises(ms.ScenarioError) as error:
        ms.load(scenario_file, **{"consumers.segments[0].share": 0.7})
    assert main(["validate", str(scenario_file)]) == 0  # the file itself is fine
    assert main(["run", str(scenario_file), "--set", "consumers.segments[0].share=0.7"]) == 2
    printed = capsys.readouterr().err
    assert printed == f"error: {error.value}\n".replace("override ", "--set ")
    assert "consumers.segments" in str(error.value)


@pytest.mark.parametrize(
    ("arguments", "cli", "message"),
    [
        (
            {"strategies": ["nonexistent"]},
            ["--strategies", "nonexistent"],
            "strategies: no strategy named 'nonexistent'",
        ),
        ({"baseline": "nobody"}, ["--baseline", "nobody"], "baseline: no strategy named 'nobody'"),
        ({"replications": 0}, None, "replications: must be at least 1, got 0"),
        ({"days": 2.5}, None, "days: must be a whole number, got 2.5"),
        ({"workers": 0}, None, "workers: must be at least 1, got 0"),
        ({"days": 10**9}, ["--days", str(10**9)], "days: must be at most 36,500, got 1000000000"),
        (
            {"strategies": [object()]},
            None,
            "strategies: expected a strategy name, a built-in kind or a PricingStrategy",
        ),
        ({"strategies": ["segment_pricing", CostPlus]}, None, None),
    ],
)
def test_bad_arguments_raise_the_command_lines_message_never_system_exit(
    scenario_file, capsys, arguments, cli, message
):
    scenario = ms.load(scenario_file, days=2, replications=1)
    if message is None:  # these are fine
        assert len(ms.compare(scenario, progress=False, workers=1, **arguments).summary) == 2
        return
    with pytest.raises(ms.OptionError) as error:  # an Exception: SystemExit would escape this
        ms.compare(scenario, progress=False, **arguments)
    assert str(error.value).startswith(message)
    if cli is not None:
        assert main(["run", str(scenario_file), "--days", "2", *cli]) == 2
        assert capsys.readouterr().err == f"error: --{error.value}\n"


def test_a_missing_file_or_bad_scenario_is_a_scenario_error(tmp_path):
    with pytest.raises(ms.ScenarioError, match="no such file|not found|cannot read"):
        ms.load(tmp_path / "nothing.yaml")
    with pytest.raises(ms.ScenarioError, match="days"):
        ms.load(ROOT / "scenarios" / "linear_demand.yaml", days=0)


def test_a_notebook_strategy_runs_on_workers_with_the_results_of_the_same_class_from_a_module(
    scenario_file, tmp_path, monkeypatch
):
    (tmp_path / "nb_rules.py").write_text(RULE)
    monkeypatch.syspath_prepend(str(tmp_path))
    import nb_rules

    notebook = notebook_module()
    scenario = ms.load(scenario_file, days=8, replications=3)
    from_module = ms.compare(scenario, [nb_rules.Surge(markup=0.3), "cost_plus"], workers=2, progress=False)
    from_notebook = ms.compare(
        scenario, [notebook["Surge"](markup=0.3), "cost_plus"], workers=2, progress=False
    )
    assert from_notebook.summary["strategy"].tolist() == ["Surge(markup=0.3)", "cost_plus()"]
    pd.testing.assert_frame_equal(from_notebook.scores, from_module.scores)
    pd.testing.assert_frame_equal(from_notebook.daily, from_module.daily)
    # the surge happened: prices of 8 × 1.3 and 8 × 1.3 × 1.2
    prices = from_notebook.daily.query("seller == 'us' and strategy == 'Surge(markup=0.3)'")["price"]
    assert set(prices.round(6)) == {round(8 * 1.3, 6), round(8 * 1.3 * 1.2, 6)}
    # it ran on the worker processes, not here
    ran = ms.compare(scenario, [notebook["WhereAmI"]()], workers=2, progress=False).daily
    pids = set(ran.query("seller == 'us'")["reason"])
    assert pids and f"pid {os.getpid()}" not in pids


def test_a_strategy_that_cannot_be_pickled_runs_here_and_says_why(scenario_file):
    notebook = notebook_module()
    import threading

    Locked = type("Locked", (notebook["WhereAmI"],), {"lock": threading.Lock(), "__module__": "__main__"})
    scenario = ms.load(scenario_file, days=3, replications=2)
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        results = ms.compare(scenario, [Locked()], workers=2, progress=False)
    said = [str(w.message) for w in caught if "runs on this process only" in str(w.message)]
    assert said and "lock" in said[0]
    assert set(results.daily.query("seller == 'us'")["reason"]) == {f"pid {os.getpid()}"}


def test_strategies_by_name_by_kind_and_as_built_in_instances(scenario_file):
    scenario = ms.load(scenario_file, days=3, replications=2)
    results = ms.compare(
        scenario, ["fixed(price=25)", "cost_plus", CostPlus(markup=1.5)], workers=1, progress=False
    )
    assert results.summary["strategy"].tolist() == ["fixed(price=25)", "cost_plus()", "cost_plus(markup=1.5)"]
    prices = results.summary.set_index("strategy")["avg_price_paid_mean"]
    assert prices["cost_plus()"] == pytest.approx(8 * (1 + CostPlus.markup))
    assert prices["cost_plus(markup=1.5)"] == pytest.approx(8 * 2.5)
    # a file path and one strategy name do too
    one = ms.compare(str(scenario_file), "fixed(price=25)", days=3, replications=2, workers=1, progress=False)
    pd.testing.assert_frame_equal(one.scores, results.scores[results.scores["strategy"] == "fixed(price=25)"])
    # the instance of a built-in is the scenario's own strategy: the same numbers
    own = ms.compare(scenario, ["cost_plus(markup=1.5)"], workers=1, progress=False)
    pd.testing.assert_frame_equal(
        own.scores.reset_index(drop=True),
        results.scores[results.scores["strategy"] == "cost_plus(markup=1.5)"].reset_index(drop=True),
    )


def test_winner_and_the_notebook_display():
    scenario = ms.load(ROOT / "scenarios" / "lessons" / "01_demand_curve.yaml", days=20, replications=3)
    results = ms.compare(
        scenario, ["textbook optimum (30)", "fixed(price=15)", "fixed(price=45)"], workers=1, progress=False
    )
    # Q = 100 − 2p with unit cost 10: profit (p − 10)(100 − 2p) is 400 at 30, 350 at 45, 175 at 15
    assert results.winner == "textbook optimum (30)"
    page = results._repr_html_()
    assert "<table" in page and page.count("<img") >= 3
    assert "textbook optimum (30)" in page and results.verdict.split(":")[0] in page
    assert "Ranking by profit" in repr(results)


def test_sweep_gives_the_files_of_the_sweep_command(scenario_file, tmp_path):
    cli = tmp_path / "cli"
    grid = "strategies[1].price=20,30"
    assert (
        main(
            [
                "sweep",
                str(scenario_file),
                "--out",
                str(cli),
                "--grid",
                grid,
                "--replications",
                "2",
                "--quiet",
                "--workers",
                "1",
            ]
        )
        == 0
    )
    swept = ms.sweep(
        scenario_file, {"strategies[1].price": [20, 30]}, replications=2, workers=1, progress=False
    )
    assert len(swept.results) == 2 * 2 * 2
    assert sorted(swept.results["strategies[1].price"].unique()) == [20, 30]
    swept.save(tmp_path / "api")
    for name in ("results.csv", "summary.csv", "index.csv"):
        assert (tmp_path / "api" / name).read_bytes() == (cli / name).read_bytes(), name
    assert "<iframe" in swept._repr_html_()
    with pytest.raises(
        ms.OptionError, match="--grid strategies\\[1\\].price: the value '20' is listed twice"
    ):
        ms.sweep(scenario_file, {"strategies[1].price": [20, 20]}, progress=False)


def test_lesson_names_with_commas_are_one_name_each(tmp_path):
    """Issue 10, item 9: `--strategies "segment prices, learned"` names one strategy."""
    lesson = ROOT / "scenarios" / "lessons" / "04_discrimination.yaml"
    names = ["segment prices, learned", "learned, at most 1.25 × apart"]
    out = tmp_path / "out"
    common = ["--days", "3", "--replications", "1", "--quiet", "--workers", "1"]
    assert main(["run", str(lesson), "--out", str(out), "--strategies", *names, *common]) == 0
    assert read_table(out / "summary.csv")["strategy"].tolist() == names
    assert (
        main(["run", str(lesson), "--out", str(tmp_path / "x"), "--strategies", "segment prices", *common])
        == 2
    )


def test_importing_the_package_stays_light():
    import subprocess

    code = (
        "import sys, market_sim as ms; ms.load('scenarios/holiday_market.yaml'); "
        "print(sorted(m for m in ('pandas', 'matplotlib', 'scipy', 'dask', 'mesa') if m in sys.modules))"
    )
    result = subprocess.run(
        [sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True, check=True
    )
    assert result.stdout.strip() == "[]"


def test_a_sweep_refuses_a_notebook_strategy_it_could_not_name_at_every_point(scenario_file):
    notebook = notebook_module()
    scenario = ms.load(scenario_file, days=2, replications=1)
    compared = ms.compare(scenario, [notebook["Surge"]()], workers=1, progress=False).scenario
    with pytest.raises(ms.OptionError, match="Surge\\(\\) is defined in this notebook or function"):
        ms.sweep(compared, {"sellers[1].unit_cost": [9, 10]}, progress=False)
