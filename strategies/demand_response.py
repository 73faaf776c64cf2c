"""Learn your own demand curve from your own sales and charge its profit-maximising price."""

from __future__ import annotations

from strategies.base import Observation, Prices
from strategies.learning import DemandCurve, LearningStrategy


class DemandResponse(LearningStrategy):
    """Learns its own demand from its own history (prices, views, units) and charges the price
    that maximises (p − unit cost) × demand, experimenting by Thompson sampling by default.

    Parameters, as for every learning strategy (see `strategies.learning.LearningStrategy`):
    model (`linear`, `log_linear`, `log_log`), explore (`thompson`, `greedy`), window (days
    of data; default all), start_price / start_markup, warmup (days of a price ladder),
    explore_width (how far an experiment strays from the estimate's best price), max_move (how
    far the price may move in a day), floor and
    ceiling (the range of prices it will ever try), rivals (whether rivals' prices enter the fit),
    bandwidth (how local the fit is).
    """

    kind = "demand_response"

    def price(self, obs: Observation) -> Prices:
        history = obs.history
        past_rivals, rivals = self.rival_average(obs)
        estimate = None
        if obs.day >= self.warmup:
            keep = self.usable_days(history)
            estimate = self.estimate(history.prices, history.views, history.units, keep, past_rivals)
        if estimate is None:
            price, reason = self.untaught(obs.day, obs.last_price)
            return Prices(price, reason=reason)

        def plan(curve: DemandCurve) -> float:
            return curve.best_price(obs.unit_cost, self.low, self.high)

        choice = self.experiment(estimate, plan, rivals, obs.last_price)
        return Prices(choice.price, reason=self.describe(estimate, choice, rivals))
