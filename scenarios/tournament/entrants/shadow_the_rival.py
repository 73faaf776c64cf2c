"""Entrant: sit just under the rival's price of yesterday, but never below cost + 20%."""

from strategies import PricingStrategy


class ShadowTheRival(PricingStrategy):
    undercut: float = 0.02
    floor_markup: float = 0.2

    def price(self, obs):
        floor = obs.unit_cost * (1 + self.floor_markup)
        if obs.day == 0:
            return obs.unit_cost * 1.7
        rival = min(prices[-1] for prices in obs.rival_prices.values())
        return max(floor, rival * (1 - self.undercut))
