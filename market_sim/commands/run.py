"""`market-sim run SCENARIO`: compare the scenario's strategies on common replications and
write a result folder (tables, manifest, report), or finish an interrupted one (`--resume`)."""

from __future__ import annotations

import argparse
import dataclasses
import re
import sys
import time
from pathlib import Path
from typing import TYPE_CHECKING

from market_sim.commands import UsageError
from market_sim.commands.arguments import (
    SET_HELP,
    assignment,
    default_out,
    interrupt_on_sigterm,
    natural,
    positive,
    seconds,
    workers_help,
)
from market_sim.executors import EXECUTORS

if TYPE_CHECKING:
    from market_sim.experiment import ExperimentResult
    from market_sim.scenario import Scenario
    from market_sim.tables import Tabulated


def add_parser(subparsers: argparse._SubParsersAction) -> argparse.ArgumentParser:
    parser = subparsers.add_parser("run", help="compare the scenario's strategies and write a report")
    parser.add_argument("scenario", type=Path, help="scenario YAML file")
    parser.add_argument("--out", type=Path, help="output folder (default: reports/<scenario>-<time>)")
    parser.add_argument("--replications", type=positive, help="seeds per strategy")
    parser.add_argument("--days", type=positive, help="simulated days")
    parser.add_argument("--seed", type=natural, help="base seed")
    parser.add_argument(
        "--strategies", nargs="+", metavar="NAME", help="only these strategies (names as in the report)"
    )
    parser.add_argument("--workers", type=positive, help=workers_help())
    parser.add_argument("--overwrite", action="store_true", help="replace an existing output folder")
    parser.add_argument("--resume", action="store_true", help="finish an interrupted run in --out")
    parser.add_argument("--time-limit", type=seconds, default=600.0, help="seconds per run (default 600)")
    parser.add_argument(
        "--executor", choices=EXECUTORS, default="local", help="where runs go (default local)"
    )
    parser.add_argument("--scheduler", help="Dask scheduler address for --executor dask")
    parser.add_argument("--quiet", action="store_true", help="no progress bar or ranking table")
    parser.add_argument(
        "--baseline", metavar="NAME", help="compare every strategy with this one (default: the first)"
    )
    parser.add_argument(
        "--set", type=assignment, action="append", default=[], metavar="PATH=VALUE", help=SET_HELP
    )
    return parser


def run(args: argparse.Namespace) -> int:
    import functools

    from tqdm import tqdm

    from market_sim import result_folder, tables
    from market_sim.loader import load_scenario
    from market_sim.runner import comparison_jobs, run_jobs

    scenario = _with_overrides(load_scenario(args.scenario, args.set), args)
    _check_baseline(scenario, args.baseline)
    out = args.out or default_out(args.scenario)
    jobs = comparison_jobs(scenario)
    if args.resume:
        try:
            saved = result_folder.resumable_runs(out, scenario, jobs)
        except result_folder.ResumeError as error:
            raise UsageError(str(error)) from None
        finished = {i: tables.tabulate(scenario, run) for i, run in saved.items()}
    elif out.exists() and not args.overwrite:
        raise UsageError(f"--out: {out} already exists (use --overwrite to replace it, or --resume)")
    else:
        finished = {}

    if scenario.experiment is not None and not args.quiet:  # before anything runs: is the test big enough?
        from market_sim import experiment

        print(experiment.preview_text(experiment.preview(scenario)))
    started = time.perf_counter()
    todo = [i for i in range(len(jobs)) if i not in finished]
    interrupted = False
    interrupt_on_sigterm()
    bar = tqdm(
        total=len(jobs),
        initial=len(finished),
        desc="runs",
        unit="run",
        file=sys.stderr,
        disable=args.quiet,
        delay=1.0,
    )
    try:
        work = run_jobs(
            [jobs[i] for i in todo],
            args.workers,
            args.executor,
            args.scheduler,
            args.time_limit,
            prepare=functools.partial(tables.tabulate, scenario),
        )
        for position, tabulated in work:
            finished[todo[position]] = tabulated
            bar.update()
    except KeyboardInterrupt:
        interrupted = True
    finally:
        bar.close()
    done = [finished[i] for i in sorted(finished)]
    ab_test = None
    if scenario.experiment is not None and not interrupted:
        from market_sim import experiment
        from market_sim.executors import default_workers

        ab_test = experiment.run_experiment(scenario, workers=args.workers or default_workers())
    _write_results(out, scenario, done, args, time.perf_counter() - started, interrupted, ab_test)

    runs = [tabulated.run for tabulated in done]
    if interrupted:
        print(
            f"interrupted: {len(runs)} of {len(jobs)} runs finished and saved in {out}; "
            f"finish them with: run {args.scenario} --out {out} --resume",
            file=sys.stderr,
        )
        return 130
    if not args.quiet:
        from market_sim.report import ranking_text, read_table

        print(ranking_text(read_table(out / "scores.csv"), args.baseline, scenario.focal.name))
    print(f"wrote {out}/report.html")
    failures = [run for run in runs if run.failure]
    for run in failures:
        print(f"failed: {result_folder.failure_text(run)}", file=sys.stderr)
    return 1 if failures else 0


