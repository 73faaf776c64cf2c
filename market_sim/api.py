"""market-sim from Python: the same comparisons as the command line, results as DataFrames.

```python
import market_sim as ms

scenario = ms.load("scenarios/lessons/01_demand_curve.yaml", days=30)
results = ms.compare(scenario, strategies=["fixed(price=30)", "cost_plus", MyRule(markup=0.3)])
results.summary            # one row per strategy (pandas)
results.save("reports/x")  # the same files as `market-sim run`
results                    # in Jupyter: the verdict, the ranking and the report's figures
```

The command line calls these functions (`market_sim.commands.run`, `.sweep`): there is one way
to run a comparison. Errors are exceptions with the messages the command line prints:
`ScenarioError` for a scenario or an override (naming the field), `OptionError` for an argument.

Heavy libraries (pandas, the engine) are imported inside the functions, so importing this module,
and the command line that names its errors, stays quick.
"""

from __future__ import annotations

import contextlib
import dataclasses
import functools
import math
import os
import pickle
import sys
import tempfile
import time
import warnings
from collections.abc import Callable, Iterable, Mapping, Sequence
from pathlib import Path
from types import MappingProxyType
from typing import TYPE_CHECKING, Any

import strategies as strategy_library
from market_sim.loader import (
    MAX_DAYS,
    MAX_MAGNITUDE,
    MAX_REPLICATIONS,
    OverrideError,
    ScenarioError,
    load_scenario,
    scenario_to_yaml,
)
from market_sim.scenario import Scenario, StrategySpec

if TYPE_CHECKING:
    import pandas as pd

    from market_sim import report, result_folder
    from market_sim.experiment import ExperimentResult
    from market_sim.sweeps import Sweep
    from market_sim.tables import Tabulated

__all__ = [
    "OptionError",
    "OverrideError",
    "Results",
    "ScenarioError",
    "SweepResults",
    "compare",
    "load",
    "sweep",
]

MAX_SEED = int(MAX_MAGNITUDE)  # the largest seed a scenario file accepts
OVERRIDE = "override"  # how an override given to `load` is named in error messages


class OptionError(ValueError):
    """An argument that cannot apply (invalid input, exit status 2 on the command line): the
    message names the argument, or the command-line option that gave it."""


# --- the scenario -----------------------------------------------------------------------------


def load(path: str | os.PathLike[str], **overrides: Any) -> Scenario:
    """Read and check the scenario file at `path`, with fields changed: `days=30`, or field paths
    as in `--set`, `**{"consumers.segments[0].wtp.mean": 50, "sellers[0].inventory": "{initial: 800}"}`.
    A string value is read as YAML, exactly like `--set PATH=VALUE`; every value is checked like
    one written in the file (a `ScenarioError` names the field)."""
    return load_scenario(path, [(field, value, OVERRIDE) for field, value in overrides.items()])


def with_options(
    scenario: Scenario,
    strategies: Sequence[Any] | None = None,
    replications: int | None = None,
    days: int | None = None,
    seed: int | None = None,
    prefix: str = "",
) -> Scenario:
    """The scenario with only `strategies` compared, and its days, replications and seed changed.

    A strategy is one of the scenario's strategy names, a built-in kind (`"cost_plus"`, with its
    defaults), or a `PricingStrategy` (an instance with its parameters, or a class), also one
    defined in a notebook. `prefix` is how arguments are named in messages (`--` on the command
    line)."""
    changes: dict[str, Any] = {}
    limits = (("days", days, 1, MAX_DAYS), ("replications", replications, 1, MAX_REPLICATIONS))
    for name, value, least, most in (*limits, ("seed", seed, 0, MAX_SEED)):
        if value is not None:
            changes[name] = _whole(value, least, f"{prefix}{name}", most)
    if strategies is not None:
        option = f"{prefix}strategies"
        if isinstance(strategies, str | strategy_library.PricingStrategy | type):
            strategies = [strategies]  # one strategy, not a list of characters
        chosen: dict[str, StrategySpec] = {}
        for item in strategies:
            spec = _strategy_spec(scenario, item, option)
            if chosen.get(spec.name, spec) != spec:
                raise OptionError(f"{option}: two different strategies are both named {spec.name!r}")
            chosen[spec.name] = spec
        if not chosen:
            raise OptionError(f"{option}: give at least one strategy")
        changes["strategies"] = tuple(chosen.values())
    return dataclasses.replace(scenario, **changes)


