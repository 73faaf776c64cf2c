"""The command line: `run_sim.py run SCENARIO`, `run_sim.py validate SCENARIO`, `run_sim.py report DIR`.

Exit status: 0 success, 2 invalid input (scenario or arguments), 1 anything else (including
a strategy that failed; the other strategies' results are still written).
"""

from __future__ import annotations

import argparse
import dataclasses
import datetime as dt
import functools
import re
import signal
import sys
import time
from pathlib import Path

from tqdm import tqdm

from market_sim import metrics, output, store, sweep, tables
from market_sim.commands import estimate as estimate_command
from market_sim.commands import history as history_command
from market_sim.design import Design, DesignError, grid, parse_range, table_design
from market_sim.loader import Override, ScenarioError, load_scenario, scenario_to_yaml
from market_sim.report import RunFolderError, ranking_text, read_table, write_report
from market_sim.runner import EXECUTORS, Job, Run, comparison_jobs, default_workers, run_jobs
from market_sim.scenario import Scenario

INVALID_INPUT = 2
RUNS_FOLDER = "runs"  # finished runs of an interrupted comparison, for --resume


class UsageError(Exception):
    """Invalid command-line arguments (exit status 2)."""


def main(argv: list[str] | None = None) -> int:
    parser = _parser()
    args = parser.parse_args(argv)
    try:
        return args.command(args)
    except (ScenarioError, UsageError, FileExistsError) as error:
        print(f"error: {error}", file=sys.stderr)
        return INVALID_INPUT
    except KeyboardInterrupt:
        print("interrupted", file=sys.stderr)
        return 130


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="market-sim", description="Agent-based market simulator and pricing-strategy backtester."
    )
    commands = parser.add_subparsers(required=True, metavar="COMMAND")

    run = commands.add_parser("run", help="compare the scenario's strategies and write a report")
    run.add_argument("scenario", type=Path, help="scenario YAML file")
    run.add_argument("--out", type=Path, help="output folder (default: reports/<scenario>-<time>)")
    run.add_argument("--replications", type=_positive, help="seeds per strategy")
    run.add_argument("--days", type=_positive, help="simulated days")
    run.add_argument("--seed", type=_natural, help="base seed")
    run.add_argument(
        "--strategies", nargs="+", metavar="NAME", help="only these strategies (names as in the report)"
    )
    run.add_argument(
        "--workers", type=_positive, help=f"processes (default: all cores, here {default_workers()})"
    )
    run.add_argument("--overwrite", action="store_true", help="replace an existing output folder")
    run.add_argument("--resume", action="store_true", help="finish an interrupted run in --out")
    run.add_argument("--time-limit", type=_seconds, default=600.0, help="seconds per run (default 600)")
    run.add_argument("--executor", choices=EXECUTORS, default="local", help="where runs go (default local)")
    run.add_argument("--scheduler", help="Dask scheduler address for --executor dask")
    run.add_argument("--quiet", action="store_true", help="no progress bar or ranking table")
    run.add_argument(
        "--baseline", metavar="NAME", help="compare every strategy with this one (default: the first)"
    )
    run.add_argument(
        "--set", type=_assignment, action="append", default=[], metavar="PATH=VALUE", help=SET_HELP
    )
    run.set_defaults(command=_run)
    _add_sweep_command(commands)
    estimate_command.add_parser(commands)
    history_command.add_parser(commands)

    validate = commands.add_parser("validate", help="check a scenario file and list its strategies")
    validate.add_argument("scenario", type=Path)
    validate.set_defaults(command=_validate)

    report = commands.add_parser("report", help="rebuild report.html from a run folder's saved results")
    report.add_argument("folder", type=Path, help="a folder written by `run`")
    report.add_argument("--baseline", metavar="NAME", help="compare every strategy with this one")
    report.add_argument("--quiet", action="store_true", help="no ranking table")
    report.set_defaults(command=_report)
    return parser


def _positive(text: str) -> int:
    value = _natural(text)
    if value < 1:
        raise argparse.ArgumentTypeError(f"must be at least 1, got {text!r}")
    return value


def _seconds(text: str) -> float:
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"must be a number of seconds, got {text!r}") from None
    if not value > 0 or value == float("inf"):
        raise argparse.ArgumentTypeError(f"must be a positive number of seconds, got {text!r}")
    return value


def _natural(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"must be a whole number, got {text!r}") from None
    if value < 0:
        raise argparse.ArgumentTypeError(f"must not be negative, got {text!r}")
    return value


