"""Parameter sweeps: designs, the results a sweep writes, executors, interruption and resume."""

from __future__ import annotations

import os
import textwrap
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from dask.distributed import LocalCluster

from market_sim import sweeps as sweep
from market_sim.cli import main
from market_sim.design import DesignError, Range, grid, latin_hypercube, split_values

TINY = """
name: tiny sweep
days: 4
replications: 2
seed: 7
consumers:
  population: 200
  segments:
    - {name: a, share: 0.5, visit_rate: 0.4, wtp: {dist: uniform, low: 10, high: 40}, price_sensitivity: 0.5}
    - {name: b, share: 0.5, observable: true, visit_rate: 0.2, wtp: 30, price_sensitivity: 0.3}
sellers:
  - {name: us, focal: true, unit_cost: 8, inventory: {initial: 120}}
  - {name: them, unit_cost: 9, strategy: {kind: fixed, price: 20}}
strategies:
  - {kind: cost_plus, markup: 1.5}
  - {kind: fixed, price: 25}
"""

TRIPWIRE = '''
"""A strategy that presses Ctrl-C for the sweep once, after `marker` allows a number of resets
(a KeyboardInterrupt raised by a strategy would only fail its own run)."""
import os
import signal
import time
from pathlib import Path

from strategies import PricingStrategy


class Tripwire(PricingStrategy):
    marker: str = ""
    command: int = 0  # the process id of the command to interrupt

    def reset(self, info):
        path = Path(self.marker)
        if path.exists():
            left = int(path.read_text())
            if left == 0:
                path.unlink()
                os.kill(self.command, signal.SIGINT)
                time.sleep(60)  # ended by the command
            path.write_text(str(left - 1))

    def price(self, obs):
        return obs.unit_cost * 2
'''

GRID = ["--grid", "consumers.segments[0].wtp.high=30,50", "--grid", "strategies[0].markup=1,2"]


@pytest.fixture(scope="module")
def scheduler():
    with LocalCluster(n_workers=2, threads_per_worker=1, processes=True, dashboard_address=None) as cluster:
        yield cluster.scheduler_address


@pytest.fixture
def scenario_file(tmp_path) -> Path:
    path = tmp_path / "tiny.yaml"
    path.write_text(textwrap.dedent(TINY))
    return path


def sweep_cli(*args) -> int:
    return main(["sweep", *(str(a) for a in args), "--quiet"])


# --- designs --------------------------------------------------------------------------------


def test_grid_is_the_full_factorial_in_option_order():
    design = grid(["days=3,4,5", "strategies[0].markup=0.5, 1.5"])
    assert design.parameters == ("days", "strategies[0].markup")
    assert design.points == (
        ("3", "0.5"),
        ("3", "1.5"),
        ("4", "0.5"),
        ("4", "1.5"),
        ("5", "0.5"),
        ("5", "1.5"),
    )


def test_grid_values_may_be_lists_and_mappings():
    assert split_values("1, [2, 3], {dist: uniform, low: 1, high: 2}, 'a,b'") == [
        "1",
        "[2, 3]",
        "{dist: uniform, low: 1, high: 2}",
        "'a,b'",
    ]


def test_latin_hypercube_covers_every_stratum_of_every_range_once():
    count = 9
    design = latin_hypercube([Range("a", 10.0, 20.0), Range("b", -1.0, 0.0)], count, seed=4)
    values = np.array(design.points, dtype=float)
    for column, (low, high) in enumerate([(10.0, 20.0), (-1.0, 0.0)]):
        strata = np.floor((values[:, column] - low) / (high - low) * count).astype(int)
        assert sorted(strata) == list(range(count))


def test_latin_hypercube_gives_whole_fields_every_value_equally_often():
    design = latin_hypercube([Range("days", 1, 4, whole=True)], 8, seed=0)
    assert sorted(point[0] for point in design.points) == ["1", "1", "2", "2", "3", "3", "4", "4"]


def test_same_seed_same_design_other_seed_other_design():
    ranges = [Range("a", 0.0, 1.0)]
    assert latin_hypercube(ranges, 5, seed=1) == latin_hypercube(ranges, 5, seed=1)
    assert latin_hypercube(ranges, 5, seed=1).points != latin_hypercube(ranges, 5, seed=2).points


@pytest.mark.parametrize(
    ("assignments", "message"),
    [
        (["seed=1,2"], "--grid seed: is the same at every point"),
        (["days"], "--grid: expected PATH=VALUE"),
        (["days=3,3"], "--grid days: the value '3' is listed twice"),
        (["days=3", "days=4"], "--grid days: is given twice"),
        (["a..b=1"], "--grid: 'a..b' is not a field path"),
    ],
)
def test_bad_grid_names_the_option_and_field(assignments, message):
    with pytest.raises(DesignError, match=message.replace("[", r"\[").replace(".", r"\.")):
        grid(assignments)


