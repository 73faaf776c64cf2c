"""Parameter sweeps: every strategy and replication at every point of a design.

Each point is the scenario file with the point's overrides; its runs go through the runner's
executors like any comparison, and replication r of every point uses the same seed (common
random numbers). Runs are kept chunk by chunk as they finish, a chunk being every strategy
of one point on one replication (the unit that regret against an oracle needs), so an
interrupted sweep loses at most the chunks in progress. A run lost with its process (`os._exit`,
the out-of-memory killer, a crash in compiled code) leaves its chunk unfinished: the chunk's
other runs are kept one by one in `chunks/runs/`, and `--resume` runs the lost ones alone. The
sweep folder holds:

| file | content |
| --- | --- |
| `sweep.json` | the definition: base scenario, overrides at every point, design (checked by --resume) |
| `scenario.yaml` | the resolved base scenario |
| `index.csv` | one row per point: its id and the value of every swept field |
| `chunks/` | one file per finished chunk: the scores of its runs |
| `chunks/runs/` | finished runs of chunks that lost a run with its process (until `--resume`) |
| `results.csv`, `summary.csv`, `report.html` | at the end (each written atomically) |

Results depend only on the definition: they are sorted by (point, strategy, replication)
whatever order the runs finished in, on whatever executor.
"""

from __future__ import annotations

import contextlib
import importlib.util
import json
import math
import os
import re
import zipfile
from collections import defaultdict
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
from tqdm.auto import tqdm  # the notebook's own progress bar in Jupyter

from market_sim import metrics, result_folder, tables
from market_sim.design import Design, Range, latin_hypercube
from market_sim.loader import Override, ScenarioError, load_scenario, scenario_to_yaml
from market_sim.report.sweep import SweepReport, render_sweep_report
from market_sim.runner import Job, Run, fingerprints, run_jobs
from market_sim.scenario import Scenario

SWEEP_FILE = "sweep.json"
INDEX_FILE = "index.csv"
CHUNKS = "chunks"
KEPT_RUNS = "runs"  # in CHUNKS: finished runs of chunks that lost a run with its process
FORMAT = 1  # of sweep.json and the chunk files
_CHUNK_NAME = re.compile(r"point(\d+)-replication(\d+)\.npz")
_KEPT_NAME = re.compile(r"point(\d+)-replication(\d+)-strategy(\d+)\.npz")
_TEXT_COLUMNS = ("strategy", "failure")
_ROW_COLUMNS = ("point", "strategy", "replication", "failure")


class SweepError(Exception):
    """A sweep that cannot start or resume as asked (invalid input: exit status 2)."""


@dataclass(frozen=True)
class Sweep:
    """A validated sweep: the overrides at every point, the design, the base scenario (the file
    with those overrides) and the scenario of every point."""

    fixed: tuple[Override, ...]
    design: Design
    base: Scenario
    scenarios: tuple[Scenario, ...]

    def definition(self) -> dict[str, Any]:
        """What makes the results: compared on --resume (JSON-ready)."""
        return {
            "written_by": result_folder.WRITTEN_BY,
            "format": FORMAT,
            "scenario": scenario_to_yaml(self.base),
            "fixed": [list(override) for override in self.fixed],
            "design": self.design.to_json(),
            # the package version and plug-in sources behind each strategy (runner.fingerprints)
            "code": fingerprints(self.base, [Job(self.base, i, 0) for i in range(len(self.base.strategies))]),
        }

    def runs(self) -> int:
        return sum(len(s.strategies) * s.replications for s in self.scenarios)


def prepare(path: Path, fixed: Sequence[Override], design: Design) -> Sweep:
    """Load the scenario of every point, so any bad value is reported before anything runs."""
    base = load_scenario(path, fixed)
    scenarios = tuple(load_scenario(path, [*fixed, *design.overrides(i)]) for i in range(len(design.points)))
    return Sweep(tuple(fixed), design, base, scenarios)


def sample_design(
    path: Path, fixed: Sequence[Override], ranges: Sequence[tuple[str, float, float]], count: int, seed: int
) -> Design:
    """A Latin hypercube over `ranges`; fields that take whole numbers only get whole values."""
    spans = [
        Range(field, low, high, _whole_only(path, fixed, field, low, high)) for field, low, high in ranges
    ]
    return latin_hypercube(spans, count, seed)


