"""`market-sim tournament FOLDER --scenario FILE`: every `*.py` in FOLDER takes a seat in the
scenario's market, each in its own process; writes leaderboard.csv, matches.csv, report.html."""

from __future__ import annotations

import argparse
import dataclasses
import datetime as dt
import sys
from pathlib import Path

from market_sim.commands import UsageError
from market_sim.commands.arguments import natural, positive, seconds, slug

MiB = 1 << 20


def add_parser(subparsers: argparse._SubParsersAction) -> argparse.ArgumentParser:
    parser = subparsers.add_parser(
        "tournament", help="play students' strategy files against each other and rank them"
    )
    parser.add_argument("folder", type=Path, help="a folder of strategy files, one entrant per *.py")
    parser.add_argument("--scenario", type=Path, required=True, help="the market (its sellers are the seats)")
    parser.add_argument(
        "--out", type=Path, help="output folder (default: reports/tournament-<folder>-<time>)"
    )
    parser.add_argument("--overwrite", action="store_true", help="replace an existing output folder")
    parser.add_argument(
        "--house", metavar="NAME", help="the house strategy entrants are compared with (default: the first)"
    )
    parser.add_argument("--replications", type=positive, help="replications (default: the scenario's)")
    parser.add_argument("--seed", type=natural, help="base seed (default: the scenario's)")
    parser.add_argument(
        "--time-limit", type=seconds, default=2.0, help="seconds per decision of an entrant (default 2)"
    )
    parser.add_argument(
        "--memory-limit", type=positive, default=1024, metavar="MIB", help="memory per entrant (default 1024)"
    )
    return parser


def run(args: argparse.Namespace) -> int:
    from tqdm import tqdm

    from market_sim.loader import load_scenario
    from market_sim.tournament import HouseFailure, Limits, run_tournament

    scenario = load_scenario(args.scenario)
    if not args.folder.is_dir():
        raise UsageError(f"FOLDER: {args.folder} is not a folder")
    if not any(args.folder.glob("*.py")):
        raise UsageError(f"FOLDER: {args.folder} holds no *.py strategy files")
    changes = {"replications": args.replications, "seed": args.seed}
    scenario = dataclasses.replace(scenario, **{k: v for k, v in changes.items() if v is not None})
    house = scenario.strategies[0]
    if args.house is not None:
        named = {spec.name: spec for spec in scenario.strategies}
        if args.house not in named:
            raise UsageError(
                f"--house: no strategy named {args.house!r}; the scenario has: {', '.join(named)}"
            )
        house = named[args.house]
    stamp = f"{dt.datetime.now():%Y%m%d-%H%M%S}"
    out = args.out or Path("reports") / f"tournament-{slug(args.folder.name)}-{stamp}"
    if out.exists() and not args.overwrite:
        raise UsageError(f"--out: {out} already exists (use --overwrite to replace it)")
    limits = Limits(seconds=args.time_limit, memory=args.memory_limit * MiB)
    with tqdm(desc="matches", unit="match", leave=False) as bar:

        def progress(done: int, total: int) -> None:
            bar.total, bar.n = total, done
            bar.refresh()

        try:
            board = run_tournament(args.folder, scenario, out, house, limits, args.overwrite, progress)
        except HouseFailure as error:
            print(f"error: {error}", file=sys.stderr)
            return 1
    for row in board.itertuples():
        if row.status == "ranked":
            profit, versus = f"{row.profit_mean:12,.2f}", f"{row.vs_house_mean:+,.2f}"
            print(f"{row.rank:>3}. {row.entrant:<24} profit {profit}   vs house {versus}")
        else:
            print(f"  -  {row.entrant:<24} disqualified: {row.reason}")
    print(f"wrote {out}/leaderboard.csv and report.html")
    return 0
