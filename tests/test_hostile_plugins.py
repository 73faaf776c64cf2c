"""Issue 11: hostile or broken plug-ins lose their own run and nothing else.

Each attack runs a small market (20 days, 2 replications) with the attacking strategy first
(the baseline) and `cost_plus` second, through the runner (what is kept, what each failure
says) and, once per mechanism, through the command line (the folder and the exit status).
"""

from __future__ import annotations

import functools
import json
import sys
from pathlib import Path

import dask
import dask.distributed  # noqa: F401  (its config defaults loaded first: see below)
import pandas as pd
import pytest

from market_sim import tables
from market_sim.cli import main
from market_sim.runner import Job, Run, comparison_jobs, run_jobs, run_once
from tests.conftest import scenario_from

MARKET = """
name: hostile
days: 20
replications: 2
seed: 3
consumers:
  population: 120
  segments:
    - {{name: all, share: 0.6, visit_rate: 0.5, wtp: {{dist: uniform, low: 10, high: 40}}, price_sensitivity: 0.4}}
    - {{name: b, share: 0.4, observable: true, visit_rate: 0.5, wtp: 30}}
sellers:
  - {{name: us, focal: true, unit_cost: 5}}
  - {{name: them, unit_cost: 5, strategy: {{kind: fixed, price: 20}}}}
strategies:
  - {{kind: '{kind}', name: attack}}
  - {{kind: cost_plus, markup: 2}}
"""

PLUGINS = '''
import ctypes
import os
import signal
import sys

import numpy as np

from strategies import Prices, PricingStrategy


class Dies(PricingStrategy):
    """Its process dies on day 5: `how` says how."""
    how: str = "exit"

    def price(self, obs):
        if obs.day == 5:
            if self.how == "exit":
                os._exit(3)
            if self.how == "kill":
                os.kill(os.getpid(), signal.SIGKILL)
            ctypes.string_at(0)  # a segfault, as a broken compiled extension gives
        return 20


class Exits(PricingStrategy):
    """Raises a BaseException on day 4."""
    what: str = "exit0"

    def price(self, obs):
        if obs.day == 4:
            if self.what == "exit0":
                sys.exit(0)
            if self.what == "bye":
                raise SystemExit("bye")
            raise KeyboardInterrupt
        return 20


class BadPrices(PricingStrategy):
    def price(self, obs):
        return Prices(20, segments=[("b", 10)]) if obs.day == 6 else 20


class ResetExits(PricingStrategy):
    def reset(self, info):
        sys.exit("no reset today")

    def price(self, obs):
        return 20


class BuildFails(PricingStrategy):
    armed = False

    def __init__(self, **params):
        if type(self).armed:
            raise SystemExit("cannot build")
        super().__init__(**params)

    def price(self, obs):
        return 20


class Rewrites(PricingStrategy):
    """Tries every way to make its views writable and rewrite what was recorded."""

    def price(self, obs):
        arrays = [obs.history.prices, obs.history.revenue, obs.history.views, *obs.rival_prices.values()]
        for array in arrays:
            while array is not None:
                try:
                    array.setflags(write=True)
                    array[...] = 0
                except (ValueError, TypeError):
                    pass
                array = array.base if isinstance(array.base, np.ndarray) else None
        return 20


STARTED = []


class Counts(PricingStrategy):
    """Keeps state in its class and its module between runs."""
    runs = 0

    def reset(self, info):
        type(self).runs += 1
        STARTED.append(1)
        self.offset = type(self).runs + len(STARTED)

    def price(self, obs):
        return 10 + self.offset
'''


@pytest.fixture
def plugins(tmp_path, monkeypatch):
    (tmp_path / "hostile_plugins.py").write_text(PLUGINS)
    monkeypatch.syspath_prepend(str(tmp_path))
    monkeypatch.delitem(sys.modules, "hostile_plugins", raising=False)
    return tmp_path


def market(kind: str, extra: str = "") -> str:
    text = MARKET.format(kind=f"hostile_plugins:{kind}" if ":" not in kind else kind)
    return text.replace("name: attack}", f"name: attack{extra}}}")


def runs(kind: str, extra: str = "", workers: int = 1, time_limit: float | None = None) -> list[Run]:
    """Every run of the market, in job order."""
    scenario = scenario_from(market(kind, extra))
    done = dict(run_jobs(comparison_jobs(scenario), workers, time_limit=time_limit))
    return [done[i] for i in range(len(done))]


def failures(done: list[Run]) -> list[str]:
    """What went wrong, after checking that cost_plus ran whole on both replications."""
    kept = [run for run in done if run.strategy == "cost_plus(markup=2)"]
    assert [(run.replication, run.failure, run.ledger.days_recorded) for run in kept] == [
        (0, None, 20),
        (1, None, 20),
    ]
    return [run.failure for run in done if run.strategy == "attack"]