def _validate(args: argparse.Namespace) -> int:
    scenario = load_scenario(args.scenario)
    print(
        f"{args.scenario}: ok: {scenario.name!r}, {scenario.days} days, {len(scenario.sellers)} sellers, "
        f"{scenario.consumers.population} consumers"
    )
    for spec in scenario.strategies:
        print(f"  strategy: {spec.name}")
    return 0


def _run(args: argparse.Namespace) -> int:
    scenario = _with_overrides(load_scenario(args.scenario, args.set), args)
    _check_baseline(scenario, args.baseline)
    out = args.out or Path("reports") / f"{_slug(args.scenario.stem)}-{dt.datetime.now():%Y%m%d-%H%M%S}"
    jobs = comparison_jobs(scenario)
    if args.resume:
        finished = {
            i: tables.tabulate(scenario, run) for i, run in _resumable_runs(out, scenario, jobs).items()
        }
    elif out.exists() and not args.overwrite:
        raise UsageError(f"--out: {out} already exists (use --overwrite to replace it, or --resume)")
    else:
        finished = {}

    started = time.perf_counter()
    todo = [i for i in range(len(jobs)) if i not in finished]
    interrupted = False
    signal.signal(signal.SIGTERM, _interrupt)
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

        ab_test = experiment.run_experiment(scenario)
        if not args.quiet:
            print(experiment.preview_text(ab_test.preview))
    seconds = time.perf_counter() - started
    _write_results(out, scenario, done, args, seconds, partial=interrupted, ab_test=ab_test)

    runs = [tabulated.run for tabulated in done]
    failures = [run for run in runs if run.failure]
    if interrupted:
        print(
            f"interrupted: {len(runs)} of {len(jobs)} runs finished and saved in {out}; "
            f"finish them with: run {args.scenario} --out {out} --resume",
            file=sys.stderr,
        )
        return 130
    if not args.quiet:
        _print_ranking(out, scenario.focal.name, args.baseline)
    print(f"wrote {out}/report.html")
    for run in failures:
        print(f"failed: {_failure_text(run)}", file=sys.stderr)
    return 1 if failures else 0


def _interrupt(signum, frame) -> None:
    raise KeyboardInterrupt


def _failure_text(run: Run) -> str:
    return f"{run.strategy}, replication {run.replication}: {run.failure}"


def _resumable_runs(out: Path, scenario: Scenario, jobs: list[Job]) -> dict[int, Run]:
    """The finished runs saved in an interrupted run's folder, by job position."""
    if not (out / "manifest.json").exists():
        raise UsageError(f"--resume: {out} holds no results to resume")
    if (out / "scenario.yaml").read_text(encoding="utf-8") != scenario_to_yaml(scenario):
        raise UsageError(f"--resume: {out} was made from a different scenario or different options")
    position = {(scenario.strategies[job.strategy].name, job.replication): i for i, job in enumerate(jobs)}
    runs = [store.load_run(path) for path in sorted((out / RUNS_FOLDER).glob("*.npz"))]
    return {position[(run.strategy, run.replication)]: run for run in runs}


def _write_results(
    out: Path,
    scenario: Scenario,
    done: list[tables.Tabulated],
    args: argparse.Namespace,
    seconds: float,
    partial: bool,
    ab_test=None,
) -> None:
    """Write the run folder whole; a partial one also keeps its finished runs for --resume."""
    runs = [tabulated.run for tabulated in done]
    failures = [_failure_text(run) for run in runs if run.failure]
    scores = tables.scores_from_rows(scenario, [t.scores for t in done if t.scores is not None])
    summary = metrics.summarise(scores, args.baseline)

    def fill(folder: Path) -> None:
        output.write_csv(summary, folder / "summary.csv")
        output.write_csv(scores, folder / "scores.csv")
        output.write_csv(metrics.comparisons(scores), folder / "comparisons.csv")
        output.write_csv_parts([t.daily_csv for t in done], folder / "daily.csv")
        output.write_csv_parts([t.segments_csv for t in done], folder / "segments.csv")
        (folder / "scenario.yaml").write_text(scenario_to_yaml(scenario), encoding="utf-8")
        manifest = _manifest(args, scenario, runs, seconds, failures, partial)
        output.write_json(manifest, folder / "manifest.json")
        if ab_test is not None:
            from market_sim import experiment

            experiment.write_files(folder, ab_test)
        write_report(folder, workers=args.workers or default_workers())
        if partial:
            (folder / RUNS_FOLDER).mkdir()
            order = {spec.name: i for i, spec in enumerate(scenario.strategies)}
            for run in runs:
                store.save_run(
                    store.run_file(folder / RUNS_FOLDER, order[run.strategy], run.replication), run
                )

    output.write_folder(out, fill, overwrite=args.overwrite or args.resume)


