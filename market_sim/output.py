"""Writing a run's folder: CSV tables, the resolved scenario, the manifest and the report.

The folder appears whole or not at all: everything is written into a temporary sibling
folder that is renamed at the end.
"""

from __future__ import annotations

import json
import os
import platform
import shutil
import tempfile
from collections.abc import Callable
from pathlib import Path
from typing import Any

import mesa
import numpy as np
import pandas as pd
import scipy

import market_sim


def versions() -> dict[str, str]:
    return {
        "market_sim": market_sim.__version__,
        "python": platform.python_version(),
        "mesa": mesa.__version__,
        "numpy": np.__version__,
        "pandas": pd.__version__,
        "scipy": scipy.__version__,
    }


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


def csv_text(frame: pd.DataFrame) -> str:
    """A table as the CSV text every output file uses."""
    return frame.to_csv(index=False, lineterminator="\n")


def write_csv(frame: pd.DataFrame, path: Path) -> None:
    path.write_text(csv_text(frame), encoding="utf-8")


def write_csv_parts(parts: list[str], path: Path) -> None:
    """Write CSV texts of one table made in pieces (each with the header) as one file."""
    body = [part.split("\n", 1)[1] for part in parts[1:]]
    path.write_text("".join(parts[:1] + body), encoding="utf-8")


def write_json(data: dict[str, Any], path: Path) -> None:
    path.write_text(json.dumps(data, indent=2, default=str) + "\n", encoding="utf-8")
