"""A result folder, written and read in one place: created whole or not at all (atomic
rename), its tables as CSV text, its manifest (seeds, versions, timings), and the finished
runs an interrupted comparison keeps for `--resume`.

Each kept run is an `.npz` of its ledger arrays plus who ran (strategy, replication), its time,
its failure, what a batched learning run adds (its learning fields and impulse response) and
its fingerprint (what made it, see `runner.fingerprint`); nothing in it needs
pickle to load. A folder says in its manifest (or sweep.json) that this program wrote it: only
such a folder is ever replaced.
"""

from __future__ import annotations

import csv
import datetime as dt
import functools
import hashlib
import io
import json
import os
import platform
import shutil
import tempfile
import zipfile
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

import market_sim
from market_sim.ledger import Ledger
from market_sim.loader import scenario_to_yaml
from market_sim.scenario import Scenario

if TYPE_CHECKING:
    import pandas as pd

    from market_sim.runner import Job, Run  # the engine: imported where runs are kept or resumed

RUNS_FOLDER = "runs"  # finished runs of an interrupted comparison, for --resume
WRITTEN_BY = "market-sim"  # the manifest's `written_by`: a folder this program may replace
TABLES = ("summary.csv", "scores.csv", "comparisons.csv", "daily.csv", "segments.csv", "shoppers.csv")
LONG = 8  # a DataFrame with this many rows a column is written as columns (`csv_text`)
TEXT_COLUMNS = {  # read as text even when they look like numbers or "NA"
    "strategy": str,
    "seller": str,
    "segment": str,
    "reason": str,
    "versus": str,
    "score": str,
    "feature": str,
    "group_by": str,
    "group": str,
}


class ResumeError(Exception):
    """A folder that cannot be resumed (the message names the option)."""


class FolderError(Exception):
    """A result folder that cannot be written, replaced or read as asked (the message says why
    and what to do)."""


# --- the whole folder ------------------------------------------------------------------------


def write_folder(out: Path, fill: Callable[[Path], None], overwrite: bool = False) -> None:
    """Create `out` atomically: `fill` writes into a temporary folder renamed to `out`, made with
    the permissions the umask gives any new folder. An existing `out` is replaced only with
    `overwrite`, and only if this program wrote it (`check_replaceable`)."""
    out = resolved(out)
    if overwrite and out.exists() and not _replaceable(out):
        raise FolderError(_not_ours(out))
    out.parent.mkdir(parents=True, exist_ok=True)
    staging = Path(tempfile.mkdtemp(prefix=f".{out.name}.", dir=out.parent))
    try:
        staging.chmod(0o777 & ~_umask())  # mkdtemp makes it private (0700)
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


def _umask() -> int:
    mask = os.umask(0o022)
    os.umask(mask)
    return mask


def resolved(out: Path) -> Path:
    """`out` with symbolic links followed; a loop of links is refused."""
    try:
        return out.resolve()
    except (RuntimeError, OSError) as error:  # RuntimeError: a symlink loop (Python < 3.13)
        message = f"--out: {out}: cannot follow its symbolic links ({error}); give another folder"
        raise FolderError(message) from None


def written_here(folder: Path) -> bool:
    """Whether `folder` is a result or sweep folder this program wrote (its manifest says so)."""
    for name in ("manifest.json", "sweep.json"):
        try:
            data = json.loads((folder / name).read_text(encoding="utf-8"))
        except (OSError, ValueError):
            continue
        if isinstance(data, dict) and data.get("written_by") == WRITTEN_BY:
            return True
    return False


def check_replaceable(out: Path, scenario: Path) -> None:
    """Refuse to replace (`--overwrite`) a folder this program did not write, or the folder
    that holds the scenario file."""
    target = resolved(out)
    if resolved(scenario).is_relative_to(target):
        raise FolderError(
            f"--overwrite: {out} holds the scenario {scenario}; it is never replaced: choose another --out"
        )
    if target.exists() and not _replaceable(target):
        raise FolderError(_not_ours(out))


def _replaceable(folder: Path) -> bool:
    """A folder this program wrote, or an empty one (replacing it loses nothing)."""
    return written_here(folder) or (folder.is_dir() and not any(folder.iterdir()))


def _not_ours(out: Path) -> str:
    return (
        f"--overwrite: {out} was not written by market-sim (no manifest.json saying so), so it is "
        "left as it is: choose another --out, or remove it yourself"
    )


# --- files -----------------------------------------------------------------------------------