def _with_overrides(scenario: Scenario, args: argparse.Namespace) -> Scenario:
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


def _slug(text: str) -> str:
    return re.sub(r"[^A-Za-z0-9_]+", "-", text).strip("-_")[:60] or "run"


def _manifest(
    args: argparse.Namespace,
    scenario: Scenario,
    runs: list[Run],
    seconds: float,
    failures: list[str],
    partial: bool,
) -> dict:
    return {
        "scenario": scenario.name,
        "partial": partial,
        "runs_finished": len(runs),
        "runs_planned": len(scenario.strategies) * scenario.replications,
        "source": str(args.scenario),
        "seed": scenario.seed,
        "replications": scenario.replications,
        "days": scenario.days,
        "strategies": [spec.name for spec in scenario.strategies],
        "baseline": args.baseline or scenario.strategies[0].name,
        "random_streams": "PCG64 per (seed, replication, purpose), jumped per day (market_sim.streams)",
        "versions": output.versions(),
        "created": dt.datetime.now(dt.UTC).isoformat(timespec="seconds"),
        "seconds": round(seconds, 3),
        "run_seconds": {f"{run.strategy}#{run.replication}": round(run.seconds, 4) for run in runs},
        "failures": failures,
    }


def _check_baseline(scenario: Scenario, baseline: str | None) -> None:
    names = [spec.name for spec in scenario.strategies]
    if baseline is not None and baseline not in names:
        raise UsageError(f"--baseline: no strategy named {baseline!r}; the scenario has: {', '.join(names)}")


def _report(args: argparse.Namespace) -> int:
    try:
        results = write_report(args.folder, args.baseline, default_workers())
    except RunFolderError as error:
        raise UsageError(str(error)) from None
    if not args.quiet:
        print(ranking_text(results.scores, results.baseline, results.focal))
    print(f"wrote {args.folder}/report.html")
    return 0


def _print_ranking(out: Path, focal: str, baseline: str | None) -> None:
    print(ranking_text(read_table(out / "scores.csv"), baseline, focal))


# --- overrides and sweeps -----------------------------------------------------------------

SET_HELP = "change one field of the scenario, e.g. consumers.segments[0].wtp.mean=50 (repeatable)"


def _add_sweep_command(commands: argparse._SubParsersAction) -> None:
    command = commands.add_parser(
        "sweep",
        help="run the strategies at every point of a parameter design and report how the best changes",
        description="Points come from one of: --grid (full factorial), --sample with --range (Latin "
        "hypercube), --design (a CSV table whose columns are field paths).",
    )
    command.add_argument("scenario", type=Path, help="scenario YAML file")
    command.add_argument(
        "--grid",
        action="append",
        default=[],
        metavar="PATH=V1,V2,...",
        help="values of one field (repeatable)",
    )
    command.add_argument(
        "--sample", type=_positive, metavar="N", help="N Latin hypercube points over the --range"
    )
    command.add_argument(
        "--range", action="append", default=[], metavar="PATH=LOW:HIGH", help="a sampled field (repeatable)"
    )
    command.add_argument("--seed", type=_natural, help="seed of the --sample design (default 0)")
    command.add_argument(
        "--design", type=Path, metavar="FILE.csv", help="points as rows, field paths as columns"
    )
    command.add_argument(
        "--set", type=_assignment, action="append", default=[], metavar="PATH=VALUE", help=SET_HELP
    )
    command.add_argument("--replications", type=_positive, help="seeds per strategy at every point")
    command.add_argument("--out", type=Path, help="sweep folder (default: reports/<scenario>-sweep-<time>)")
    command.add_argument("--overwrite", action="store_true", help="replace an existing sweep folder")
    command.add_argument("--resume", action="store_true", help="finish an interrupted sweep in --out")
    command.add_argument(
        "--workers", type=_positive, help=f"processes (default: all cores, here {default_workers()})"
    )
    command.add_argument(
        "--executor", choices=EXECUTORS, default="local", help="where runs go (default local)"
    )
    command.add_argument("--scheduler", help="Dask scheduler address for --executor dask")
    command.add_argument("--time-limit", type=_seconds, default=600.0, help="seconds per run (default 600)")
    command.add_argument("--score", default="profit", help="the score the report optimises (default profit)")
    command.add_argument(
        "--axes", metavar="PATH[,PATH]", help="swept fields of the report's maps (default: first two)"
    )
    command.add_argument("--quiet", action="store_true", help="no progress bar")
    command.set_defaults(command=_sweep)


