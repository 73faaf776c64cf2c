"""A run folder read back for reporting: the saved tables, the scenario, and the statistics
derived from them. The report is always built from these files, so `run_sim.py report DIR`
rebuilds exactly what `run` wrote."""

from __future__ import annotations

import dataclasses
import json
from dataclasses import dataclass, field
from pathlib import Path

import pandas as pd

from market_sim import metrics
from market_sim.loader import ScenarioError, parse_scenario
from market_sim.report import figure_cache
from market_sim.report.figure_data import FigureData, against, figure_data
from market_sim.report.theory import Theory, closed_forms
from market_sim.result_folder import read_csv
from market_sim.scenario import Scenario

NEEDED = ("scores.csv", "daily.csv", "segments.csv", "scenario.yaml", "manifest.json")


class RunFolderError(ValueError):
    """A folder that is not a complete run folder, or a baseline it does not hold."""


@dataclass(frozen=True)
class Results:
    """Everything a report shows, for the focal seller of one run folder (`chart_results`: only
    what the time charts draw, the other fields None)."""

    scenario: Scenario
    manifest: dict
    scores: pd.DataFrame  # one row per strategy × replication
    # one row per strategy × replication × day × seller; the two are empty when the report is
    # drawn from report_data.npz (load_results with digests), which holds all it draws from them
    daily: pd.DataFrame
    segments: pd.DataFrame  # one row per strategy × replication × day × seller × segment
    baseline: str
    strategies: tuple[str, ...]  # in the scenario's order
    summary: pd.DataFrame
    segment_summary: pd.DataFrame
    verdict: metrics.Verdict
    theory: Theory | None
    baseline_comparisons: dict[tuple[str, str], metrics.Comparison]
    benchmarks: frozenset[str] = frozenset()  # strategies that use hidden truth: ranked apart
    impulse: pd.DataFrame | None = None  # impulse.csv of batched learning runs
    # price paid against shopper features, per strategy that set personal prices (shoppers.csv)
    shoppers: pd.DataFrame = field(default_factory=pd.DataFrame)
    # the lines and bands the time charts draw, computed once from `daily` and `segments`
    figures: FigureData = field(default_factory=FigureData)

    @property
    def focal(self) -> str:
        return self.scenario.focal.name

    @property
    def ranked(self) -> pd.DataFrame:
        """The summary, best mean profit first, the benchmarks (which use hidden truth) after the
        strategies a seller could run."""
        return self.summary.sort_values(["benchmark", "profit_mean"], ascending=[True, False], kind="stable")

    def against_baseline(self, strategy: str, score: str) -> metrics.Comparison:
        """`strategy` minus the baseline on `score`, replication by replication."""
        return self.baseline_comparisons.get((strategy, score)) or metrics.paired(
            self.scores, strategy, self.baseline, score
        )


def read_table(path: Path) -> pd.DataFrame:
    """A CSV as written by a run: names stay text even when they look like numbers or "NA"."""
    return read_csv(path)


def load_results(
    folder: Path,
    baseline: str | None = None,
    scenario: Scenario | None = None,
    daily: pd.DataFrame | None = None,
    segments: pd.DataFrame | None = None,
    digests: dict[str, str] | None = None,
) -> Results:
    """Read a run folder; `baseline` defaults to the run's own (its `--baseline`, else the first
    strategy). `scenario`: the run's, when the caller holds it (a strategy class handed over from
    Python cannot be named in scenario.yaml); else it is read from the folder. `daily`,
    `segments`: the folder's daily.csv and segments.csv as `read_table` reads them, when the
    caller holds them already (`market-sim run`: parsed on the workers, run by run).

    `digests`: the SHA-256 of the folder's files by name, checked against the files now
    (`result_folder.check_tables`). With them, the figure data `run` saved (report_data.npz) is
    used if it was made from exactly these daily.csv and segments.csv, and those two are not read
    at all unless a section shows their rows (personal prices, learning): `results.daily` and
    `results.segments` are then empty."""
    missing = [name for name in NEEDED if not (folder / name).is_file()]
    if missing:
        raise RunFolderError(f"{folder} is not a complete run folder: no {', '.join(missing)}")
    manifest = json.loads((folder / "manifest.json").read_text(encoding="utf-8"))
    scenario = scenario or _scenario(folder, manifest)
    scores = read_table(folder / "scores.csv")
    cached = None
    if digests is not None and daily is None and segments is None and not _shows_rows(scenario, scores):
        cached = figure_cache.read(folder, digests)
        if cached is not None:
            daily = segments = pd.DataFrame()
    daily = read_table(folder / "daily.csv") if daily is None else daily
    segments = read_table(folder / "segments.csv") if segments is None else segments
    impulse = read_table(folder / "impulse.csv") if (folder / "impulse.csv").is_file() else None
    shoppers = read_table(folder / "shoppers.csv") if (folder / "shoppers.csv").is_file() else None
    return results_from(
        scenario,
        manifest,
        scores,
        daily,
        segments,
        baseline,
        impulse=impulse,
        shoppers=shoppers,
        cached=cached,
    )