# --- a sweep's files ------------------------------------------------------------------------


def test_grid_sweep_writes_a_row_per_point_strategy_and_replication(scenario_file, tmp_path):
    out = tmp_path / "out"
    assert sweep_cli(scenario_file, *GRID, "--out", out, "--workers", 1) == 0
    results = pd.read_csv(out / "results.csv")
    assert len(results) == 4 * 2 * 2
    assert list(results.columns[:5]) == [
        "point",
        "consumers.segments[0].wtp.high",
        "strategies[0].markup",
        "strategy",
        "replication",
    ]
    assert results["point"].tolist() == sorted(results["point"])
    first = results[results["point"] == 0]
    assert first["strategy"].tolist() == ["cost_plus(markup=1)"] * 2 + ["fixed(price=25)"] * 2
    assert first["replication"].tolist() == [0, 1, 0, 1]
    assert set(results.loc[results["point"] == 1, "strategy"]) == {"cost_plus(markup=2)", "fixed(price=25)"}
    # cost plus on a unit cost of 8 posts (1 + markup) × 8 wherever it sold
    cost_plus = results[results["strategy"].str.startswith("cost_plus")]
    assert cost_plus["avg_price_paid"].to_numpy() == pytest.approx(
        8 * (1 + cost_plus["strategies[0].markup"])
    )
    assert (results["failure"].isna()).all()

    summary = pd.read_csv(out / "summary.csv")
    assert len(summary) == 4 * 2
    assert {"profit_mean", "profit_ci_low", "profit_ci_high", "replications"} <= set(summary.columns)
    assert (summary["replications"] == 2).all()
    means = results.groupby(["point", "strategy"], sort=False)["profit"].mean().to_numpy()
    assert summary["profit_mean"].to_numpy() == pytest.approx(means)

    index = pd.read_csv(out / "index.csv")
    assert index.to_dict("list") == {
        "point": [0, 1, 2, 3],
        "consumers.segments[0].wtp.high": [30, 30, 50, 50],
        "strategies[0].markup": [1, 2, 1, 2],
    }
    assert len(list((out / "chunks").glob("*.npz"))) == 4 * 2  # one per point and replication
    report = (out / "report.html").read_text()
    for heading in ("Best parameters per strategy", "Best strategy per region", "One field at a time"):
        assert heading in report
    assert "cost_plus (strategies[0])" in report  # one line across points though its name changes


def test_every_point_replays_the_same_random_numbers(scenario_file, tmp_path):
    # the rival posts a fixed price, so its unit cost changes nothing: every score must repeat
    out = tmp_path / "out"
    assert (
        sweep_cli(scenario_file, "--grid", "sellers[1].unit_cost=5,9,13", "--out", out, "--workers", 1) == 0
    )
    results = pd.read_csv(out / "results.csv")
    points = results.drop(columns=["point", "sellers[1].unit_cost"]).groupby(results["point"])
    frames = [frame.reset_index(drop=True) for _, frame in points]
    assert len(frames) == 3
    for frame in frames[1:]:
        pd.testing.assert_frame_equal(frame, frames[0])


def test_latin_hypercube_sweep_rounds_whole_fields_only(scenario_file, tmp_path):
    out = tmp_path / "out"
    ranges = ["--range", "days=2:5", "--range", "strategies[0].markup=0.5:1.5"]
    assert sweep_cli(scenario_file, "--sample", 6, *ranges, "--seed", 3, "--out", out, "--workers", 1) == 0
    index = pd.read_csv(out / "index.csv")
    assert index["days"].between(2, 5).all() and index["days"].dtype == np.int64
    markups = index["strategies[0].markup"]
    assert markups.between(0.5, 1.5).all() and not (markups == markups.round()).all()
    assert len(pd.read_csv(out / "results.csv")) == 6 * 2 * 2


def test_design_table_gives_its_rows_as_points(scenario_file, tmp_path):
    table = tmp_path / "design.csv"
    table.write_text('days,sellers[0].inventory\n3,unlimited\n5,"{initial: 40}"\n')
    out = tmp_path / "out"
    assert sweep_cli(scenario_file, "--design", table, "--out", out, "--workers", 1) == 0
    results = pd.read_csv(out / "results.csv")
    assert results.groupby("point")["days"].first().tolist() == [3, 5]
    assert results.groupby("point")["sellers[0].inventory"].first().tolist() == ["unlimited", "{initial: 40}"]


