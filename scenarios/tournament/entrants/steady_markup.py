"""Entrant: a steady markup, a little cheaper for students."""

from strategies import Prices, PricingStrategy


class SteadyMarkup(PricingStrategy):
    markup: float = 0.6
    student_discount: float = 0.15

    def price(self, obs):
        base = obs.unit_cost * (1 + self.markup)
        return Prices(base, segments={"students": base * (1 - self.student_discount)}, reason="steady markup")