def _whole(value: Any, least: int, option: str, most: int | None = None) -> int:
    """`value` as a whole number from `least` to `most` (the limits a scenario file has)."""
    if isinstance(value, float) and value.is_integer():
        value = int(value)
    if isinstance(value, bool) or not isinstance(value, int):
        raise OptionError(f"{option}: must be a whole number, got {value!r}")
    if value < least:
        raise OptionError(f"{option}: must be at least {least}, got {value!r}")
    if most is not None and value > most:
        raise OptionError(f"{option}: must be at most {most:,}, got {value!r}")
    return value


def _strategy_spec(scenario: Scenario, item: Any, option: str) -> StrategySpec:
    """The strategy that `item` names or is (see `with_options`)."""
    if isinstance(item, str):
        named = {spec.name: spec for spec in scenario.strategies}
        if item in named:
            return named[item]
        if item in strategy_library.BUILT_IN:
            return _checked(StrategySpec(item, MappingProxyType({}), display(item, {})), option, scenario)
        raise OptionError(
            f"{option}: no strategy named {item!r}; the scenario has: {', '.join(named)}; "
            f"or give a built-in kind ({', '.join(strategy_library.BUILT_IN)})"
        )
    cls = item if isinstance(item, type) else type(item)
    if not issubclass(cls, strategy_library.PricingStrategy):
        raise OptionError(
            f"{option}: expected a strategy name, a built-in kind or a PricingStrategy, got {item!r}"
        )
    params = {} if isinstance(item, type) else _parameters(item)
    if strategy_library.BUILT_IN.get(cls.kind) is cls:  # a built-in, as a scenario file names it
        spec = StrategySpec(cls.kind, MappingProxyType(params), display(cls.kind, params))
        return _checked(spec, option, scenario)
    label = f"{cls.__module__}:{cls.__qualname__}"
    carried = None if _importable(cls) else cls  # workers import it by name, or get the class itself
    spec = StrategySpec(label, MappingProxyType(params), display(cls.__name__, params), carried)
    return _checked(spec, option, scenario)


def display(kind: str, params: Mapping[str, Any]) -> str:
    """A strategy's name in the tables: `cost_plus(markup=0.6)`, `MyRule(markup=0.3)`."""
    return strategy_library.display_name(kind, dict(params))


def _parameters(strategy: strategy_library.PricingStrategy) -> dict[str, Any]:
    """The parameters an instance was given (declared parameters set on it), by scenario name."""
    cls = type(strategy)
    return {
        name: vars(strategy)[cls.aliases.get(name, name)]
        for name in cls.parameters()
        if cls.aliases.get(name, name) in vars(strategy)
    }


def _importable(cls: type) -> bool:
    """Whether a worker process can import `cls` by its `module:Class` name (a notebook's classes
    live in `__main__`, which a worker's is not)."""
    module = sys.modules.get(cls.__module__)
    return (
        cls.__module__ != "__main__"
        and "." not in cls.__qualname__
        and module is not None
        and getattr(module, cls.__qualname__, None) is cls
    )


def _checked(spec: StrategySpec, option: str, scenario: Scenario) -> StrategySpec:
    """`spec`, once built here, so a bad parameter, or a price for a segment the seller cannot
    tell apart (`check_segments`, as the loader checks a file's strategies), is reported now and
    not by every run."""
    observable = tuple(segment.name for segment in scenario.consumers.segments if segment.observable)
    try:
        strategy_library.build(spec.builds, spec.params).check_segments(observable)
    except strategy_library.UnknownStrategy as error:
        raise OptionError(f"{option}: {spec.name}: {error}") from None
    except strategy_library.ParameterError as error:
        raise OptionError(f"{option}: {spec.name}: {error.param}: {error}") from None
    return spec


