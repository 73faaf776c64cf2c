"""`market-sim run SCENARIO`: compare the scenario's strategies on common replications and
write a result folder (tables, manifest, report), or finish an interrupted one (`--resume`)."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from market_sim import loading
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


def add_parser(subparsers: argparse._SubParsersAction) -> argparse.ArgumentParser:
    parser = subparsers.add_parser("run", help="compare the scenario's strategies and write a report")
    parser.add_argument("scenario", type=Path, help="scenario YAML file")
    parser.add_argument("--out", type=Path, help="output folder (default: reports/<scenario>-<time>)")
    parser.add_argument("--replications", type=positive, help="seeds per strategy")
    parser.add_argument("--days", type=positive, help="simulated days")
    parser.add_argument("--seed", type=natural, help="base seed")
    parser.add_argument(
        "--strategies",
        nargs="+",
        metavar="NAME",
        help="only these strategies: each argument one name as in the report, or a built-in kind",
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
        "--baseline",
        metavar="NAME",
        help="compare every strategy with this one (default: the first that is not a benchmark)",
    )
    parser.add_argument(
        "--set", type=assignment, action="append", default=[], metavar="PATH=VALUE", help=SET_HELP
    )
    parser.add_argument(
        "--log-offers",
        nargs="?",
        const="csv",
        choices=("csv", "parquet"),
        help="also write every offer shown (shopper × seller × day: observable features, price, "
        "bought) to offers.csv, or offers.parquet (needs pyarrow)",
    )
    return parser


def run(args: argparse.Namespace) -> int:
    import contextlib

    from market_sim import api
    from market_sim.executors import default_workers
    from market_sim.loader import load_scenario
    from market_sim.report.painters import Painters  # imports neither pandas nor matplotlib

    interrupts = Interrupts()
    scenario = api.with_options(
        load_scenario(args.scenario, args.set),
        args.strategies,  # each argument is one name: names may hold commas
        args.replications,
        args.days,
        args.seed,
        prefix="--",
    )
    api.check_baseline(scenario, args.baseline, "--baseline")
    if args.log_offers == "parquet":
        try:
            api.offers_format(args.log_offers)
        except api.OptionError:
            raise UsageError("--log-offers parquet needs pyarrow: pip install pyarrow") from None
    with contextlib.ExitStack() as stack:
        painters, drawing = None, args.workers or default_workers()
        if drawing > 1:  # started before this process loads the engine: on the other core
            # meanwhile, they load matplotlib and make the blank figures of the report
            with loading.libraries():  # pandas and the report's data: they have it
                import market_sim.report.data  # noqa: F401

            painters = stack.enter_context(Painters(drawing))
            limited = not scenario.focal.inventory.unlimited
            painters.expect(len(scenario.strategies), len(scenario.consumers.segments), limited)
        return _run(args, scenario, interrupts, painters)


def _run(args: argparse.Namespace, scenario, interrupts: Interrupts, painters) -> int:
    """`run` once the scenario is checked and the figure processes (`painters`, or None) started."""
    import functools
    import time

    with loading.libraries():  # the engine: Mesa, numba's kernels
        from market_sim import api, result_folder, tables
        from market_sim.report import prepare
        from market_sim.runner import comparison_jobs

    out = args.out or default_out(args.scenario)
    jobs = comparison_jobs(scenario, log_offers=bool(args.log_offers))
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

    if scenario.experiment is not None and not args.quiet:  # before anything runs: is the test big enough?
        print(api.experiment_preview(scenario))
    began = getattr(args, "started", None)  # when cli.main began (absent if called otherwise)
    starting = None if began is None else time.perf_counter() - began
    done, took, interrupted = api.run_comparison(
        scenario,
        args.workers,
        args.executor,
        args.scheduler,
        args.time_limit,
        progress=not args.quiet,
        finished=finished,
        log_offers=bool(args.log_offers),
        stopping=interrupts.hold,  # what finished is written whole, whatever signal comes now
        meanwhile=functools.partial(prepare, scenario),  # the report's templates and closed forms
    )
    ran = time.perf_counter()
    lost = [tabulated.run for tabulated in done if tabulated.run.lost]
    ab_test = None if interrupted else api.ab_test(scenario, args.workers)
    ranking: list[str] = []  # made while the figures are drawn, from the scores as scores.csv reads

    def rank(shown) -> None:
        from market_sim import metrics
        from market_sim.report import ranking_text

        benchmarks = metrics.benchmarks(scenario.strategies)
        ranking.append(ranking_text(shown.scores, args.baseline, scenario.focal.name, benchmarks))

    try:
        api.write_run_folder(
            out,
            scenario,
            done,
            args.scenario,
            args.baseline,
            took,
            partial=interrupted or bool(lost),  # a run lost with its process can be run again
            workers=args.workers,
            overwrite=args.overwrite or (args.resume and out.exists()),
            offers=args.log_offers,
            ab_test=ab_test,
            painters=painters,
            timings=result_folder.Timings(starting, took, ran),
            meanwhile=None if interrupted or args.quiet else rank,
        )
    except result_folder.FolderError as error:
        raise UsageError(str(error)) from None
    if painters is not None:
        painters.close()  # their work is done

    runs = [tabulated.run for tabulated in done]
    if interrupted:
        print(
            f"interrupted: {len(runs)} of {len(jobs)} runs finished and saved in {out}; "
            f"finish them with: run {args.scenario} --out {out} --resume",
            file=sys.stderr,
        )
        return 130
    if ranking:
        print(ranking[0])
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
