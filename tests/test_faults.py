"""Issue 11's two checks: a worker killed (in a run or a sweep) and the command interrupted at
random moments.

Whatever the moment, the output folder is either complete or a resumable partial one (or not
there yet, which `--resume` also starts from), and after `--resume` the tables are byte for byte
those of an uninterrupted run. A few seeds by default; more with MARKET_SIM_FAULT_SEEDS=N.
"""

from __future__ import annotations

import json
import os
import random
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest

from market_sim import sweeps
from market_sim.cli import main
from market_sim.design import Design
from market_sim.loader import Override
from market_sim.report.painters import PROCESS_NAME as PAINTER

ROOT = Path(__file__).resolve().parent.parent
SEEDS = range(int(os.environ.get("MARKET_SIM_FAULT_SEEDS", "3")))
TABLES = ("summary.csv", "scores.csv", "comparisons.csv", "daily.csv", "segments.csv", "scenario.yaml")
MARKET = """
name: faults
days: 20
replications: 3
seed: 9
consumers:
  population: 150
  segments:
    - {name: all, share: 1, visit_rate: 0.5, wtp: {dist: uniform, low: 10, high: 40}, price_sensitivity: 0.4}
sellers:
  - {name: us, focal: true, unit_cost: 5, inventory: {initial: 150, reorder_point: 20, order_quantity: 60}}
  - {name: them, unit_cost: 5, strategy: {kind: fixed, price: 20}}
strategies:
  - {kind: cost_plus, markup: 2}
  - {kind: fixed, price: 18}
  - {kind: demand_response}
"""


@pytest.fixture(scope="module")
def market(tmp_path_factory) -> tuple[Path, Path, float]:
    """The scenario, an uninterrupted run of it, and how long that run took as a command."""
    folder = tmp_path_factory.mktemp("faults")
    scenario = folder / "market.yaml"
    scenario.write_text(MARKET)
    clean = folder / "clean"
    started = time.perf_counter()
    subprocess.run(command(scenario, clean), check=True, capture_output=True, cwd=ROOT)
    return scenario, clean, time.perf_counter() - started


def command(scenario: Path, out: Path, *options: str) -> list[str]:
    run_sim = str(ROOT / "run_sim.py")
    return [
        sys.executable,
        run_sim,
        "run",
        str(scenario),
        "--out",
        str(out),
        "--quiet",
        "--workers",
        "2",
        *options,
    ]


def assert_complete_or_resumable(scenario: Path, out: Path, clean: Path) -> str:
    """Resume `out` when it is partial or absent; then its tables must be the clean run's."""
    state = "absent"
    if out.exists():
        state = "partial" if json.loads((out / "manifest.json").read_text())["partial"] else "complete"
    if state != "complete":
        assert main(["run", str(scenario), "--out", str(out), "--quiet", "--workers", "2", "--resume"]) == 0
    for name in TABLES:
        assert (out / name).read_bytes() == (clean / name).read_bytes(), (state, name)
    assert not (out / "runs").exists()
    assert not [path.name for path in out.parent.iterdir() if path.name.startswith(f".{out.name}.")]
    return state


def descendants(pid: int) -> list[int]:
    """Processes below `pid` that run jobs or draw figures (not the fork server, which forks
    them, nor the resource tracker)."""
    parents = {}
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                parents[int(entry.name)] = int((entry / "stat").read_text().rsplit(")", 1)[1].split()[1])
            except (OSError, IndexError, ValueError):
                continue
    found, frontier = [], [pid]
    while frontier:
        parent = frontier.pop()
        for child, its_parent in parents.items():
            if its_parent == parent:
                frontier.append(child)
                found.append(child)
    return [child for child in found if not _helper(child, pid)]


def _helper(child: int, pid: int) -> bool:
    """Not a run worker: the resource tracker, the fork server, the report's figure processes."""
    try:
        line = Path(f"/proc/{child}/cmdline").read_bytes()
        parent = int(Path(f"/proc/{child}/stat").read_text().rsplit(")", 1)[1].split()[1])
        name = Path(f"/proc/{child}/comm").read_text().strip()
    except (OSError, ValueError):
        return True
    painter = name == PAINTER  # killing one costs only the figures (report.html keeps the ranking)
    return painter or b"resource_tracker" in line or (b"forkserver" in line and parent == pid)


def kill_a_worker_after(delay: float, command: list[str], from_first_worker: bool = False) -> int:
    """Run `command` (this process's CLI) and SIGKILL one of its workers after `delay` seconds
    (counted from the first worker's start with `from_first_worker`); its exit status."""
    done, killed = threading.Event(), []

    def killer() -> None:
        while from_first_worker and not descendants(os.getpid()):
            if done.wait(0.005):
                return
        if done.wait(delay):
            return
        while not done.is_set():
            for victim in descendants(os.getpid()):
                try:
                    os.kill(victim, signal.SIGKILL)
                except ProcessLookupError:
                    continue
                killed.append(victim)
                return
            time.sleep(0.005)

    thread = threading.Thread(target=killer)
    thread.start()
    try:
        return main(command)
    finally:
        done.set()
        thread.join()


