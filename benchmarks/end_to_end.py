"""Benchmark 5: the standard comparison from the command line, report included, on one worker
and on the default (all cores), then `report DIR` of its folder.

    python benchmarks/end_to_end.py                                 # this checkout
    git worktree add /tmp/old 475111f
    python benchmarks/end_to_end.py --against /tmp/old              # both checkouts in turns
    python benchmarks/end_to_end.py --scenario scenarios/holiday_market.yaml --no-single

Each command runs as `python run_sim.py ...` in a fresh interpreter, in the checkout it times
(no PYTHONPATH: run_sim.py's folder comes first), alternating between the checkouts so that a
busy machine slows both alike: read the ratios. "Not simulating" is the wall time less the
seconds the runs took (the manifest's `seconds`): start-up, tables, figures and report. Where
the manifest has `timings` (seconds before the first run, simulating, writing), "after the last
run" is the wall time less the start and the runs: tables, figures, report and the exit, what
issue 13 asks to keep under 20% of the wall time. "Run CPU" adds up the CPU time of the run
and of every process it waited for (workers, figure processes): on a shared machine it varies
less than the wall time. With --against, the two folders' CSV tables and scenario.yaml are
compared byte for byte.
"""

from __future__ import annotations

import argparse
import json
import math
import os
import resource
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from common import ROOT, machine

SCENARIO = ROOT / "scenarios" / "benchmarks" / "standard.yaml"
IDENTICAL = ("scores.csv", "summary.csv", "comparisons.csv", "daily.csv", "segments.csv", "scenario.yaml")


def _env() -> dict[str, str]:
    return {key: value for key, value in os.environ.items() if key != "PYTHONPATH"}


def timed(checkout: Path, *args: str) -> float:
    """Seconds of one `python run_sim.py ARGS` in `checkout`."""
    return cpu_timed(checkout, *args)[0]


def cpu_timed(checkout: Path, *args: str) -> tuple[float, float]:
    """Wall seconds of one `python run_sim.py ARGS` in `checkout`, and the CPU seconds (user and
    system) of it and every process it waited for (its workers and figure processes): on a busy
    machine the CPU time says more than the wall time about the work done."""
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    started = time.perf_counter()
    subprocess.run(
        [sys.executable, "run_sim.py", *args], check=True, capture_output=True, cwd=checkout, env=_env()
    )
    wall = time.perf_counter() - started
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    return wall, (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)


def measure(checkout: Path, scenario: Path, out: Path, single: bool) -> dict[str, float]:
    """One round in `checkout`: run (all cores), report DIR, and run --workers 1."""
    shutil.rmtree(out, ignore_errors=True)
    wall, cpu = cpu_timed(checkout, "run", str(scenario), "--quiet", "--out", str(out))
    found = {"run": wall}
    manifest = json.loads((out / "manifest.json").read_text(encoding="utf-8"))
    simulating = manifest["seconds"]
    found["not simulating"] = found["run"] - simulating
    timings = manifest.get("timings") or {}
    starting = timings.get("starting")
    found["before the runs"] = math.nan if starting is None else starting
    found["simulating"] = simulating
    found["after the last run"] = found["run"] - simulating - found["before the runs"]
    found["writing (manifest)"] = timings.get("writing", math.nan)
    found["run CPU, all processes"] = cpu
    found["report DIR"] = timed(checkout, "report", str(out), "--quiet")
    if single:
        with tempfile.TemporaryDirectory() as folder:
            options = ("--quiet", "--workers", "1", "--out", str(Path(folder) / "one"))
            found["run --workers 1"] = timed(checkout, "run", str(scenario), *options)
    return found


def differing(here: Path, there: Path) -> list[str]:
    """The tables of two run folders that are not byte-identical."""
    return [name for name in IDENTICAL if (here / name).read_bytes() != (there / name).read_bytes()]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeat", type=int, default=3, help="rounds (medians)")
    parser.add_argument("--scenario", type=Path, default=SCENARIO)
    parser.add_argument("--against", type=Path, help="another checkout, timed in turns with this one")
    parser.add_argument("--no-single", dest="single", action="store_false", help="skip --workers 1")
    args = parser.parse_args()
    scenario = args.scenario.resolve()
    checkouts = [ROOT] + ([args.against.resolve()] if args.against else [])
    print(machine(), f"load average {os.getloadavg()[0]:.2f}")
    with tempfile.TemporaryDirectory() as folder:
        outs = [Path(folder) / f"checkout{i}" for i in range(len(checkouts))]
        rounds: list[list[dict[str, float]]] = [[] for _ in checkouts]
        for _ in range(args.repeat):
            for checkout, out, found in zip(checkouts, outs, rounds, strict=True):
                found.append(measure(checkout, scenario, out, args.single))
        medians = [{key: statistics.median(r[key] for r in found) for key in found[0]} for found in rounds]
        for found in medians[1:]:  # an older checkout may time other things: only what both have
            for key in medians[0]:
                found.setdefault(key, math.nan)
        mismatched = differing(outs[0], outs[1]) if args.against else []
    print(f"{scenario.name}, report included, medians of {args.repeat} rounds (seconds)")
    print(f"{'':<20}{'this checkout':>15}" + (f"{str(args.against):>22}{'ratio':>8}" if args.against else ""))
    for key, value in medians[0].items():
        line = f"{key:<20}{value:>15.2f}"
        if args.against:
            other = medians[1][key]
            line += f"{other:>22.2f}" + (f"{other / value:>7.2f}x" if math.isfinite(other) else "")
        print(line)
    now = medians[0]
    print(f"not simulating: {now['not simulating'] / now['run']:.0%} of the run's wall time")
    print(f"after the last run: {now['after the last run'] / now['run']:.0%} of the run's wall time")
    if args.single:
        print(f"speed-up on all cores: {now['run --workers 1'] / now['run']:.2f}x")
    if args.against:
        print("tables and scenario.yaml byte-identical" if not mismatched else f"DIFFER: {mismatched}")
    print(f"load average {os.getloadavg()[0]:.2f} at the end")


if __name__ == "__main__":
    main()
