"""`market-sim history SCENARIO --out DIR`: one simulated run as the data an analyst would have.

Writes DIR/sales.csv (day × seller), DIR/choices.csv (long-form choices, valid input of
`estimate --model logit`), DIR/README.md (the data dictionary) and, for a plain logit market,
DIR/truth.json (the coefficients an estimate should recover), all at once or not at all.
"""

from __future__ import annotations

import argparse
from pathlib import Path

from market_sim.commands import UsageError
from market_sim.commands.arguments import assignment, natural


def add_parser(subparsers: argparse._SubParsersAction) -> argparse.ArgumentParser:
    parser = subparsers.add_parser("history", help="simulate one run and write its sales and choice data")
    parser.add_argument("scenario", type=Path, help="scenario YAML file")
    parser.add_argument("--out", type=Path, required=True, help="output folder")
    parser.add_argument("--strategy", metavar="NAME", help="the focal seller's strategy (default: the first)")
    parser.add_argument("--replication", type=natural, default=0, help="which replication (default 0)")
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
    if args.strategy is not None and args.strategy not in names:
        raise UsageError(
            f"--strategy: no strategy named {args.strategy!r}; the scenario has: {', '.join(names)}"
        )
    if args.out.exists() and not args.overwrite:
        raise UsageError(f"--out: {args.out} already exists (use --overwrite to replace it)")
    spec = names[args.strategy] if args.strategy else scenario.strategies[0]
    data = history.simulate_history(scenario, spec, args.replication)

    def fill(folder: Path) -> None:
        result_folder.write_csv(data.sales, folder / "sales.csv")
        result_folder.write_csv(data.choices, folder / "choices.csv")
        (folder / "README.md").write_text(
            history.dictionary_text(scenario, data, spec.name, args.replication), encoding="utf-8"
        )
        if data.truth is not None:
            result_folder.write_json(data.truth, folder / "truth.json")

    result_folder.write_folder(args.out, fill, args.overwrite)
    print(
        f"wrote {args.out}: sales.csv ({len(data.sales)} rows), "
        f"choices.csv ({len(data.choices)} rows), README.md"
        + (", truth.json" if data.truth is not None else "")
    )
    return 0