def check_baseline(scenario: Scenario, baseline: str | None, option: str = "baseline") -> None:
    names = [spec.name for spec in scenario.strategies]
    if baseline is not None and baseline not in names:
        raise OptionError(f"{option}: no strategy named {baseline!r}; the scenario has: {', '.join(names)}")


# --- comparing --------------------------------------------------------------------------------


def compare(
    scenario: Scenario | str | os.PathLike[str],
    strategies: Sequence[Any] | None = None,
    replications: int | None = None,
    days: int | None = None,
    seed: int | None = None,
    workers: int | None = None,
    *,
    baseline: str | None = None,
    executor: str = "local",
    scheduler: str | None = None,
    time_limit: float = 600.0,
    progress: bool = True,
    log_offers: bool | str = False,
) -> Results:
    """Every strategy on the same replications (common random numbers), as `market-sim run` does.

    `scenario`: from `load`, or a file path. `strategies`: the scenario's strategy names, built-in
    kinds, or `PricingStrategy` instances or classes, e.g. `[MyRule(markup=0.3), "cost_plus"]`
    (default: the scenario's). `workers`: processes (default all cores); a strategy class that
    cannot be sent to them runs on this process instead, with a warning saying why. `executor`,
    `scheduler`, `time_limit`: as on the command line. A strategy that fails leaves the others'
    results (see `Results.failures`); Ctrl-C (KeyboardInterrupt) stops the comparison.
    `log_offers` (True or "csv", or "parquet"): keep every offer shown (`Results.offers`, saved
    as offers.csv or offers.parquet, as `run --log-offers`). A scenario with an `experiment:`
    block also runs its A/B test (`Results.experiment`), as `run` does.
    """
    from market_sim import report

    if not isinstance(scenario, Scenario):
        scenario = load(scenario)
    scenario = with_options(scenario, strategies, replications, days, seed)
    check_baseline(scenario, baseline)
    if executor not in ("local", "dask-local", "dask"):
        raise OptionError(f"executor: must be one of local, dask-local, dask, got {executor!r}")
    if not (isinstance(time_limit, int | float) and 0 < time_limit < math.inf):
        raise OptionError(f"time_limit: must be a positive number of seconds, got {time_limit!r}")
    if workers is not None:
        workers = _whole(workers, 1, "workers")
    offers = offers_format(log_offers)
    executor, workers = _where_it_can_run(scenario, executor, workers)
    done, seconds, interrupted = run_comparison(
        scenario,
        workers,
        executor,
        scheduler,
        time_limit,
        progress=progress,
        log_offers=offers is not None,
        meanwhile=functools.partial(report.prepare, scenario),  # its templates and closed forms
    )
    if interrupted:
        raise KeyboardInterrupt
    return Results(
        scenario, done, baseline, seconds, workers, offers=offers, experiment=ab_test(scenario, workers)
    )


def offers_format(log_offers: bool | str | None) -> str | None:
    """The offer log's file format ("csv" or "parquet"), or None for no log; parquet needs
    pyarrow, which is checked now, before anything runs."""
    if log_offers is None or log_offers is False:
        return None
    form = "csv" if log_offers is True else log_offers
    if form not in ("csv", "parquet"):
        raise OptionError(f'log_offers: must be True, "csv" or "parquet", got {log_offers!r}')
    if form == "parquet":
        try:
            import pyarrow  # noqa: F401  (only to say early that it is missing)
        except ImportError:
            raise OptionError("log_offers: parquet needs pyarrow: pip install pyarrow") from None
    return form


def experiment_preview(scenario: Scenario) -> str | None:
    """The power preview of the scenario's A/B test (before it runs), or None without one."""
    if scenario.experiment is None:
        return None
    from market_sim import experiment

    return experiment.preview_text(experiment.preview(scenario))


