"""`market-sim validate SCENARIO`: check a scenario file and list its strategies."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path


def add_parser(subparsers: argparse._SubParsersAction) -> argparse.ArgumentParser:
    parser = subparsers.add_parser("validate", help="check a scenario file and list its strategies")
    parser.add_argument("scenario", type=Path)
    return parser


def run(args: argparse.Namespace) -> int:
    from market_sim.loader import load_scenario

    scenario = load_scenario(args.scenario)
    print(
        f"{args.scenario}: ok: {scenario.name!r}, {scenario.days} days, {len(scenario.sellers)} sellers, "
        f"{scenario.consumers.population} consumers"
    )
    for spec in scenario.strategies:
        print(f"  strategy: {spec.name}")
    for warning in scenario.capped_visits():
        print(f"warning: {warning}", file=sys.stderr)
    return 0