def _write_results(
    out: Path,
    scenario: Scenario,
    done: list[Tabulated],
    args: argparse.Namespace,
    took: float,
    partial: bool,
    ab_test: ExperimentResult | None = None,
) -> None:
    """Write the run folder whole; a partial one also keeps its finished runs for --resume."""
    from market_sim import metrics, result_folder, tables
    from market_sim.executors import default_workers
    from market_sim.loader import scenario_to_yaml
    from market_sim.report import write_report

    runs = [tabulated.run for tabulated in done]
    scores = tables.scores_from_rows(scenario, [t.scores for t in done if t.scores is not None])
    summary = metrics.summarise(scores, args.baseline)

    def fill(folder: Path) -> None:
        result_folder.write_csv(summary, folder / "summary.csv")
        result_folder.write_csv(scores, folder / "scores.csv")
        result_folder.write_csv(metrics.comparisons(scores), folder / "comparisons.csv")
        result_folder.write_csv_parts([t.daily_csv for t in done], folder / "daily.csv")
        result_folder.write_csv_parts([t.segments_csv for t in done], folder / "segments.csv")
        (folder / "scenario.yaml").write_text(scenario_to_yaml(scenario), encoding="utf-8")
        manifest = result_folder.comparison_manifest(
            scenario, runs, args.scenario, args.baseline, took, partial
        )
        result_folder.write_json(manifest, folder / "manifest.json")
        if ab_test is not None:  # the A/B test: read back by the report's experiment section
            result_folder.write_csv(ab_test.table, folder / "experiment.csv")
            result_folder.write_csv(ab_test.summary, folder / "experiment_summary.csv")
            result_folder.write_json(ab_test.preview, folder / "experiment_preview.json")
        write_report(folder, workers=args.workers or default_workers())
        if partial:
            result_folder.keep_runs(folder, scenario, runs)

    result_folder.write_folder(out, fill, overwrite=args.overwrite or args.resume)


def _with_overrides(scenario: Scenario, args: argparse.Namespace) -> Scenario:
    """The scenario with --days, --replications, --seed and --strategies applied."""
    changes = {
        name: getattr(args, name)
        for name in ("days", "replications", "seed")
        if getattr(args, name) is not None
    }
    if args.strategies:
        wanted = [name.strip() for text in args.strategies for name in _split_names(text)]
        known = {spec.name: spec for spec in scenario.strategies}
        unknown = [name for name in wanted if name not in known]
        if unknown:
            raise UsageError(
                f"--strategies: no strategy named {unknown[0]!r}; the scenario has: {', '.join(known)}"
            )
        changes["strategies"] = tuple(known[name] for name in dict.fromkeys(wanted))
    return dataclasses.replace(scenario, **changes)


def _split_names(text: str) -> list[str]:
    """Split on commas outside parentheses: names like `cost_plus(markup=0.6, ending=0.99)`."""
    return [part for part in re.split(r",\s*(?![^()]*\))", text) if part.strip()]


def _check_baseline(scenario: Scenario, baseline: str | None) -> None:
    names = [spec.name for spec in scenario.strategies]
    if baseline is not None and baseline not in names:
        raise UsageError(f"--baseline: no strategy named {baseline!r}; the scenario has: {', '.join(names)}")