def _whole_only(path: Path, fixed: Sequence[Override], field: str, low: float, high: float) -> bool:
    """Whether `field` takes whole numbers only: both bounds load, and a fraction between them does
    not (every field's valid values form an interval, so nothing else can refuse it)."""
    for bound in (low, high):
        load_scenario(path, [*fixed, Override(field, _number_text(bound), "--range")])
    middle = (low + high) / 2
    fraction = middle + min(0.5, (high - low) / 4) if middle.is_integer() else middle
    try:
        load_scenario(path, [*fixed, Override(field, repr(fraction), "--range")])
    except ScenarioError:
        return True
    return False


def _number_text(value: float) -> str:
    return str(int(value)) if value.is_integer() else repr(value)


# --- the folder ---------------------------------------------------------------------------


def create_folder(out: Path, sweep: Sweep, overwrite: bool) -> None:
    """Make the sweep folder with its definition and index (all at once), ready for chunks."""

    def fill(folder: Path) -> None:
        result_folder.write_json(sweep.definition(), folder / SWEEP_FILE)
        (folder / "scenario.yaml").write_text(scenario_to_yaml(sweep.base), encoding="utf-8")
        result_folder.write_csv(index_table(sweep.design), folder / INDEX_FILE)
        (folder / CHUNKS).mkdir()

    result_folder.write_folder(out, fill, overwrite=overwrite)


def check_resumable(out: Path, sweep: Sweep) -> None:
    """Refuse to resume `out` with a different scenario, overrides or design."""
    definition = json.loads(json.dumps(sweep.definition()))  # tuples become lists, as when read
    if _results_depend_on(saved_definition(out)) != _results_depend_on(definition):
        raise SweepError(
            f"--resume: {out} holds a sweep of a different scenario, --set values, design, plug-in code "
            "or version of market-sim; "
            "resume it with the same options, or start a new one in another folder"
        )


def _results_depend_on(definition: dict[str, Any]) -> list[Any]:
    """The parts of a definition that make the results (not how options were spelled)."""
    design = definition["design"]
    fixed = [override[:2] for override in definition["fixed"]]
    code = definition.get("code")
    return [definition["scenario"], fixed, design["parameters"], design["points"], code]


def saved_definition(out: Path) -> dict[str, Any]:
    """The definition saved in the sweep folder `out` (see `Sweep.definition`)."""
    try:
        definition = json.loads((out / SWEEP_FILE).read_text(encoding="utf-8"))
    except (OSError, ValueError):
        raise SweepError(f"--resume: {out} holds no sweep to resume (no readable {SWEEP_FILE})") from None
    if definition.get("format") != FORMAT:
        raise SweepError(f"--resume: {out} was made by another version of the sweep format")
    return definition


def index_table(design: Design) -> pd.DataFrame:
    """One row per point: its id and the value of every swept field (numbers as numbers)."""
    columns = {"point": range(len(design.points))}
    for i, parameter in enumerate(design.parameters):
        columns[parameter] = [_cell(point[i]) for point in design.points]
    return pd.DataFrame(columns)


def _cell(text: str) -> int | float | str:
    """A value as a table shows it: a number when it reads as one, else the text as written."""
    for kind in (int, float):
        try:
            value = kind(text)
        except ValueError:
            continue
        if math.isfinite(value):
            return value
    return text


# --- running ------------------------------------------------------------------------------


