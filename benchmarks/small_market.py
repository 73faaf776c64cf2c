"""Benchmark 3: per-day overhead in a small teaching market (1,000 consumers, 2 cost-plus
sellers, ten years of days).

    python benchmarks/small_market.py
    python benchmarks/small_market.py --against /tmp/old   # alternating with another checkout
"""

from __future__ import annotations

import argparse
import datetime as dt
import statistics
import subprocess
import sys
from pathlib import Path

import yaml
from common import machine, median_seconds, run

from market_sim.loader import parse_scenario

SMALL = {
    "name": "small market",
    "days": 3650,
    "start_date": dt.date(2026, 1, 5),
    "seed": 1,
    "market": {"choice": "logit", "weekly_traffic": [1, 1, 1, 1, 1.1, 1.3, 1.2]},
    "consumers": {
        "population": 1000,
        "segments": [
            {
                "name": "everyone",
                "share": 1,
                "visit_rate": 1.0,
                "wtp": {"dist": "uniform", "low": 0, "high": 50},
                "price_sensitivity": 0.3,
            }
        ],
    },
    "sellers": [
        {
            "name": "shop",
            "focal": True,
            "unit_cost": 10,
            "inventory": {"initial": 2500, "reorder_point": 1000, "order_quantity": 2500, "lead_time": 3},
        },
        {"name": "rival", "unit_cost": 12, "strategy": {"kind": "cost_plus", "markup": 0.8}},
    ],
    "strategies": [{"kind": "cost_plus", "markup": 1.0}],
}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--visit-rate", type=float, default=1.0)
    parser.add_argument("--days", type=int, default=3650)
    parser.add_argument("--repeat", type=int, default=5)
    parser.add_argument("--against", type=Path, help="another checkout, timed in turns with this one")
    args = parser.parse_args()
    print(machine())
    if args.against:
        side_by_side(args)
        return
    spec = {**SMALL, "days": args.days}
    spec["consumers"]["segments"][0]["visit_rate"] = args.visit_rate
    stock = spec["sellers"][0]["inventory"]  # stock in proportion to the shoppers
    for key in ("initial", "reorder_point", "order_quantity"):
        stock[key] = max(1, round(stock[key] * args.visit_rate))
    scenario = parse_scenario(yaml.safe_dump(spec, sort_keys=False), source="<small market>")

    shoppers, lost = [], []

    def once() -> float:
        model, seconds = run(scenario)
        shoppers.append(int(model.ledger.shoppers.sum()))
        lost.append(int(model.ledger.lost_sales.sum()))
        return seconds

    seconds = median_seconds(once, args.repeat)
    print(
        f"1,000 consumers (visit rate {args.visit_rate}, {shoppers[0] / args.days:.0f} shoppers a day), "
        f"2 sellers, cost-plus, {args.days:,} days, {lost[0]:,} lost sales: "
        f"median of {args.repeat} runs {seconds:.3f} s"
    )
    print(f"simulated days per second: {args.days / seconds:,.0f}")


def side_by_side(args: argparse.Namespace) -> None:
    """Both checkouts in turns, one process per run, so that a busy machine slows both alike:
    the ratio of their median rates is the figure to read."""
    here = Path(__file__).resolve().parents[1]
    rates: dict[Path, list[float]] = {here: [], args.against.resolve(): []}
    for _ in range(args.repeat):
        for checkout, found in rates.items():
            command = [sys.executable, str(checkout / "benchmarks" / "small_market.py"), "--repeat", "1"]
            command += ["--days", str(args.days), "--visit-rate", str(args.visit_rate)]
            out = subprocess.run(command, check=True, capture_output=True, text=True).stdout
            found.append(float(out.rsplit(":", 1)[1].replace(",", "")))
    (new, old) = (statistics.median(found) for found in rates.values())
    print(f"this checkout {new:,.0f} days/s, {args.against} {old:,.0f} days/s: {new / old:.2f}x")


if __name__ == "__main__":
    main()
