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
    Interrupts,
    assignment,
    default_out,
    natural,
    positive,
    seconds,
    workers_help,
)
from market_sim.executors import EXECUTORS

if TYPE_CHECKING:
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
    import contextlib
    import functools

    from tqdm import tqdm

    from market_sim import result_folder, tables
    from market_sim.runner import comparison_jobs, run_jobs

    interrupts = Interrupts()
    scenario = _scenario(args)
    _check_baseline(scenario, args.baseline)
    out = args.out or default_out(args.scenario)
    jobs = comparison_jobs(scenario)
    try:
        if args.resume:
            resumable = result_folder.resumable_runs(out, scenario, jobs)
            if _complete(out):
                print(f"{out} is complete: nothing to resume")
                return 0
            _say_what_resumes(out, resumable)
            finished = {i: tables.tabulate(scenario, run) for i, run in resumable.runs.items()}
        elif out.exists() and not args.overwrite:
            raise UsageError(f"--out: {out} already exists (use --overwrite to replace it, or --resume)")
        else:
            if args.overwrite:
                result_folder.check_replaceable(out, args.scenario)
            finished = {}
    except (result_folder.ResumeError, result_folder.FolderError) as error:
        raise UsageError(str(error)) from None

    started = time.perf_counter()
    todo = [i for i in range(len(jobs)) if i not in finished]
    interrupted = False
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
        with contextlib.closing(work):  # ends the workers at once when interrupted
            for position, tabulated in work:
                finished[todo[position]] = tabulated
                bar.update()
    except KeyboardInterrupt:
        interrupted = True
    finally:
        interrupts.hold()  # what finished is written whole, whatever signal comes now
        bar.close()
    done = [finished[i] for i in sorted(finished)]
    lost = [tabulated.run for tabulated in done if tabulated.run.lost]
    try:
        partial = interrupted or bool(lost)  # a run lost with its process can be run again
        _write_results(out, scenario, done, args, time.perf_counter() - started, partial)
    except result_folder.FolderError as error:
        raise UsageError(str(error)) from None

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
    if lost:
        print(
            f"{len(lost)} runs were lost with their process; run them again with: "
            f"run {args.scenario} --out {out} --resume",
            file=sys.stderr,
        )
    if interrupts.received:
        print(f"interrupted while writing: {out} was written whole first", file=sys.stderr)
        return 130
    return 1 if failures else 0


def _complete(out: Path) -> bool:
    """Whether `out` is a whole result folder (its manifest says it is not partial)."""
    import json

    try:
        return json.loads((out / "manifest.json").read_text(encoding="utf-8")).get("partial") is False
    except (OSError, ValueError, AttributeError):
        return False


def _say_what_resumes(out: Path, resumable) -> None:
    if not out.exists():
        print(f"--resume: {out} holds nothing yet; starting the run", file=sys.stderr)
    for what in resumable.redone:
        print(f"--resume: running again {what}", file=sys.stderr)


def _write_results(
    out: Path, scenario: Scenario, done: list[Tabulated], args: argparse.Namespace, took: float, partial: bool
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
        result_folder.write_json(result_folder.record_tables(folder, manifest), folder / "manifest.json")
        write_report(folder, workers=args.workers or default_workers())
        if partial:
            result_folder.keep_runs(folder, scenario, runs)

    result_folder.write_folder(out, fill, overwrite=args.overwrite or (args.resume and out.exists()))


def _scenario(args: argparse.Namespace) -> Scenario:
    """The scenario file with --set, --days, --replications and --seed applied as overrides (so
    they are held to the file's limits, named by their option), then --strategies."""
    from market_sim.loader import Override, load_scenario

    options = [
        Override(name, str(getattr(args, name)), f"--{name}")
        for name in ("days", "replications", "seed")
        if getattr(args, name) is not None
    ]
    scenario = load_scenario(args.scenario, [*args.set, *options])
    if args.strategies is None:
        return scenario
    wanted = [name.strip() for text in args.strategies for name in _split_names(text)]
    known = {spec.name: spec for spec in scenario.strategies}
    if not wanted:
        raise UsageError(
            f"--strategies: give at least one strategy name; the scenario has: {', '.join(known)}"
        )
    unknown = [name for name in wanted if name not in known]
    if unknown:
        raise UsageError(
            f"--strategies: no strategy named {unknown[0]!r}; the scenario has: {', '.join(known)}"
        )
    return dataclasses.replace(scenario, strategies=tuple(known[name] for name in dict.fromkeys(wanted)))


def _split_names(text: str) -> list[str]:
    """Split on commas outside parentheses: names like `cost_plus(markup=0.6, ending=0.99)`."""
    return [part for part in re.split(r",\s*(?![^()]*\))", text) if part.strip()]


def _check_baseline(scenario: Scenario, baseline: str | None) -> None:
    names = [spec.name for spec in scenario.strategies]
    if baseline is not None and baseline not in names:
        raise UsageError(f"--baseline: no strategy named {baseline!r}; the scenario has: {', '.join(names)}")