def csv_text(table: pd.DataFrame | Mapping[str, np.ndarray]) -> str:
    """A table as the CSV text every output file uses: pandas' `to_csv` without the index.

    A table given as columns (numpy arrays) of whole numbers, float64, booleans or text (the
    big tables a run makes, see `tables.tabulate`) is written without pandas, to the very same
    bytes, about three times faster: each distinct value is formatted once (floats as their
    shortest repr, as numpy and pandas write them; text quoted by the csv module, as pandas
    quotes it; NaN as an empty cell) and the rows are joined. Other columns go through pandas,
    and so do DataFrames, but for long ones (comparisons.csv: a few rows a column do not pay
    for the work done per column)."""
    long = not isinstance(table, Mapping) and len(table) >= LONG * len(table.columns)
    columns = table if isinstance(table, Mapping) else _plain_columns(table) if long else None
    cells = [_cells(np.asarray(values)) for values in columns.values()] if columns is not None else []
    if len(cells) < 2 or any(column is None for column in cells):  # (one column: pandas quotes "")
        if isinstance(table, Mapping):
            import pandas as pd

            table = pd.DataFrame(dict(table))
        return table.to_csv(index=False, lineterminator="\n")
    header = ",".join(_quoted(list(columns)))
    rows = "\n".join(map(",".join, zip(*cells, strict=True)))
    return f"{header}\n{rows}\n" if rows else f"{header}\n"


def _plain_columns(frame: pd.DataFrame) -> dict[str, np.ndarray] | None:
    """A DataFrame's columns as numpy arrays by name, or None unless the names are distinct text
    (as a CSV header reads back)."""
    if not frame.columns.is_unique or not all(isinstance(name, str) for name in frame.columns):
        return None
    return {name: frame[name].to_numpy() for name in frame.columns}


def _cells(values: np.ndarray) -> list[str] | None:
    """A column's cells as `to_csv` writes them, or None for a kind of column left to pandas."""
    kind = values.dtype.kind
    if values.ndim != 1:
        return None
    if kind == "b":
        return np.where(values, "True", "False").tolist()
    if kind in "iu":
        distinct, where = np.unique(values, return_inverse=True)
        return np.array(list(map(str, distinct.tolist())), dtype=object)[where].tolist()
    if values.dtype == np.float64:  # told apart by their bits: 0.0 is not -0.0
        bits, where = np.unique(values.view(np.int64), return_inverse=True)
        words = ["" if x != x else repr(x) for x in bits.view(np.float64).tolist()]  # NaN: empty
        return np.array(words, dtype=object)[where].tolist()
    if kind in "OU":
        items = values.tolist()
        distinct = list(dict.fromkeys(items))
        if not all(isinstance(item, str) for item in distinct):
            return None
        words = dict(zip(distinct, _quoted(distinct), strict=True))
        return [words[item] for item in items]
    return None


def _quoted(texts: list[str]) -> list[str]:
    """Each text as a cell of a CSV row: quoted, as pandas' writer (the csv module) quotes it,
    when it holds a comma, a quote or a line break."""
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\n")
    cells = []
    for text in texts:
        buffer.seek(0)
        buffer.truncate()
        writer.writerow([text, ""])  # (two cells: a row of one empty cell would be quoted)
        cells.append(buffer.getvalue()[:-2])
    return cells


def read_csv(source: Path | io.StringIO) -> pd.DataFrame:
    """A table as written by a run (a file, or CSV text): names stay text even when they look
    like numbers or "NA"; empty cells are missing."""
    import pandas as pd

    try:
        return pd.read_csv(source, dtype=TEXT_COLUMNS, keep_default_na=False, na_values=[""])
    except pd.errors.EmptyDataError:  # a run with no finished replication wrote no rows
        return pd.DataFrame()


def parsed(text: str) -> pd.DataFrame:
    """CSV text as `read_csv` reads it from the file it is written to."""
    return read_csv(io.StringIO(text))


def read_back(table: pd.DataFrame | Mapping[str, np.ndarray], text: str) -> pd.DataFrame:
    """`parsed(text)` of the text `csv_text(table)` wrote, made from the table's columns
    when it is sure to be the same: pandas reads whole numbers and booleans back as they were,
    text as text (an empty cell missing) and, from pandas 3.1 (its reader is correctly rounded:
    fast_float), a float's shortest repr back to that very float. Otherwise (an older pandas, a
    table without rows, other kinds of column) the text is parsed."""
    import pandas as pd

    columns = table if isinstance(table, Mapping) else _plain_columns(table)
    if columns is None:
        return parsed(text)
    lengths = {len(values) for values in columns.values()}
    if not _reads_floats_exactly() or lengths == {0} or len(lengths) != 1:
        return parsed(text)
    frame = {}
    for name, values in columns.items():
        values = np.asarray(values)
        text_column = name in TEXT_COLUMNS
        if not text_column and (values.dtype in (np.int64, np.float64, np.bool_)):
            frame[name] = values
        elif text_column and values.dtype.kind in "OU":
            items = values.astype(object)
            if not all(isinstance(item, str) and _plain(item) for item in set(items.tolist())):
                return parsed(text)
            items[items == ""] = np.nan  # an empty cell reads as missing
            frame[name] = pd.array(items, dtype="str")
        else:
            return parsed(text)
    return pd.DataFrame(frame)


