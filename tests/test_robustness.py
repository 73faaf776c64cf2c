"""Misbehaving strategies, interruptions, hostile text and numerical extremes lose nothing."""

from __future__ import annotations

import json
import math
import os
import sys
import textwrap
import threading
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from market_sim.cli import main
from market_sim.runner import Job, run_once
from tests.conftest import run_model, scenario_from

MARKET = """
name: {name}
days: 8
replications: 3
seed: 4
market: {{choice: logit}}
consumers:
  population: 200
  segments:
    - {{name: {segment}, share: 1, visit_rate: 0.5, wtp: {{dist: uniform, low: 10, high: 40}}, price_sensitivity: 0.4}}
sellers:
  - {{name: us, focal: true, unit_cost: 5, inventory: {{initial: 400}}}}
  - {{name: them, unit_cost: 5, strategy: {{kind: fixed, price: 20}}}}
strategies:
  - {{kind: cost_plus, markup: 2}}
{extra}
"""

BAD_STRATEGIES = '''
import os
import signal
import time

from strategies import PricingStrategy


class Raises(PricingStrategy):
    def price(self, obs):
        if obs.day == 3:
            raise RuntimeError("no data for day 3")
        return 20


class Returns(PricingStrategy):
    """Returns a bad value from day 2 on."""
    what: str = "nan"

    def price(self, obs):
        if obs.day < 2:
            return 20
        return {"nan": float("nan"), "inf": float("inf"), "negative": -3, "none": None, "text": "20"}[self.what]


class Slow(PricingStrategy):
    def price(self, obs):
        time.sleep(0.2)
        return 20


class Spins(PricingStrategy):
    def price(self, obs):
        while True:
            pass


class Mutates(PricingStrategy):
    def price(self, obs):
        if obs.day == 2:
            obs.history.prices[0] = 1.0
        return 20


class InterruptOnce(PricingStrategy):
    """Presses Ctrl-C for the command on its second run while the marker file exists (the
    marker counts the runs: every run starts from a clean import, so a class attribute cannot)."""
    marker: str = ""
    command: int = 0  # the process id of the command to interrupt

    def reset(self, info):
        if not os.path.exists(self.marker):
            return
        with open(self.marker, "a+") as marker:
            marker.seek(0)
            runs = len(marker.read()) + 1
            marker.write("x")
        if runs == 2:
            os.remove(self.marker)
            os.kill(self.command, signal.SIGINT)
            time.sleep(60)  # ended by the command

    def price(self, obs):
        return 18
'''


@pytest.fixture
def plugins(tmp_path, monkeypatch):
    module = tmp_path / "bad_strategies.py"
    module.write_text(BAD_STRATEGIES)
    monkeypatch.syspath_prepend(str(tmp_path))
    monkeypatch.delitem(sys.modules, "bad_strategies", raising=False)
    return tmp_path


def write_scenario(folder: Path, extra: str = "", name: str = "robust", segment: str = "all") -> Path:
    path = folder / "scenario.yaml"
    path.write_text(MARKET.format(name=name, segment=segment, extra=textwrap.indent(extra, "  ")))
    return path


