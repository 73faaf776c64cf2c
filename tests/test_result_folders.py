"""Issue 11: result folders survive signals, bad options, I/O errors and forwarding.

Small markets (20 days, 2 replications) through the command line.
"""

from __future__ import annotations

import errno
import json
import os
import signal
import sys
import textwrap
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from market_sim import result_folder
from market_sim.cli import main

MARKET = """
name: folders
days: 20
replications: 2
seed: 5
consumers:
  population: 100
  segments:
    - {name: all, share: 1, visit_rate: 0.5, wtp: {dist: uniform, low: 10, high: 40}, price_sensitivity: 0.4}
sellers:
  - {name: us, focal: true, unit_cost: 5}
  - {name: them, unit_cost: 5, strategy: {kind: fixed, price: 20}}
strategies:
  - {kind: cost_plus, markup: 2}
  - {kind: fixed, price: 18}
"""

TABLES = ("summary.csv", "scores.csv", "comparisons.csv", "daily.csv", "segments.csv", "scenario.yaml")


@pytest.fixture
def scenario(tmp_path) -> Path:
    path = tmp_path / "scenario" / "market.yaml"
    path.parent.mkdir()
    path.write_text(MARKET)
    return path


def run(scenario: Path, out: Path, *options: str) -> int:
    return main(["run", str(scenario), "--out", str(out), "--quiet", "--workers", "1", *options])


def same_tables(one: Path, other: Path) -> None:
    for name in TABLES:
        assert (one / name).read_bytes() == (other / name).read_bytes(), name


# --- 5: signals at any moment ------------------------------------------------------------------


def test_resume_with_nothing_saved_starts_the_run(scenario, tmp_path, capsys):
    out, clean = tmp_path / "out", tmp_path / "clean"
    assert run(scenario, out, "--resume") == 0
    assert f"--resume: {out} holds nothing yet; starting the run" in capsys.readouterr().err
    assert run(scenario, clean) == 0
    same_tables(out, clean)
    assert run(scenario, out, "--resume") == 0  # complete: nothing to do, nothing changed
    assert "is complete: nothing to resume" in capsys.readouterr().out
    same_tables(out, clean)


def test_a_signal_while_writing_leaves_the_complete_folder(scenario, tmp_path, monkeypatch, capsys):
    import market_sim.report

    original = market_sim.report.write_report

    def interrupted_write(*args, **kwargs):
        os.kill(os.getpid(), signal.SIGINT)  # Ctrl-C in the middle of the final write
        os.kill(os.getpid(), signal.SIGTERM)
        return original(*args, **kwargs)

    monkeypatch.setattr(market_sim.report, "write_report", interrupted_write)
    out = tmp_path / "out"
    assert run(scenario, out) == 130
    assert "was written whole first" in capsys.readouterr().err
    manifest = json.loads((out / "manifest.json").read_text())
    assert manifest["partial"] is False and manifest["runs_finished"] == 4
    monkeypatch.undo()
    assert run(scenario, tmp_path / "clean") == 0
    same_tables(out, tmp_path / "clean")


def test_a_second_interrupt_while_saving_partial_results_is_held(scenario, tmp_path, monkeypatch, capsys):
    original_keep = result_folder.keep_runs

    def second_interrupt(*args):
        os.kill(os.getpid(), signal.SIGINT)  # Ctrl-C again while the runs are saved
        return original_keep(*args)

    monkeypatch.setattr(result_folder, "keep_runs", second_interrupt)
    import market_sim.runner

    original_jobs = market_sim.runner.run_jobs

    def two_then_stop(jobs, *args, **kwargs):
        for count, item in enumerate(original_jobs(jobs, *args, **kwargs)):
            if count == 2:
                raise KeyboardInterrupt
            yield item

    monkeypatch.setattr(market_sim.runner, "run_jobs", two_then_stop)
    out = tmp_path / "out"
    assert run(scenario, out) == 130
    assert "--resume" in capsys.readouterr().err
    manifest = json.loads((out / "manifest.json").read_text())
    assert manifest["partial"] is True and manifest["runs_finished"] == 2
    assert len(list((out / "runs").glob("*.npz"))) == 2
    monkeypatch.undo()
    assert run(scenario, out, "--resume") == 0
    assert run(scenario, tmp_path / "clean") == 0
    same_tables(out, tmp_path / "clean")


# --- 6: --overwrite ------------------------------------------------------------------------------


