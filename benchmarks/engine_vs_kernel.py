"""Benchmark 2: the whole engine (arrivals, prices, FCFS allocation against stock, ledger,
strategies) against the raw kernel alone: utility + Gumbel-max + argmax over the same arrays.

    python benchmarks/engine_vs_kernel.py
"""

from __future__ import annotations

import argparse
import time

import numpy as np
from common import machine, market, median_seconds, rate, run

from market_sim.model import MarketModel


def gumbel_in_place(uniforms: np.ndarray) -> np.ndarray:
    """−log(−log U), as `market_sim.streams.gumbel` computes it."""
    np.log(uniforms, out=uniforms)
    np.negative(uniforms, out=uniforms)
    np.log(uniforms, out=uniforms)
    return np.negative(uniforms, out=uniforms)


def raw_kernel(model: MarketModel, prices: np.ndarray, gumbel: str) -> tuple[float, int]:
    """Every consumer picks argmax(β·u + Gumbel) over the sellers and buying nothing, every day:
    no arrivals, no stock, no ledger, no strategy; buffers allocated once. Returns seconds and
    the number of decisions."""
    population, quality = model.population, model.quality
    n, sellers = len(population), len(quality)
    rng = np.random.default_rng(0)
    wtp, beta = population.wtp, population.price_sensitivity
    loyal = population.last_seller[:, None] == np.arange(sellers)[None, :]
    bonus = np.where(loyal, population.loyalty[:, None], 0.0)
    scores = np.empty((n, sellers + 1))
    shocks = np.empty((n, sellers + 1))
    utility = scores[:, :sellers]
    choice = np.empty(n, dtype=np.intp)
    started = time.perf_counter()
    for day in range(len(prices)):
        np.subtract(quality - prices[day], -wtp[:, None], out=utility)  # wtp + quality − price
        utility += bonus
        utility *= beta[:, None]
        scores[:, sellers] = 0.0  # β · outside utility
        if gumbel == "numpy":
            shocks[:] = rng.gumbel(size=shocks.shape)
        else:  # the engine's way: uniforms in bulk, then −log(−log U) as whole-array logarithms
            gumbel_in_place(rng.random(out=shocks))
        scores += shocks
        np.argmax(scores, axis=1, out=choice)
    return time.perf_counter() - started, n * len(prices)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--consumers", type=int, default=100_000)
    parser.add_argument("--days", type=int, default=30)
    parser.add_argument("--repeat", type=int, default=3)
    args = parser.parse_args()
    print(machine())
    scenario = market(args.consumers, args.days)

    decisions, models = [], []

    def engine_once() -> float:
        model, seconds = run(scenario)
        decisions.append(int(model.ledger.shoppers.sum()))
        models.append(model)
        return seconds

    engine_seconds = median_seconds(engine_once, args.repeat)
    model = models[0]
    prices = model.ledger.price  # the prices the engine's sellers posted, day by day
    kernels = {}
    for gumbel in ("numpy", "engine"):
        kernel_decisions = raw_kernel(model, prices, gumbel)[1]
        kernels[gumbel] = median_seconds(lambda g=gumbel: raw_kernel(model, prices, g)[0], args.repeat)

    print(f"{args.consumers:,} consumers (all shop daily), 3 sellers, {args.days} days", end="")
    print(f", medians of {args.repeat}")
    engine_rate = decisions[0] / engine_seconds
    print(f"engine                            {engine_seconds:7.3f} s  {rate(decisions[0], engine_seconds)}")
    for gumbel, label in (("engine", "the engine's Gumbel"), ("numpy", "Generator.gumbel")):
        seconds = kernels[gumbel]
        kernel_rate = kernel_decisions / seconds
        print(
            f"raw kernel, {label:<21} {seconds:7.3f} s  {rate(kernel_decisions, seconds)}"
            f"  engine / kernel: {engine_rate / kernel_rate:.2f}"
        )


if __name__ == "__main__":
    main()