def _assignment(text: str) -> Override:
    path, equals, value = text.partition("=")
    if not equals or not path.strip():
        raise argparse.ArgumentTypeError(f"expected PATH=VALUE, got {text!r}")
    return Override(path.strip(), value.strip(), "--set")


def _sweep(args: argparse.Namespace) -> int:
    """Run every strategy and replication at every point; write results, summary and report."""
    out = args.out or Path("reports") / f"{_slug(args.scenario.stem)}-sweep-{dt.datetime.now():%Y%m%d-%H%M%S}"
    try:
        plan = _sweep_plan(args, out)
        score, axes = _sweep_view(args, plan.design)
        if args.resume:
            sweep.check_resumable(out, plan)
        elif out.exists() and not args.overwrite:
            raise UsageError(f"--out: {out} already exists (use --resume to finish it, or --overwrite)")
        else:
            sweep.create_folder(out, plan, args.overwrite)
    except (DesignError, sweep.SweepError) as error:
        raise UsageError(str(error)) from None
    signal.signal(signal.SIGTERM, _interrupt)
    try:
        sweep.run_missing(
            plan, out, args.workers, args.executor, args.scheduler, args.time_limit, progress=not args.quiet
        )
    except KeyboardInterrupt:
        print(
            f"interrupted: the finished chunks are saved in {out}; finish the sweep with: "
            f"sweep {args.scenario} --out {out} --resume",
            file=sys.stderr,
        )
        return 130
    failures = sweep.write_outputs(plan, out, score, axes)
    print(f"wrote {out}/results.csv, summary.csv and report.html ({len(plan.scenarios)} points)")
    for failure in failures:
        print(f"failed: {failure}", file=sys.stderr)
    return 1 if failures else 0


def _sweep_plan(args: argparse.Namespace, out: Path) -> sweep.Sweep:
    """The sweep the options describe; on --resume, what they leave out comes from the folder."""
    resumed = sweep.saved_definition(out) if args.resume else None
    fixed = [*args.set]
    if args.replications is not None:
        fixed.append(Override("replications", str(args.replications), "--replications"))
    if resumed and not fixed:
        fixed = [Override(*override) for override in resumed["fixed"]]
    kinds = [
        option
        for option, given in (
            ("--grid", args.grid),
            ("--sample", args.sample or args.range),
            ("--design", args.design),
        )
        if given
    ]
    if len(kinds) > 1:
        raise UsageError(f"{kinds[0]} and {kinds[1]} cannot be combined: a sweep has one kind of design")
    if args.seed is not None and args.sample is None:
        raise UsageError("--seed: seeds the --sample design; to change the scenario's seed use --set seed=N")
    if args.grid:
        design = grid(args.grid)
    elif args.sample or args.range:
        design = _sample(args, fixed)
    elif args.design:
        design = table_design(args.design)
    elif resumed:
        design = Design.from_json(resumed["design"])
    else:
        raise UsageError(
            "no points to run: give --grid PATH=V1,V2,..., --sample N with --range PATH=LOW:HIGH, "
            "or --design FILE.csv"
        )
    return sweep.prepare(args.scenario, fixed, design)


def _sample(args: argparse.Namespace, fixed: list[Override]) -> Design:
    if args.sample is None:
        raise UsageError("--range: give the number of points with --sample N")
    if not args.range:
        raise UsageError("--sample: give at least one --range PATH=LOW:HIGH")
    ranges = [parse_range(text) for text in args.range]
    return sweep.sample_design(args.scenario, fixed, ranges, args.sample, args.seed or 0)


def _sweep_view(args: argparse.Namespace, design: Design) -> tuple[str, list[str]]:
    """The report's score and map axes, checked against the scores and the swept fields."""
    if args.score not in metrics.SCORE:
        raise UsageError(f"--score: unknown score {args.score!r}; one of: {', '.join(metrics.SCORE)}")
    axes = [axis.strip() for axis in args.axes.split(",")] if args.axes else list(design.parameters[:2])
    unknown = [axis for axis in axes if axis not in design.parameters]
    if unknown or not 1 <= len(axes) <= 2:
        swept = ", ".join(design.parameters)
        raise UsageError(f"--axes: expected one or two of the swept fields ({swept}), got {args.axes!r}")
    return args.score, axes
