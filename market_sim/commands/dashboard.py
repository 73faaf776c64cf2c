"""`market-sim dashboard SCENARIO [--port N]`: a live dashboard of the market in the browser,
on 127.0.0.1, offline (needs the optional extra `dashboard`)."""

from __future__ import annotations

import argparse
from pathlib import Path

from market_sim.commands import UsageError
from market_sim.commands.arguments import positive


def add_parser(subparsers: argparse._SubParsersAction) -> argparse.ArgumentParser:
    parser = subparsers.add_parser(
        "dashboard", help="watch the market live in the browser and turn its knobs"
    )
    parser.add_argument("scenario", type=Path, help="scenario YAML file")
    parser.add_argument("--port", type=positive, default=8765, help="port on 127.0.0.1 (default 8765)")
    return parser


def run(args: argparse.Namespace) -> int:
    from market_sim.dashboard import NotInstalled, serve
    from market_sim.loader import load_scenario

    load_scenario(args.scenario)  # a bad file is reported here, before the server starts
    try:
        return serve(args.scenario, args.port)
    except NotInstalled as error:
        raise UsageError(str(error)) from None
