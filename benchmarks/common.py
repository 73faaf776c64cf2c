"""Shared pieces of the speed benchmarks: the benchmark market, timing, and the machine line."""

from __future__ import annotations

import datetime as dt
import os
import platform
import resource
import statistics
import sys
import time
from collections.abc import Callable
from pathlib import Path

import numpy as np
import yaml

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))  # run from a fresh clone without installing

from market_sim.loader import parse_scenario  # noqa: E402
from market_sim.model import MarketModel  # noqa: E402
from market_sim.scenario import Scenario  # noqa: E402


def market(
    population: int,
    days: int,
    visit_rate: float = 1.0,
    stock_per_consumer: float = 0.1,
    name: str = "benchmark market",
) -> Scenario:
    """Three sellers with (s, Q) replenishment short enough that stock-outs happen; two segments,
    one observable and loyal. Stock scales with the population, so the market looks the same
    at every size."""

    def stock(initial: float, reorder: float, order: float, lead_time: int) -> dict:
        per = population * stock_per_consumer * visit_rate
        return {
            "initial": max(1, round(initial * per)),
            "reorder_point": max(0, round(reorder * per)),
            "order_quantity": max(1, round(order * per)),
            "lead_time": lead_time,
            "holding_cost": 0.02,
        }

    spec = {
        "name": name,
        "days": days,
        "start_date": dt.date(2026, 1, 5),
        "seed": 5,
        "market": {
            "choice": "logit",
            "outside_utility": 0,
            "weekly_traffic": [1, 1, 1, 1, 1, 1, 1],
        },
        "consumers": {
            "population": population,
            "segments": [
                {
                    "name": "bargain_hunters",
                    "share": 0.6,
                    "visit_rate": visit_rate,
                    "wtp": {"dist": "normal", "mean": 45, "sd": 10, "min": 0},
                    "price_sensitivity": {"dist": "uniform", "low": 0.3, "high": 0.5},
                },
                {
                    "name": "members",
                    "share": 0.4,
                    "observable": True,
                    "visit_rate": visit_rate,
                    "wtp": {"dist": "lognormal", "mean": 60, "sd": 15},
                    "price_sensitivity": 0.2,
                    "loyalty": 3,
                },
            ],
        },
        "sellers": [
            {"name": "our_shop", "focal": True, "unit_cost": 20, "inventory": stock(12, 8, 10, 2)},
            {
                "name": "big_rival",
                "unit_cost": 22,
                "quality": 2,
                "inventory": stock(20, 16, 20, 3),
                "strategy": {
                    "kind": "competitor_response",
                    "target": "our_shop",
                    "undercut": 0.03,
                    "floor_markup": 0.1,
                },
            },
            {
                "name": "corner_store",
                "unit_cost": 24,
                "quality": -1,
                "inventory": stock(6, 3, 5, 2),
                "strategy": {"kind": "cost_plus", "markup": 0.9},
            },
        ],
        "strategies": [{"kind": "cost_plus", "markup": 0.6}],
    }
    return parse_scenario(yaml.safe_dump(spec, sort_keys=False), source=f"<{name}>")


def run(scenario: Scenario, **options) -> tuple[MarketModel, float]:
    """Build the model and run it to the end; return it and the seconds spent stepping."""
    model = MarketModel(scenario, **options)
    started = time.perf_counter()
    model.run_for(scenario.days)
    return model, time.perf_counter() - started


def median_seconds(task: Callable[[], float], repeat: int) -> float:
    """Median of `repeat` timings returned by `task`."""
    return statistics.median(task() for _ in range(repeat))


def peak_rss_mb() -> float:
    """This process's peak resident memory (Linux reports kilobytes)."""
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def machine() -> str:
    """One line saying where the numbers come from."""
    blas = {k: v for k, v in os.environ.items() if k.startswith("OPENBLAS_")}
    return (
        f"python {platform.python_version()}, numpy {np.__version__}, {os.cpu_count()} cores, "
        f"{platform.processor() or platform.machine()}" + (f", {blas}" if blas else "")
    )


def rate(count: float, seconds: float) -> str:
    """A throughput in millions per second."""
    return f"{count / seconds / 1e6:.2f} M/s"
