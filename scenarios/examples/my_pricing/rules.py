"""A custom strategy, as a student would write it: `kind: my_pricing.rules:WeekendSurge`."""

from strategies import PricingStrategy


class WeekendSurge(PricingStrategy):
    """Charge more on Saturdays and Sundays."""

    markup: float = 0.5  # parameters are class attributes; a scenario may override them
    surge: float = 0.1

    def price(self, obs):
        base = obs.unit_cost * (1 + self.markup)
        return base * (1 + self.surge) if obs.weekday >= 5 else base