def test_overwrite_never_replaces_the_folder_holding_the_scenario(scenario, capsys):
    folder = scenario.parent
    (folder / "notes.txt").write_text("mine")
    assert run(scenario, folder, "--overwrite") == 2
    assert "holds the scenario" in capsys.readouterr().err
    assert sorted(p.name for p in folder.iterdir()) == ["market.yaml", "notes.txt"]
    assert run(scenario, folder.parent, "--overwrite") == 2  # nor any folder above it
    assert scenario.exists()


def test_overwrite_never_replaces_a_folder_we_did_not_write(scenario, tmp_path, capsys):
    foreign = tmp_path / "foreign"
    foreign.mkdir()
    (foreign / "manifest.json").write_text('{"scenario": "not ours"}')
    assert run(scenario, foreign, "--overwrite") == 2
    assert "was not written by market-sim" in capsys.readouterr().err
    assert (foreign / "manifest.json").read_text() == '{"scenario": "not ours"}'


# --- 7: command-line values held to the scenario's limits ---------------------------------------


@pytest.mark.parametrize(
    ("option", "value", "words"),
    [
        ("--seed", "1000000000001", "--seed: must be at most 1,000,000,000,000, got 1000000000001"),
        ("--days", "40000", "--days: must be at most 36,500, got 40000"),
        ("--replications", "100001", "--replications: must be at most 100,000, got 100001"),
        ("--strategies", "", "--strategies: no strategy named ''; the scenario has: "),
    ],
)
def test_command_line_values_are_checked_before_running(scenario, tmp_path, capsys, option, value, words):
    out = tmp_path / "out"
    assert run(scenario, out, option, value) == 2
    err = capsys.readouterr().err
    assert err.startswith(f"error: {words}") and err.count("\n") == 1
    assert not out.exists()


# --- 8: I/O errors ---------------------------------------------------------------------------------


def test_a_full_disk_is_one_line_and_damages_nothing(scenario, tmp_path, monkeypatch, capsys):
    out = tmp_path / "out"
    assert run(scenario, out) == 0
    before = {name: (out / name).read_bytes() for name in TABLES}

    def full(frame, path):
        raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC), str(path))

    monkeypatch.setattr(result_folder, "write_csv", full)
    assert run(scenario, out, "--overwrite", "--days", "10") == 1
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "No space left on device" in err and "summary.csv" in err
    assert {name: (out / name).read_bytes() for name in TABLES} == before
    assert [p.name for p in tmp_path.iterdir() if p.name.startswith(".")] == []  # no staging left


def test_an_out_path_through_a_file_or_a_symlink_loop_is_one_line(scenario, tmp_path, capsys):
    (tmp_path / "file").write_text("")
    assert run(scenario, tmp_path / "file" / "out") == 1
    assert capsys.readouterr().err.count("\n") == 1
    loop = tmp_path / "loop"
    loop.symlink_to(loop)
    assert run(scenario, loop, "--overwrite") == 2
    assert "cannot follow its symbolic links" in capsys.readouterr().err


def test_a_bad_scheduler_address_is_one_line(scenario, tmp_path, capsys):
    out = tmp_path / "out"
    assert run(scenario, out, "--executor", "dask", "--scheduler", "nonsense::::") == 2
    err = capsys.readouterr().err
    assert err.startswith("error: --scheduler nonsense::::: cannot connect") and err.count("\n") == 1
    assert not out.exists()


def test_a_damaged_kept_run_is_run_again(scenario, tmp_path, monkeypatch, capsys):
    out = interrupted_after_two_runs(scenario, tmp_path, monkeypatch)
    kept = sorted((out / "runs").glob("*.npz"))
    kept[0].write_bytes(kept[0].read_bytes()[:100])  # truncated
    assert run(scenario, out, "--resume") == 0
    assert f"running again {kept[0].name} (damaged)" in capsys.readouterr().err
    assert run(scenario, tmp_path / "clean") == 0
    same_tables(out, tmp_path / "clean")


def interrupted_after_two_runs(scenario: Path, tmp_path: Path, monkeypatch) -> Path:
    import market_sim.runner

    original = market_sim.runner.run_jobs

    def two_then_stop(jobs, *args, **kwargs):
        for count, item in enumerate(original(jobs, *args, **kwargs)):
            if count == 2:
                raise KeyboardInterrupt
            yield item

    with monkeypatch.context() as patch:
        patch.setattr(market_sim.runner, "run_jobs", two_then_stop)
        out = tmp_path / "out"
        assert run(scenario, out) == 130
    return out


# --- 9: resume fingerprints -------------------------------------------------------------------------

PLUGIN = """
from strategies import PricingStrategy


class Edited(PricingStrategy):
    def price(self, obs):
        return {price}
"""


