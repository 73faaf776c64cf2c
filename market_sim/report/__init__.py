"""The HTML report: one self-contained file (images embedded) that opens offline, built from a
run folder's saved tables, so `run_sim.py report DIR` rebuilds it at any time.

The names below are loaded when first used: importing `market_sim.report.painters` (which
`run` does before anything heavy, to start its figure processes at once) loads neither pandas
nor matplotlib."""

from __future__ import annotations

import importlib
import os
import sys
import warnings
from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    import pandas as pd

    from market_sim.report.console import ranking_text
    from market_sim.report.data import (
        Results,
        RunFolderError,
        chart_results,
        load_results,
        read_table,
        results_from,
    )
    from market_sim.report.html import load_templates, render_fragment, render_report
    from market_sim.report.painters import Painters
    from market_sim.scenario import Scenario

_EXPORTS = {
    "Painters": "painters",
    "Results": "data",
    "RunFolderError": "data",
    "chart_results": "data",
    "load_results": "data",
    "load_templates": "html",
    "ranking_text": "console",
    "read_table": "data",
    "render_fragment": "html",
    "render_report": "html",
    "results_from": "data",
}

__all__ = [
    "Painters",
    "Results",
    "RunFolderError",
    "chart_results",
    "load_results",
    "load_templates",
    "ranking_text",
    "read_table",
    "render_fragment",
    "render_report",
    "prepare",
    "results_from",
    "write_report",
]


def __getattr__(name: str):
    """Each export from its module, the first time it is used."""
    if name not in _EXPORTS:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    value = getattr(importlib.import_module(f"{__name__}.{_EXPORTS[name]}"), name)
    globals()[name] = value
    return value


def prepare(scenario: Scenario) -> None:
    """Do now what the report of `scenario` needs that depends on nothing else, so that writing
    it after the runs does not wait for it (`run` calls this while its runs go): its templates
    compiled (Jinja2 takes a tenth of a second or two), its closed forms worked out (kept by
    `theory.closed_forms`; seconds for some lessons) and the code of pandas' text columns
    loaded (the first DataFrame of the scores waited for it)."""
    import pandas as pd

    from market_sim.report.html import load_templates
    from market_sim.report.theory import closed_forms

    load_templates()
    closed_forms(scenario)
    pd.DataFrame({"strategy": ["text"]})  # the first text column loads pyarrow's pandas layer (3 ms)


def write_report(
    folder: Path,
    baseline: str | None = None,
    workers: int | Painters = 1,
    scenario: Scenario | None = None,
    daily: pd.DataFrame | None = None,
    segments: pd.DataFrame | None = None,
    results: Results | None = None,
    digests: dict[str, str] | None = None,
) -> Results:
    """Build `folder/report.html` from the run's files (replacing it whole); return what it shows.
    `workers`: processes to draw the figures on, or `Painters` already started.
    `scenario`, `daily`, `segments`: the run's, when the caller holds them (see `load_results`);
    `results`: what the report shows, when the caller made it from the files it wrote;
    `digests`: the checked SHA-256 of the folder's tables, to use the saved figure data (see
    `load_results`)."""
    this = sys.modules[__name__]  # the exports as they are now (loaded on first use; tests replace them)
    if results is None:
        results = this.load_results(folder, baseline, scenario, daily, segments, digests)
    try:
        experiment = ""
        if (folder / "experiment.csv").exists():
            from market_sim.report.experiment import experiment_section

            experiment = experiment_section(folder)
        page = this.render_report(results, workers, experiment, (folder / "report_data.npz").is_file())
    except Exception as error:  # a drawing bug must not cost a finished run its data
        warnings.warn(f"report.html holds the ranking only: the report failed ({error!r})", stacklevel=2)
        page = _ranking_only(results, error)
    partial = folder / ".report.html.tmp"
    partial.write_text(page, encoding="utf-8")
    os.replace(partial, folder / "report.html")
    return results


def _ranking_only(results: Results, error: Exception) -> str:
    """The page written when the full report cannot be drawn: the ranking as text, and why."""
    from market_sim.report.console import ranking_text
    from market_sim.report.template import render

    return render(
        "ranking_only.html",
        name=results.scenario.name,
        error=repr(error),
        ranking=ranking_text(results.scores, results.baseline, results.focal, results.benchmarks),
        failures=[str(failure) for failure in results.manifest.get("failures", [])],
    )