def run_missing(
    sweep: Sweep,
    out: Path,
    workers: int | None = None,
    executor: str = "local",
    scheduler: str | None = None,
    time_limit: float | None = None,
    progress: bool = True,
    rerun_lost: bool = True,
) -> list[str]:
    """Run every run that `out` does not hold yet, saving each chunk as soon as it is complete;
    return the runs lost with their process ("point P, strategy, replication R: why").

    A lost run leaves its chunk unfinished for `--resume` to complete, the chunk's other runs
    kept in `chunks/runs/`; with `rerun_lost` False (no `--resume` to come) it is recorded as
    the run's failure instead. An interruption (KeyboardInterrupt) propagates; the chunks
    finished before it stay saved.
    """
    folder = out / CHUNKS
    missing = [chunk for chunk in _chunks(sweep) if chunk not in finished_chunks(folder)]
    done = kept_runs(folder / KEPT_RUNS, sweep, missing)  # chunk → strategy index → its outcome
    owners = [
        (point, replication, strategy)
        for point, replication in missing
        for strategy in range(len(sweep.scenarios[point].strategies))
        if strategy not in done[point, replication]
    ]
    jobs = [Job(sweep.scenarios[point], strategy, replication) for point, replication, strategy in owners]
    lost: dict[tuple[int, int], dict[int, str]] = defaultdict(dict)  # chunk → strategy index → why
    total = sweep.runs()

    def settle(chunk: tuple[int, int]) -> None:
        """Save a chunk whose runs are all over: whole, or its finished runs one by one."""
        scenario = sweep.scenarios[chunk[0]]
        if len(done[chunk]) + len(lost[chunk]) < len(scenario.strategies):
            return
        if lost[chunk]:
            for strategy, outcome in done[chunk].items():
                save_kept_run(kept_file(folder / KEPT_RUNS, *chunk, strategy), outcome)
        else:
            save_chunk(
                chunk_file(folder, *chunk),
                chunk_table(scenario, [done[chunk][i] for i in sorted(done[chunk])]),
            )
            for strategy in done[chunk]:
                kept_file(folder / KEPT_RUNS, *chunk, strategy).unlink(missing_ok=True)

    with tqdm(
        total=total, initial=total - len(jobs), desc="sweep", unit="run", disable=not progress, delay=1.0
    ) as bar:
        for chunk in missing:
            settle(chunk)  # its runs all kept by an earlier sweep
        for position, run in run_jobs(jobs, workers, executor, scheduler, time_limit) if jobs else ():
            point, replication, strategy = owners[position]
            chunk = (point, replication)
            if run.lost and rerun_lost:
                lost[chunk][strategy] = (
                    f"point {point}, {run.strategy}, replication {replication}: {run.failure}"
                )
            else:
                done[chunk][strategy] = Outcome.of(sweep.scenarios[point], run)
            settle(chunk)
            bar.update()
    with contextlib.suppress(OSError):
        (folder / KEPT_RUNS).rmdir()  # when every kept run has joined its chunk
    return [lost[chunk][strategy] for chunk in missing for strategy in sorted(lost[chunk])]


def _chunks(sweep: Sweep) -> list[tuple[int, int]]:
    """(point, replication) of every chunk, in the order they are run."""
    return [
        (point, r) for point, scenario in enumerate(sweep.scenarios) for r in range(scenario.replications)
    ]


@dataclass(frozen=True)
class Outcome:
    """What a chunk keeps of a run: its scores (`tables.score_row`), or why it failed."""

    strategy: str
    replication: int
    scores: dict[str, Any] | None
    failure: str

    @classmethod
    def of(cls, scenario: Scenario, run: Run) -> Outcome:
        return cls(run.strategy, run.replication, tables.score_row(scenario, run), run.failure or "")


def chunk_table(scenario: Scenario, outcomes: list[Outcome]) -> pd.DataFrame:
    """The scores of a chunk's runs, one row per strategy in the scenario's order, and why a run
    failed (its scores are then empty)."""
    order = {spec.name: i for i, spec in enumerate(scenario.strategies)}
    outcomes = sorted(outcomes, key=lambda outcome: order[outcome.strategy])
    scores = tables.scores_from_rows(scenario, [o.scores for o in outcomes if o.scores is not None])
    failed = pd.DataFrame(
        {
            "strategy": [o.strategy for o in outcomes if o.failure],
            "replication": [o.replication for o in outcomes if o.failure],
        }
    )
    table = pd.concat([scores, failed], ignore_index=True) if len(failed) else scores
    table = table.sort_values(
        "strategy", key=lambda names: names.map(order), kind="stable", ignore_index=True
    )
    table["failure"] = table["strategy"].map({o.strategy: o.failure for o in outcomes})
    return table


def kept_file(folder: Path, point: int, replication: int, strategy: int) -> Path:
    return folder / f"point{point:05d}-replication{replication:05d}-strategy{strategy:03d}.npz"