@pytest.mark.parametrize(
    ("strategy", "day", "words"),
    [
        ("{kind: 'bad_strategies:Raises'}", 3, "RuntimeError: no data for day 3"),
        ("{kind: 'bad_strategies:Returns', what: nan}", 2, "finite and not negative, got nan"),
        ("{kind: 'bad_strategies:Returns', what: inf}", 2, "finite and not negative, got inf"),
        ("{kind: 'bad_strategies:Returns', what: negative}", 2, "finite and not negative, got -3"),
        ("{kind: 'bad_strategies:Returns', what: none}", 2, "must be a number or Prices, got None"),
        ("{kind: 'bad_strategies:Returns', what: text}", 2, "must be a number or Prices, got '20'"),
        ("{kind: 'bad_strategies:Mutates'}", 2, "read-only"),
    ],
)
def test_a_failing_strategy_is_stopped_and_the_others_are_kept(
    plugins, tmp_path, capsys, strategy, day, words
):
    out = tmp_path / "out"
    assert main(["run", str(write_scenario(plugins, f"- {strategy}")), "--out", str(out), "--quiet"]) == 1
    err = capsys.readouterr().err
    assert f"us on day {day}: " in err and words in err
    summary = pd.read_csv(out / "summary.csv")
    assert summary["strategy"].tolist() == ["cost_plus(markup=2)"]
    assert summary["replications"].tolist() == [3]
    manifest = json.loads((out / "manifest.json").read_text())
    assert len(manifest["failures"]) == 3 and all(words in f for f in manifest["failures"])
    assert words.replace("'", "&#x27;") in (out / "report.html").read_text()
    daily = pd.read_csv(out / "daily.csv")
    failed = daily[daily["strategy"] != "cost_plus(markup=2)"]
    assert failed["day"].max() == day - 1  # the days before the failure are kept


@pytest.mark.parametrize("kind", ["Slow", "Spins"])
def test_a_strategy_past_its_time_limit_is_stopped(plugins, tmp_path, capsys, kind):
    out = tmp_path / "out"
    scenario = write_scenario(plugins, f"- {{kind: 'bad_strategies:{kind}'}}")
    assert (
        main(["run", str(scenario), "--out", str(out), "--quiet", "--workers", "1", "--time-limit", "0.5"])
        == 1
    )
    assert "time limit of 0.5 s" in capsys.readouterr().err
    assert pd.read_csv(out / "summary.csv")["strategy"].tolist() == ["cost_plus(markup=2)"]


def test_interrupted_comparison_keeps_finished_runs_and_resumes_identically(plugins, tmp_path, capsys):
    marker = tmp_path / "interrupt-once"
    marker.write_text("")
    scenario = write_scenario(
        plugins,
        f"- {{kind: 'bad_strategies:InterruptOnce', marker: '{marker}', command: {os.getpid()}, name: stops}}",
    )
    out, clean = tmp_path / "out", tmp_path / "clean"
    assert main(["run", str(scenario), "--out", str(out), "--quiet", "--workers", "1"]) == 130
    assert "--resume" in capsys.readouterr().err
    manifest = json.loads((out / "manifest.json").read_text())
    assert manifest["partial"] is True and manifest["runs_finished"] == 4  # 3 cost-plus + 1 of the other
    assert len(list((out / "runs").glob("*.npz"))) == 4
    assert pd.read_csv(out / "summary.csv")["replications"].tolist() == [3, 1]

    assert main(["run", str(scenario), "--out", str(out), "--quiet", "--workers", "2", "--resume"]) == 0
    assert main(["run", str(scenario), "--out", str(clean), "--quiet", "--workers", "1"]) == 0
    for name in ("summary.csv", "daily.csv", "segments.csv", "scenario.yaml"):
        assert (out / name).read_bytes() == (clean / name).read_bytes(), name
    assert json.loads((out / "manifest.json").read_text())["partial"] is False
    assert not (out / "runs").exists()


def test_resume_refuses_a_folder_made_from_another_scenario(plugins, tmp_path, capsys):
    scenario = write_scenario(plugins)
    out = tmp_path / "out"
    assert main(["run", str(scenario), "--out", str(out), "--quiet"]) == 0
    assert main(["run", str(scenario), "--out", str(out), "--quiet", "--resume", "--days", "5"]) == 2
    assert "different scenario" in capsys.readouterr().err


