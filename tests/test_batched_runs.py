"""Issue 11 for runs of the batched learning engine: `--resume` keeps what they add (learning
fields, impulse response), `--time-limit` applies to them, and a dead worker loses its batch
alone.

A tiny Calvano market (theory.md §10): two Q-learners, a few hundred days.
"""

from __future__ import annotations

import json
import os
import re
from pathlib import Path

import numpy as np
import pytest

from market_sim import api, batched, result_folder, runner
from market_sim.cli import main
from market_sim.loader import load_scenario
from market_sim.runner import comparison_jobs

LEARNERS = """
name: learners
days: 400
replications: 3
seed: 11
stop_when_stable: 150
market: {choice: logit, demand: expected}
consumers:
  population: 1
  segments: [{name: everyone, share: 1, wtp: 0, price_sensitivity: 4}]
sellers:
  - {name: firm_1, focal: true, unit_cost: 1, quality: 2}
  - {name: firm_2, unit_cost: 1, quality: 2, strategy: {kind: q_learning, beta: 2.0e-2}}
strategies:
  - {kind: q_learning, beta: 2.0e-2}
  - {kind: fixed, price: 1.6}
"""
TIMES = ("created", "seconds", "run_seconds", "timings")  # what differs between two runs of the same thing


@pytest.fixture
def scenario(tmp_path) -> Path:
    path = tmp_path / "learners.yaml"
    path.write_text(LEARNERS)
    return path


def folder_bytes(folder: Path) -> dict[str, bytes]:
    """Every file of a result folder; the manifest's times left out (also in the report's footer)."""
    files = {}
    for path in sorted(folder.rglob("*")):
        if path.is_file():
            data = path.read_bytes()
            if path.name == "manifest.json":
                manifest = json.loads(data)
                data = json.dumps({k: v for k, v in manifest.items() if k not in TIMES}).encode()
            elif path.name == "report.html":  # its footer says when the manifest was created
                data = re.sub(rb"Created [0-9T:+-]+;", b"", data)
            files[str(path.relative_to(folder))] = data
    return files


def test_resumed_learning_runs_keep_their_learning_fields_and_impulse(scenario, tmp_path):
    loaded = load_scenario(scenario)
    assert all(batched.qualifies(loaded, spec) for spec in loaded.strategies)
    clean = tmp_path / "clean"
    assert main(["run", str(scenario), "--out", str(clean), "--quiet", "--workers", "1"]) == 0
    scores = (clean / "scores.csv").read_text().splitlines()
    assert "converged" in scores[0] and "learning_days" in scores[0]
    assert (clean / "impulse.csv").exists()

    # an interrupted run that kept 4 of its 6 runs, as `run` writes it
    done, took, _ = api.run_comparison(loaded, workers=1, progress=False)
    kept = [done[i] for i in (0, 2, 3, 5)]
    out = tmp_path / "out"
    api.write_run_folder(out, loaded, kept, scenario, None, took, partial=True)
    saved = result_folder.resumable_runs(out, loaded, comparison_jobs(loaded))
    assert sorted(saved.runs) == [0, 2, 3, 5]
    for index, run in saved.runs.items():
        assert run.learning == done[index].run.learning
        np.testing.assert_array_equal(run.impulse, done[index].run.impulse)
    assert saved.runs[0].impulse is not None

    assert main(["run", str(scenario), "--out", str(out), "--quiet", "--workers", "2", "--resume"]) == 0
    resumed, uninterrupted = folder_bytes(out), folder_bytes(clean)
    assert sorted(resumed) == sorted(uninterrupted)
    for name, data in uninterrupted.items():
        assert resumed[name] == data, name


@pytest.mark.parametrize("workers", ["1", "2"])
def test_the_time_limit_stops_a_batch_and_fails_its_runs(scenario, tmp_path, capsys, workers):
    """20,000 learning days cannot run in a thousandth of a second per run: every batch stops
    before one of its blocks, and its runs fail saying so (workers 2: on worker processes)."""
    scenario.write_text(LEARNERS.replace("days: 400", "days: 20000").replace("stop_when_stable: 150\n", ""))
    out = tmp_path / "out"
    options = ["--out", str(out), "--quiet", "--workers", workers, "--time-limit", "0.001"]
    assert main(["run", str(scenario), *options]) == 1
    err = capsys.readouterr().err
    assert "Traceback" not in err
    manifest = json.loads((out / "manifest.json").read_text())
    assert manifest["partial"] is False  # failed, not lost: --resume would not run them again
    assert len(manifest["failures"]) == 6
    for failure in manifest["failures"]:
        assert re.search(
            r"replication \d: stopped on day \d+: its batch of \d replications took longer "
            r"than their time limits \(\d × 0.001 s\)",
            failure,
        ), failure
    # the days a batch stops on are the first of a block of learning days
    days = {int(day) for day in re.findall(r"stopped on day (\d+)", " ".join(manifest["failures"]))}
    assert days <= {0, 4096, 8192, 12288, 16384}


def test_a_batch_whose_process_dies_loses_its_own_runs_alone():
    loaded = load_scenario_text(LEARNERS)
    jobs = comparison_jobs(loaded)
    batches = [unit for unit in runner.work_units(jobs, 2) if isinstance(unit, runner.Batch)]
    assert [batch.replications for batch in batches] == [(0, 1), (2,), (0, 1), (2,)]
    task = DiesOnReplication2(None, None)
    done = dict(pair for _, pairs in runner._run_in_processes(batches, 2, task) for pair in pairs)
    assert sorted(done) == list(range(6))
    lost = {position for position, run in done.items() if run.lost}
    assert lost == {2, 5}  # replication 2 of each strategy
    for position in lost:
        assert done[position].failure == (
            "the process running it exited with status 3 before the run finished; its days are lost"
        )
    alone = runner.run_batch(batches[0])
    for position, run in zip(batches[0].positions, alone, strict=True):
        assert done[position].failure is None
        assert done[position].learning == run.learning
        np.testing.assert_array_equal(done[position].ledger.price, run.ledger.price)


class DiesOnReplication2(runner._BatchTask):
    def run(self, batch):
        if 2 in batch.replications:
            os._exit(3)
        return super().run(batch)


def load_scenario_text(text: str):
    from market_sim.loader import parse_scenario

    return parse_scenario(text)
