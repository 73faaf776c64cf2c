"""Entrant: a hill climber with a bug (deliberately broken, to show a disqualification).

It compares yesterday's profit with the day before and keeps moving its price in the
direction that paid. The bug: on day 2 it divides by the change in price, which is zero when
the price did not move.
"""

from strategies import PricingStrategy


class BrokenHillClimber(PricingStrategy):
    step: float = 0.5

    def price(self, obs):
        prices, revenue, units = obs.history.prices, obs.history.revenue, obs.history.units
        if len(prices) < 2:
            return obs.unit_cost * 1.5
        profit = revenue - units * obs.unit_cost
        slope = float(profit[-1] - profit[-2]) / float(prices[-1] - prices[-2])  # the bug: 0 / 0
        return prices[-1] + self.step * (1 if slope > 0 else -1)
