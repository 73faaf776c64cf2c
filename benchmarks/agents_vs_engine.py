"""Benchmark 1: the same market agent by agent (`Consumer.choose`) and through the vectorised
engine, on the same draws; purchases must be identical.

    python benchmarks/agents_vs_engine.py
"""

from __future__ import annotations

import argparse

import numpy as np
from common import machine, market, rate, run

COMPARED = ("units", "revenue", "lost_sales", "inventory", "segment_units", "segment_revenue", "views")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--consumers", type=int, default=10_000)
    parser.add_argument("--days", type=int, default=100)
    args = parser.parse_args()
    print(machine())
    scenario = market(args.consumers, args.days)

    agents, agent_seconds = run(scenario, engine="agents")
    engine, engine_seconds = run(scenario)
    for name in COMPARED:
        np.testing.assert_array_equal(getattr(agents.ledger, name), getattr(engine.ledger, name), name)
    decisions = int(engine.ledger.shoppers.sum())
    lost = engine.ledger.lost_sales.sum(axis=0)
    assert lost.sum() > 0, "the benchmark market is meant to have stock-outs"

    print(
        f"{args.consumers:,} consumers, 3 sellers, {args.days} days: {decisions:,} shopper decisions, "
        f"{int(engine.ledger.units.sum()):,} purchases (identical), lost sales per seller {lost.tolist()}"
    )
    print(f"agent by agent   {agent_seconds:8.3f} s  {rate(decisions, agent_seconds)}")
    print(f"vectorised       {engine_seconds:8.3f} s  {rate(decisions, engine_seconds)}")
    print(f"engine / agent-by-agent: {agent_seconds / engine_seconds:.1f}x")


if __name__ == "__main__":
    main()