def run_command(folder: Path, kind: str, *options: str, extra: str = "") -> tuple[int, Path]:
    path, out = folder / "scenario.yaml", folder / "out"
    path.write_text(market(kind, extra))
    return main(["run", str(path), "--out", str(out), "--quiet", *options]), out


def assert_only_the_attack_failed(out: Path, partial: bool = False) -> list[str]:
    """The folder keeps cost_plus whole and lists the attack's failures, one per replication."""
    summary = pd.read_csv(out / "summary.csv")
    assert summary["strategy"].tolist() == ["cost_plus(markup=2)"]
    assert summary["replications"].tolist() == [2]
    daily = pd.read_csv(out / "daily.csv")
    assert (
        len(daily[daily["strategy"] == "cost_plus(markup=2)"]) == 20 * 2 * 2
    )  # days × replications × sellers
    manifest = json.loads((out / "manifest.json").read_text())
    # runs lost with their process leave a partial folder: --resume runs them again
    assert manifest["partial"] is partial and manifest["runs_finished"] == (2 if partial else 4)
    assert len(list((out / "runs").glob("*.npz"))) == 2 if partial else not (out / "runs").exists()
    assert len(manifest["failures"]) == 2
    return manifest["failures"]


def test_a_dying_worker_loses_only_its_own_run(plugins, capsys):
    status, out = run_command(plugins, "Dies", "--workers", "2", extra=", how: kill")
    assert status == 1
    assert assert_only_the_attack_failed(out, partial=True) == [
        f"attack, replication {r}: the process running it was killed by SIGKILL (as the out-of-memory "
        "killer does); its days are lost"
        for r in (0, 1)
    ]
    err = capsys.readouterr().err
    assert "Traceback" not in err and "BrokenProcessPool" not in err
    assert "failed: attack, replication 1: the process running it was killed by SIGKILL" in err
    assert "2 runs were lost with their process; run them again with: " in err


@pytest.mark.parametrize(
    ("how", "words"),
    [
        ("exit", "exited with status 3 before the run finished"),
        ("segfault", "was killed by SIGSEGV (a crash in compiled code)"),
    ],
)
def test_every_way_of_dying_is_reported_and_the_next_runs_go_on(plugins, how, words):
    assert (
        failures(runs("Dies", f", how: {how}")) == [f"the process running it {words}; its days are lost"] * 2
    )


def test_a_run_whose_dask_workers_die_is_lost_alone(plugins):
    """Dask tries a task whose worker died on a few others; when they all die, that run is lost
    (run again by --resume), never the comparison."""
    scenario = scenario_from(market("Dies", ", how: kill").replace("replications: 2", "replications: 1"))
    # one death is enough here (`dask.config.set` undoes itself by removing keys that were not
    # there before: were distributed imported inside, its defaults would go with them)
    with dask.config.set({"distributed.scheduler.allowed-failures": 0}):
        done = dict(run_jobs(comparison_jobs(scenario), 2, "dask-local"))
    attack, cost_plus = done[0], done[1]
    assert attack.lost and attack.failure == "the Dask workers running it died (once); its days are lost"
    assert not cost_plus.lost and cost_plus.failure is None and cost_plus.ledger.days_recorded == 20


@pytest.mark.parametrize(
    ("what", "words"),
    [
        ("exit0", "us on day 4: SystemExit: 0"),
        ("bye", "us on day 4: SystemExit: bye"),
        ("interrupt", "us on day 4: KeyboardInterrupt"),  # Ctrl-C itself goes to the command
    ],
)
def test_any_base_exception_from_a_strategy_is_its_runs_failure(plugins, what, words):
    done = runs("Exits", f", what: {what}")
    assert failures(done) == [words, words]
    assert [run.ledger.days_recorded for run in done if run.failure] == [4, 4]  # the days before are kept


def test_sys_exit_in_a_strategy_never_ends_the_command(plugins, capsys):
    status, out = run_command(plugins, "Exits", extra=", what: bye")
    assert status == 1
    assert assert_only_the_attack_failed(out)[0] == "attack, replication 0: us on day 4: SystemExit: bye"
    assert "bye" not in capsys.readouterr().out


def test_a_malformed_prices_answer_is_its_runs_failure(plugins):
    assert (
        failures(runs("BadPrices"))
        == ["us on day 6: Prices.segments must map segment names to prices, got [('b', 10)]"] * 2
    )


def test_a_failing_reset_is_its_runs_failure(plugins):
    assert failures(runs("ResetExits")) == ["us on day 0: SystemExit: no reset today"] * 2


def test_a_constructor_failing_when_the_run_builds_it_is_that_runs_failure(plugins):
    job = Job(scenario_from(market("BuildFails")), 0, 1)
    import hostile_plugins

    hostile_plugins.BuildFails.armed = True  # the loader built it; the run's build fails
    result = run_once(job)
    assert result.failure == "us on day 0: SystemExit: cannot build"
    assert result.ledger.days_recorded == 0


