"""Benchmark 7: the hindsight oracle (`oracle_best_fixed`) against one ordinary run of the same
market, with the one-pass evaluation of its price grid and with a replay per price (as before
issue 13), side by side in one process.

    python benchmarks/oracle.py [--repeat 3]
"""

from __future__ import annotations

import argparse
import time

from common import ROOT, machine, median_seconds

from market_sim.hindsight import FixedPriceProfits
from market_sim.loader import load_scenario
from market_sim.model import MarketModel

SCENARIOS = (
    "scenarios/lessons/01_demand_curve.yaml",
    "scenarios/lessons/02_cost_plus_vs_demand_response.yaml",
    "scenarios/lessons/06_scarcity.yaml",
    "scenarios/strategies/season_stock.yaml",
)


def replays_only(model: MarketModel, seat: int) -> FixedPriceProfits:
    profits = FixedPriceProfits(model, seat)
    profits.exact = False  # a replay per price, as before
    return profits


def seconds(scenario, strategy) -> tuple[float, MarketModel]:
    started = time.perf_counter()
    model = MarketModel(scenario, strategy, 0)
    model.run_for(scenario.days)
    return time.perf_counter() - started, model


def compare(path: str, repeat: int) -> str:
    """One line: the oracle's run against one ordinary run of the same market."""
    scenario = load_scenario(ROOT / path)
    oracle = next(s for s in scenario.strategies if s.kind == "oracle_best_fixed")
    ordinary = scenario.strategies[0]
    fast_run: list[MarketModel] = []

    def fast() -> float:
        took, model = seconds(scenario, oracle)
        fast_run.append(model)
        return took

    def slow() -> float:
        original = MarketModel.fixed_price_profits
        MarketModel.fixed_price_profits = replays_only
        try:
            took, model = seconds(scenario, oracle)
        finally:
            MarketModel.fixed_price_profits = original
        assert (model.ledger.profit == fast_run[-1].ledger.profit).all()  # the same choice
        return took

    base = median_seconds(lambda: seconds(scenario, ordinary)[0], repeat)
    one_pass = median_seconds(fast, repeat)
    replays = median_seconds(slow, repeat)
    return (
        f"{path}: oracle / one ordinary run = {one_pass / base:.2f} (one pass), "
        f"{replays / base:.2f} (a replay per price); one pass {replays / one_pass:.1f}x faster"
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeat", type=int, default=5)
    args = parser.parse_args()
    print(machine())
    import scipy.optimize  # noqa: F401  (the polish's import, paid once per process: not timed)

    for path in SCENARIOS:
        print(compare(path, args.repeat))


if __name__ == "__main__":
    main()
