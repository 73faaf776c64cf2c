"""Expected demand (`market.demand: expected`): no shopper is drawn. Each consumer shops with
its visit chance and picks among the offers and buying nothing with its logit probabilities;
every seller sells the sum of those probabilities, a fractional number of units, the same
every time for the same prices. There is no stock and no loyalty (no purchases are drawn),
so a day depends on the posted prices alone: experiments of millions of periods, as in the
learning-and-collusion literature, cost no random draws at all.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

import numpy as np

from market_sim.agents import offered_prices
from market_sim.ledger import Ledger
from market_sim.population import Population
from strategies.base import DayResult

if TYPE_CHECKING:
    from market_sim.model import MarketModel


@dataclass(frozen=True)
class ExpectedDay:
    """One day's expected trade, per (seller, segment) cell, everyone counted as a new customer."""

    shoppers: float  # expected shopping visits
    views: np.ndarray  # (segments,): expected visits of each segment's consumers
    units: np.ndarray  # (sellers, segments)
    revenue: np.ndarray  # (sellers, segments)
    surplus: np.ndarray  # (sellers, segments): expected (utility − outside utility) of purchases
    consumer_surplus: np.ndarray  # (segments,): the logit expected surplus (log-sum) of the visits


def expected_day(
    population: Population,
    quality: np.ndarray,
    tables: np.ndarray,
    traffic: float,
    wtp_multiplier: float,
    outside_utility: float,
) -> ExpectedDay:
    """Expected visits, units, revenue and surplus for the posted price `tables` (sellers ×
    segments × new/returning; the new-customer price applies, as nobody has bought before)."""
    segments = len(population.segment_names)
    visits = np.minimum(population.visit_rate * traffic, 1.0)
    prices = tables[:, population.segment, 0]  # (sellers, consumers)
    utility = population.wtp * wtp_multiplier + quality[:, None] - prices
    beta = population.price_sensitivity
    scores = beta * utility
    outside = beta * outside_utility
    top = np.maximum(scores.max(axis=0), outside)  # subtracted, so no exponential overflows
    weights = np.exp(scores - top)
    total = weights.sum(axis=0) + np.exp(outside - top)
    buyers = visits * weights / total  # (sellers, consumers): expected purchases

    def by_segment(values: np.ndarray) -> np.ndarray:
        return np.stack([np.bincount(population.segment, row, segments) for row in values])

    units = by_segment(buyers)
    views = np.bincount(population.segment, visits, segments)
    # ln(1 + Σ exp(β (u_j − u₀))) / β per visit; without price sensitivity, the purchases' surplus
    gain = (utility - outside_utility) * weights / total
    sensitive = beta > 0
    logsum = np.where(
        sensitive, (np.log(total) + top - outside) / np.where(sensitive, beta, 1.0), gain.sum(axis=0)
    )
    return ExpectedDay(
        shoppers=float(views.sum()),
        views=views,
        units=units,
        revenue=by_segment(buyers * prices),
        surplus=by_segment(buyers * (utility - outside_utility)),
        consumer_surplus=np.bincount(population.segment, visits * logsum, segments),
    )


def book(
    ledger: Ledger,
    day: int,
    trade: ExpectedDay,
    prices: np.ndarray,
    offered: np.ndarray,
    reasons: list[str],
    unit_costs: list[float],
) -> None:
    """Record one day of expected trade in `ledger` (row `day`), unlimited stock: `prices` the
    posted base prices, `offered` (sellers, segments) each segment's price before coupons."""
    ledger.shoppers[day] = trade.shoppers
    ledger.views[day, :, :, 0] = trade.views
    ledger.segment_units[day, :, :, 0] = trade.units
    ledger.segment_revenue[day, :, :, 0] = trade.revenue
    ledger.segment_surplus[day, :, :, 0] = trade.surplus
    ledger.consumer_surplus[day] = trade.consumer_surplus
    ledger.offered[day] = offered
    units = trade.units.sum(axis=1)
    ledger.price[day] = prices
    ledger.reason[day] = reasons
    ledger.units[day] = units
    ledger.revenue[day] = trade.revenue.sum(axis=1)
    ledger.paid_square[day] = (trade.units * offered**2).sum(axis=1)  # Σ price paid² over purchases
    ledger.cost_of_goods[day] = np.asarray(unit_costs) * units
    ledger.inventory[day] = np.inf
    ledger.days_recorded = day + 1


def settle_expected(model: MarketModel, day: int, tables: np.ndarray, received: list[int]) -> None:
    """Book one day of expected demand in the model's ledger, then let the strategies learn."""
    ledger, sellers = model.ledger, model.sellers
    trade = expected_day(
        model.population,
        model.quality,
        tables,
        *model.day_factors(day),
        model.spec.market.outside_utility,
    )
    prices = np.array([seller.decision.base for seller in sellers])
    offered = np.array(
        [offered_prices(seller.decision, model.population.segment_names) for seller in sellers]
    )
    reasons = [seller.decision.reason for seller in sellers]
    book(ledger, day, trade, prices, offered, reasons, [seller.unit_cost for seller in sellers])
    units, revenue = trade.units.sum(axis=1), trade.revenue.sum(axis=1)
    for seller in sellers:
        seller.settle(day, units[seller.index], day == model.days - 1)  # unlimited stock: nothing to order
        ledger.guardrail_hits[day, seller.index] = seller.guardrail_hits
        ledger.received[day, seller.index] = received[seller.index]
    for seller in sellers:
        j = seller.index
        seller.observe(
            DayResult(
                day=day,
                price=seller.decision.base,
                views=trade.shoppers,
                units=float(units[j]),
                revenue=float(revenue[j]),
                lost_sales=0,
                stock=seller.on_hand,
            )
        )
