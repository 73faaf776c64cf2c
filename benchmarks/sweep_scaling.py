"""Benchmark 6: sweep scaling, one worker against two, and the Dask path against the local pool.

    python benchmarks/sweep_scaling.py [--points 8] [--replications 3] [--repeat 1]

Runs `run_sim.py sweep` on the standard benchmark scenario (six strategies, a year, 20,000
consumers) over a grid of the bargain hunters' mean willingness to pay, report included, on:
the local pool with 1 and with 2 workers, and a local Dask cluster of 2 workers. Each
configuration runs a one-point sweep and a `--points` sweep, so its fixed cost (start-up,
pool or cluster, report) and its cost per run are told apart; the target, 200 points × 10
replications (12,000 runs), is extrapolated from those two numbers. Other work on the machine
slows every configuration differently: the load average is printed before and after.
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from common import ROOT, machine

SCENARIO = ROOT / "scenarios" / "benchmarks" / "standard.yaml"
STRATEGIES = 6
TARGET_RUNS = 200 * STRATEGIES * 10
CONFIGURATIONS = {
    "local, 1 worker": ["--workers", "1"],
    "local, 2 workers": ["--workers", "2"],
    "dask-local, 2 workers": ["--executor", "dask-local", "--workers", "2"],
}


def wall_time(points: int, replications: int, options: list[str]) -> float:
    """Seconds for one `run_sim.py sweep` of `points` grid points into a fresh folder."""
    values = ",".join(str(40 + 2 * i) for i in range(points))
    with tempfile.TemporaryDirectory() as folder:
        command = [sys.executable, str(ROOT / "run_sim.py"), "sweep", str(SCENARIO), "--quiet"]
        command += ["--grid", f"consumers.segments[0].wtp.mean={values}", "--replications", str(replications)]
        command += ["--out", str(Path(folder) / "sweep"), *options]
        started = time.perf_counter()
        subprocess.run(command, check=True, capture_output=True, cwd=ROOT)
        return time.perf_counter() - started


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--points", type=int, default=8, help="points of the larger sweep")
    parser.add_argument("--replications", type=int, default=3)
    parser.add_argument("--repeat", type=int, default=3, help="keep the fastest of this many timings")
    args = parser.parse_args()
    sizes = {1: STRATEGIES * args.replications, args.points: STRATEGIES * args.replications * args.points}
    print(machine())
    print(f"load average before: {os.getloadavg()[0]:.2f}")
    runs = " and ".join(map(str, sizes.values()))
    print(f"{SCENARIO.relative_to(ROOT)}: sweeps of {runs} runs, report included")
    # interleaved, and the fastest kept: other work on the machine only ever slows a sweep down
    timings: dict[tuple[str, int], list[float]] = {}
    for _ in range(args.repeat):
        for name, options in CONFIGURATIONS.items():
            for points in sizes:
                timings.setdefault((name, points), []).append(wall_time(points, args.replications, options))
    print(f"{'configuration':<24}{'small s':>9}{'large s':>9}{'s/run':>8}{'fixed s':>9}{'target h':>10}")
    (small_points, small), (large_points, large) = sizes.items()
    target, per_run, measured = {}, {}, {}
    for name in CONFIGURATIONS:
        first, second = min(timings[name, small_points]), min(timings[name, large_points])
        per_run[name] = (second - first) / (large - small)
        fixed = first - per_run[name] * small
        target[name] = fixed + per_run[name] * TARGET_RUNS
        measured[name] = second
        print(
            f"{name:<24}{first:9.1f}{second:9.1f}{per_run[name]:8.3f}{fixed:9.1f}{target[name] / 3600:10.2f}"
        )
    one, two, dask = CONFIGURATIONS
    print(f"\n{'ratio':<52}{'measured':>10}{'per run':>10}{'target':>10}")
    rows = {
        "speed-up, 2 workers over 1 (goal >= 1.7)": (one, two),
        "Dask over the local pool, 2 workers (goal <= 1.15)": (dask, two),
    }
    for label, (numerator, denominator) in rows.items():
        ratios = [d[numerator] / d[denominator] for d in (measured, per_run, target)]
        print(f"{label:<52}" + "".join(f"{ratio:10.2f}" for ratio in ratios))
    print(f"target: 200 points x {STRATEGIES} strategies x 10 replications = {TARGET_RUNS} runs")
    print(f"load average after: {os.getloadavg()[0]:.2f}")


if __name__ == "__main__":
    main()