def ab_test(scenario: Scenario, workers: int | None = None) -> ExperimentResult | None:
    """The scenario's `experiment:` A/B test on every replication (None without one): the same
    numbers on any number of `workers` (default all cores)."""
    if scenario.experiment is None:
        return None
    from market_sim import experiment
    from market_sim.executors import default_workers

    return experiment.run_experiment(scenario, workers=workers or default_workers())


def _where_it_can_run(scenario: Scenario, executor: str, workers: int | None) -> tuple[str, int | None]:
    """Where the runs may go: a strategy class that cannot be pickled to workers keeps them here."""
    if workers == 1 and executor == "local":
        return executor, workers
    for spec in scenario.strategies:
        if spec.python_class is None:
            continue
        try:
            pickle.dumps(spec)
        except Exception as error:
            warnings.warn(
                f"{spec.name} runs on this process only: its class cannot be sent to worker "
                f"processes ({type(error).__name__}: {error})",
                stacklevel=3,
            )
            return "local", 1
    return executor, workers


def run_comparison(
    scenario: Scenario,
    workers: int | None = None,
    executor: str = "local",
    scheduler: str | None = None,
    time_limit: float | None = None,
    progress: bool = True,
    finished: dict[int, Tabulated] | None = None,
    log_offers: bool = False,
    stopping: Callable[[], None] | None = None,
    meanwhile: Callable[[], None] | None = None,
) -> tuple[list[Tabulated], float, bool]:
    """Run every (strategy, replication) job not in `finished` (job position → its run, from
    `--resume`): (every finished run in job order, seconds taken, whether it was interrupted).
    Each run's table rows are made on the worker that ran it. `stopping` is called the moment
    the runs are over or interrupted (the command holds further interrupts from then on);
    `meanwhile` once when the first run is in, while the others go on (this process is idle
    then: it prepares what it needs after the last run)."""
    from tqdm.auto import tqdm  # the notebook's own progress bar in Jupyter

    from market_sim import tables
    from market_sim.runner import comparison_jobs, run_jobs

    jobs = comparison_jobs(scenario, log_offers)
    finished = dict(finished or {})
    started = time.perf_counter()
    todo = [i for i in range(len(jobs)) if i not in finished]
    interrupted = False
    tqdm.monitor_interval = 0  # no monitor thread, so the worker pool can fork
    bar = tqdm(
        total=len(jobs),
        initial=len(finished),
        desc="runs",
        unit="run",
        file=sys.stderr,
        disable=not progress,
        delay=1.0,
    )
    try:
        work = run_jobs(
            [jobs[i] for i in todo],
            workers,
            executor,
            scheduler,
            time_limit,
            prepare=functools.partial(tables.tabulate, scenario),
        )
        with contextlib.closing(work):  # ends the workers at once when interrupted
            for position, tabulated in work:
                finished[todo[position]] = tabulated
                bar.update()
                if meanwhile is not None:
                    meanwhile, prepare = None, meanwhile
                    prepare()
    except KeyboardInterrupt:
        interrupted = True
    finally:
        if stopping is not None:
            stopping()
        bar.close()
    return [finished[i] for i in sorted(finished)], time.perf_counter() - started, interrupted