@pytest.mark.parametrize(
    ("options", "message"),
    [
        (
            ["--grid", "consumers.segments[0].wtp.high=30,lots"],
            "--grid consumers.segments[0].wtp.high: must be a number",
        ),
        (
            ["--grid", "consumers.segment[0].share=1"],
            "--grid consumers.segment[0].share: consumers.segment is not in the scenario",
        ),
        (["--grid", "sellers[4].unit_cost=1,2"], "--grid sellers[4].unit_cost: sellers has 2 entries"),
        (["--sample", "4", "--range", "days=1.5:3"], "--range days: must be a whole number"),
        (
            ["--sample", "4", "--range", "strategies[0].markup=2:1"],
            "--range strategies[0].markup: expected LOW:HIGH",
        ),
        (["--design", "missing.csv"], "--design missing.csv: cannot read the design table"),
        (["--grid", "days=2,3", "--axes", "seed"], "--axes: expected one or two of the swept fields"),
        (["--grid", "days=2,3", "--set", "days=oops"], "--set days: must be a whole number"),
        (["--grid", "days=2,3", "--set", "strategies[0].markup=-5"], "--set strategies[0].markup:"),
    ],
)
def test_bad_sweep_input_exits_2_naming_option_and_field(scenario_file, tmp_path, capsys, options, message):
    out = tmp_path / "out"
    assert sweep_cli(scenario_file, *options, "--out", out) == 2
    error = capsys.readouterr().err
    assert error.startswith(f"error: {message}"), error
    assert "Traceback" not in error
    assert not out.exists()


# --- executors and resume -------------------------------------------------------------------


def test_results_are_byte_identical_on_one_process_a_pool_and_a_dask_cluster(
    scenario_file, tmp_path, scheduler
):
    runs = {
        "one": ["--workers", 1],
        "pool": ["--workers", 2],
        "dask": ["--executor", "dask", "--scheduler", scheduler, "--workers", 2],
    }
    for name, options in runs.items():
        assert sweep_cli(scenario_file, *GRID, "--out", tmp_path / name, *options) == 0, name
    for file in ("results.csv", "summary.csv", "index.csv"):
        expected = (tmp_path / "one" / file).read_bytes()
        assert (tmp_path / "pool" / file).read_bytes() == expected, file
        assert (tmp_path / "dask" / file).read_bytes() == expected, file


def test_interrupted_sweep_keeps_finished_chunks_and_resumes_identically(tmp_path, capsys):
    (tmp_path / "sweep_tripwire.py").write_text(TRIPWIRE)
    marker = tmp_path / "marker"
    scenario_file = tmp_path / "tiny.yaml"
    tripwire = (
        f"  - {{kind: sweep_tripwire:Tripwire, marker: '{marker}', command: {os.getpid()}, name: tripwire}}\n"
    )
    scenario_file.write_text(textwrap.dedent(TINY).replace("  - {kind: fixed, price: 25}\n", tripwire))
    options = ["--grid", "consumers.segments[0].wtp.high=30,40,50", "--workers", 1]

    assert sweep_cli(scenario_file, *options, "--out", tmp_path / "whole") == 0
    marker.write_text("2")  # the third run of the tripwire, on point 1, is interrupted
    interrupted = tmp_path / "interrupted"
    assert sweep_cli(scenario_file, *options, "--out", interrupted) == 130
    assert "--resume" in capsys.readouterr().err
    assert sorted(p.name for p in (interrupted / "chunks").iterdir()) == [
        "point00000-replication00000.npz",
        "point00000-replication00001.npz",
    ]
    assert not (interrupted / "results.csv").exists()

    assert sweep_cli(scenario_file, "--out", interrupted, "--resume", "--workers", 1) == 0
    for file in ("results.csv", "summary.csv"):
        assert (interrupted / file).read_bytes() == (tmp_path / "whole" / file).read_bytes(), file


DIES_ONCE = '''
"""A strategy whose process dies (as the out-of-memory killer ends it) on the run that finds
`marker` at 0; the marker counts down the runs before."""
import os
import signal
from pathlib import Path

from strategies import PricingStrategy


class DiesOnce(PricingStrategy):
    marker: str = ""

    def reset(self, info):
        path = Path(self.marker)
        if path.exists():
            left = int(path.read_text())
            if left == 0:
                path.unlink()
                os.kill(os.getpid(), signal.SIGKILL)
            path.write_text(str(left - 1))

    def price(self, obs):
        return 22
'''