def _plain(text: str) -> bool:
    """Text that reads back as itself from its cell (`read_csv` may read a quoted line break as
    missing)."""
    return not any(mark in text for mark in '"\r\n')


@functools.cache
def _reads_floats_exactly() -> bool:
    """Whether the installed pandas reads every float's shortest repr back to that float."""
    import pandas as pd

    major, minor = (int(part) for part in pd.__version__.split(".")[:2])
    return (major, minor) >= (3, 1)


def joined(parts: list[pd.DataFrame], texts: list[str]) -> pd.DataFrame:
    """One table from the parsed pieces (`parsed`) of the CSV `texts` written as one file by
    `write_csv_parts`: what `read_csv` reads from that file, without parsing it again."""
    import pandas as pd

    rows = [part for part in parts if len(part)]  # a piece with no rows has no column types
    if not rows:
        return parsed("".join(texts[:1]))
    return pd.concat(rows, ignore_index=True)


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
    """Write CSV texts of one table made in pieces (each with the header) as one file, piece by
    piece (not joined first: the big tables are tens of megabytes)."""
    with path.open("w", encoding="utf-8") as file:
        for i, part in enumerate(parts):
            file.write(part if i == 0 else part[part.index("\n") + 1 :])


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
        "written_by": WRITTEN_BY,
        "scenario": scenario.name,
        "partial": partial,
        "runs_finished": sum(not run.lost for run in runs),
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


@dataclass(frozen=True)
class Timings:
    """Where a comparison's time went, for manifest.json's `timings` (seconds): `starting`, from
    the command's start (the process's, on Linux) to the first run (None from Python);
    `simulating`, the runs (the manifest's `seconds`); `writing`, from the end of the last run
    to the manifest, the last file written (tables, figures, report). `ran` is
    `time.perf_counter()` when the runs ended."""

    starting: float | None
    simulating: float
    ran: float

    def recorded(self) -> dict:
        import time

        starting = None if self.starting is None else round(self.starting, 3)
        writing = round(time.perf_counter() - self.ran, 3)
        return {"starting": starting, "simulating": round(self.simulating, 3), "writing": writing}


def record_tables(folder: Path, manifest: dict) -> dict:
    """The manifest with the size and SHA-256 of every table in `folder`, so `check_tables`
    can tell a damaged or truncated folder from a whole one."""
    tables = {name: _digest(folder / name) for name in TABLES if (folder / name).exists()}
    return manifest | {"tables": tables}


def check_tables(folder: Path) -> dict:
    """The manifest of a whole result folder; a FolderError naming the file that is damaged,
    truncated, edited or missing. Folders written before tables were recorded pass unchecked."""
    path = folder / "manifest.json"
    try:
        manifest = json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise FolderError(f"{folder} is not a complete run folder: no manifest.json") from None
    except (OSError, ValueError) as error:
        raise FolderError(f"{path}: cannot be read ({error}); the folder is damaged: run it again") from None
    if not isinstance(manifest, dict):
        raise FolderError(f"{path}: not a manifest; the folder is damaged: run it again")
    recorded = manifest.get("tables", {})
    for name, expected in recorded.items() if isinstance(recorded, dict) else ():
        if name not in TABLES:
            continue
        try:
            found = _digest(folder / name)
        except OSError as error:
            message = f"{folder / name}: cannot be read ({error.strerror or error}); run it again"
            raise FolderError(message) from None
        if found != expected:
            raise FolderError(
                f"{folder / name}: not the table the run wrote (truncated, edited or damaged: "
                f"{found['bytes']} bytes, the manifest records {expected.get('bytes')}); run it again"
            )
    return manifest


def table_digests(manifest: dict) -> dict[str, str]:
    """The SHA-256 of each table a manifest records, by file name (after `check_tables`: those
    of the files in the folder)."""
    recorded = manifest.get("tables")
    if not isinstance(recorded, dict):
        return {}
    return {name: str(entry.get("sha256")) for name, entry in recorded.items() if isinstance(entry, dict)}


def _digest(path: Path) -> dict:
    data = path.read_bytes()
    return {"bytes": len(data), "sha256": hashlib.sha256(data).hexdigest()}


