"""`history SCENARIO --out DIR`: one simulated run as the data an analyst would have.

Writes DIR/sales.csv (day × seller), DIR/choices.csv (long-form choices, valid input of
`estimate --model logit`), DIR/README.md (the data dictionary) and, for a plain logit market,
DIR/truth.json (the coefficients an estimate should recover), all at once or not at all.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from market_sim import history, output
from market_sim.loader import Override, ScenarioError, load_scenario

INVALID_INPUT = 2


def add_parser(subparsers) -> argparse.ArgumentParser:
    parser = subparsers.add_parser("history", help="simulate one run and write its sales and choice data")
    parser.add_argument("scenario", type=Path, help="scenario YAML file")
    parser.add_argument("--out", type=Path, required=True, help="output folder")
    parser.add_argument("--strategy", metavar="NAME", help="the focal seller's strategy (default: the first)")
    parser.add_argument("--replication", type=int, default=0, help="which replication (default 0)")
    parser.add_argument(
        "--set",
        type=_assignment,
        action="append",
        default=[],
        metavar="PATH=VALUE",
        help="change one field of the scenario, e.g. days=90 (repeatable)",
    )
    parser.add_argument("--overwrite", action="store_true", help="replace an existing output folder")
    parser.set_defaults(command=run)
    return parser


def _assignment(text: str) -> Override:
    path, equals, value = text.partition("=")
    if not equals or not path.strip():
        raise argparse.ArgumentTypeError(f"expected PATH=VALUE, got {text!r}")
    return Override(path.strip(), value.strip(), "--set")


def run(args: argparse.Namespace) -> int:
    try:
        scenario = load_scenario(args.scenario, args.set)
        names = {spec.name: spec for spec in scenario.strategies}
        if args.strategy is not None and args.strategy not in names:
            raise ScenarioError(
                str(args.scenario),
                "--strategy",
                None,
                f"no strategy named {args.strategy!r}; the scenario has: {', '.join(names)}",
            )
        if args.replication < 0:
            raise ScenarioError(str(args.scenario), "--replication", None, "must not be negative")
        if args.out.exists() and not args.overwrite:
            raise FileExistsError(f"--out: {args.out} already exists (use --overwrite to replace it)")
    except (ScenarioError, FileExistsError) as error:
        print(f"error: {error}", file=sys.stderr)
        return INVALID_INPUT
    spec = names[args.strategy] if args.strategy else scenario.strategies[0]
    data = history.simulate_history(scenario, spec, args.replication)

    def fill(folder: Path) -> None:
        output.write_csv(data.sales, folder / "sales.csv")
        output.write_csv(data.choices, folder / "choices.csv")
        (folder / "README.md").write_text(
            history.dictionary_text(scenario, data, spec.name, args.replication), encoding="utf-8"
        )
        if data.truth is not None:
            output.write_json(data.truth, folder / "truth.json")

    output.write_folder(args.out, fill, args.overwrite)
    print(
        f"wrote {args.out}: sales.csv ({len(data.sales)} rows), "
        f"choices.csv ({len(data.choices)} rows), README.md"
        + (", truth.json" if data.truth is not None else "")
    )
    return 0
