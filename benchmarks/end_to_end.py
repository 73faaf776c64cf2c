"""Benchmark 5: the standard comparison from the command line, report included, on one worker
and on the default (all cores).

    python benchmarks/end_to_end.py
"""

from __future__ import annotations

import argparse
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from common import ROOT, machine

SCENARIO = ROOT / "scenarios" / "benchmarks" / "standard.yaml"


def wall_time(*options: str) -> float:
    """Seconds for one `run_sim.py run` of the standard scenario into a fresh folder."""
    with tempfile.TemporaryDirectory() as folder:
        command = [sys.executable, str(ROOT / "run_sim.py"), "run", str(SCENARIO), "--quiet"]
        command += ["--out", str(Path(folder) / "report"), *options]
        started = time.perf_counter()
        subprocess.run(command, check=True, capture_output=True, cwd=ROOT)
        return time.perf_counter() - started


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeat", type=int, default=3)
    args = parser.parse_args()
    print(machine())
    one = statistics.median(wall_time("--workers", "1") for _ in range(args.repeat))
    default = statistics.median(wall_time() for _ in range(args.repeat))
    print(f"{SCENARIO.relative_to(ROOT)}, report included, medians of {args.repeat} runs")
    print(f"run --workers 1      {one:7.2f} s")
    print(f"run (all cores)      {default:7.2f} s")
    print(f"speed-up: {one / default:.2f}x")


if __name__ == "__main__":
    main()