def write_run_folder(
    out: Path,
    scenario: Scenario,
    done: list[Tabulated],
    source: str | os.PathLike[str],
    baseline: str | None,
    seconds: float,
    partial: bool = False,
    workers: int | None = None,
    overwrite: bool = False,
    offers: str | None = None,
    ab_test: ExperimentResult | None = None,
    painters: report.Painters | None = None,
    timings: result_folder.Timings | None = None,
    meanwhile: Callable[[report.Results], object] | None = None,
) -> None:
    """Write the run folder whole (tables, scenario, report, manifest); a partial one also keeps
    its finished runs for --resume. `offers` (csv or parquet) adds the offer log. `painters`:
    figure processes started already (else the figures are drawn on `workers` new ones);
    `timings`: where the time went, for the manifest (from Python: the runs and the writing);
    `meanwhile`: called with what the report shows (as `report DIR` reads it) while its figures
    are drawn (`run` makes its ranking for the terminal then).

    The report is made from the tables as they are written (each parsed from the text written
    to its file), and its figures are drawn while the big tables are written: the time charts
    begin as soon as their lines are computed, before the summaries."""
    import json

    from market_sim import metrics, result_folder, tables
    from market_sim.executors import default_workers
    from market_sim.report import Painters, chart_results, figure_cache, results_from, write_report

    timings = timings or result_folder.Timings(None, seconds, time.perf_counter())
    runs = [tabulated.run for tabulated in done]
    scores = tables.scores_from_rows(scenario, [t.scores for t in done if t.scores is not None])

    def fill(folder: Path) -> None:
        scores_text = result_folder.csv_text(scores)
        manifest = result_folder.comparison_manifest(scenario, runs, Path(source), baseline, seconds, partial)
        impulses = [t.impulse_csv for t in done if t.run.impulse is not None]
        shoppers = [t.shoppers_csv for t in done] if scenario.consumers.features else []
        tabled = (  # what report.html shows, as `report DIR` reads it from the files
            scenario,
            json.loads(json.dumps(manifest, default=str)),  # as manifest.json reads
            result_folder.read_back(scores, scores_text),
            result_folder.joined([t.daily for t in done], [t.daily_csv for t in done]),
            result_folder.joined([t.segments for t in done], [t.segments_csv for t in done]),
        )
        drawing = painters or workers or default_workers()
        poll = drawing.poll if isinstance(drawing, Painters) else lambda: None  # painters kept busy
        charts = chart_results(*tabled, baseline)
        if isinstance(drawing, Painters):
            drawing.begin(charts)  # the time charts are drawn while the summaries are computed
        # comparisons.csv; the report's too when the scores read back are these (same columns,
        # types and values)
        comparisons = metrics.comparisons(scores)
        poll()
        parsed = tabled[2]
        results = results_from(
            *tabled,
            baseline,
            impulse=_table(impulses) if impulses else None,
            shoppers=_table(shoppers) if shoppers else None,
            charts=charts,
            comparisons=comparisons if scores.equals(parsed) else None,
        )
        if isinstance(drawing, Painters):
            drawing.begin(results)  # the other figures are drawn while the tables are written
        if meanwhile is not None:
            meanwhile(results)
            poll()
        result_folder.write_csv(_file_summary(scenario, scores, baseline, results), folder / "summary.csv")
        (folder / "scores.csv").write_text(scores_text, encoding="utf-8")
        result_folder.write_csv(comparisons, folder / "comparisons.csv")
        poll()
        result_folder.write_csv_parts([t.daily_csv for t in done], folder / "daily.csv")
        result_folder.write_csv_parts([t.segments_csv for t in done], folder / "segments.csv")
        poll()
        if impulses:  # batched learning runs: the impulse response after learning
            result_folder.write_csv_parts(impulses, folder / "impulse.csv")
        if shoppers:
            result_folder.write_csv_parts(shoppers, folder / "shoppers.csv")
        (folder / "scenario.yaml").write_text(scenario_to_yaml(scenario), encoding="utf-8")
        if offers:
            result_folder.write_offers(folder, [t.offers for t in done if t.offers is not None], offers)
        if ab_test is not None:  # the scenario's A/B test, read back by the report's experiment section
            result_folder.write_csv(ab_test.table, folder / "experiment.csv")
            result_folder.write_csv(ab_test.summary, folder / "experiment_summary.csv")
            result_folder.write_json(ab_test.preview, folder / "experiment_preview.json")
        poll()
        manifest = result_folder.record_tables(folder, manifest)
        saved = figure_cache.Cached(results.figures, results.segment_summary)
        figure_cache.write(folder, saved, result_folder.table_digests(manifest))
        write_report(folder, workers=drawing, results=results)
        manifest["timings"] = timings.recorded()
        result_folder.write_json(manifest, folder / "manifest.json")
        if partial:
            result_folder.keep_runs(folder, scenario, runs)

    result_folder.write_folder(out, fill, overwrite=overwrite)