def save_kept_run(path: Path, outcome: Outcome) -> None:
    """Keep one finished run of an unfinished chunk (exactly: binary numbers, its scores in
    their order), under its final name only once complete."""
    if path.exists():
        return
    path.parent.mkdir(exist_ok=True)
    scores = {f"score.{name}": np.asarray(value) for name, value in (outcome.scores or {}).items()}
    result_folder.save_arrays(
        path,
        {
            "strategy": np.array(outcome.strategy),
            "replication": np.array(outcome.replication),
            "failure": np.array(outcome.failure),
            **scores,
        },
    )


def load_kept_run(path: Path) -> Outcome:
    with np.load(path, allow_pickle=False) as data:
        scores = {
            name.removeprefix("score."): data[name].item() for name in data.files if name.startswith("score.")
        }
        return Outcome(str(data["strategy"]), int(data["replication"]), scores or None, str(data["failure"]))


def kept_runs(
    folder: Path, sweep: Sweep, chunks: list[tuple[int, int]]
) -> dict[tuple[int, int], dict[int, Outcome]]:
    """The runs of `chunks` kept in `folder`, by chunk and strategy index (a damaged file, or
    one that does not match its name, is run again)."""
    kept: dict[tuple[int, int], dict[int, Outcome]] = {chunk: {} for chunk in chunks}
    for path in sorted(folder.glob("*.npz")) if folder.is_dir() else ():
        name = _KEPT_NAME.fullmatch(path.name)
        if not name:
            continue
        point, replication, strategy = (int(part) for part in name.groups())
        if (point, replication) not in kept or strategy >= len(sweep.scenarios[point].strategies):
            continue
        try:
            outcome = load_kept_run(path)
        except (OSError, ValueError, KeyError, EOFError, zipfile.BadZipFile):
            continue
        expected = sweep.scenarios[point].strategies[strategy].name
        if (outcome.strategy, outcome.replication) == (expected, replication):
            kept[point, replication][strategy] = outcome
    return kept


def chunk_file(folder: Path, point: int, replication: int) -> Path:
    return folder / f"point{point:05d}-replication{replication:05d}.npz"


def finished_chunks(folder: Path) -> set[tuple[int, int]]:
    """(point, replication) of the chunks saved in `folder` that can be read back (a damaged
    one is run again, and replaced)."""
    names = ((path, _CHUNK_NAME.fullmatch(path.name)) for path in folder.glob("*.npz"))
    return {(int(name[1]), int(name[2])) for path, name in names if name and _readable(path)}


def _readable(path: Path) -> bool:
    try:
        load_chunk(path)
    except (OSError, ValueError, KeyError, EOFError, zipfile.BadZipFile):
        return False
    return True


def save_chunk(path: Path, table: pd.DataFrame) -> None:
    """Write a chunk's table exactly (binary floats), under its final name only once complete."""
    arrays = {
        column: values.to_numpy().astype(str) if column in _TEXT_COLUMNS else _numbers(values)
        for column, values in table.items()
    }
    result_folder.save_arrays(path, arrays)


def _numbers(values: pd.Series) -> np.ndarray:
    """A column as numbers: one whose runs all failed holds only gaps, typed as objects, which
    `np.load` would refuse."""
    return (pd.to_numeric(values) if values.dtype == object else values).to_numpy()


def load_chunk(path: Path) -> pd.DataFrame:
    with np.load(path, allow_pickle=False) as data:
        return pd.DataFrame({name: data[name] for name in data.files})


# --- results ------------------------------------------------------------------------------


def results_table(sweep: Sweep, out: Path) -> pd.DataFrame:
    """One row per point × strategy × replication, the point's values as columns, in that order."""
    frames = []
    for point, replication in _chunks(sweep):
        table = load_chunk(chunk_file(out / CHUNKS, point, replication))
        frames.append(table.assign(point=point, strategy_index=range(len(table))))
    rows = pd.concat(frames, ignore_index=True)
    rows = rows.sort_values(["point", "strategy_index", "replication"], kind="stable", ignore_index=True)
    index = index_table(sweep.design).set_index("point")
    values = pd.DataFrame(
        {parameter: rows["point"].map(index[parameter]) for parameter in sweep.design.parameters}
    )
    # in the order metrics defines them, whichever chunk came first
    known = [score.name for score in metrics.SCORES]
    other = [column for column in rows.columns if column not in (*known, *_ROW_COLUMNS, "strategy_index")]
    scores = [name for name in known if name in rows.columns] + other
    columns = ["point", *sweep.design.parameters, "strategy", "replication", *scores, "failure"]
    return pd.concat([rows, values], axis=1)[columns]