def test_a_kept_run_from_other_code_is_run_again(tmp_path, monkeypatch, capsys):
    folder = tmp_path / "plugin"
    folder.mkdir()
    (folder / "edited_plugin.py").write_text(PLUGIN.format(price=15))
    scenario = folder / "market.yaml"
    scenario.write_text(
        MARKET.replace("{kind: fixed, price: 18}", "{kind: 'edited_plugin:Edited', name: edited}").replace(
            "  - {kind: cost_plus, markup: 2}\n", ""
        )
        + "  - {kind: cost_plus, markup: 2}\n"
    )
    monkeypatch.delitem(sys.modules, "edited_plugin", raising=False)
    out = interrupted_after_two_runs(scenario, tmp_path, monkeypatch)  # both runs of `edited` kept
    (folder / "edited_plugin.py").write_text(PLUGIN.format(price=16.5))  # another size: no stale .pyc
    monkeypatch.delitem(sys.modules, "edited_plugin", raising=False)
    assert run(scenario, out, "--resume") == 0
    err = capsys.readouterr().err
    assert err.count("running again edited, replication") == 2 and "made by other code or settings" in err
    daily = pd.read_csv(out / "daily.csv")
    assert (daily[(daily["strategy"] == "edited") & (daily["seller"] == "us")]["price"] == 16.5).all()
    assert json.loads((out / "manifest.json").read_text())["partial"] is False


# --- 12, 13: report ---------------------------------------------------------------------------------


def test_report_refuses_a_truncated_table(scenario, tmp_path, capsys):
    out = tmp_path / "out"
    assert run(scenario, out) == 0
    scores = (out / "scores.csv").read_text().splitlines(keepends=True)
    (out / "scores.csv").write_text("".join(scores[:-2]))  # the last strategy's rows cut off
    page = (out / "report.html").read_bytes()
    assert main(["report", str(out), "--quiet"]) == 2
    err = capsys.readouterr().err
    assert (
        err.startswith(f"error: {out / 'scores.csv'}: not the table the run wrote") and err.count("\n") == 1
    )
    assert (out / "report.html").read_bytes() == page


def test_report_never_runs_code_found_in_the_folder(scenario, tmp_path, capsys):
    out = tmp_path / "out"
    assert run(scenario, out) == 0
    marker = tmp_path / "ran"
    (out / "planted.py").write_text(
        textwrap.dedent(f"""
            from pathlib import Path
            from strategies import PricingStrategy

            Path({str(marker)!r}).write_text("imported")


            class Planted(PricingStrategy):
                def price(self, obs):
                    return 1
        """)
    )
    text = (out / "scenario.yaml").read_text()
    (out / "scenario.yaml").write_text(text.replace("{kind: fixed, price: 18,", "{kind: 'planted:Planted',"))
    assert "planted:Planted" in (out / "scenario.yaml").read_text()
    manifest = json.loads((out / "manifest.json").read_text())
    del manifest["source"]
    (out / "manifest.json").write_text(json.dumps(manifest))
    assert main(["report", str(out), "--quiet"]) == 0
    assert not marker.exists()


# --- 16: folder modes ---------------------------------------------------------------------------------


def test_output_folders_respect_the_umask(scenario, tmp_path):
    previous = os.umask(0o022)
    try:
        assert run(scenario, tmp_path / "out") == 0
    finally:
        os.umask(previous)
    assert (tmp_path / "out").stat().st_mode & 0o777 == 0o755


def test_npz_of_a_kept_run_needs_no_pickle(scenario, tmp_path, monkeypatch):
    out = interrupted_after_two_runs(scenario, tmp_path, monkeypatch)
    for path in (out / "runs").glob("*.npz"):
        with np.load(path, allow_pickle=False) as data:
            assert len(str(data["fingerprint"])) == 64


def test_report_refuses_a_damaged_manifest_in_one_line(scenario, tmp_path, capsys):
    out = tmp_path / "out"
    assert run(scenario, out) == 0
    (out / "manifest.json").write_text('{"partial": fal')
    assert main(["report", str(out), "--quiet"]) == 2
    err = capsys.readouterr().err
    assert err.startswith(f"error: {out / 'manifest.json'}: cannot be read") and err.count("\n") == 1


def test_a_damaged_sweep_chunk_is_run_again(scenario, tmp_path):
    out = tmp_path / "sweep"
    options = ["sweep", str(scenario), "--out", str(out), "--quiet", "--workers", "1", "--grid", "days=3,4"]
    assert main(options) == 0
    results = (out / "results.csv").read_bytes()
    chunk = sorted((out / "chunks").glob("*.npz"))[1]
    chunk.write_bytes(b"not a zip file")
    assert main([*options, "--resume"]) == 0
    assert (out / "results.csv").read_bytes() == results
