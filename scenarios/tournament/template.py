"""My pricing strategy for the class tournament.

Copy this file, rename it after yourself (e.g. `ada_lovelace.py`; the file name is your name on
the leaderboard), change `price` (and, if you like, `reset` and `observe`), and hand it in.
Test it first against the example entrants:

    python run_sim.py tournament scenarios/tournament/entrants --scenario scenarios/tournament/market.yaml

Rules of the tournament (your file is disqualified otherwise):
- One file, one strategy: the first class in the file that subclasses PricingStrategy plays.
- Each decision (`reset`, `price`, and `posted` with `observe` in the evening) must finish
  within 2 seconds; your process may use at most 1 GiB of memory and print at most 1 MiB per
  match.
- Return a price: a number, or `Prices(...)`; not text, not None, not NaN, not negative.
- Your code runs in its own process and sees only your own shop's observations. It may not
  open files, start programs, or use the network: trying to is a disqualification.
- You may import the standard library, numpy, scipy and pandas (and whatever else is installed
  where the tournament runs).
"""

from strategies import Prices, PricingStrategy


class MyStrategy(PricingStrategy):
    """Start at cost + 60%; each morning, sit a little under the cheapest rival, but keep a margin."""

    # Parameters: class attributes with a type. Tune them here.
    opening_markup: float = 0.6  # day 0: no rival price is known yet
    undercut: float = 0.03  # how far below the cheapest rival (0.03 = 3%)
    floor_markup: float = 0.25  # never below unit cost × (1 + floor_markup)
    student_discount: float = 0.1  # students (an observable segment) pay 10% less

    def reset(self, info):
        """Called once before day 0 of every match. `info` tells you your shop's name
        (`info.seller`), its unit cost, the number of days, your rivals' names, the observable
        segments and their sizes, and `info.rng`, your own random numbers."""
        self.floor = info.unit_cost * (1 + self.floor_markup)

    def price(self, obs):
        """Called every morning. What `obs` holds:
        - the calendar: obs.day (0, 1, ...), obs.weekday (Monday = 0), obs.days_left,
          obs.events_today;
        - your shop: obs.unit_cost, obs.stock (math.inf when unlimited), obs.on_order;
        - your past (numpy arrays, one entry per day so far): obs.history.prices, .views
          (shoppers in the market), .units, .revenue, .lost_sales, and per observable segment
          obs.history.segment_units["students"] etc.;
        - your rivals' posted prices so far: obs.rival_prices["south_shop"] (an array).
        """
        if obs.day == 0:
            base = obs.unit_cost * (1 + self.opening_markup)
            reason = "opening markup"
        else:
            cheapest = min(prices[-1] for prices in obs.rival_prices.values())
            base = max(self.floor, cheapest * (1 - self.undercut))
            reason = f"{self.undercut:.0%} under the cheapest rival ({cheapest:.2f})"
        # one price for everyone would be `return base`; Prices can also price segments
        student_price = max(self.floor, base * (1 - self.student_discount))
        return Prices(base, segments={"students": student_price}, reason=reason)

    def observe(self, result):
        """Called every evening with your own outcome: result.price, result.units,
        result.revenue, result.lost_sales, result.stock. Learn from it here if you like."""
