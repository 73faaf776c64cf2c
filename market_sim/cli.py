"""The command line: `run_sim.py run SCENARIO`, `run_sim.py validate SCENARIO`.

Exit status: 0 success, 2 invalid input (scenario or arguments), 1 anything else (including
a strategy that failed; the other strategies' results are still written).
"""

from __future__ import annotations

import argparse
import dataclasses
import datetime as dt
import re
import signal
import sys
import time
from pathlib import Path

from tqdm import tqdm

from market_sim import metrics, output, store, tables
from market_sim.loader import ScenarioError, load_scenario, scenario_to_yaml
from market_sim.report import render_report
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
    run.set_defaults(command=_run)

    validate = commands.add_parser("validate", help="check a scenario file and list its strategies")
    validate.add_argument("scenario", type=Path)
    validate.set_defaults(command=_validate)
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
    scenario = _with_overrides(load_scenario(args.scenario), args)
    out = args.out or Path("reports") / f"{_slug(args.scenario.stem)}-{dt.datetime.now():%Y%m%d-%H%M%S}"
    jobs = comparison_jobs(scenario)
    if args.resume:
        finished = _resumable_runs(out, scenario, jobs)
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
        work = run_jobs([jobs[i] for i in todo], args.workers, args.executor, args.scheduler, args.time_limit)
        for position, run in work:
            finished[todo[position]] = run
            bar.update()
    except KeyboardInterrupt:
        interrupted = True
    finally:
        bar.close()
    runs = [finished[i] for i in sorted(finished)]
    seconds = time.perf_counter() - started
    _write_results(out, scenario, runs, args, seconds, partial=interrupted)

    failures = [run for run in runs if run.failure]
    if interrupted:
        print(
            f"interrupted: {len(runs)} of {len(jobs)} runs finished and saved in {out}; "
            f"finish them with: run {args.scenario} --out {out} --resume",
            file=sys.stderr,
        )
        return 130
    if not args.quiet:
        _print_ranking(metrics.summarise(tables.scores_table(scenario, runs)))
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
    out: Path, scenario: Scenario, runs: list[Run], args: argparse.Namespace, seconds: float, partial: bool
) -> None:
    """Write the run folder whole; a partial one also keeps its finished runs for --resume."""
    failures = [_failure_text(run) for run in runs if run.failure]
    daily = tables.daily_table(scenario, runs)
    summary = metrics.summarise(tables.scores_table(scenario, runs))

    def fill(folder: Path) -> None:
        output.write_csv(summary, folder / "summary.csv")
        output.write_csv(daily, folder / "daily.csv")
        output.write_csv(tables.segments_table(scenario, runs), folder / "segments.csv")
        (folder / "scenario.yaml").write_text(scenario_to_yaml(scenario), encoding="utf-8")
        manifest = _manifest(args, scenario, runs, seconds, failures, partial)
        output.write_json(manifest, folder / "manifest.json")
        (folder / "report.html").write_text(
            render_report(scenario, summary, daily, failures), encoding="utf-8"
        )
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
    return re.sub(r"[^A-Za-z0-9]+", "-", text).strip("-")[:60] or "run"


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
        "random_streams": "default_rng([seed, replication, purpose, day]), purposes in market_sim.streams",
        "versions": output.versions(),
        "created": dt.datetime.now(dt.UTC).isoformat(timespec="seconds"),
        "seconds": round(seconds, 3),
        "run_seconds": {f"{run.strategy}#{run.replication}": round(run.seconds, 4) for run in runs},
        "failures": failures,
    }


def _print_ranking(summary) -> None:
    if summary.empty:
        return
    ranked = summary.sort_values("profit_mean", ascending=False, kind="stable")
    width = max(len(str(name)) for name in ranked["strategy"])
    print(f"{'strategy':<{width}}  {'profit (95% CI)':>34}  {'units':>10}  {'avg price':>9}")
    for _, row in ranked.iterrows():
        interval = f"{row['profit_mean']:,.2f} [{row['profit_ci_low']:,.2f}, {row['profit_ci_high']:,.2f}]"
        units, price = row["units_mean"], row["avg_price_paid_mean"]
        print(f"{row['strategy']:<{width}}  {interval:>34}  {units:>10,.1f}  {price:>9.3f}")