def test_hostile_text_is_shown_as_text_never_run(tmp_path):
    name = "<script>alert('name')</script> & co"
    scenario = write_scenario(
        tmp_path, name=json.dumps(name), segment=json.dumps("<img src=x onerror=alert(1)>")
    )
    out = tmp_path / "out"
    assert main(["run", str(scenario), "--out", str(out), "--quiet"]) == 0
    page = (out / "report.html").read_text()
    assert "<script>alert" not in page and "<img src=x" not in page
    assert "&lt;script&gt;alert(&#x27;name&#x27;)&lt;/script&gt; &amp; co" in page


def test_default_output_folder_name_is_sanitised(tmp_path, monkeypatch):
    scenario = write_scenario(tmp_path)
    hostile = scenario.rename(tmp_path / "../../etc passwd;rm -rf.yaml".replace("/", "_"))
    monkeypatch.chdir(tmp_path)
    assert main(["run", str(hostile), "--quiet"]) == 0
    (folder,) = (tmp_path / "reports").iterdir()
    assert folder.name.startswith("etc-passwd-rm-rf-")
    assert all(ch.isalnum() or ch in "-_" for ch in folder.name)


EXTREMES = """
name: extremes
days: {days}
market: {{choice: {choice}, outside_utility: {outside}}}
consumers:
  population: {population}
  segments:
    - {{name: a, share: 0.5, visit_rate: {visit}, wtp: {wtp}, price_sensitivity: {beta}}}
    - {{name: b, share: 0.5, visit_rate: 0, wtp: 10, price_sensitivity: 1}}
sellers:
  - {{name: us, focal: true, unit_cost: {cost}, inventory: {stock}}}
  - {{name: them, unit_cost: {cost}, strategy: {{kind: cost_plus, markup: 0.1}}}}
strategies: [{{kind: cost_plus, markup: 0.2}}]
"""


@pytest.mark.parametrize(
    "values",
    [
        dict(
            days=3,
            choice="logit",
            outside=0,
            population=500,
            visit=1,
            wtp=1e6,
            beta=1e6,
            cost=9e5,
            stock="unlimited",
        ),
        dict(
            days=3,
            choice="logit",
            outside=-1e9,
            population=500,
            visit=1,
            wtp=0,
            beta=1e3,
            cost=1e9,
            stock="unlimited",
        ),
        dict(
            days=1,
            choice="max_surplus",
            outside=0,
            population=1,
            visit=1,
            wtp=100,
            beta=1,
            cost=1,
            stock="{initial: 0}",
        ),
        dict(
            days=5,
            choice="logit",
            outside=0,
            population=300,
            visit=0,
            wtp=100,
            beta=1,
            cost=1,
            stock="{initial: 3}",
        ),
        dict(
            days=4,
            choice="logit",
            outside=0,
            population=20000,
            visit=1,
            wtp=1e4,
            beta=0.001,
            cost=1,
            stock="unlimited",
        ),
    ],
    ids=[
        "huge prices and sensitivity",
        "huge negative outside",
        "one consumer one day",
        "nobody visits",
        "huge demand",
    ],
)
def test_numerical_extremes_give_finite_consistent_results(values):
    model = run_model(scenario_from(EXTREMES.format(**values)))
    ledger = model.ledger
    for name, array in vars(ledger).items():
        if isinstance(array, np.ndarray) and array.dtype.kind == "f" and name != "inventory":
            assert np.isfinite(array).all(), name
    assert (ledger.units.sum(axis=1) <= ledger.shoppers).all()
    assert ledger.shoppers.max() <= values["population"]
    if values["visit"] == 0:
        assert ledger.shoppers.sum() == 0 and ledger.units.sum() == 0
    if values["population"] == 20000:
        assert ledger.units.sum() > 0.99 * ledger.shoppers.sum()  # everyone buys: tiny β, wtp far above price
    assert not math.isnan(ledger.profit.sum())