@pytest.mark.parametrize("seed", SEEDS)
def test_a_worker_killed_at_a_random_moment_loses_nothing(market, tmp_path, seed):
    scenario, clean, seconds = market
    delay = random.Random(seed).uniform(0.05, 0.6) * seconds
    out = tmp_path / "out"
    status = kill_a_worker_after(
        delay, ["run", str(scenario), "--out", str(out), "--quiet", "--workers", "2"]
    )
    assert status in (0, 1)
    assert_complete_or_resumable(scenario, out, clean)


SWEEP = ["--grid", "sellers[1].strategy.price=16,22", "--replications", "2", "--quiet", "--workers", "2"]
SWEEP_TABLES = ("results.csv", "summary.csv", "index.csv", "sweep.json", "scenario.yaml")


@pytest.fixture(scope="module")
def swept(market, tmp_path_factory) -> tuple[Path, float, float]:
    """An uninterrupted sweep of the market, how long it took as a command, and how long its
    runs took (the moments a worker can be killed)."""
    folder = tmp_path_factory.mktemp("swept")
    clean = folder / "clean"
    started = time.perf_counter()
    subprocess.run(sweep_command(market[0], clean), check=True, capture_output=True, cwd=ROOT)
    whole = time.perf_counter() - started
    plan = sweeps.prepare(
        market[0],
        [Override("replications", "2", "--replications")],
        Design.from_json(json.loads((clean / "sweep.json").read_text())["design"]),
    )
    sweeps.create_folder(folder / "timed", plan, overwrite=False)
    started = time.perf_counter()
    sweeps.run_missing(plan, folder / "timed", workers=2, progress=False)
    return clean, whole, time.perf_counter() - started


def sweep_command(scenario: Path, out: Path) -> list[str]:
    return [sys.executable, str(ROOT / "run_sim.py"), "sweep", str(scenario), "--out", str(out), *SWEEP]


def assert_sweep_complete_or_resumable(scenario: Path, out: Path, clean: Path) -> None:
    """Resume `out` unless its results are written; then they must be the clean sweep's."""
    if not (out / "results.csv").exists():
        assert main(["sweep", str(scenario), "--out", str(out), "--resume", *SWEEP]) == 0
    for name in SWEEP_TABLES:
        assert (out / name).read_bytes() == (clean / name).read_bytes(), name
    assert not (out / "chunks" / "runs").exists()
    assert not [path.name for path in out.parent.iterdir() if path.name.startswith(f".{out.name}.")]
    assert not [path.name for path in out.iterdir() if path.name.startswith(".")]  # no half-written file


@pytest.mark.parametrize("seed", SEEDS)
def test_a_worker_killed_at_a_random_moment_of_a_sweep_loses_nothing(market, swept, tmp_path, seed):
    """The finished runs stay, the lost one is reported and `--resume` runs it (and only what is
    missing) again: the results are byte for byte those of the uninterrupted sweep."""
    scenario, (clean, _, running) = market[0], swept
    delay = random.Random(2000 + seed).uniform(0.0, 1.0) * running
    out = tmp_path / "out"
    command = ["sweep", str(scenario), "--out", str(out), *SWEEP]
    status = kill_a_worker_after(delay, command, from_first_worker=True)
    assert status in (0, 1)
    assert (status == 1) == (not (out / "results.csv").exists())
    assert_sweep_complete_or_resumable(scenario, out, clean)


@pytest.mark.parametrize("seed", SEEDS)
def test_an_interrupt_at_a_random_moment_of_a_sweep_loses_nothing(market, swept, tmp_path, seed):
    """SIGINT or SIGTERM, once or twice, from start-up to the last file written."""
    scenario, (clean, seconds, _) = market[0], swept
    rng = random.Random(3000 + seed)
    out = tmp_path / "out"
    process = subprocess.Popen(
        sweep_command(scenario, out), cwd=ROOT, stdout=subprocess.PIPE, stderr=subprocess.PIPE
    )
    interrupt_at_random(process, rng, seconds)
    assert_sweep_complete_or_resumable(scenario, out, clean)


@pytest.mark.parametrize("seed", SEEDS)
def test_an_interrupt_at_a_random_moment_loses_nothing(market, tmp_path, seed):
    """SIGINT or SIGTERM, once or twice, at any moment from start-up to the last save; every
    other command starts as a background job does (SIGINT ignored), which must not matter."""
    scenario, clean, seconds = market
    rng = random.Random(1000 + seed)
    out = tmp_path / "out"
    background = seed % 2 == 1
    process = subprocess.Popen(
        command(scenario, out),
        cwd=ROOT,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        preexec_fn=(lambda: signal.signal(signal.SIGINT, signal.SIG_IGN)) if background else None,
    )
    interrupt_at_random(process, rng, seconds)
    assert_complete_or_resumable(scenario, out, clean)


def interrupt_at_random(process: subprocess.Popen, rng: random.Random, seconds: float) -> None:
    """SIGINT or SIGTERM, once or twice, at random moments of a command that takes `seconds`
    uninterrupted; then it must end as interrupted (or finished), without a traceback."""
    time.sleep(rng.uniform(0.0, 1.1) * seconds)
    for _ in range(rng.choice((1, 2))):
        if process.poll() is None:
            process.send_signal(rng.choice((signal.SIGINT, signal.SIGTERM)))
        time.sleep(rng.uniform(0.0, 0.2) * seconds)
    _, err = process.communicate(timeout=300)
    assert process.returncode in (0, 130, -signal.SIGINT, -signal.SIGTERM), err.decode()
    assert b"Traceback" not in err, err.decode()
