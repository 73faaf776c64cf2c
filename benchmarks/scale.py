"""Benchmark 4: one million consumers, 3 sellers, a year: build time, run time, peak memory.
Each repetition runs in a fresh process so that its peak memory is its own.

    python benchmarks/scale.py
    python benchmarks/scale.py --numpy      # without the compiled kernels (the `fast` extra)
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import time

from common import machine, market, peak_rss_mb

from market_sim import fast
from market_sim.model import MarketModel


def once(consumers: int, days: int, visit_rate: float) -> dict:
    scenario = market(consumers, days, visit_rate=visit_rate)
    started = time.perf_counter()
    model = MarketModel(scenario)
    built = time.perf_counter()
    model.run_for(days)
    finished = time.perf_counter()
    return {
        "build": built - started,
        "run": finished - built,
        "peak_mb": peak_rss_mb(),
        "decisions": int(model.ledger.shoppers.sum()),
        "lost_sales": int(model.ledger.lost_sales.sum()),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--consumers", type=int, default=1_000_000)
    parser.add_argument("--days", type=int, default=365)
    parser.add_argument("--visit-rate", type=float, default=1.0)
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--numpy", action="store_true", help="the numpy path (MARKET_SIM_NUMPY=1)")
    parser.add_argument("--once", action="store_true", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.once:
        print(
            json.dumps(once(args.consumers, args.days, args.visit_rate) | {"compiled": bool(fast.kernels())})
        )
        return
    print(machine())
    command = [sys.executable, __file__, "--once", *sys.argv[1:]]
    env = dict(os.environ, MARKET_SIM_NUMPY="1") if args.numpy else None
    results = [
        json.loads(subprocess.run(command, check=True, capture_output=True, text=True, env=env).stdout)
        for _ in range(args.repeat)
    ]
    median = {key: statistics.median(r[key] for r in results) for key in ("build", "run", "peak_mb")}
    first = results[0]
    print(
        f"{args.consumers:,} consumers (visit rate {args.visit_rate}), 3 sellers, {args.days} days: "
        f"{first['decisions']:,} shopper decisions, {first['lost_sales']:,} lost sales; "
        f"medians of {args.repeat} processes; "
        + ("compiled kernels (numba)" if first["compiled"] else "numpy path")
    )
    print(f"build        {median['build']:7.2f} s")
    print(
        f"run          {median['run']:7.2f} s  ({first['decisions'] / median['run'] / 1e6:.2f} M decisions/s)"
    )
    print(f"peak memory  {median['peak_mb'] / 1024:7.2f} GB")


if __name__ == "__main__":
    main()