def _file_summary(
    scenario: Scenario, scores: pd.DataFrame, baseline: str | None, shown: report.Results
) -> pd.DataFrame:
    """summary.csv: `metrics.summarise` of the scores as the runs made them. The report's summary
    (`shown`, from the same scores parsed back from scores.csv) is that very table, and is used,
    when the parsed scores equal these (same columns, types and values) and the baseline is the same."""
    from market_sim import metrics

    benchmarks = metrics.benchmarks(scenario.strategies)
    names = list(dict.fromkeys(scores["strategy"])) if len(scores) else []
    resolved = baseline if baseline in names else metrics.default_baseline(names, benchmarks)
    if resolved == shown.baseline and scores.equals(shown.scores):
        return shown.summary
    return metrics.summarise(scores, baseline, benchmark=benchmarks)


class Results:
    """A finished comparison: its tables as pandas DataFrames, the winner, the report.

    - `summary`: one row per strategy: mean, sd and 95% interval of every score, the paired profit
      difference against the baseline and its verdict (summary.csv);
    - `scores`: one row per strategy × replication (scores.csv);
    - `comparisons`: every strategy against every other on every score (comparisons.csv);
    - `daily`: one row per strategy × replication × day × seller (daily.csv);
    - `segments`: the same per segment too (segments.csv);
    - `winner`: the strategy clearly better on profit than every other, or None; `verdict` says it
      in words; `failures`: the runs that failed;
    - `offers`: with `log_offers`, one row per shopper × seller × day shown an offer (offers.csv),
      else None;
    - `experiment`: with the scenario's `experiment:` block, its A/B test: `.table`
      (experiment.csv), `.summary` (experiment_summary.csv), `.preview` (the power preview),
      else None.

    `save(folder)` writes the same files as `market-sim run`; in Jupyter the object shows the
    verdict, the ranking and the report's figures.
    """

    def __init__(
        self,
        scenario: Scenario,
        done: list[Tabulated],
        baseline: str | None = None,
        seconds: float = 0.0,
        workers: int | None = None,
        *,
        offers: str | None = None,
        experiment: ExperimentResult | None = None,
    ):
        from market_sim import metrics, tables

        self.scenario = scenario
        self.experiment = experiment
        self._offers_format = offers
        self.baseline = baseline
        self.seconds = seconds
        self._done = done
        self._workers = workers
        self.scores: pd.DataFrame = tables.scores_from_rows(
            scenario, [t.scores for t in done if t.scores is not None]
        )
        self.benchmarks = metrics.benchmarks(scenario.strategies)  # oracles: ranked apart, never the winner
        self.summary: pd.DataFrame = metrics.summarise(self.scores, baseline, benchmark=self.benchmarks)
        self.failures: list[str] = [_failure_text(t.run) for t in done if t.run.failure]

    @functools.cached_property
    def comparisons(self) -> pd.DataFrame:
        from market_sim import metrics

        return metrics.comparisons(self.scores)

    @functools.cached_property
    def daily(self) -> pd.DataFrame:
        from market_sim import result_folder

        return result_folder.joined([t.daily for t in self._done], [t.daily_csv for t in self._done])

    @functools.cached_property
    def segments(self) -> pd.DataFrame:
        from market_sim import result_folder

        return result_folder.joined([t.segments for t in self._done], [t.segments_csv for t in self._done])

    @functools.cached_property
    def offers(self) -> pd.DataFrame | None:
        """Every offer shown (offers.csv), when the comparison logged them."""
        if self._offers_format is None:
            return None
        import pandas as pd

        parts = [t.offers for t in self._done if t.offers is not None]
        return pd.concat(parts, ignore_index=True) if parts else pd.DataFrame()

    @functools.cached_property
    def shoppers(self) -> pd.DataFrame:
        """Price paid against shopper features (shoppers.csv; empty without features)."""
        return _table([t.shoppers_csv for t in self._done if t.shoppers_csv])

    @functools.cached_property
    def _verdict(self) -> Any:
        from market_sim import metrics

        return metrics.verdict(self.scores, benchmark=self.benchmarks)

    @property
    def verdict(self) -> str:
        """The report's verdict on profit, in words."""
        return self._verdict.text

    @property
    def winner(self) -> str | None:
        """The strategy with the best mean profit if it is clearly better than every other one
        (every paired 95% interval excludes zero), else None."""
        verdict = self._verdict
        return verdict.leader if verdict.leader and verdict.behind and not verdict.tied else None

    def save(self, folder: str | os.PathLike[str], overwrite: bool = False) -> Path:
        """Write the result folder `market-sim run` writes (tables, scenario.yaml, manifest.json,
        report.html), all at once; an existing folder is replaced only with `overwrite`."""
        out = Path(folder)
        if out.exists() and not overwrite:
            raise FileExistsError(f"{out} already exists (use overwrite=True to replace it)")
        write_run_folder(
            out,
            self.scenario,
            self._done,
            self.scenario.source,
            self.baseline,
            self.seconds,
            workers=self._workers,
            overwrite=overwrite,
            offers=self._offers_format,
            ab_test=self.experiment,
        )
        return out

    def report(self) -> report.Results:
        """Everything the report shows (the same object `market-sim report` builds from a folder)."""
        from market_sim import report, result_folder

        runs = [t.run for t in self._done]
        manifest = result_folder.comparison_manifest(
            self.scenario, runs, Path(self.scenario.source), self.baseline, self.seconds, False
        )
        return report.results_from(
            self.scenario,
            manifest,
            self.scores,
            self.daily,
            self.segments,
            self.baseline,
            shoppers=self.shoppers,
        )

    @functools.cached_property
    def _html(self) -> str:
        from market_sim.report import render_fragment

        return render_fragment(self.report(), workers=1)

    def _repr_html_(self) -> str:
        return self._html

    def __repr__(self) -> str:
        from market_sim.report import ranking_text

        return ranking_text(self.scores, self.baseline, self.scenario.focal.name, self.benchmarks)