def test_a_strategy_cannot_rewrite_the_recorded_prices(plugins):
    done = runs("Rewrites")
    assert failures(done) == [None, None]
    for run in done[:2]:
        ledger = run.ledger
        assert (ledger.price == 20).all()  # both sellers, every day, as posted
        assert (ledger.revenue == 20 * ledger.units).all() and ledger.revenue.sum() > 0
        assert (ledger.shoppers > 0).all()


def test_state_a_plugin_keeps_between_runs_never_reaches_the_next_run(plugins):
    scenario = scenario_from(market("Counts"))
    prepare = functools.partial(tables.tabulate, scenario)
    daily = {}
    for workers in (1, 2):
        done = dict(run_jobs(comparison_jobs(scenario), workers, prepare=prepare))
        daily[workers] = [done[i].daily_csv for i in range(len(done))]
        for tabulated in done.values():
            ledger = tabulated.run.ledger
            if tabulated.run.strategy == "attack":
                assert (ledger.price[:, 0] == 12).all()  # every run starts from a clean import: 10 + 1 + 1
    assert daily[1] == daily[2]


STUBBORN = """
from strategies import PricingStrategy


class Stubborn(PricingStrategy):
    def price(self, obs):
        while True:
            try:
                while True:
                    pass
            except:  # noqa: E722 - swallows the time limit too
                pass
"""


def test_a_strategy_swallowing_its_time_limit_is_ended(plugins):
    (plugins / "stubborn.py").write_text(STUBBORN)
    done = runs("stubborn:Stubborn", workers=2, time_limit=0.3)
    assert (
        failures(done)
        == [
            "the run did not stop at its time limit of 0.3 s (it swallowed the stop), so its process was ended"
        ]
        * 2
    )


SPINS = """
from strategies import PricingStrategy


class Spins(PricingStrategy):
    def price(self, obs):
        while True:
            pass
"""


def test_the_time_limit_stops_a_strategy_spinning_in_a_dask_worker_thread(plugins):
    """Dask runs jobs in worker threads, where no timer signal reaches: the run is stopped
    inside `price()` all the same (issue 11 item 14)."""
    (plugins / "spins.py").write_text(SPINS)
    scenario = scenario_from(market("spins:Spins"))
    jobs = [job for job in comparison_jobs(scenario) if job.strategy == 0]
    done = [run for _, run in run_jobs(jobs, 1, "dask-local", time_limit=0.5)]
    assert (
        sorted(run.failure for run in done)
        == ["stopped on day 0: the run took longer than its time limit of 0.5 s"] * 2
    )


@pytest.mark.parametrize(
    ("code", "words"),
    [
        ("import sys\nsys.exit(0)\n", "cannot import 'exits_on_import': 0"),
        (
            "import sys\nfrom strategies import PricingStrategy\n\n\nclass Exits(PricingStrategy):\n"
            "    def __init__(self, **params):\n        sys.exit('no')\n",
            "exits_on_import:Exits refused its parameters: SystemExit('no')",
        ),
    ],
)
def test_sys_exit_while_loading_a_plugin_is_invalid_input(tmp_path, monkeypatch, capsys, code, words):
    (tmp_path / "exits_on_import.py").write_text(code)
    monkeypatch.delitem(sys.modules, "exits_on_import", raising=False)
    scenario = tmp_path / "scenario.yaml"
    scenario.write_text(market("exits_on_import:Exits"))
    assert main(["validate", str(scenario)]) == 2
    assert words in capsys.readouterr().err


def test_sigterm_ends_the_command_while_a_strategy_swallows_every_stop(plugins, tmp_path):
    """A bare `except:` in a strategy must not leave the command hanging on SIGTERM (item 14)."""
    import signal
    import subprocess
    import time

    (plugins / "stubborn.py").write_text(STUBBORN)
    scenario = plugins / "scenario.yaml"
    scenario.write_text(market("stubborn:Stubborn"))
    out = tmp_path / "out"
    root = Path(__file__).resolve().parent.parent
    command = [sys.executable, str(root / "run_sim.py"), "run", str(scenario), "--out", str(out), "--quiet"]
    process = subprocess.Popen(
        [*command, "--workers", "1", "--time-limit", "600"], cwd=plugins, stderr=subprocess.PIPE
    )
    deadline = time.monotonic() + 120
    while process.poll() is None and not _spinning(process.pid) and time.monotonic() < deadline:
        time.sleep(0.2)  # until the stubborn strategy runs
    process.send_signal(signal.SIGTERM)
    _, err = process.communicate(timeout=60)
    assert process.returncode == 130, err.decode()
    assert b"--resume" in err
    assert json.loads((out / "manifest.json").read_text())["partial"] is True


def _spinning(pid: int) -> bool:
    """Whether a child of `pid` is using the processor (the stubborn strategy has started)."""
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            fields = stat.read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue
        if int(fields[1]) == pid and fields[0] == "R":
            return True
    return False