def summary_table(sweep: Sweep, results: pd.DataFrame) -> pd.DataFrame:
    """One row per point × strategy: mean, sd and interval of every score, and the paired profit
    difference against the point's first strategy (`metrics.summarise` at each point)."""
    finished = results[results["failure"] == ""]
    index = index_table(sweep.design)
    frames = []
    for point, group in finished.groupby("point", sort=True):
        runs = group.drop(columns=[*sweep.design.parameters, "point", "failure"])
        benchmarks = metrics.benchmarks(sweep.scenarios[point].strategies)  # oracles: never the baseline
        summary = metrics.summarise(runs, benchmark=benchmarks)
        frames.append(pd.concat([index.iloc[[point] * len(summary)].reset_index(drop=True), summary], axis=1))
    return pd.concat(frames, ignore_index=True) if frames else pd.DataFrame()


def write_outputs(sweep: Sweep, out: Path, score: str, axes: Sequence[str]) -> list[str]:
    """Write results, summary (CSV, and Parquet when pyarrow is installed) and the report; return
    the failures."""
    results = results_table(sweep, out)
    summary = summary_table(sweep, results)
    failures = [
        f"point {row.point}, {row.strategy}, replication {row.replication}: {row.failure}"
        for row in results[results["failure"] != ""].itertuples()
    ]
    for name, frame in (("results", results), ("summary", summary)):
        _write_atomically(out / f"{name}.csv", lambda path, frame=frame: result_folder.write_csv(frame, path))
        if importlib.util.find_spec("pyarrow"):
            _write_atomically(out / f"{name}.parquet", lambda path, frame=frame: _to_parquet(frame, path))
    report = render_sweep_report(_report_view(sweep, results, summary, score, axes, failures))
    _write_atomically(out / "report.html", lambda path: path.write_text(report, encoding="utf-8"))
    return failures


def _to_parquet(frame: pd.DataFrame, path: Path) -> None:
    # a swept field may mix numbers and words (500, unlimited): Parquet columns hold one type
    mixed = [column for column in frame.columns if frame[column].dtype == object]
    frame.astype(dict.fromkeys(mixed, str)).to_parquet(path, index=False)


def _write_atomically(path: Path, write: Callable[[Path], None]) -> None:
    partial = path.with_name(f".{path.name}.partial")
    write(partial)
    os.replace(partial, path)


def _report_view(
    sweep: Sweep,
    results: pd.DataFrame,
    summary: pd.DataFrame,
    score: str,
    axes: Sequence[str],
    failures: list[str],
) -> SweepReport:
    """The report's input: strategies named by their place in `strategies:`, so a strategy whose
    own parameters are swept is one line across points."""
    labels = strategy_labels(sweep)
    by_name = {
        (point, spec.name): labels[i]
        for point, s in enumerate(sweep.scenarios)
        for i, spec in enumerate(s.strategies)
    }

    def relabel(frame: pd.DataFrame) -> pd.DataFrame:
        if frame.empty:
            return frame
        keys = zip(frame["point"], frame["strategy"], strict=True)
        return frame.assign(strategy=[by_name[key] for key in keys])

    return SweepReport(
        scenario=sweep.base,
        note=sweep.design.note,
        parameters=sweep.design.parameters,
        points=len(sweep.scenarios),
        strategies=tuple(labels),
        results=relabel(results[results["failure"] == ""]),
        summary=relabel(summary),
        score=score,
        axes=tuple(axes),
        failures=tuple(failures),
    )


def strategy_labels(sweep: Sweep) -> list[str]:
    """A name per place in `strategies:`: its name if the same at every point, else its kind and place."""
    labels = []
    for i in range(max(len(s.strategies) for s in sweep.scenarios)):
        specs = [s.strategies[i] for s in sweep.scenarios if i < len(s.strategies)]
        names = {spec.name for spec in specs}
        labels.append(specs[0].name if len(names) == 1 else f"{specs[0].kind} (strategies[{i}])")
    return labels
