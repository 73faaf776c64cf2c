"""`market-sim history SCENARIO --out DIR`: simulated runs as the data an analyst would have.

`--strategy NAME` (repeatable) chooses the focal seller's strategies, each run on its own
replication (default: the scenario's first strategy). Writes DIR/sales.csv (run × day ×
seller), DIR/choices.csv (long-form choices with the shoppers' observable features, valid input
of `estimate --model logit`), DIR/README.md (the data dictionary) and, for a plain logit
market, DIR/truth.json (the coefficients an estimate should recover), all at once or not at all.
"""

from __future__ import annotations

import argparse
from pathlib import Path

from market_sim.commands import UsageError
from market_sim.commands.arguments import assignment, natural


def add_parser(subparsers: argparse._SubParsersAction) -> argparse.ArgumentParser:
    parser = subparsers.add_parser("history", help="simulate runs and write their sales and choice data")
    parser.add_argument("scenario", type=Path, help="scenario YAML file")
    parser.add_argument("--out", type=Path, required=True, help="output folder")
    parser.add_argument(
        "--strategy",
        metavar="NAME",
        action="append",
        help="a focal strategy to simulate, by its name in the scenario (repeatable: one run each, "
        "on replications R, R+1, ...; default: the scenario's first strategy)",
    )
    parser.add_argument(
        "--replication", type=natural, default=0, help="replication R of the first run (default 0)"
    )
    parser.add_argument(
        "--set", type=assignment, action="append", default=[], metavar="PATH=VALUE",
        help="change one field of the scenario, e.g. days=90 (repeatable)",
    )  # fmt: skip
    parser.add_argument("--overwrite", action="store_true", help="replace an existing output folder")
    return parser


def run(args: argparse.Namespace) -> int:
    from market_sim import history, result_folder
    from market_sim.loader import load_scenario

    scenario = load_scenario(args.scenario, args.set)
    names = {spec.name: spec for spec in scenario.strategies}
    for name in args.strategy or []:
        if name not in names:
            raise UsageError(f"--strategy: no strategy named {name!r}; the scenario has: {', '.join(names)}")
    if args.strategy and len(set(args.strategy)) < len(args.strategy):
        raise UsageError("--strategy: each strategy once (every one already runs on its own replication)")
    if args.out.exists() and not args.overwrite:
        raise UsageError(f"--out: {args.out} already exists (use --overwrite to replace it)")
    specs = [names[name] for name in args.strategy] if args.strategy else [scenario.strategies[0]]
    try:
        data = history.simulate_history(scenario, specs, args.replication)
    except history.HistoryError as error:
        raise UsageError(str(error)) from None

    def fill(folder: Path) -> None:
        result_folder.write_csv(data.sales, folder / "sales.csv")
        result_folder.write_csv(data.choices, folder / "choices.csv")
        (folder / "README.md").write_text(history.dictionary_text(scenario, data), encoding="utf-8")
        if data.truth is not None:
            result_folder.write_json(data.truth, folder / "truth.json")

    result_folder.write_folder(args.out, fill, args.overwrite)
    print(
        f"wrote {args.out}: sales.csv ({len(data.sales)} rows), "
        f"choices.csv ({len(data.choices)} rows), README.md"
        + (", truth.json" if data.truth is not None else "")
    )
    return 0