# --- finished runs kept for --resume ---------------------------------------------------------


def keep_runs(folder: Path, scenario: Scenario, runs: list[Run]) -> None:
    """Save the finished runs of an interrupted comparison in `folder/runs`, each with the
    fingerprint of its job; runs lost with their process are left out, to be run again."""
    from market_sim.runner import Job, fingerprints

    (folder / RUNS_FOLDER).mkdir()
    order = {spec.name: i for i, spec in enumerate(scenario.strategies)}
    runs = [run for run in runs if not run.lost]
    jobs = [Job(scenario, order[run.strategy], run.replication) for run in runs]
    for run, job, made_by in zip(runs, jobs, fingerprints(scenario, jobs), strict=True):
        save_run(run_file(folder / RUNS_FOLDER, job.strategy, run.replication), run, made_by)


@dataclass(frozen=True)
class Resumable:
    """What an interrupted comparison's folder holds: its finished runs by job position, and
    what was left out (runs made by other code or settings, damaged files), to run again."""

    runs: dict[int, Run]
    redone: list[str]


def resumable_runs(out: Path, scenario: Scenario, jobs: list[Job]) -> Resumable:
    """The finished runs saved in `out` whose fingerprint matches their job now; a folder that
    does not exist yet holds none (so `--resume` can always be called)."""
    from market_sim.runner import fingerprints

    if not out.exists():
        return Resumable({}, [])
    if not written_here(out):
        raise ResumeError(f"--resume: {out} holds no results of market-sim (no manifest.json saying so)")
    try:
        saved = (out / "scenario.yaml").read_text(encoding="utf-8")
    except OSError as error:
        message = f"--resume: {out / 'scenario.yaml'}: {error.strerror or error}; start again"
        raise ResumeError(message) from None
    if saved != scenario_to_yaml(scenario):
        raise ResumeError(f"--resume: {out} was made from a different scenario or different options")
    position = {(scenario.strategies[job.strategy].name, job.replication): i for i, job in enumerate(jobs)}
    expected = fingerprints(scenario, jobs)
    runs, redone = {}, []
    for path in sorted((out / RUNS_FOLDER).glob("*.npz")):
        try:
            run, made_by = load_run(path)
        except (OSError, ValueError, KeyError, EOFError, zipfile.BadZipFile):
            redone.append(f"{path.name} (damaged)")
            continue
        index = position.get((run.strategy, run.replication))
        if index is None:
            continue
        if made_by != expected[index]:
            redone.append(f"{run.strategy}, replication {run.replication} (made by other code or settings)")
            continue
        runs[index] = run
    return Resumable(runs, redone)


def run_file(folder: Path, strategy: int, replication: int) -> Path:
    return folder / f"strategy{strategy:03d}-replication{replication:05d}.npz"


def save_run(path: Path, run: Run, made_by: str = "") -> None:
    """Write one run and its fingerprint (atomically: a half-written file never has the final
    name)."""
    arrays = {
        f"ledger.{name}": np.asarray(value, dtype=str) if name == "reason" else np.asarray(value)
        for name, value in vars(run.ledger).items()
    }
    save_arrays(
        path,
        {
            "strategy": np.array(run.strategy),
            "replication": np.array(run.replication),
            "seconds": np.array(run.seconds),
            "failure": np.array(run.failure or ""),
            "fingerprint": np.array(made_by),
            "traceback": np.array(run.traceback),
            **{f"learning.{name}": np.array(value) for name, value in (run.learning or {}).items()},
            **({"impulse": run.impulse} if run.impulse is not None else {}),
            **arrays,
        },
    )


def save_arrays(path: Path, arrays: dict[str, np.ndarray]) -> None:
    """Write arrays as one .npz file, under its final name only once complete (a half-written
    file is never taken for a finished one)."""
    partial = path.with_suffix(".tmp.npz")
    np.savez_compressed(partial, **arrays)
    partial.replace(path)


def load_run(path: Path) -> tuple[Run, str]:
    """A kept run and its fingerprint ("" when saved without one)."""
    from market_sim.runner import Run

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
        run = Run(
            strategy=str(data["strategy"]),
            replication=int(data["replication"]),
            ledger=ledger,
            seconds=float(data["seconds"]),
            failure=str(data["failure"]) or None,
            traceback=str(data["traceback"]) if "traceback" in data.files else "",
            learning={
                key.removeprefix("learning."): float(data[key])
                for key in data.files
                if key.startswith("learning.")
            }
            or None,
            impulse=data["impulse"] if "impulse" in data.files else None,
        )
        return run, str(data["fingerprint"]) if "fingerprint" in data.files else ""