def _shows_rows(scenario: Scenario, scores: pd.DataFrame) -> bool:
    """Whether a section of the report reads rows of daily.csv or segments.csv itself: personal
    prices (consumers with features) and learning (report/collusion.py)."""
    learning = "converged" in scores and scores["converged"].notna().any()
    return bool(scenario.consumers.features) or bool(learning)


def results_from(
    scenario: Scenario,
    manifest: dict,
    scores: pd.DataFrame,
    daily: pd.DataFrame,
    segments: pd.DataFrame,
    baseline: str | None = None,
    impulse: pd.DataFrame | None = None,
    shoppers: pd.DataFrame | None = None,
    cached: figure_cache.Cached | None = None,
    charts: Results | None = None,
    comparisons: pd.DataFrame | None = None,
) -> Results:
    """What a report shows, from a run's tables (read from its folder, or still in memory);
    `cached`: what it draws from daily and segments, saved when they were written; `charts`:
    `chart_results` of these very tables, whose figure data and theory are then used;
    `comparisons`: `metrics.comparisons` of these very scores (every pair), whose rows against
    the baseline are then used."""
    charts = charts or chart_results(scenario, manifest, scores, daily, segments, baseline, cached)
    baseline, benchmarks = charts.baseline, charts.benchmarks
    return dataclasses.replace(
        charts,
        scores=scores,
        daily=daily,
        segments=segments,
        summary=metrics.summarise(scores, baseline, benchmark=benchmarks),
        segment_summary=(
            _segment_summary(segments, scenario.focal.name) if cached is None else cached.segment_summary
        ),
        verdict=metrics.verdict(scores, benchmark=benchmarks),
        baseline_comparisons=_against(scores, baseline, comparisons),
        impulse=impulse,
        shoppers=pd.DataFrame() if shoppers is None else shoppers,
    )


def chart_results(
    scenario: Scenario,
    manifest: dict,
    scores: pd.DataFrame,
    daily: pd.DataFrame,
    segments: pd.DataFrame,
    baseline: str | None = None,
    cached: figure_cache.Cached | None = None,
) -> Results:
    """The part of `results_from` that the time charts draw (`painters.CHARTS`): the scenario,
    the finished strategies, the baseline, theory and the figure data. `run` computes it first,
    so that the figure processes begin drawing while the rest is computed. The tables, the
    summaries, the verdict and the comparisons are None in it: a chart that read them would fail,
    not draw something else."""
    present = set(scores["strategy"]) if len(scores) else set()
    strategies = tuple(spec.name for spec in scenario.strategies if spec.name in present)
    if baseline is not None and strategies and baseline not in strategies:
        raise RunFolderError(
            f"--baseline: no finished strategy named {baseline!r}; have: {', '.join(strategies)}"
        )
    benchmarks = metrics.benchmarks(scenario.strategies)
    baseline = baseline or manifest.get("baseline")
    if baseline not in strategies:  # the run's baseline failed: compare with the first that finished
        baseline = metrics.default_baseline(strategies, benchmarks)
    return Results(
        scenario=scenario,
        manifest=manifest,
        scores=None,
        daily=None,
        segments=None,
        baseline=baseline,
        strategies=strategies,
        summary=None,
        segment_summary=None,
        verdict=None,
        theory=closed_forms(scenario),
        baseline_comparisons=None,
        benchmarks=benchmarks,
        shoppers=None,
        figures=(
            figure_data(daily, segments, scenario.focal.name, baseline)
            if cached is None
            else against(cached.figures, baseline)
        ),
    )


def _scenario(folder: Path, manifest: dict) -> Scenario:
    """The resolved scenario, read without importing any plug-in: a forwarded folder runs no code."""
    text = (folder / "scenario.yaml").read_text(encoding="utf-8")
    try:
        return parse_scenario(text, str(folder / "scenario.yaml"), import_plugins=False)
    except ScenarioError as error:
        raise RunFolderError(f"cannot read the run's scenario: {error}") from None


def _against(
    scores: pd.DataFrame, baseline: str, comparisons: pd.DataFrame | None = None
) -> dict[tuple[str, str], metrics.Comparison]:
    """Every strategy against the baseline on every score, computed once (or taken from
    `comparisons`, every pair: the same rows)."""
    if scores.empty:
        return {}
    if comparisons is None:
        table = metrics.comparisons(scores, versus=baseline)
    else:
        table = comparisons[comparisons["versus"] == baseline]
    columns = [table[field].tolist() for field in metrics.Comparison.__dataclass_fields__]  # (as itertuples)
    return {(row[0], row[2]): metrics.Comparison(*row) for row in zip(*columns, strict=True)}


def _segment_summary(segments: pd.DataFrame, focal: str) -> pd.DataFrame:
    if segments.empty:
        return pd.DataFrame()
    return metrics.summarise_segments(metrics.segment_scores(segments, focal))
