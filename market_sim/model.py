"""MarketModel: one simulated day per `step()`, for one focal strategy and one replication."""

from __future__ import annotations

from dataclasses import dataclass
from types import MappingProxyType

import mesa
import numpy as np

from market_sim.agents import Consumer, Offer, Seller
from market_sim.clearing import NONE, Allocation, allocate
from market_sim.ledger import Ledger
from market_sim.population import Population
from market_sim.scenario import Scenario, StrategySpec
from market_sim.streams import Purpose, stream
from strategies import build
from strategies.base import (
    DayResult,
    History,
    MarketInfo,
    Observation,
    PublicEvent,
    _read_only,
)

ENGINES = ("vectorised", "agents")


@dataclass(frozen=True)
class Trading:
    """One day's market: who shopped, what they were offered, and what they did."""

    shoppers: np.ndarray  # consumer rows, in arrival order
    returning: np.ndarray  # (shoppers, sellers) bool: bought from that seller before today
    prices: np.ndarray  # (shoppers, sellers): the price each shopper was shown
    utility: np.ndarray  # (shoppers, sellers): money value of each offer, shocks excluded
    allocation: Allocation


class MarketModel(mesa.Model):
    """Shoppers with hidden tastes meet sellers whose strategies set prices, day after day.

    `strategy` takes the focal seat (default: the scenario's first). `engine="agents"` clears
    the market shopper by shopper through `Consumer.choose`: the same purchases, slowly, for
    teaching and for checking the vectorised kernel. Consumer agents are created when that
    engine or `consumer_agents=True` asks for them; the arrays in `population` are the truth.
    """

    def __init__(
        self,
        scenario: Scenario,
        strategy: StrategySpec | None = None,
        replication: int = 0,
        engine: str = "vectorised",
        consumer_agents: bool = False,
    ):
        seed = scenario.seed
        super().__init__(rng=stream(seed, replication, Purpose.MESA))
        if engine not in ENGINES:
            raise ValueError(f"engine must be one of {ENGINES}, got {engine!r}")
        # the scenario (not `self.scenario`: Mesa reserves that name for its own scenarios)
        self.spec, self.replication, self.engine = scenario, replication, engine
        self.days = scenario.days
        self.population = Population.draw(
            scenario.consumers,
            len(scenario.sellers),
            stream(seed, replication, Purpose.POPULATION),
        )
        segments = self.population.segment_names
        self.ledger = Ledger(scenario.days, len(scenario.sellers), len(segments))
        self.observable = MappingProxyType(
            {name: g for g, name in enumerate(segments) if self.population.observable[g]}
        )
        self.wtp_multiplier = 1.0
        focal = strategy or scenario.strategies[0]
        chosen = [focal if spec.focal else spec.strategy for spec in scenario.sellers]
        self.sellers = [
            Seller(
                self,
                index=j,
                name=spec.name,
                unit_cost=spec.unit_cost,
                quality=spec.quality,
                inventory=spec.inventory,
                strategy=build(chosen[j].kind, chosen[j].params),
                guardrails=scenario.guardrails if spec.focal else None,
            )
            for j, spec in enumerate(scenario.sellers)
        ]
        self.quality = np.array([s.quality for s in self.sellers])
        if consumer_agents or engine == "agents":
            Consumer.create_agents(self, len(self.population), row=list(range(len(self.population))))
            self.consumers = self.agents_by_type[Consumer].to_list()
        sizes = self.population.segment_sizes
        public_events = tuple(PublicEvent(e.name, e.first_day, e.days) for e in scenario.market.events)
        for seller in self.sellers:
            seller.start(
                MarketInfo(
                    seller=seller.name,
                    unit_cost=seller.unit_cost,
                    days=scenario.days,
                    start_date=scenario.start_date,
                    rivals=tuple(s.name for s in self.sellers if s is not seller),
                    segments=MappingProxyType({name: int(sizes[g]) for name, g in self.observable.items()}),
                    events=public_events,
                    rng=stream(seed, replication, Purpose.STRATEGY, seller.index),
                )
            )

    def step(self) -> None:
        """One day: shoppers arrive, deliveries land, sellers post prices, the market clears,
        sellers settle and learn."""
        day = self.steps - 1
        shoppers = self.arrivals(day)
        received = [seller.receive(day) for seller in self.sellers]
        prices = self.post_prices(day)
        trading = self.clear(day, shoppers, prices)
        self.settle(day, trading, received)
        self.running = self.steps < self.days

    def arrivals(self, day: int) -> np.ndarray:
        """Who shops today (each consumer with their visit probability), in arrival order."""
        scenario = self.spec
        self.wtp_multiplier = scenario.wtp_multiplier(day)
        chance = np.minimum(self.population.visit_rate * scenario.traffic(day), 1.0)
        draws = stream(scenario.seed, self.replication, Purpose.VISITS, day).random(len(chance))
        visitors = np.flatnonzero(draws < chance)
        return stream(scenario.seed, self.replication, Purpose.ARRIVALS, day).permutation(visitors)

    def post_prices(self, day: int) -> np.ndarray:
        """Every seller's price table for today: (sellers, segments, new/returning)."""
        return np.stack(
            [
                seller.post_prices(
                    self.observation(seller, day),
                    self.population.segment_names,
                    self.population.observable,
                )
                for seller in self.sellers
            ]
        )

    def observation(self, seller: Seller, day: int) -> Observation:
        """What `seller` may see this morning: the calendar, its own past, rivals' past prices."""
        scenario, ledger = self.spec, self.ledger
        return Observation(
            day=day,
            weekday=scenario.weekday(day),
            date=scenario.date(day),
            days_left=scenario.days - day,
            events_today=tuple(e.name for e in scenario.events_on(day)),
            info=seller.info,
            stock=seller.on_hand,
            on_order=tuple(seller.in_transit),
            history=History(ledger, seller.index, day, self.observable),
            rival_prices=MappingProxyType(
                {
                    other.name: _read_only(ledger.price[:day, other.index])
                    for other in self.sellers
                    if other is not seller
                }
            ),
        )

    def clear(self, day: int, shoppers: np.ndarray, tables: np.ndarray) -> Trading:
        """Every shopper values every offer, then shoppers are served first come, first served."""
        population, market = self.population, self.spec.market
        sellers = len(self.sellers)
        returning = population.bought_from[shoppers]
        segment = population.segment[shoppers]
        prices = tables[np.arange(sellers)[None, :], segment[:, None], returning.astype(np.intp)]
        utility = (population.wtp[shoppers] * self.wtp_multiplier)[:, None] + self.quality[None, :]
        loyal = population.last_seller[shoppers][:, None] == np.arange(sellers)[None, :]
        utility = utility + np.where(loyal, population.loyalty[shoppers][:, None], 0.0)
        utility = utility - prices
        shocks = stream(self.spec.seed, self.replication, Purpose.TASTE, day).gumbel(
            size=(len(shoppers), sellers + 1)
        )
        stock = np.array([seller.on_hand for seller in self.sellers], dtype=float)
        if self.engine == "agents":
            allocation = self.clear_agent_by_agent(shoppers, prices, shocks, stock)
        elif market.choice == "logit":
            beta = population.price_sensitivity[shoppers]
            scores = beta[:, None] * utility + shocks[:, :sellers]
            allocation = allocate(scores, beta * market.outside_utility + shocks[:, sellers], stock)
        else:
            threshold = np.full(len(shoppers), float(market.outside_utility))
            allocation = allocate(utility, threshold, stock, tiebreak=shocks[:, :sellers])
        return Trading(shoppers, returning, prices, utility, allocation)

    def clear_agent_by_agent(
        self,
        shoppers: np.ndarray,
        prices: np.ndarray,
        shocks: np.ndarray,
        stock: np.ndarray,
    ) -> Allocation:
        """The same market, one `Consumer.choose` at a time (the readable reference)."""
        choice = np.full(len(shoppers), NONE)
        lost_sale = np.full(len(shoppers), NONE)
        for position, row in enumerate(shoppers):
            offers = [
                Offer(
                    seller.index,
                    float(prices[position, seller.index]),
                    seller.quality,
                    stock[seller.index] > 0,
                )
                for seller in self.sellers
            ]
            decision = self.consumers[row].choose(offers, shocks[position])
            if decision.bought is not None:
                choice[position] = decision.bought
                stock[decision.bought] -= 1
            if decision.lost_sale is not None:
                lost_sale[position] = decision.lost_sale
        return Allocation(choice, lost_sale)

    def settle(self, day: int, trading: Trading, received: list[int]) -> None:
        """Book the day: sales and costs per seller, detail per segment, then strategies learn."""
        population, ledger = self.population, self.ledger
        sellers, segments = len(self.sellers), len(population.segment_names)
        choice, lost_sale = trading.allocation.choice, trading.allocation.lost_sale
        buyers = np.flatnonzero(choice != NONE)
        seller_of = choice[buyers]
        paid = trading.prices[buyers, seller_of]
        segment = population.segment[trading.shoppers]
        status = trading.returning.astype(np.intp)
        cells = sellers * segments * 2
        detail = (sellers, segments, 2)

        # per (seller, segment, new/returning): the flat index of each shopper's cell
        cell = (np.arange(sellers)[None, :] * segments + segment[:, None]) * 2 + status
        bought_cell = cell[buyers, seller_of]
        ledger.views[day] = np.bincount(cell.ravel(), minlength=cells).reshape(detail)
        ledger.segment_units[day] = np.bincount(bought_cell, minlength=cells).reshape(detail)
        ledger.segment_revenue[day] = np.bincount(bought_cell, weights=paid, minlength=cells).reshape(detail)
        surplus = trading.utility[buyers, seller_of] - self.spec.market.outside_utility
        ledger.segment_surplus[day] = np.bincount(bought_cell, weights=surplus, minlength=cells).reshape(
            detail
        )

        units = np.bincount(seller_of, minlength=sellers)
        revenue = np.bincount(seller_of, weights=paid, minlength=sellers)
        lost = np.bincount(lost_sale[lost_sale != NONE], minlength=sellers)
        last_day = day == self.days - 1
        ledger.shoppers[day] = len(trading.shoppers)
        for seller in self.sellers:
            j = seller.index
            books = seller.settle(day, int(units[j]), last_day)
            ledger.price[day, j] = seller.decision.base
            ledger.reason[day, j] = seller.decision.reason
            ledger.guardrail_hits[day, j] = seller.guardrail_hits
            ledger.units[day, j] = units[j]
            ledger.revenue[day, j] = revenue[j]
            ledger.lost_sales[day, j] = lost[j]
            ledger.received[day, j] = received[j]
            ledger.ordered[day, j] = books["ordered"]
            ledger.stockout[day, j] = books["stockout"]
            ledger.cost_of_goods[day, j] = books["cost_of_goods"]
            ledger.holding_cost[day, j] = books["holding_cost"]
            ledger.order_cost[day, j] = books["order_cost"]
            ledger.salvage[day, j] = books["salvage"]
            ledger.inventory[day, j] = seller.on_hand
        ledger.days_recorded = day + 1
        population.record_purchases(trading.shoppers, choice)
        for seller in self.sellers:
            j = seller.index
            seller.observe(
                DayResult(
                    day=day,
                    price=seller.decision.base,
                    views=len(trading.shoppers),
                    units=int(units[j]),
                    revenue=float(revenue[j]),
                    lost_sales=int(lost[j]),
                    stock=seller.on_hand,
                )
            )
