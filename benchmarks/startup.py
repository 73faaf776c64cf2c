"""Benchmark 6: start-up, from the keystroke to the answer, for commands that simulate nothing:
`--help`, `--version`, `strategies`, and `validate` of a valid and of a broken scenario.

    python benchmarks/startup.py                       # this checkout
    git worktree add /tmp/old 475111f                  # (or: git archive 475111f | tar -x -C /tmp/old)
    python benchmarks/startup.py --against /tmp/old    # the same commands there, side by side

Each command runs as `python run_sim.py ...` in a fresh interpreter (the median of --repeat
runs): wall time, and CPU time (user + system), which a busy machine inflates less. Then the
slowest imports of `validate` (`python -X importtime`). Commands the old checkout does not
have are left out of its column.
"""

from __future__ import annotations

import argparse
import os
import resource
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from common import ROOT, machine

VALID = "scenarios/holiday_market.yaml"
COMMANDS = {
    "--help": ["--help"],
    "--version": ["--version"],
    "strategies": ["strategies"],
    "validate (valid)": ["validate", VALID],
    "validate (broken)": ["validate", "BROKEN"],
}


def broken_scenario(folder: Path) -> Path:
    """The holiday market with one misspelt field."""
    path = folder / "broken.yaml"
    text = (ROOT / VALID).read_text(encoding="utf-8")
    path.write_text(text.replace("\ndays:", "\ndayz:", 1), encoding="utf-8")
    return path


def timed(checkout: Path, args: list[str]) -> tuple[float, float, int]:
    """(wall seconds, CPU seconds, exit status) of `python run_sim.py ARGS` run in `checkout`."""
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    started = time.perf_counter()
    result = subprocess.run(
        [sys.executable, "run_sim.py", *args], cwd=checkout, capture_output=True, env=_env()
    )
    wall = time.perf_counter() - started
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    cpu = (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)
    return wall, cpu, result.returncode


def _env() -> dict[str, str]:
    """No PYTHONPATH: each checkout imports its own market_sim (run_sim.py's folder comes first)."""
    return {key: value for key, value in os.environ.items() if key != "PYTHONPATH"}


def measure(checkout: Path, broken: Path, repeat: int) -> dict[str, tuple[float, float] | None]:
    figures: dict[str, tuple[float, float] | None] = {}
    for name, args in COMMANDS.items():
        args = [str(broken) if arg == "BROKEN" else arg for arg in args]
        runs = [timed(checkout, args) for _ in range(repeat)]
        expected = 2 if "broken" in name else 0
        if any(status != expected for _, _, status in runs):
            figures[name] = None  # e.g. a command the old checkout does not have
            continue
        figures[name] = (statistics.median(w for w, _, _ in runs), statistics.median(c for _, c, _ in runs))
    return figures


def slowest_imports(checkout: Path, count: int = 8) -> list[tuple[float, str]]:
    """The top-level imports of `validate` that take longest (cumulative seconds)."""
    result = subprocess.run(
        [sys.executable, "-X", "importtime", "run_sim.py", "validate", VALID],
        cwd=checkout,
        capture_output=True,
        text=True,
        env=_env(),
    )
    rows = []
    for line in result.stderr.splitlines():
        if line.startswith("import time:") and "cumulative" not in line:
            _, cumulative, name = line.removeprefix("import time:").split("|")
            rows.append((int(cumulative) / 1e6, name.rstrip()))
    return sorted(rows, reverse=True)[:count]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--repeat", type=int, default=5, help="runs per command (median)")
    parser.add_argument("--against", type=Path, help="another checkout to time side by side")
    args = parser.parse_args()
    print(machine(), f"load average {os.getloadavg()[0]:.2f}")
    with tempfile.TemporaryDirectory() as folder:
        broken = broken_scenario(Path(folder))
        now = measure(ROOT, broken, args.repeat)
        old = measure(args.against.resolve(), broken, args.repeat) if args.against else {}
    print(
        f"{'command':<20}{'wall s':>9}{'CPU s':>8}"
        + (f"{'old wall':>10}{'old CPU':>9}{'CPU ratio':>11}" if old else "")
    )
    for name, figures in now.items():
        line = f"{name:<20}" + (f"{figures[0]:>9.3f}{figures[1]:>8.3f}" if figures else f"{'failed':>17}")
        then = old.get(name)
        if then and figures:
            line += f"{then[0]:>10.3f}{then[1]:>9.3f}{then[1] / max(figures[1], 1e-9):>10.1f}×"
        elif old:
            line += f"{'—':>10}"
        print(line)
    print("targets on a quiet machine: --help < 0.3 s, validate < 0.5 s")
    print("slowest imports of validate (cumulative s):")
    for seconds, name in slowest_imports(ROOT):
        print(f"  {seconds:7.3f}  {name.strip()}")
    print(f"load average {os.getloadavg()[0]:.2f} at the end")


if __name__ == "__main__":
    main()
