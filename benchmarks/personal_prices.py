"""Benchmark 7: a price per shopper against one price, 20,000 consumers, 3 sellers.

The market of `common.market` with two observable features and a hidden one. The focal seller
either posts one price (`cost_plus`) or reads `obs.shoppers` every day and prices each shopper
from its features and its own history with them (a pandas expression over the table, then
`Prices(personal=...)`). Prints both run times and the ratio (target: personal ≥ 0.5× the speed
of one price).

    python benchmarks/personal_prices.py
"""

from __future__ import annotations

import argparse
import dataclasses

import numpy as np
from common import machine, market, median_seconds, rate, run

from market_sim.distributions import Bernoulli, Normal
from market_sim.scenario import Feature, StrategySpec
from strategies import Prices, PricingStrategy


class TablePrices(PricingStrategy):
    """Cost plus 60%, more for higher income and loyal shoppers, less on mobile."""

    def price(self, obs):
        table = obs.shoppers
        income, mobile, purchases = (table[name].to_numpy() for name in ("income", "mobile", "purchases"))
        base = obs.unit_cost * 1.6
        personal = base * (1 + 0.1 * income - 0.05 * mobile) + 0.5 * purchases
        return Prices(base, personal=np.maximum(personal, obs.unit_cost))


def personal_market(consumers: int, days: int, visit_rate: float):
    scenario = market(consumers, days, visit_rate=visit_rate, name="personal prices benchmark")
    features = {
        "income": Feature(Normal(0, 1)),
        "mobile": Feature(Bernoulli(0.5)),
        "older": Feature(Bernoulli(0.2), observable=False),
    }
    weights = {"income": 5.0, "older": -4.0}
    segments = tuple(dataclasses.replace(s, wtp_per_feature=weights) for s in scenario.consumers.segments)
    consumers = dataclasses.replace(scenario.consumers, features=features, segments=segments)
    return dataclasses.replace(scenario, consumers=consumers)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--consumers", type=int, default=20_000)
    parser.add_argument("--days", type=int, default=100)
    parser.add_argument("--visit-rate", type=float, default=1.0)
    parser.add_argument("--repeat", type=int, default=3)
    args = parser.parse_args()
    print(machine())
    scenario = personal_market(args.consumers, args.days, args.visit_rate)
    one_price = StrategySpec("cost_plus", {"markup": 0.6})
    personal = StrategySpec("personal_prices:TablePrices")
    seconds = {}
    for label, spec in (("one price", one_price), ("personal", personal)):
        seconds[label] = median_seconds(lambda spec=spec: run(scenario, strategy=spec)[1], args.repeat)
        decisions = run(scenario, strategy=spec)[0].ledger.shoppers.sum() * len(scenario.sellers)
        speed = rate(decisions, seconds[label])
        print(f"{label:>10}: {seconds[label]:.2f} s for {args.days} days ({speed} decisions)")
    print(f"personal / one price speed: {seconds['one price'] / seconds['personal']:.2f}× (target ≥ 0.5×)")


if __name__ == "__main__":
    main()
