"""A result folder, written and read in one place: created whole or not at all (atomic
rename), its tables as CSV text, its manifest (seeds, versions, timings), and the finished
runs an interrupted comparison keeps for `--resume`.

Each kept run is an `.npz` of its ledger arrays plus who ran (strategy, replication), its time
and its failure; nothing in it needs pickle to load.
"""

from __future__ import annotations

import datetime as dt
import json
import os
import platform
import shutil
import tempfile
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

import market_sim
from market_sim.ledger import Ledger
from market_sim.loader import scenario_to_yaml
from market_sim.runner import Job, Run
from market_sim.scenario import Scenario

if TYPE_CHECKING:
    import pandas as pd

RUNS_FOLDER = "runs"  # finished runs of an interrupted comparison, for --resume


class ResumeError(Exception):
    """A folder that cannot be resumed (the message names the option)."""


# --- the whole folder ------------------------------------------------------------------------


def write_folder(out: Path, fill: Callable[[Path], None], overwrite: bool = False) -> None:
    """Create `out` atomically: `fill` writes into a temporary folder renamed to `out`."""
    out = out.resolve()
    out.parent.mkdir(parents=True, exist_ok=True)
    staging = Path(tempfile.mkdtemp(prefix=f".{out.name}.", dir=out.parent))
    try:
        fill(staging)
        if out.exists():
            if not overwrite:
                raise FileExistsError(f"{out} already exists (use --overwrite to replace it)")
            retired = Path(tempfile.mkdtemp(prefix=f".{out.name}.old.", dir=out.parent))
            os.replace(out, retired / out.name)
            os.replace(staging, out)
            shutil.rmtree(retired)
        else:
            os.replace(staging, out)
    finally:
        if staging.exists():
            shutil.rmtree(staging)


# --- files -----------------------------------------------------------------------------------


def csv_text(frame: pd.DataFrame) -> str:
    """A table as the CSV text every output file uses."""
    return frame.to_csv(index=False, lineterminator="\n")


def write_csv(frame: pd.DataFrame, path: Path) -> None:
    path.write_text(csv_text(frame), encoding="utf-8")


def write_offers(folder: Path, parts: list[pd.DataFrame], form: str) -> None:
    """offers.csv or offers.parquet (`run --log-offers`): one row per shopper × seller × day
    shown an offer."""
    import pandas as pd

    offers = pd.concat(parts, ignore_index=True) if parts else pd.DataFrame()
    if form == "parquet":
        offers.to_parquet(folder / "offers.parquet", index=False)
    else:
        write_csv(offers, folder / "offers.csv")


def write_csv_parts(parts: list[str], path: Path) -> None:
    """Write CSV texts of one table made in pieces (each with the header) as one file."""
    body = [part.split("\n", 1)[1] for part in parts[1:]]
    path.write_text("".join(parts[:1] + body), encoding="utf-8")


def write_json(data: dict[str, Any], path: Path) -> None:
    path.write_text(json.dumps(data, indent=2, default=str) + "\n", encoding="utf-8")


# --- the manifest ----------------------------------------------------------------------------


def versions() -> dict[str, str]:
    import mesa
    import pandas as pd
    import scipy

    return {
        "market_sim": market_sim.__version__,
        "python": platform.python_version(),
        "mesa": mesa.__version__,
        "numpy": np.__version__,
        "pandas": pd.__version__,
        "scipy": scipy.__version__,
    }


def failure_text(run: Run) -> str:
    return f"{run.strategy}, replication {run.replication}: {run.failure}"


def comparison_manifest(
    scenario: Scenario,
    runs: list[Run],
    source: Path,
    baseline: str | None,
    seconds: float,
    partial: bool,
) -> dict:
    """manifest.json of a comparison: what ran, from which file, with which seeds and versions."""
    from market_sim import metrics  # pandas and scipy: only when writing results

    return {
        "scenario": scenario.name,
        "partial": partial,
        "runs_finished": len(runs),
        "runs_planned": len(scenario.strategies) * scenario.replications,
        "source": str(source),
        "seed": scenario.seed,
        "replications": scenario.replications,
        "days": scenario.days,
        "strategies": [spec.name for spec in scenario.strategies],
        "baseline": baseline
        or metrics.default_baseline(
            [spec.name for spec in scenario.strategies], metrics.benchmarks(scenario.strategies)
        ),
        "random_streams": "PCG64 per (seed, replication, purpose), jumped per day (market_sim.streams)",
        "versions": versions(),
        "created": dt.datetime.now(dt.UTC).isoformat(timespec="seconds"),
        "seconds": round(seconds, 3),
        "run_seconds": {f"{run.strategy}#{run.replication}": round(run.seconds, 4) for run in runs},
        "failures": [failure_text(run) for run in runs if run.failure],
        # where each failing run raised: file, line and the strategy's own code, to debug it
        "tracebacks": {f"{run.strategy}#{run.replication}": run.traceback for run in runs if run.traceback},
    }


# --- finished runs kept for --resume ---------------------------------------------------------


def keep_runs(folder: Path, scenario: Scenario, runs: list[Run]) -> None:
    """Save the finished runs of an interrupted comparison in `folder/runs`."""
    (folder / RUNS_FOLDER).mkdir()
    order = {spec.name: i for i, spec in enumerate(scenario.strategies)}
    for run in runs:
        save_run(run_file(folder / RUNS_FOLDER, order[run.strategy], run.replication), run)


def resumable_runs(out: Path, scenario: Scenario, jobs: list[Job]) -> dict[int, Run]:
    """The finished runs saved in an interrupted comparison's folder, by job position."""
    if not (out / "manifest.json").exists():
        raise ResumeError(f"--resume: {out} holds no results to resume")
    if (out / "scenario.yaml").read_text(encoding="utf-8") != scenario_to_yaml(scenario):
        raise ResumeError(f"--resume: {out} was made from a different scenario or different options")
    position = {(scenario.strategies[job.strategy].name, job.replication): i for i, job in enumerate(jobs)}
    runs = [load_run(path) for path in sorted((out / RUNS_FOLDER).glob("*.npz"))]
    return {position[(run.strategy, run.replication)]: run for run in runs}


def run_file(folder: Path, strategy: int, replication: int) -> Path:
    return folder / f"strategy{strategy:03d}-replication{replication:05d}.npz"


def save_run(path: Path, run: Run) -> None:
    """Write one run (atomically: a half-written file never has the final name)."""
    arrays = {
        f"ledger.{name}": np.asarray(value, dtype=str) if name == "reason" else np.asarray(value)
        for name, value in vars(run.ledger).items()
    }
    partial = path.with_suffix(".tmp.npz")
    np.savez_compressed(
        partial,
        strategy=np.array(run.strategy),
        replication=np.array(run.replication),
        seconds=np.array(run.seconds),
        failure=np.array(run.failure or ""),
        traceback=np.array(run.traceback),
        **arrays,
    )
    partial.replace(path)


def load_run(path: Path) -> Run:
    with np.load(path, allow_pickle=False) as data:
        ledger = Ledger.__new__(Ledger)
        for key in data.files:
            if key.startswith("ledger."):
                name = key.removeprefix("ledger.")
                value = data[key]
                if name == "reason":
                    value = value.astype(object)
                elif value.ndim == 0:
                    value = value.item()
                setattr(ledger, name, value)
        return Run(
            strategy=str(data["strategy"]),
            replication=int(data["replication"]),
            ledger=ledger,
            seconds=float(data["seconds"]),
            failure=str(data["failure"]) or None,
            traceback=str(data["traceback"]) if "traceback" in data.files else "",
        )
