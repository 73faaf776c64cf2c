"""`market-sim sweep SCENARIO`: run every strategy and replication at every point of a
parameter design (grid, Latin hypercube or table) and report how the best strategy changes."""

from __future__ import annotations

import argparse
import sys
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
    from market_sim.design import Design
    from market_sim.loader import Override
    from market_sim.sweeps import Sweep


def add_parser(subparsers: argparse._SubParsersAction) -> argparse.ArgumentParser:
    parser = subparsers.add_parser(
        "sweep",
        help="run the strategies at every point of a parameter design and report how the best changes",
        description="Points come from one of: --grid (full factorial), --sample with --range (Latin "
        "hypercube), --design (a CSV table whose columns are field paths).",
    )
    parser.add_argument("scenario", type=Path, help="scenario YAML file")
    parser.add_argument(
        "--grid",
        action="append",
        default=[],
        metavar="PATH=V1,V2,...",
        help="values of one field (repeatable)",
    )
    parser.add_argument(
        "--sample", type=positive, metavar="N", help="N Latin hypercube points over the --range"
    )
    parser.add_argument(
        "--range", action="append", default=[], metavar="PATH=LOW:HIGH", help="a sampled field (repeatable)"
    )
    parser.add_argument("--seed", type=natural, help="seed of the --sample design (default 0)")
    parser.add_argument(
        "--design", type=Path, metavar="FILE.csv", help="points as rows, field paths as columns"
    )
    parser.add_argument(
        "--set", type=assignment, action="append", default=[], metavar="PATH=VALUE", help=SET_HELP
    )
    parser.add_argument("--replications", type=positive, help="seeds per strategy at every point")
    parser.add_argument("--out", type=Path, help="sweep folder (default: reports/<scenario>-sweep-<time>)")
    parser.add_argument("--overwrite", action="store_true", help="replace an existing sweep folder")
    parser.add_argument("--resume", action="store_true", help="finish an interrupted sweep in --out")
    parser.add_argument("--workers", type=positive, help=workers_help())
    parser.add_argument(
        "--executor", choices=EXECUTORS, default="local", help="where runs go (default local)"
    )
    parser.add_argument("--scheduler", help="Dask scheduler address for --executor dask")
    parser.add_argument("--time-limit", type=seconds, default=600.0, help="seconds per run (default 600)")
    parser.add_argument("--score", default="profit", help="the score the report optimises (default profit)")
    parser.add_argument(
        "--axes", metavar="PATH[,PATH]", help="swept fields of the report's maps (default: first two)"
    )
    parser.add_argument("--quiet", action="store_true", help="no progress bar")
    return parser


def run(args: argparse.Namespace) -> int:
    """Run every strategy and replication at every point; write results, summary and report."""
    from market_sim import result_folder
    from market_sim import sweeps as sweep
    from market_sim.design import DesignError

    interrupts = Interrupts()
    out = args.out or default_out(args.scenario, "-sweep")
    try:
        plan = _plan(args, out)
        score, axes = _view(args, plan.design)
        if args.resume and out.exists():
            sweep.check_resumable(out, plan)
        elif out.exists() and not args.overwrite:
            raise UsageError(f"--out: {out} already exists (use --resume to finish it, or --overwrite)")
        else:
            if args.resume:
                print(f"--resume: {out} holds nothing yet; starting the sweep", file=sys.stderr)
            if args.overwrite:
                result_folder.check_replaceable(out, args.scenario)
            interrupts.hold()  # the folder is made whole
            sweep.create_folder(out, plan, args.overwrite)
            interrupts.release()
    except (DesignError, sweep.SweepError, result_folder.FolderError) as error:
        raise UsageError(str(error)) from None
    try:
        lost = sweep.run_missing(
            plan, out, args.workers, args.executor, args.scheduler, args.time_limit, progress=not args.quiet
        )
    except KeyboardInterrupt:
        print(
            f"interrupted: the finished chunks are saved in {out}; finish the sweep with: "
            f"sweep {args.scenario} --out {out} --resume",
            file=sys.stderr,
        )
        return 130
    finally:
        interrupts.hold()  # each output file is written whole, whatever signal comes now
    if lost:  # the results wait for them: --resume runs them, and them alone, again
        for text in lost:
            print(f"lost: {text}", file=sys.stderr)
        print(
            f"{len(lost)} runs were lost with their process; the finished runs are saved in {out}; "
            f"run the lost ones again with: sweep {args.scenario} --out {out} --resume",
            file=sys.stderr,
        )
        return 130 if interrupts.received else 1
    failures = sweep.write_outputs(plan, out, score, axes)
    print(f"wrote {out}/results.csv, summary.csv and report.html ({len(plan.scenarios)} points)")
    for failure in failures:
        print(f"failed: {failure}", file=sys.stderr)
    if interrupts.received:
        print(f"interrupted while writing: {out} was written whole first", file=sys.stderr)
        return 130
    return 1 if failures else 0


def _plan(args: argparse.Namespace, out: Path) -> Sweep:
    """The sweep the options describe; on --resume, what they leave out comes from the folder."""
    from market_sim import sweeps as sweep
    from market_sim.design import Design, grid, table_design
    from market_sim.loader import Override

    resumed = sweep.saved_definition(out) if args.resume and out.exists() else None
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
    from market_sim import sweeps as sweep
    from market_sim.design import parse_range

    if args.sample is None:
        raise UsageError("--range: give the number of points with --sample N")
    if not args.range:
        raise UsageError("--sample: give at least one --range PATH=LOW:HIGH")
    ranges = [parse_range(text) for text in args.range]
    return sweep.sample_design(args.scenario, fixed, ranges, args.sample, args.seed or 0)


def _view(args: argparse.Namespace, design: Design) -> tuple[str, list[str]]:
    """The report's score and map axes, checked against the scores and the swept fields."""
    from market_sim import metrics

    if args.score not in metrics.SCORE:
        raise UsageError(f"--score: unknown score {args.score!r}; one of: {', '.join(metrics.SCORE)}")
    axes = [axis.strip() for axis in args.axes.split(",")] if args.axes else list(design.parameters[:2])
    unknown = [axis for axis in axes if axis not in design.parameters]
    if unknown or not 1 <= len(axes) <= 2:
        swept = ", ".join(design.parameters)
        raise UsageError(f"--axes: expected one or two of the swept fields ({swept}), got {args.axes!r}")
    return args.score, axes