def _table(parts: list[str]) -> pd.DataFrame:
    """A table made in pieces of CSV text, read as `market-sim report` reads the file."""
    import io

    import pandas as pd

    from market_sim.report import read_table

    if not parts:
        return pd.DataFrame()
    body = [part.split("\n", 1)[1] for part in parts[1:]]
    return read_table(io.StringIO("".join(parts[:1] + body)))


def _failure_text(run: Any) -> str:
    return f"{run.strategy}, replication {run.replication}: {run.failure}"


# --- sweeping ---------------------------------------------------------------------------------


def sweep(
    scenario: Scenario | str | os.PathLike[str],
    grid: Mapping[str, Iterable[Any]] | None = None,
    *,
    ranges: Mapping[str, tuple[float, float]] | None = None,
    sample: int | None = None,
    seed: int = 0,
    replications: int | None = None,
    workers: int | None = None,
    executor: str = "local",
    scheduler: str | None = None,
    time_limit: float = 600.0,
    score: str = "profit",
    axes: Sequence[str] | None = None,
    progress: bool = True,
) -> SweepResults:
    """Every strategy and replication at every point of a design, as `market-sim sweep` does.

    `grid`: field path → values (every combination), e.g. `{"sellers[1].unit_cost": [16, 22]}`;
    or `ranges`: field path → (low, high) with `sample` Latin-hypercube points (design `seed`).
    `score`, `axes`: what the report optimises and maps. Values are checked like `--grid`/`--range`.
    """
    from market_sim import metrics
    from market_sim import sweeps as sweeping
    from market_sim.design import DesignError
    from market_sim.design import grid as full_grid
    from market_sim.loader import Override

    folder = tempfile.TemporaryDirectory(prefix="market-sim-sweep-")
    base = Path(folder.name) / "scenario-base.yaml"
    if isinstance(scenario, Scenario):
        carried = [spec.name for spec in scenario.strategies if spec.python_class is not None]
        if carried:
            raise OptionError(
                f"sweep: {carried[0]} is defined in this notebook or function, so the sweep cannot name "
                "it at every point; put the class in a module (kind: module:Class) or use compare()"
            )
        base.write_text(scenario_to_yaml(scenario), encoding="utf-8")
    else:
        base = Path(scenario)
    fixed = []
    if replications is not None:
        fixed.append(Override("replications", str(_whole(replications, 1, "replications")), "replications"))
    if score not in metrics.SCORE:
        raise OptionError(f"score: unknown score {score!r}; one of: {', '.join(metrics.SCORE)}")
    try:
        if grid and not ranges:
            design = full_grid(
                [f"{path}={', '.join(map(_yaml_text, values))}" for path, values in grid.items()]
            )
        elif ranges and not grid:
            if sample is None:
                raise OptionError("ranges: give the number of points with sample=N")
            spans = [(path, float(low), float(high)) for path, (low, high) in ranges.items()]
            design = sweeping.sample_design(base, fixed, spans, _whole(sample, 1, "sample"), seed)
        else:
            raise OptionError(
                "sweep: give either grid={PATH: [values]} or ranges={PATH: (low, high)} with sample=N"
            )
        plan = sweeping.prepare(base, fixed, design)
        chosen = list(axes) if axes else list(design.parameters[:2])
        if any(axis not in design.parameters for axis in chosen) or not 1 <= len(chosen) <= 2:
            swept = ", ".join(design.parameters)
            raise OptionError(f"axes: expected one or two of the swept fields ({swept}), got {axes!r}")
        out = Path(folder.name) / "sweep"
        sweeping.create_folder(out, plan, overwrite=False)
    except (DesignError, sweeping.SweepError) as error:
        raise OptionError(str(error)) from None
    # no --resume here: a run lost with its process is recorded as that run's failure
    sweeping.run_missing(plan, out, workers, executor, scheduler, time_limit, progress, rerun_lost=False)
    failures = sweeping.write_outputs(plan, out, score, chosen)
    return SweepResults(plan, out, failures, folder)


