"""A folder of finished runs, one file each, so an interrupted comparison can be resumed.

Each run is an `.npz` of its ledger arrays plus who ran (strategy, replication), its time and
its failure; nothing in it needs pickle to load.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from market_sim.ledger import Ledger
from market_sim.runner import Run


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
