"""Benchmark 8: replications of the Calvano et al. (2020) baseline (two Q-learners, expected
logit demand) run to convergence (greedy policies unchanged for 100,000 days) by the batched
learning engine through the runner, against one replication run the plain way (MarketModel, one
`price` call per seller per day), whose speed is measured over its first `--plain-days` days.

    python benchmarks/collusion.py --replications 1000 --workers 2
"""

from __future__ import annotations

import argparse
import dataclasses
import resource
import time

import numpy as np
from common import ROOT, machine

from market_sim import runner, tables
from market_sim.batched import numba_available
from market_sim.loader import load_scenario
from market_sim.model import MarketModel

LESSON = ROOT / "scenarios" / "lessons" / "09_algorithmic_collusion.yaml"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--replications", type=int, default=1000)
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--plain-days", type=int, default=20_000)
    args = parser.parse_args()
    print(machine())
    scenario = load_scenario(LESSON)
    scenario = dataclasses.replace(
        scenario, strategies=scenario.strategies[:1], replications=args.replications
    )

    started, cpu = time.perf_counter(), _cpu_seconds()
    runs = [run for _, run in runner.run_jobs(runner.comparison_jobs(scenario), workers=args.workers)]
    batched_seconds, cpu = time.perf_counter() - started, _cpu_seconds() - cpu
    scores = tables.scores_table(scenario, runs)
    days = scores["learning_days"].to_numpy()
    print(
        f"batched ({'numba' if numba_available() else 'numpy'}), {args.workers} workers: "
        f"{len(runs)} replications in {batched_seconds:.1f} s "
        f"= {len(runs) / batched_seconds:.2f} replications/s; "
        f"converged {scores['converged'].mean():.1%}, days to convergence mean {days.mean():,.0f}, "
        f"Δ mean {scores['delta'].mean():.3f} (sd {scores['delta'].std():.3f}); "
        f"CPU {cpu:.0f} s in all (a busy machine stretches the wall time, not this)"
    )

    plain = dataclasses.replace(scenario, days=args.plain_days, stop_when_stable=None)
    model = MarketModel(plain, plain.strategies[0], 0)
    started = time.perf_counter()
    while model.running:
        model.step()
    per_day = (time.perf_counter() - started) / args.plain_days
    plain_seconds = per_day * float(np.mean(days))
    print(
        f"plain (MarketModel): {1 / per_day:,.0f} days/s, so one replication of {np.mean(days):,.0f} days "
        f"takes about {plain_seconds:,.0f} s = {1 / plain_seconds:.5f} replications/s"
    )
    print(f"batched / plain: {len(runs) / batched_seconds * plain_seconds:,.0f}x replications per second")


def _cpu_seconds() -> float:
    """CPU time of this process and its finished workers."""
    own, workers = resource.getrusage(resource.RUSAGE_SELF), resource.getrusage(resource.RUSAGE_CHILDREN)
    return own.ru_utime + own.ru_stime + workers.ru_utime + workers.ru_stime


if __name__ == "__main__":
    main()