def test_a_run_lost_with_its_process_is_run_again_alone_on_resume(tmp_path, capsys, monkeypatch):
    (tmp_path / "sweep_dies_once.py").write_text(DIES_ONCE)
    monkeypatch.syspath_prepend(str(tmp_path))
    marker = tmp_path / "marker"
    scenario_file = tmp_path / "tiny.yaml"
    dies = f"  - {{kind: sweep_dies_once:DiesOnce, marker: '{marker}', name: dies}}\n"
    scenario_file.write_text(textwrap.dedent(TINY) + dies)
    options = ["--grid", "consumers.segments[0].wtp.high=30,40,50", "--workers", 1]
    assert sweep_cli(scenario_file, *options, "--out", tmp_path / "whole") == 0
    capsys.readouterr()

    marker.write_text("3")  # its fourth run, point 1 replication 1, dies
    out = tmp_path / "out"
    assert sweep_cli(scenario_file, *options, "--out", out) == 1
    err = capsys.readouterr().err
    assert (
        "lost: point 1, dies, replication 1: the process running it was killed by SIGKILL (as the "
        "out-of-memory killer does); its days are lost"
    ) in err
    assert "1 runs were lost with their process" in err and "--resume" in err
    assert not (out / "results.csv").exists()
    chunks = sorted(p.name for p in (out / "chunks").glob("*.npz"))
    assert len(chunks) == 5 and "point00001-replication00001.npz" not in chunks
    assert sorted(p.name for p in (out / "chunks" / "runs").iterdir()) == [
        "point00001-replication00001-strategy000.npz",  # the chunk's runs that finished
        "point00001-replication00001-strategy001.npz",
    ]

    ran = []
    counted = sweep.run_jobs

    def counting(jobs, *args):
        ran.extend((job.strategy, job.replication) for job in jobs)
        return counted(jobs, *args)

    monkeypatch.setattr(sweep, "run_jobs", counting)
    assert sweep_cli(scenario_file, "--out", out, "--resume", "--workers", 1) == 0
    assert ran == [(2, 1)]  # the lost run alone
    for file in ("results.csv", "summary.csv"):
        assert (out / file).read_bytes() == (tmp_path / "whole" / file).read_bytes(), file
    assert not (out / "chunks" / "runs").exists()


def test_the_python_sweep_records_a_lost_run_as_its_failure(tmp_path, monkeypatch):
    from market_sim import api

    (tmp_path / "sweep_dies_once.py").write_text(DIES_ONCE)
    monkeypatch.syspath_prepend(str(tmp_path))
    marker = tmp_path / "marker"
    marker.write_text("0")
    scenario_file = tmp_path / "tiny.yaml"
    scenario_file.write_text(
        textwrap.dedent(TINY) + f"  - {{kind: sweep_dies_once:DiesOnce, marker: '{marker}', name: dies}}\n"
    )
    results = api.sweep(scenario_file, {"days": [3, 4]}, workers=1, progress=False)
    assert results.failures == [
        "point 0, dies, replication 0: the process running it was killed by SIGKILL (as the "
        "out-of-memory killer does); its days are lost"
    ]
    assert len(results.results) == 3 * 2 * 2


def test_resume_refuses_a_different_design_and_keeps_the_folder(scenario_file, tmp_path, capsys):
    out = tmp_path / "out"
    assert sweep_cli(scenario_file, "--grid", "days=2,3", "--out", out, "--workers", 1) == 0
    before = sorted(p.name for p in (out / "chunks").iterdir())
    assert sweep_cli(scenario_file, "--grid", "days=2,4", "--out", out, "--resume") == 2
    assert "different scenario, --set values, design, plug-in code" in capsys.readouterr().err
    assert sorted(p.name for p in (out / "chunks").iterdir()) == before


def test_existing_folder_needs_resume_or_overwrite(scenario_file, tmp_path, capsys):
    out = tmp_path / "out"
    out.mkdir()
    assert sweep_cli(scenario_file, "--grid", "days=2,3", "--out", out) == 2
    assert "--resume" in capsys.readouterr().err
    assert sweep_cli(scenario_file, "--grid", "days=2,3", "--out", out, "--overwrite", "--workers", 1) == 0


def test_resume_of_a_finished_sweep_runs_nothing_and_rewrites_the_same_files(
    scenario_file, tmp_path, monkeypatch
):
    out = tmp_path / "out"
    assert sweep_cli(scenario_file, "--grid", "days=2,3", "--out", out, "--workers", 1) == 0
    results = (out / "results.csv").read_bytes()

    def no_runs(*args, **kwargs):
        raise AssertionError("a finished sweep ran again")

    monkeypatch.setattr(sweep, "run_jobs", no_runs)
    assert sweep_cli(scenario_file, "--out", out, "--resume") == 0
    assert (out / "results.csv").read_bytes() == results