def _yaml_text(value: Any) -> str:
    """A value as `--grid` takes it: text as written, anything else as flow YAML."""
    if isinstance(value, str):
        return value
    import yaml

    return yaml.safe_dump(value, default_flow_style=True).removesuffix("\n...\n").strip()


class SweepResults:
    """A finished sweep: `results` (one row per point × strategy × replication, the swept fields as
    columns), `summary` (one row per point × strategy), `failures`; `save(folder)` writes the sweep
    folder `market-sim sweep` writes; in Jupyter the object shows the sweep report."""

    def __init__(self, plan: Sweep, folder: Path, failures: list[str], keep: Any):
        from market_sim.report import read_table

        self.plan = plan
        self._folder, self._keep = folder, keep  # the temporary folder lives as long as this object
        self.results: pd.DataFrame = read_table(folder / "results.csv")
        self.summary: pd.DataFrame = read_table(folder / "summary.csv")
        self.failures = failures

    def save(self, folder: str | os.PathLike[str], overwrite: bool = False) -> Path:
        import shutil

        from market_sim import result_folder

        out = Path(folder)
        if out.exists() and not overwrite:
            raise FileExistsError(f"{out} already exists (use overwrite=True to replace it)")
        result_folder.write_folder(
            out, lambda staging: shutil.copytree(self._folder, staging, dirs_exist_ok=True), overwrite
        )
        return out

    def _repr_html_(self) -> str:
        page = (self._folder / "report.html").read_text(encoding="utf-8")
        return f"<iframe srcdoc='{_attribute(page)}' style='width: 100%; height: 40rem; border: 0'></iframe>"


def _attribute(text: str) -> str:
    from html import escape

    return escape(text, quote=True)
