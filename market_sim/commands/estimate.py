"""`market-sim estimate DATA.csv --model linear|loglinear|logit --out DIR`: fit demand to data
and build a market from the fit.

Writes DIR/estimates.csv, DIR/fit.json, DIR/report.html and DIR/scenario.yaml, all at once or
not at all. Exit status 2 for data that cannot be used (the message names file, column and
row), 1 for a fit that fails on valid data.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from market_sim.commands import UsageError

MODELS = ("linear", "loglinear", "logit")
FIT_FAILED = 1


def add_parser(subparsers: argparse._SubParsersAction) -> argparse.ArgumentParser:
    parser = subparsers.add_parser(
        "estimate", help="fit demand to sales or choice data and build a market from the fit"
    )
    parser.add_argument(
        "data", type=Path, help="CSV: price, units per period; or long-form choices for logit"
    )
    parser.add_argument("--model", choices=MODELS, required=True, help="linear, loglinear or logit")
    parser.add_argument("--out", type=Path, required=True, help="output folder")
    parser.add_argument(
        "--features",
        type=_names,
        help="comma-separated feature columns (default: every further numeric column; '' for none)",
    )
    parser.add_argument(
        "--unit-cost", type=float, default=0.0, help="unit cost for the best price (default 0)"
    )
    parser.add_argument(
        "--base", help="logit: the alternative without a constant (default: last in sorted order)"
    )
    parser.add_argument("--seller", help="linear/loglinear: the seller's rows when the data hold several")
    parser.add_argument(
        "--focal", help="logit: the alternative whose seat the built market's strategies take"
    )
    parser.add_argument("--folds", type=int, default=5, help="cross-validation folds (default 5)")
    parser.add_argument("--days", type=int, default=30, help="days of the built market (default 30)")
    parser.add_argument("--overwrite", action="store_true", help="replace an existing output folder")
    return parser


def _names(text: str) -> list[str]:
    return [name.strip() for name in text.split(",") if name.strip()]


def run(args: argparse.Namespace) -> int:
    try:
        from market_sim import estimate
    except ImportError as error:  # statsmodels is imported when a fit needs it; numpy/scipy always
        print(f"error: {error.name} is missing: pip install -e '.[estimate]'", file=sys.stderr)
        return FIT_FAILED
    from market_sim import result_folder

    if args.out.exists() and not args.overwrite:
        raise UsageError(f"--out: {args.out} already exists (use --overwrite to replace it)")
    try:
        fit, market = fit_and_build(args)
        result_folder.write_folder(
            args.out, lambda folder: write_outputs(folder, fit, market), args.overwrite
        )
    except estimate.DataError as error:
        raise UsageError(str(error)) from None
    except estimate.FitError as error:
        print(f"error: fit failed: {error}", file=sys.stderr)
        return FIT_FAILED
    except ImportError as error:
        print(f"error: {error.name} is missing: pip install -e '.[estimate]'", file=sys.stderr)
        return FIT_FAILED
    for warning in fit.warnings:
        print(f"warning: {warning}", file=sys.stderr)
    _print_summary(fit, args.out)
    return 0


def fit_and_build(args: argparse.Namespace):
    """The fit and the market built from it (raises DataError or FitError)."""
    from market_sim import estimate

    source = str(args.data)
    if args.unit_cost < 0:
        raise estimate.DataError(f"--unit-cost must not be negative, got {args.unit_cost:g}")
    if args.folds < 2 or args.days < 1:
        raise estimate.DataError("--folds must be at least 2 and --days at least 1")
    data, features = estimate.read_data(args.data, args.model, args.features, args.seller)
    if args.model == "logit":
        fit = estimate.fit_logit(data, features, args.base, source)
    else:
        fit = estimate.fit_sales(data, features, args.model, args.unit_cost, args.folds, source)
    return fit, estimate.market_from_fit(fit, args.unit_cost, args.focal, args.days)


def write_outputs(folder: Path, fit, market: dict) -> None:
    import yaml

    from market_sim import result_folder
    from market_sim.loader import parse_scenario
    from market_sim.report.estimate import render_estimate

    text = yaml.safe_dump(market, sort_keys=False, allow_unicode=True)
    parse_scenario(text, str(folder / "scenario.yaml"), folder)  # the market must load as it is
    (folder / "scenario.yaml").write_text(text, encoding="utf-8")
    result_folder.write_csv(fit.parameters, folder / "estimates.csv")
    result_folder.write_json(fit.stats, folder / "fit.json")
    (folder / "report.html").write_text(render_estimate(fit), encoding="utf-8")


def _print_summary(fit, out: Path) -> None:
    print(f"{fit.model} fit of {fit.source}: {fit.stats['observations']} rows")
    for row in fit.parameters.itertuples():
        print(f"  {row.parameter:<24} {row.estimate:>12.5g}  ± {row.std_error:.3g}")
    for key in ("log_likelihood", "cv_mse", "elasticity_at_mean_price", "best_price"):
        if key in fit.stats:
            print(f"  {key}: {fit.stats[key]:.5g}")
    print(f"wrote {out}/estimates.csv, fit.json, report.html, scenario.yaml")