def test_when_the_baseline_and_then_every_strategy_fail_the_results_are_still_written(plugins, tmp_path):
    scenario = write_scenario(plugins, "- {kind: 'bad_strategies:Raises'}")
    text = scenario.read_text().replace("  - {kind: cost_plus, markup: 2}\n", "")
    scenario.write_text(
        text.replace(
            "  - {kind: 'bad_strategies:Raises'}",
            "  - {kind: 'bad_strategies:Raises'}\n  - {kind: cost_plus, markup: 2}",
        )
    )
    out = tmp_path / "first-fails"
    assert main(["run", str(scenario), "--out", str(out), "--quiet"]) == 1
    assert pd.read_csv(out / "summary.csv")["strategy"].tolist() == ["cost_plus(markup=2)"]
    assert "no data for day 3" in (out / "report.html").read_text()

    scenario.write_text(text)  # the failing strategy alone
    out = tmp_path / "all-fail"
    assert main(["run", str(scenario), "--out", str(out), "--quiet"]) == 1
    assert len(pd.read_csv(out / "daily.csv")) == 3 * 3 * 2  # three days before the failure, per run
    page = (out / "report.html").read_text()
    assert "no data for day 3" in page and "No strategy finished." in page
    assert "could not be drawn" not in page  # the full report, not the fallback page


def test_the_time_limit_holds_where_no_timer_can_fire(plugins):
    """Dask runs jobs in worker threads: there the run checks its time between days."""
    scenario = scenario_from(
        MARKET.format(name="slow", segment="all", extra="  - {kind: 'bad_strategies:Slow'}")
    )
    finished = {}
    worker = threading.Thread(target=lambda: finished.setdefault("run", run_once(Job(scenario, 1, 0), 0.5)))
    worker.start()
    worker.join()
    run = finished["run"]
    assert (
        run.failure
        == f"stopped on day {run.ledger.days_recorded}: the run took longer than its time limit of 0.5 s"
    )
    assert 1 <= run.ledger.days_recorded < scenario.days


def test_a_sweep_whose_runs_all_fail_at_a_point_still_writes_its_results(plugins, tmp_path):
    """Issue 11 item 4: a chunk in which every run failed is saved and read back like any."""
    scenario = write_scenario(plugins)
    scenario.write_text(
        scenario.read_text().replace(
            "  - {kind: cost_plus, markup: 2}", "  - {kind: 'bad_strategies:Raises'}"
        )
    )
    out = tmp_path / "sweep"
    options = ["sweep", str(scenario), "--out", str(out), "--quiet", "--workers", "1"]
    assert main([*options, "--grid", "days=2,5"]) == 1  # every run fails at days=5 (day 3), none at days=2
    results = pd.read_csv(out / "results.csv", keep_default_na=False)
    assert len(results) == 2 * 3
    assert (results[results["days"] == 5]["failure"] == "us on day 3: RuntimeError: no data for day 3").all()
    assert (results[results["days"] == 2]["failure"] == "").all()
    written = (out / "results.csv").read_bytes()
    assert main([*options, "--resume"]) == 1
    assert (out / "results.csv").read_bytes() == written


def test_strategy_names_are_text_never_math(tmp_path):
    """Issue 11 item 15: `$...$` in a name would be matplotlib mathtext and lose every figure."""
    plain = write_scenario(tmp_path, "- {kind: fixed, price: 20, name: 'price 20 then 10 off to 18'}")
    assert main(["run", str(plain), "--out", str(tmp_path / "plain"), "--quiet", "--workers", "1"]) == 0
    figures = (tmp_path / "plain" / "report.html").read_text().count("data:image/png;base64,")
    assert figures >= 3
    dollars = write_scenario(tmp_path, "- {kind: fixed, price: 20, name: 'price $20 then 10% off to $18'}")
    assert main(["run", str(dollars), "--out", str(tmp_path / "dollars"), "--quiet", "--workers", "1"]) == 0
    page = (tmp_path / "dollars" / "report.html").read_text()
    assert page.count("data:image/png;base64,") == figures
    assert "could not be drawn" not in page and "price $20 then 10% off to $18" in page
