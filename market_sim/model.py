"""MarketModel: one simulated day per `step()`, for one focal strategy and one replication."""

from __future__ import annotations

import dataclasses
import datetime as dt
import logging
import math
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from functools import cached_property, partial
from itertools import cycle, islice, repeat
from types import MappingProxyType, ModuleType
from typing import TYPE_CHECKING, Any

import mesa
import numpy as np
from mesa.mesa_logging import get_module_logger

from market_sim import fast
from market_sim.agents import Consumer, Offer, Seller, guarded, offered_prices
from market_sim.clearing import NONE, TASTE_BLOCK, Allocation, Scratch, as_chosen, clear
from market_sim.expected import settle_expected
from market_sim.hindsight import FixedPriceProfits, Recording
from market_sim.ledger import Ledger
from market_sim.population import Population
from market_sim.scenario import Scenario, StrategySpec
from market_sim.streams import DailyStream, Purpose, gumbel, stream
from strategies import build
from strategies.base import (
    DayResult,
    History,
    MarketInfo,
    Observation,
    PricingStrategy,
    PublicEvent,
    _read_only,
    quick_init,
)

if TYPE_CHECKING:
    import pandas as pd
    from mesa.time import Event as MesaEvent

ENGINES = ("vectorised", "agents")
CALENDAR_DAYS = 1024  # days of the public calendar worked out at once
_mesa_log = get_module_logger("mesa.model")  # the logger of Mesa's own step
SURPLUS_SLICE = 65536  # shoppers at a time in the logit consumer surplus
SURPLUS_BATCH = 4096  # days of fewer shoppers have their surplus booked together, this many at once


class Arrivals:
    """Today's shoppers, in consumer order, and the order in which they arrive. The order is
    drawn from its own stream when it is asked for: only days on which some seller cannot
    serve everyone who wants it (and the agent-by-agent engine) need it. Every call gives the
    same order (the stream starts at the day's draws each time), and none is kept: a big day's
    order is gone once the shoppers are served."""

    def __init__(self, shoppers: np.ndarray, orders: DailyStream, day: int):
        self.shoppers = shoppers  # consumer rows, ascending
        self._orders, self._day = orders, day  # the arrival orders' stream, and the day
        self.table_order: np.ndarray | None = None  # rows of obs.shoppers (see MarketModel.table_order)

    def order(self) -> np.ndarray:
        """Positions in `shoppers`, first arrival first."""
        return self._orders.on(self._day).permutation(len(self.shoppers))


class _StreamOn:
    """`stream.on(day)` of the day last set, called without arguments: the visits' generator,
    for `Population.shoppers`, which asks for it only on days when some consumer may shop or
    not (one object for the run rather than a partial function a day)."""

    __slots__ = ("stream", "day")

    def __init__(self, stream: DailyStream):
        self.stream, self.day = stream, 0

    def __call__(self) -> np.random.Generator:
        return self.stream.on(self.day)


@quick_init
@dataclass(frozen=True, init=False)
class Trading:
    """One day's market: who shopped, what they were offered, and what they did. Shoppers are
    in consumer order throughout, so both engines book the day in the same order."""

    shoppers: np.ndarray  # consumer rows, ascending
    segment: np.ndarray  # each shopper's segment
    # (shoppers, sellers) bool: bought from that seller before today (None if nothing needed it:
    # the compiled books read each consumer's own record)
    returning: np.ndarray | None
    tables: np.ndarray  # (sellers, segments, new/returning): today's posted price tables
    utility: np.ndarray  # (sellers, shoppers): money value of each offer, shocks excluded
    allocation: Allocation
    prices: np.ndarray  # (sellers, shoppers) or (sellers, 1): the price each shopper saw
    personal: bool = False  # some seller priced shoppers one by one today


class MarketModel(mesa.Model):
    """Shoppers with hidden tastes meet sellers whose strategies set prices, day after day.

    `strategy` takes the focal seat (default: the scenario's first). `engine="agents"` clears
    the market shopper by shopper through `Consumer.choose`: the same purchases, slowly, for
    teaching and for checking the vectorised kernel. Consumer agents are created when that
    engine or `consumer_agents=True` asks for them; the arrays in `population` are the truth.
    `seats`, if given, are strategies already made for every seller in order (a tournament's
    entrants), in place of the focal strategy and the rivals' own.
    """

    recording: Recording | None = None  # set on a replay that records its days for hindsight
    # whether every seller posted one price today (`post_prices`), and `tables` as one column
    _one_price, _price_column = False, (None, None)
    _surplus_kept: _SurplusKept | None = None  # days whose surplus the compiled kernels book later
    # a big day's logit surplus per segment, worked out as it was cleared: (day, utility, totals)
    _surplus_ahead: tuple[int, np.ndarray, np.ndarray] | None = None
    _offers: dict[tuple[int, ...], np.ndarray] | None = None  # `_open_offers`, per set of open sellers
    _surplus_buffers: _SurplusBuffers | None = None  # `_surplus_block`'s arrays
    _choose: Callable[..., None] | None = None  # `_chooser`

    def __init__(
        self,
        scenario: Scenario,
        strategy: StrategySpec | None = None,
        replication: int = 0,
        engine: str = "vectorised",
        consumer_agents: bool = False,
        log_offers: bool = False,
        *,
        seats: Sequence[PricingStrategy] | None = None,
    ):
        seed = scenario.seed
        super().__init__(rng=stream(seed, replication, Purpose.MESA))
        self._mesa_step, self.step = self.step, self._next_day  # (Mesa's is called when it must)
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
        self._expected = fractional = scenario.market.demand == "expected"  # expected shares, no shoppers
        self.ledger = Ledger(scenario.days, len(scenario.sellers), len(segments), fractional)
        self.observable = MappingProxyType(
            {name: g for g, name in enumerate(segments) if self.population.observable[g]}
        )
        self.wtp_multiplier = 1.0
        self._factors: tuple[int, list[float], list[float]] = (0, [], [])  # see day_factors
        focal = strategy or scenario.strategies[0]
        chosen = [focal if spec.focal else spec.strategy for spec in scenario.sellers]
        made = (
            list(seats)
            if seats is not None
            else [
                guarded(seller.name, 0, partial(build, c.builds, c.params))  # a plug-in may fail to build
                for seller, c in zip(scenario.sellers, chosen, strict=True)
            ]
        )
        if len(made) != len(scenario.sellers):
            raise ValueError(f"{len(made)} seats for {len(scenario.sellers)} sellers")
        self.sellers = [
            Seller(
                self,
                index=j,
                name=spec.name,
                unit_cost=spec.unit_cost,
                quality=spec.quality,
                inventory=spec.inventory,
                strategy=made[j],
                guardrails=scenario.guardrails if spec.focal else None,
            )
            for j, spec in enumerate(scenario.sellers)
        ]
        self.quality = np.array([s.quality for s in self.sellers])
        self.seller_rows = np.arange(len(self.sellers))[:, None]
        self.tables = np.zeros((len(self.sellers), len(segments), 2))  # today's posted prices
        self._filled: list[float | None] = [None] * len(self.sellers)  # the one price of a seller's table
        # each seller's copy of its rivals' posted prices, made as it reads them (`obs.rival_prices`)
        self.posted = [
            _RivalLog(
                {
                    other.name: _read_only(self.ledger.price[:, other.index])
                    for other in self.sellers
                    if other is not seller
                }
            )
            for seller in self.sellers
        ]
        self._pseudonyms: np.ndarray | None = None
        self._calendar: tuple[int, list[tuple]] = (0, [])  # the first day and the days worked out
        self.offers: list[dict[str, np.ndarray]] | None = [] if log_offers else None  # by day
        self._tables: dict[int, _Once] = {}  # today's shopper table of each seller, when asked for
        self.has_loyalty = bool(self.population.loyalty.any())  # else skip the bonus altogether
        self._segment_numbers = np.arange(len(segments) + 1)  # (searched for in a day's segments)
        self.scratch = Scratch()  # the hot path's big arrays, reused every day
        self._wanted = np.zeros(len(self.sellers), dtype=np.int64)  # each seller's first choosers today
        # small days whose logit consumer surplus is booked later, many days in one pass
        self._surplus_due: list[_SurplusDue] = []
        self._surplus_due_shoppers = 0
        self._all_sensitive = bool((self.population.price_sensitivity > 0).all())
        self._zero_outside = scenario.market.outside_utility == 0 and bool(
            np.isfinite(self.population.price_sensitivity).all()
        )
        # the outside utility as a float, and whether taking it off a utility may change it (less
        # +0.0 changes no number)
        self._outside = outside = float(scenario.market.outside_utility)
        self._less_outside = bool(outside or math.copysign(1.0, outside) < 0)
        self._logit = scenario.market.choice == "logit"
        self.streams = {
            purpose: DailyStream(seed, replication, purpose)
            for purpose in (Purpose.VISITS, Purpose.ARRIVALS, Purpose.TASTE)
        }
        self._visits = _StreamOn(self.streams[Purpose.VISITS])  # the visits' generator, for `arrivals`
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
        sellers settle and learn. The ledger is complete whenever the run stops: at its end, on
        a failure, after `run_for` and `run_until` (else call `book_surplus_due`)."""
        try:
            self.trade_one_day()
        except BaseException:
            self.book_surplus_due()  # the days before the failure are kept whole
            raise
        if not self.running:
            self.book_surplus_due()

    def run_for(self, duration: float | int) -> None:
        if duration > 0:
            self.run_until(self.time + duration)
            return
        super().run_for(duration)  # (Mesa's warning)
        self.book_surplus_due()

    def run_until(self, end_time: float | int) -> None:
        if end_time > self.time:
            self._run_days_until(end_time)
            if self.time < end_time:  # what is left: part of a day, or other scheduled events
                super().run_until(end_time)
        else:
            super().run_until(end_time)  # (Mesa's warning)
        self.book_surplus_due()

    def _next_day(self) -> None:
        """`model.step()`: Mesa's step (the clock one unit on, the day run as the event Mesa
        scheduled for it), run directly while the next day is all that is scheduled: Mesa would
        make a new event and its weak reference every day. Otherwise Mesa's own step."""
        event = self._lone_day()
        if event is None:
            self._mesa_step()
        else:
            self._run_day(event)

    def _run_days_until(self, until: float | int) -> None:
        """Run the days due by `until` as `_next_day` does, while nothing else is scheduled."""
        while (now := self.time) + 1 <= until and (event := self._lone_day(now)) is not None:
            self._run_day(event)

    def _lone_day(self, now: float | None = None) -> MesaEvent | None:
        """Mesa's event of the next day, if it is the only event scheduled and due one unit from
        now, as it is unless something else was scheduled or the day's schedule paused (a
        simulator stops it). None too with a Mesa whose private schedule is not 3.5's: its own
        step then, slower but the same. (`now`: the clock, if just read: Mesa's observable time
        is slow to read.)"""
        try:
            pending, days = self._event_list._events, self._default_schedule
            if len(pending) != 1 or not hasattr(days, "_execution_count"):  # (as _run_day counts)
                return None
            event = pending[0]
            now = self.time if now is None else now
            if event is not days._current_event or event.time != now + 1 or days._paused:
                return None
        except AttributeError:
            return None
        return event

    def _run_day(self, event: MesaEvent) -> None:
        """What Mesa does with the day's event: the clock to its time, `steps` one up, the step
        run, and the next day's event one unit later (here the same event, moved: the only one
        in Mesa's event list, so the list stays in order)."""
        now = event.time
        self.time, event.time = now, now + 1
        self.steps += 1
        if _mesa_log.isEnabledFor(logging.INFO):
            _mesa_log.info(f"Step {self.steps} at time {self.time}")
        self._user_step()
        self._default_schedule._execution_count += 1

    def trade_one_day(self) -> None:
        day = self.steps - 1
        shoppers = self.arrivals(day)
        received = [seller.receive(day) if seller.in_transit else 0 for seller in self.sellers]
        self.today, self._tables = shoppers, {}
        prices = self.post_prices(day)
        if self._expected:
            settle_expected(self, day, prices, received)  # no shoppers drawn: expected shares
        else:
            trading = self.clear(day, shoppers, prices)
            self.settle(day, trading, received)
            if self.offers is not None:
                self.log_offers(day, trading)
        self.running = self.steps < self.days and not self.stable()
        if not self.running and self.offers is not None:
            self.ledger.keep_offers(self.offers)

    def stable(self) -> bool:
        """Whether `stop_when_stable` ends the run now: every learner's greedy policy has stood
        for that many days (never without a learner)."""
        needed = self.spec.stop_when_stable
        if needed is None:
            return False
        stable = [s.strategy.stable_for() for s in self.sellers]
        learners = [days for days in stable if days is not None]
        return bool(learners) and min(learners) >= needed

    def arrivals(self, day: int) -> Arrivals:
        """Who shops today (each consumer with their visit probability); the order in which
        they arrive is drawn when it matters."""
        traffic, self.wtp_multiplier = self.day_factors(day)
        visits = self._visits
        visits.day = day
        return Arrivals(self.population.shoppers(traffic, visits), self.streams[Purpose.ARRIVALS], day)

    def day_factors(self, day: int) -> tuple[float, float]:
        """`day`'s multipliers of every consumer's visit rate and willingness to pay (weekday and
        events), worked out CALENDAR_DAYS days at a time (a run may be millions of days long)."""
        first, traffic, wtp = self._factors
        if not first <= day < first + len(traffic):
            first = day - day % CALENDAR_DAYS
            traffic, wtp = self.spec.day_factors(first, min(first + CALENDAR_DAYS, self.days))
            self._factors = first, traffic, wtp
        return traffic[day - first], wtp[day - first]

    def stream(self, purpose: Purpose, day: int) -> np.random.Generator:
        """Today's random stream for `purpose` (common to every strategy on this replication)."""
        return self.streams[purpose].on(day)

    def replay(self, kind: str, params: Mapping[str, Any]) -> Ledger:
        """This replication of this market again, with strategy `kind(**params)` in the focal seat,
        run for as many days: the ledger it leaves. Handed to oracle benchmarks through `reveal`
        (the model is their hidden truth), so that the strategies never import the engine."""
        replay = MarketModel(self.spec, StrategySpec(kind, dict(params)), self.replication)
        replay.run_for(self.days)
        return replay.ledger

    def fixed_price_profits(self, seat: int) -> FixedPriceProfits:
        """`profits(prices)`: seat `seat`'s total profit on this replication with each fixed
        price in its place, as `replay("fixed", {"price": p})` would book it, from one recorded
        replay where the market allows it (`market_sim.hindsight`). For oracles, like `replay`."""
        return FixedPriceProfits(self, seat)

    def post_prices(self, day: int) -> np.ndarray:
        """Every seller's price table for today: (sellers, segments, new/returning)."""
        calendar, tables = self.calendar(day), self.tables
        shoppers = len(self.today.shoppers)
        names, observable = self.population.segment_names, self.population.observable
        one_price, filled = True, self._filled
        for seller in self.sellers:
            observation = self.observation(seller, day, calendar)
            table, j = seller.post_prices(observation, names, observable, shoppers), seller.index
            if type(table) is not float:
                tables[j], one_price, filled[j] = table, False, None  # (`shown_prices` reads the tables)
            elif table != filled[j]:  # (a price > 0: equal, the same number)
                for g in range(len(names)):  # cell by cell: numpy's quickest write of a number
                    tables[j, g, 0] = tables[j, g, 1] = table
                filled[j] = table
        self._one_price = one_price
        return tables

    def log_offers(self, day: int, trading: Trading) -> None:
        """Keep today's offers as a seller sees them (`--log-offers`): per shopper, in the order
        of `obs.shoppers`, the pseudonym, visible segment and observable features; per seller
        and shopper, the price shown and whether they bought."""
        population = self.population
        order = self.table_order()
        rows = trading.shoppers[order]
        visible = np.where(population.observable[population.segment[rows]], population.segment[rows], -1)
        prices = np.broadcast_to(trading.prices, (len(self.sellers), len(trading.shoppers)))[:, order]
        self.offers.append(
            {
                "day": np.full(len(rows), day, dtype=np.int32),
                "shopper": self.pseudonyms()[rows],
                "segment": visible,
                "features": population.features[rows][:, population.feature_observable],
                "price": prices.T.copy(),
                "choice": trading.allocation.choice[order],
            }
        )

    def audit(self) -> dict[str, object]:
        """The focal seller's dealings with every consumer, next to what the consumer truly is
        (features hidden or not, segment, willingness to pay), for the personal-pricing scores:
        views of the population's arrays, so they fill in as the run goes on."""
        population, focal = self.population, self.spec.focal_index
        rivals = [s.index for s in self.sellers if s.index != focal]
        return {
            "segment": population.segment,
            "segment_names": np.array(population.segment_names, dtype=str),
            "segment_observable": population.observable,
            "feature_names": np.array(population.feature_names, dtype=str),
            "feature_observable": population.feature_observable,
            "features": population.features,
            "wtp": population.wtp,
            "price_sensitivity": population.price_sensitivity,
            "visits": population.visits,
            "purchases": population.purchases[focal],
            "spend": population.spend[focal],
            "surplus": population.surplus,  # (sellers, consumers)
            "choice": self.spec.market.choice,
            "outside_utility": self.spec.market.outside_utility,
            "quality": float(self.quality[focal]),
            "unit_cost": self.sellers[focal].unit_cost,
            "rival_quality": self.quality[rivals],
            "rivals": np.array(rivals, dtype=int),
        }

    def pseudonyms(self) -> np.ndarray:
        """Every consumer's pseudonymous id (a random permutation, drawn from its own stream the
        first time a seller looks at its shoppers): it says nothing about the consumer's row,
        so nothing about the consumer's segment."""
        if self._pseudonyms is None:
            rng = stream(self.spec.seed, self.replication, Purpose.POPULATION, 1)
            self._pseudonyms = rng.permutation(len(self.population))
            self._by_pseudonym = np.argsort(self._pseudonyms)
            self._position = np.zeros(len(self.population), dtype=np.intp)
        return self._pseudonyms

    def table_order(self) -> np.ndarray:
        """Positions in today's shoppers (consumer order) of the rows of `obs.shoppers`, which
        come in pseudonym order (consumer order would give away hidden segments)."""
        today = self.today
        if today.table_order is None:
            self.pseudonyms()
            shoppers, position = today.shoppers, self._position
            position[:] = -1
            position[shoppers] = np.arange(len(shoppers))
            in_order = position[self._by_pseudonym]  # O(consumers), no sort
            today.table_order = in_order[in_order >= 0]
        return today.table_order

    def shopper_table(self, seller: Seller, day: int) -> pd.DataFrame:
        """`obs.shoppers` for `seller` today: pseudonym, visible segment, observable features and
        the seller's own history with each shopper, read-only."""
        import pandas as pd  # only strategies that price shoppers need it

        population, j = self.population, seller.index
        rows = self.today.shoppers[self.table_order()]
        names = zip(population.segment_names, population.observable, strict=True)
        visible = [name if seen else "" for name, seen in names]
        categories = list(dict.fromkeys(visible))
        code = np.array([categories.index(name) for name in visible], dtype=np.int8)
        codes = code[population.segment[rows]]
        last = population.last_purchase[j, rows]
        segment = pd.Categorical.from_codes(codes, dtype=pd.CategoricalDtype(categories), validate=False)
        columns = {"shopper": self.pseudonyms()[rows], "segment": segment}
        for f, name in enumerate(population.feature_names):
            if population.feature_observable[f]:
                columns[name] = population.features[rows, f]
        columns |= {
            "visits": population.visits[rows],
            "purchases": population.purchases[j, rows],
            "days_since_purchase": np.where(last >= 0, day - last, np.nan),
            "spend": population.spend[j, rows],
        }
        for column in columns.values():
            if isinstance(column, np.ndarray):
                column.flags.writeable = False
        return pd.DataFrame(columns, index=pd.RangeIndex(len(rows)), copy=False)

    def calendar(self, day: int) -> tuple[int, int, dt.date | None, int, tuple[str, ...]]:
        """The public calendar of `day`, the same for every seller: the first five fields of
        its `Observation` (day, weekday, date, days left, events today). Worked out for
        CALENDAR_DAYS days at a time (a run may be millions of days long)."""
        first, known = self._calendar
        if not first <= day < first + len(known):
            first = day - day % CALENDAR_DAYS
            scenario, last = self.spec, self.days
            days = range(first, min(first + CALENDAR_DAYS, last))
            # (whole blocks at once: a calendar day is one step on from the one before)
            weekday = scenario.weekday(first)
            weekdays = islice(cycle((*range(weekday, 7), *range(weekday))), len(days))
            dates = repeat(None, len(days))
            if scenario.start_date is not None:  # (start + timedelta(days=day) for each day)
                ordinal = scenario.start_date.toordinal()
                dates = map(dt.date.fromordinal, range(ordinal + first, ordinal + days.stop))
            events = [()] * len(days)
            for d in scenario.event_days(first, days.stop):
                events[d - first] = tuple(e.name for e in scenario.events_on(d))
            days_left = range(last - first, last - days.stop, -1)
            known = list(zip(days, weekdays, dates, days_left, events, strict=True))
            self._calendar = first, known
        return known[day - first]

    def observation(self, seller: Seller, day: int, calendar: tuple | None = None) -> Observation:
        """What `seller` may see this morning: the calendar, its own past, rivals' past prices
        and, if it asks, today's shoppers."""
        day, weekday, date, days_left, events_today = calendar or self.calendar(day)
        obs = _Morning.__new__(_Morning)  # (see _Morning)
        obs.__dict__.update(
            day=day,
            weekday=weekday,
            date=date,
            days_left=days_left,
            events_today=events_today,
            info=seller.info,
            stock=seller.on_hand,
            on_order=tuple(seller.in_transit),
            _seen_by=(self, seller),
        )
        return obs

    def _shopper_table_once(self, seller: Seller, day: int) -> _Once:
        """`obs.shopper_table` of `seller` today: one per seller and day, however many
        observations ask (settling the day looks whether it was called)."""
        table = self._tables.get(seller.index)
        if table is None:
            table = self._tables[seller.index] = _Once(self.shopper_table, seller, day)
        return table

    def clear(self, day: int, arrivals: Arrivals, tables: np.ndarray) -> Trading:
        """Every shopper values every offer, then shoppers are served first come, first served."""
        population, market, scratch = self.population, self.spec.market, self.scratch
        shoppers = arrivals.shoppers
        sellers, count = len(self.sellers), len(shoppers)
        # (everyone shops: the shoppers are all consumers in order, and their segments are theirs)
        segment = population.segment if count == len(population.segment) else population.segment[shoppers]
        kernels = fast.kernels()
        # whether each shopper bought from each seller before today, for the prices shown to new
        # and returning customers and the numpy path's books (the compiled books read each
        # consumer's own record): 5x faster than [shoppers] here
        returning = None if kernels is not None else population.bought_from.take(shoppers, axis=0)
        if self._one_price and tables is self.tables:  # each seller's one price, as shown_prices gives it
            posted, prices = self._price_column
            if posted is not tables:
                self._price_column = tables, (prices := tables.reshape(sellers, -1)[:, :1])
        else:
            if returning is None:
                returning = population.bought_from.take(shoppers, axis=0)
            prices = shown_prices(tables, segment, returning)
        personal = [seller for seller in self.sellers if seller.personal is not None]
        if personal:  # a row of prices per seller; personal prices replace the seller's row
            prices = np.array(np.broadcast_to(prices, (sellers, count)))
            order = self.table_order()
            for seller in personal:
                prices[seller.index, order] = seller.personal
        stock = [seller.on_hand for seller in self.sellers]
        logit = market.choice == "logit"
        preferred, wanted = None, None
        if kernels is not None:  # utilities, scores and first choices in one pass
            utility = scratch("utility", (sellers, count))
            preferred, wanted = np.empty(count, dtype=np.intp), self._wanted
            choose, multiplier = self._choose or self._chooser(kernels), float(self.wtp_multiplier)
        alone = self.recording is None and self.engine == "vectorised"  # nobody reads the shocks after
        if kernels is not None and logit and alone and count > 2 * TASTE_BLOCK:
            # a big day: the taste shocks drawn and used a block of shoppers at a time, in the
            # processor's cache (the same numbers: each row of the day's draws block by block)
            # (the scores and thresholds are read only by the service after a stock-out; kept
            # for the run: fresh arrays a day cost page faults, and settling a day needs no big
            # temporaries whose memory they would have left free)
            scores, threshold = scratch("offers", (sellers, count)), scratch("threshold", (count,))
            rows = self.streams[Purpose.TASTE].rows(day, sellers + 1, count)
            # the day's logit consumer surplus too, a block at a time while its utilities are in
            # cache (`consumer_surplus` takes the totals; see there for a slice of one shopper)
            ahead = self._all_sensitive and count % SURPLUS_SLICE != 1
            if ahead:
                offers, totals = self._open_offers(), np.zeros(len(population.segment_names))
            for first in range(0, count, TASTE_BLOCK):
                block = scratch("taste", (sellers + 1, min(TASTE_BLOCK, count - first)))
                for generator, row in zip(rows, block, strict=True):
                    generator.random(out=row)
                shocks = gumbel(block)
                choose(
                    shoppers, multiplier, prices, shocks, utility, scores, threshold, preferred, wanted, first
                )
                if ahead:
                    self._surplus_block(
                        kernels, utility, shoppers, segment, offers, first, block.shape[1], totals
                    )
            if ahead:
                self._surplus_ahead = (day, utility, totals)
            tiebreak = None
        else:
            # one uniform per offer and shopper, and one for buying nothing
            draws = self.streams[Purpose.TASTE].uniforms(day, scratch("taste", (sellers + 1, count)))
            shocks = gumbel(draws) if logit else draws  # else uniform tie-breakers between equal offers
            if kernels is not None:
                if not logit:
                    scores = utility
                elif alone:  # the shocks are not needed after: in place
                    scores, threshold = shocks[:sellers], shocks[sellers]
                else:
                    scores, threshold = scratch("offers", (sellers, count)), scratch("threshold", (count,))
                limits = threshold if logit else shocks[sellers]
                choose(shoppers, multiplier, prices, shocks, utility, scores, limits, preferred, wanted, 0)
                if not logit:
                    threshold, tiebreak = market.outside_utility, shocks[:sellers]
                else:
                    tiebreak = None
            else:
                utility = self.utilities(shoppers, prices)
                if logit:
                    beta = population.price_sensitivity[shoppers]
                    scores = np.multiply(beta, utility, out=scratch("offers", (sellers, count)))
                    scores += shocks[:sellers]
                    if self._zero_outside:  # β · 0 is ±0 for a finite β, and ±0 + shock is the shock
                        threshold = shocks[sellers]
                    else:
                        threshold = scratch("threshold", (count,))
                        np.multiply(beta, market.outside_utility, out=threshold)
                        threshold += shocks[sellers]
                    tiebreak = None
                else:
                    scores, threshold, tiebreak = utility, market.outside_utility, shocks[:sellers]
            if self.recording is not None:
                self.recording.day(self, shoppers, segment, tables, scores, threshold, tiebreak, shocks)
        if self.engine == "agents":
            allocation = self.clear_agent_by_agent(arrivals, prices, shocks, stock)
        elif wanted is None or (allocation := as_chosen(preferred, wanted, stock)) is None:
            allocation = clear(scores, threshold, stock, tiebreak, arrivals.order, scratch, preferred, wanted)
        return Trading(shoppers, segment, returning, tables, utility, allocation, prices, bool(personal))

    def _chooser(self, kernels: ModuleType) -> Callable[..., None]:
        """`kernels.choose` with the run's own arguments given (the consumers' arrays, the
        sellers' qualities, the market's terms): those of the day are left to pass."""
        chooser = self._choose
        if chooser is None:
            population, market = self.population, self.spec.market
            chooser = self._choose = partial(
                kernels.choose, population.wtp, self.quality, self.has_loyalty, population.loyalty,
                population.last_seller, population.price_sensitivity, market.choice == "logit",
                float(market.outside_utility), self._zero_outside,
            )  # fmt: skip
        return chooser

    def utilities(self, shoppers: np.ndarray, prices: np.ndarray) -> np.ndarray:
        """(sellers, shoppers): wtp (scaled on event days) + quality + loyalty − price, in the
        order of operations of `Consumer.utility`, so both engines compare the same numbers."""
        population, scratch = self.population, self.scratch
        shape = (len(self.sellers), len(shoppers))
        wtp = population.wtp[shoppers]
        if self.wtp_multiplier != 1.0:  # (times 1.0 changes no number)
            wtp *= self.wtp_multiplier
        utility = np.add(wtp, self.quality[:, None], out=scratch("utility", shape))
        if self.has_loyalty:
            loyal = np.equal(
                population.last_seller[shoppers], self.seller_rows, out=scratch("loyal", shape, bool)
            )
            # the bonus times 1 or 0 (adding 0.0 leaves a utility exactly as it was), in the
            # buffer that later holds the logit scores
            utility += np.multiply(population.loyalty[shoppers], loyal, out=scratch("offers", shape))
        utility -= prices
        return utility

    def clear_agent_by_agent(
        self,
        arrivals: Arrivals,
        prices: np.ndarray,
        shocks: np.ndarray,
        stock: list[float],
    ) -> Allocation:
        """The same market, one `Consumer.choose` at a time in arrival order (the readable
        reference)."""
        shoppers = arrivals.shoppers
        shown = np.broadcast_to(prices, (len(self.sellers), len(shoppers)))
        choice = np.full(len(shoppers), NONE)
        lost_sale = np.full(len(shoppers), NONE)
        unmet = np.zeros(len(self.sellers), dtype=np.int64)
        for k in arrivals.order():
            offers = [
                Offer(
                    seller.index,
                    float(shown[seller.index, k]),
                    seller.quality,
                    stock[seller.index] > 0,
                )
                for seller in self.sellers
            ]
            decision = self.consumers[shoppers[k]].choose(offers, shocks[:, k])
            if decision.bought is not None:
                choice[k] = decision.bought
                stock[decision.bought] -= 1
            if decision.lost_sale is not None:
                lost_sale[k] = decision.lost_sale
            unmet[list(decision.unmet)] += 1
        return Allocation(choice, lost_sale, unmet)

    def consumer_surplus(self, day: int, trading: Trading, segments: int) -> np.ndarray:
        """The day's consumer surplus per segment. Max surplus: the money surplus of every
        purchase (value − price − outside utility). Logit: the standard expected surplus of every
        shopper, ln(1 + Σ exp(β (u_j − u₀))) / β over the offers of sellers with stock at the day's
        opening (taste shocks included, so never negative; shoppers arriving after a sell-out
        are credited with that seller's offer)."""
        if self.spec.market.choice != "logit":
            return self.ledger.segment_surplus[day].sum(axis=(0, 2))
        ahead, self._surplus_ahead = self._surplus_ahead, None
        if ahead is not None and ahead[0] == day and ahead[1] is trading.utility:  # worked out in `clear`
            return ahead[2]
        outside = self.spec.market.outside_utility
        open_ = [seller.index for seller in self.sellers if seller.on_hand > 0]
        kernels = fast.kernels()
        if kernels is not None and self._all_sensitive and len(trading.shoppers) % SURPLUS_SLICE != 1:
            # (a slice of one shopper: see log_sum_exp)
            return self._consumer_surplus_compiled(kernels, trading, segments, open_)
        beta = self.population.price_sensitivity[trading.shoppers]
        count = len(beta)
        sensitive = beta > 0
        everyone = bool(sensitive.all())
        if everyone:
            surplus = np.empty(count)
        else:  # a shopper with no price sensitivity has no money scale for its taste shocks:
            # its realised surplus instead
            choice = trading.allocation.choice
            buyers = np.flatnonzero(choice != NONE)
            surplus = np.zeros(count)
            surplus[buyers] = trading.utility[choice[buyers], buyers] - outside
        # shoppers in slices, column by column the same numbers, so that a million shoppers
        # need no (sellers × shoppers) temporaries
        for start in range(0, count, SURPLUS_SLICE):
            part = slice(start, start + SURPLUS_SLICE)
            slope = beta[part]
            width = len(slope)
            # the outside option's row of zeros, then each open offer's β (u_j − u₀)
            scaled = self.scratch("surplus", (len(open_) + 1, width))
            scaled[0] = 0.0
            for row, j in enumerate(open_, 1):
                np.subtract(trading.utility[j, part], outside, out=scaled[row])
                scaled[row] *= slope
            if everyone:
                np.divide(log_sum_exp(scaled, self.scratch), slope, out=surplus[part])
            else:
                keep = sensitive[part]
                surplus[start + np.flatnonzero(keep)] = log_sum_exp(scaled[:, keep]) / slope[keep]
        return np.bincount(trading.segment, weights=surplus, minlength=segments)

    def _consumer_surplus_compiled(
        self, kernels: ModuleType, trading: Trading, segments: int, open_: list[int]
    ) -> np.ndarray:
        """`consumer_surplus` of shoppers who all have a price sensitivity, a block at a time in
        compiled passes (`_surplus_block`): the same numbers (`log_sum_exp`'s steps)."""
        offers, totals, count = np.array(open_, dtype=np.intp), np.zeros(segments), len(trading.shoppers)
        for first in range(0, count, TASTE_BLOCK):
            width = min(TASTE_BLOCK, count - first)
            self._surplus_block(
                kernels, trading.utility, trading.shoppers, trading.segment, offers, first, width, totals
            )
        return totals

    def _open_offers(self) -> np.ndarray:
        """The sellers with stock, as an array (one per set of open sellers, kept)."""
        open_ = tuple([seller.index for seller in self.sellers if seller.on_hand > 0])  # (a list: quicker)
        known = self._offers
        if known is None:
            known = self._offers = {}
        offers = known.get(open_)
        if offers is None:
            offers = known[open_] = np.array(open_, dtype=np.intp)
        return offers

    def _surplus_block(
        self,
        kernels: ModuleType,
        utility: np.ndarray,
        shoppers: np.ndarray,
        segment: np.ndarray,
        offers: np.ndarray,
        first: int,
        width: int,
        totals: np.ndarray,
    ) -> None:
        """Add the logit consumer surplus of shoppers `first` … `first + width` − 1 (columns of
        `utility`) to their segments' `totals`, in shopper order: the log-sums' terms and sums
        in compiled passes (`kernels.surplus_terms`, `sum_terms`, `add_log_sums`) with numpy's
        exp and log1p in between, a block of shoppers in cache. A block with tied largest terms
        or a largest term that is not finite takes every step of `log_sum_exp` instead."""
        scratch, population = self.scratch, self.population
        sensitivity, outside = population.price_sensitivity, float(self.spec.market.outside_utility)
        rows, buffers = len(offers) + 1, self._surplus_buffers
        if buffers is None or buffers.capacity < width or buffers.rows < rows:
            buffers = self._surplus_buffers = _SurplusBuffers(max(width, TASTE_BLOCK), len(self.sellers) + 1)
        slope, top, which, length, terms, block, sums, starts = buffers.views(rows, width)
        odd = kernels.surplus_terms(
            utility, offers, outside, sensitivity, shoppers, first, slope, top, which, length, block
        )  # fmt: skip
        if not odd:  # (every exp is of a number ≤ 0 and every sum ≥ 0: no warning to silence)
            np.exp(terms, out=terms)
            kernels.sum_terms(terms, rows, starts, which, length, sums)
            np.log1p(sums, out=sums)
            kernels.add_log_sums(sums, top, slope, segment, first, width, totals)
            return
        a, terms = scratch("surplus", (rows, width)), scratch("terms", (rows, width))
        top, sums = scratch("top", (width,)), scratch("sum", (width,))
        count = scratch("count", (width,), np.intp)
        kernels.surplus_scaled(utility, offers, outside, sensitivity, shoppers, first, a)
        kernels.log_sum_terms(a, terms, top, count)
        with np.errstate(over="ignore", invalid="ignore"):
            np.exp(terms, out=terms)
        kernels.sum_below_top(terms, a, top, sums)
        log_sums = _log_sum_tail(sums, count, top, lambda columns, a=a: a[:, columns], scratch)
        kernels.add_surplus(log_sums, sensitivity, shoppers, first, segment, totals)

    def book_consumer_surplus(self, day: int, trading: Trading, segments: int) -> None:
        """Book the day's consumer surplus (`consumer_surplus`), or keep what it needs for later:
        the log-sums of a small day cost mostly the overhead of some twenty numpy calls, so
        small days are booked together, up to SURPLUS_BATCH shoppers at once (arrays that stay
        in cache), the same numbers column by column (an offer out of stock enters as −inf,
        whose exp adds nothing)."""
        count = len(trading.shoppers)
        if not self._logit or count < 2 or count > SURPLUS_BATCH:
            # (a single shopper's log-sum sums its terms in another order: booked alone)
            self.ledger.consumer_surplus[day] = self.consumer_surplus(day, trading, segments)
            return
        kernels = fast.kernels()
        if kernels is not None and self._all_sensitive:  # kept side by side, booked by the kernels
            kept = self._surplus_kept
            if kept is None:
                kept = self._surplus_kept = _SurplusKept(kernels, len(self.sellers))
            elif kept.width + count > SURPLUS_BATCH:
                self.book_surplus_due()
            sensitivity = self.population.price_sensitivity
            if not kept.keep(day, trading, self._open_offers(), sensitivity, self._outside):
                # a shopper's log-sum takes log_sum_exp's rare steps: the day booked alone
                self.ledger.consumer_surplus[day] = self.consumer_surplus(day, trading, segments)
            return
        beta = self.population.price_sensitivity[trading.shoppers]
        if not (self._all_sensitive or (beta > 0).all()):  # realised surpluses, log-sums of a subset
            self.ledger.consumer_surplus[day] = self.consumer_surplus(day, trading, segments)
            return
        if self._surplus_due_shoppers + count > SURPLUS_BATCH:
            self.book_surplus_due()
        closed = [seller.index for seller in self.sellers if seller.on_hand <= 0]
        # today's utilities are a scratch array that tomorrow overwrites: a copy
        self._surplus_due.append(_SurplusDue(day, trading.utility.copy(), closed, beta, trading.segment))
        self._surplus_due_shoppers += count

    def book_surplus_due(self) -> None:
        """Book the logit consumer surplus of the days kept for later, in one pass."""
        kept = self._surplus_kept
        if kept is not None and kept.days:
            kept.book(self.ledger.consumer_surplus)
        due, self._surplus_due, self._surplus_due_shoppers = self._surplus_due, [], 0
        if not due:
            return
        outside, segments = self.spec.market.outside_utility, len(self.population.segment_names)
        utility = np.concatenate([d.utility for d in due], axis=1)
        slope = np.concatenate([d.beta for d in due])
        widths = [d.beta.size for d in due]
        scaled = np.empty((len(self.sellers) + 1, len(slope)))
        scaled[0] = 0.0
        np.subtract(utility, outside, out=scaled[1:])
        scaled[1:] *= slope
        start = 0
        for d, width in zip(due, widths, strict=True):
            for j in d.closed:  # out of stock at the opening
                scaled[1 + j, start : start + width] = -np.inf
            start += width
        surplus = log_sum_exp(scaled, self.scratch)
        surplus /= slope
        cell = np.repeat(np.arange(len(due)) * segments, widths) + np.concatenate([d.segment for d in due])
        by_day = np.bincount(cell, weights=surplus, minlength=len(due) * segments).reshape(len(due), segments)
        self.ledger.consumer_surplus[[d.day for d in due]] = by_day

    def settle(self, day: int, trading: Trading, received: list[int]) -> None:
        """Book the day: sales and costs per seller, detail per segment, then strategies learn."""
        population, ledger, all_sellers = self.population, self.ledger, self.sellers
        sellers, segments = len(all_sellers), len(population.segment_names)
        count = len(trading.shoppers)
        choice = trading.allocation.choice
        outside, less_outside = self._outside, self._less_outside
        kernels = fast.kernels()
        if kernels is not None:  # the day's cells, seller totals and shopper histories in one pass
            kernels.book_trades(
                day, trading.shoppers, trading.segment, choice, trading.prices,
                trading.tables, trading.personal, trading.utility, outside, less_outside,
                ledger.views, ledger.segment_units, ledger.segment_revenue, ledger.paid_square,
                ledger.segment_surplus, ledger.units, ledger.revenue, population.visits,
                population.purchases, population.last_purchase, population.spend, population.surplus,
                population.last_seller, population.bought_from,
            )  # fmt: skip
        else:
            buyers = (choice != NONE).nonzero()[0]
            seller_of = choice[buyers]
            status = trading.returning.ravel()[buyers * sellers + seller_of]  # returning customer?

            # shoppers come in consumer order, and consumers are grouped by segment: each segment's
            # shoppers are one stretch of rows (counted column by column: a count along the short
            # rows of `returning` is several times slower)
            stretch = [0, count]
            if segments > 1:
                stretch = np.searchsorted(trading.segment, self._segment_numbers).tolist()
            views = ledger.views[day]
            for g in range(segments):
                rows = slice(stretch[g], stretch[g + 1])
                for j in range(sellers):
                    regulars = np.count_nonzero(trading.returning[rows, j])
                    views[j, g] = (rows.stop - rows.start - regulars, regulars)
            # per (seller, segment, new/returning): the flat index of each buyer's cell
            if segments == 1:  # (every buyer's segment is 0)
                bought_cell = seller_of * 2 + status
            else:
                bought_cell = (seller_of * segments + trading.segment[buyers]) * 2 + status
            cell_units = ledger.segment_units[day]
            cell_units.flat = np.bincount(bought_cell, minlength=cell_units.size)
            prices = trading.prices
            paid = prices[seller_of, 0 if prices.shape[1] == 1 else buyers]
            cell_revenue = ledger.segment_revenue[day]
            if trading.personal:  # buyers in a cell paid different prices
                cell_revenue.flat = np.bincount(bought_cell, weights=paid, minlength=cell_units.size)
            else:
                np.multiply(cell_units, trading.tables, out=cell_revenue)  # everyone in a cell paid its price
            ledger.paid_square[day] = np.bincount(seller_of, weights=paid * paid, minlength=sellers)
            surplus = trading.utility.ravel()[seller_of * count + buyers]  # a copy
            if less_outside:
                surplus -= outside
            ledger.segment_surplus[day].flat = np.bincount(
                bought_cell, weights=surplus, minlength=cell_units.size
            )
        self.book_consumer_surplus(day, trading, segments)
        if kernels is None:
            units = np.bincount(seller_of, minlength=sellers)  # = cell_units.sum(axis=(1, 2)), cheaper
            ledger.units[day], ledger.revenue[day] = units, cell_revenue.sum(axis=(1, 2))
        last_day = day == self.days - 1
        ledger.shoppers[day] = count
        sold, missed = ledger.units[day].tolist(), trading.allocation.unmet_demand(sellers).tolist()
        # cell by cell: a number written to one cell (every index given) takes numpy's quickest
        # path, a tenth of the cost of a row made from a list
        names, listening = population.segment_names, []
        for seller in all_sellers:
            j, decision = seller.index, seller.decision
            kept = seller.settle(day, sold[j], last_day)
            # (counts and flags only when not zero: the ledger starts at zero, and they have no -0)
            if kept["ordered"]:  # (else no order cost: 0.0)
                ledger.ordered[day, j] = kept["ordered"]
                ledger.order_cost[day, j] = kept["order_cost"]
            if kept["stockout"]:
                ledger.stockout[day, j] = True
            ledger.cost_of_goods[day, j] = kept["cost_of_goods"]
            ledger.holding_cost[day, j] = kept["holding_cost"]
            ledger.salvage[day, j] = kept["salvage"]
            ledger.price[day, j] = decision.base
            offered = offered_prices(decision, names) if decision.segments else (decision.base,) * segments
            for g, price in enumerate(offered):
                ledger.offered[day, j, g] = price
            ledger.reason[day, j] = decision.reason
            ledger.inventory[day, j] = seller.on_hand
            if seller.guardrail_hits:
                ledger.guardrail_hits[day, j] = seller.guardrail_hits
            if seller.personal is not None:
                ledger.personal[day, j] = True
            if received[j]:
                ledger.received[day, j] = received[j]
            if missed[j]:
                ledger.lost_sales[day, j] = missed[j]
            if seller.hears_results:
                listening.append(seller)
        ledger.days_recorded = day + 1
        if kernels is None:
            population.record_visits(trading.shoppers)
            population.record_purchases(trading.shoppers[buyers], seller_of, status, paid, day, surplus)
        if population.feature_names and day == 0:
            ledger.keep_audit(self.audit())
        tables = self._tables
        if listening:
            earned = ledger.revenue[day].tolist()
        for seller in listening:
            j, decision = seller.index, seller.decision
            table = tables.get(j)
            bought = None
            if table is not None and table.called:  # whom of the rows of its table it sold to
                bought = choice[self.table_order()] == j
                bought.flags.writeable = False
            seller.observe(
                DayResult(day, decision.base, count, sold[j], earned[j], missed[j], seller.on_hand, bought)
            )


def log_sum_exp(a: np.ndarray, scratch: Scratch | None = None) -> np.ndarray:
    """`scipy.special.logsumexp(a, axis=0)` of a 2-D float array of real numbers, as scipy 1.18
    computes it (so to the last bit; tests/test_engine.py compares), without its per-call
    overhead of about a millisecond and its temporaries: the largest term of each column taken
    out of the sum (its exp, and that of every term tied with it, counted instead), and log1p
    of the rest scaled by it; where that is not finite, the direct log of the sum. (scipy's
    sign bookkeeping is left out: a sum of exponentials is never negative.) With `scratch`, the
    result is one of its arrays: use it before the next call."""
    scratch = scratch or Scratch()
    if a.size == 0:
        return np.full(a.shape[1], -np.inf)
    kernels = fast.kernels()
    with np.errstate(divide="ignore", invalid="ignore", over="ignore"):
        # the same steps in fewer passes; numpy sums a single column (or a Fortran-ordered
        # array) along a contiguous axis, pairwise: those stay in numpy
        if kernels is not None and a.dtype == np.float64 and a.flags.c_contiguous and a.shape[1] > 1:
            width = a.shape[1]
            terms, top = scratch("terms", a.shape), scratch("top", (width,))
            count = scratch("count", (width,), np.intp)
            kernels.log_sum_terms(a, terms, top, count)
            np.exp(terms, out=terms)
            kernels.sum_below_top(terms, a, top, scaled := scratch("sum", (width,)))
        else:
            top = np.copy(a[0])
            for row in a[1:]:
                np.maximum(top, row, out=top)  # the row-by-row reduction `a.max(axis=0)` makes
            is_top = np.equal(a, top, out=scratch("is_top", a.shape, np.bool_))
            terms = np.subtract(a, top, out=scratch("terms", a.shape))
            np.exp(terms, out=terms)
            np.copyto(terms, 0.0, where=is_top)  # scipy's exp(−inf) of the largest terms
            scaled = terms.sum(axis=0, dtype=a.dtype)
            count = is_top.sum(axis=0)
    return _log_sum_tail(scaled, count, top, lambda columns: a[:, columns], scratch)


def _log_sum_tail(
    scaled: np.ndarray,
    count: np.ndarray,
    top: np.ndarray,
    terms_of: Callable[[np.ndarray], np.ndarray],
    scratch: Scratch,
) -> np.ndarray:
    """The end of `log_sum_exp` from each column's sum of exp(a − top) below its largest term
    (`scaled`), the number of terms equal to that term (`count`) and the term (`top`);
    `terms_of(columns)` gives those columns of `a`, for the direct log of the sum."""
    with np.errstate(divide="ignore", invalid="ignore", over="ignore"):
        tied = np.flatnonzero(count > 1)
        out = np.log1p(scaled, out=scratch("log_sum", scaled.shape, scaled.dtype.type))
        if len(tied):  # (elsewhere scipy divides by 1 and adds log 1 = 0: nothing changes)
            ties = count[tied].astype(scaled.dtype)
            out[tied] = np.log1p(np.where(scaled[tied] == 0, 0.0, scaled[tied] / ties)) + np.log(ties)
        out += top
        odd = np.isfinite(out, out=scratch("finite", out.shape, np.bool_))
        if not odd.all():
            odd = np.flatnonzero(~odd)  # scipy's direct log of the sum there (only there: it
            out[odd] = np.log(np.exp(terms_of(odd)).sum(axis=0))  # costs an exp a term)
    return out


class _RivalLog:
    """One seller's own copy of its rivals' posted prices, for `obs.rival_prices`: a rival's
    column is copied from the ledger when the seller first reads it, and from then on only the
    days since its last read (copying the whole past every day costs a long run, such as the
    collusion lesson's millions of days, time in the square of its length). The seller is
    handed read-only views of the days before today: made writable again (`setflags`, `.base`),
    they change the seller's own copy, never the ledger nor what another seller sees, and the
    days after today are not filled in before they have passed."""

    def __init__(self, columns: dict[str, np.ndarray]):
        self.columns = columns  # rival name → the ledger's column of its posted prices (read-only)
        self._copies: dict[str, np.ndarray] = {}
        self._filled: dict[str, int] = {}  # days copied

    def before(self, name: str, day: int) -> np.ndarray:
        """`name`'s posted prices of the days before `day`, read-only."""
        column = self.columns[name]
        copy = self._copies.get(name)
        if copy is None:
            copy = self._copies[name] = np.zeros(column.shape, column.dtype)  # (zeros: no stale memory)
            self._filled[name] = 0
        filled = self._filled[name]
        if filled < day:
            copy[filled:day] = column[filled:day]
            self._filled[name] = day
        past = copy[:day]
        past.flags.writeable = False
        return past


class _RivalPrices(Mapping[str, np.ndarray]):
    """`obs.rival_prices`: each rival's posted prices before today, read-only, from the seller's
    own copy (`_RivalLog`), brought up to date when a strategy first reads it (most never do)."""

    def __init__(self, log: _RivalLog, day: int):
        self._log, self._day, self._seen = log, day, {}

    def __getitem__(self, name: str) -> np.ndarray:
        past = self._seen.get(name)
        if past is None:
            past = self._seen[name] = self._log.before(name, self._day)
        return past

    def __contains__(self, name: object) -> bool:
        return name in self._log.columns

    def __iter__(self) -> Iterator[str]:
        return iter(self._log.columns)

    def __len__(self) -> int:
        return len(self._log.columns)

    def __repr__(self) -> str:
        return repr(dict(self))


@dataclass(frozen=True)
class _SurplusDue:
    """What a day's logit consumer surplus needs, kept until it is booked."""

    day: int
    utility: np.ndarray  # (sellers, shoppers)
    closed: list[int]  # sellers out of stock at the opening
    beta: np.ndarray  # each shopper's price sensitivity, all > 0
    segment: np.ndarray


class _SurplusBuffers:
    """`MarketModel._surplus_block`'s arrays for blocks of up to `capacity` shoppers and `rows`
    terms each, and their views for a block (those of a full block made once)."""

    def __init__(self, capacity: int, rows: int):
        self.capacity, self.rows = capacity, rows
        self.slope, self.top, self.sums = np.empty(capacity), np.empty(capacity), np.empty(capacity)
        self.which, self.length = np.empty(capacity, dtype=np.intp), np.empty(capacity, dtype=np.intp)
        self.terms = np.empty(rows * capacity)
        self._full: dict[int, tuple[np.ndarray, ...]] = {}

    def views(self, rows: int, width: int) -> tuple[np.ndarray, ...]:
        """slope, top, which, length, terms (flat and as rows × width), sums, starts ([0, width])."""
        views = self._full.get(rows) if width == self.capacity else None
        if views is None:
            terms = self.terms[: rows * width]
            views = (
                self.slope[:width], self.top[:width], self.which[:width], self.length[:width], terms,
                terms.reshape(rows, width), self.sums[:width], np.array([0, width], dtype=np.intp),
            )  # fmt: skip
            if width == self.capacity:
                self._full[rows] = views
        return views


class _SurplusKept:
    """The days whose logit consumer surplus the compiled kernels book later, side by side: each
    day's log-sum terms as `kernels.surplus_terms` writes them (a block of `sellers` + 1 rows,
    a column a shopper, after the day before), each shopper's β, largest term and its row, rows
    and segment, each day's first shopper (`starts`) and its day."""

    def __init__(self, kernels: ModuleType, sellers: int):
        most = SURPLUS_BATCH // 2  # days of at least two shoppers
        self.kernels, self.rows = kernels, sellers + 1
        self.terms = np.empty(self.rows * SURPLUS_BATCH)
        self.slope, self.top = np.empty(SURPLUS_BATCH), np.empty(SURPLUS_BATCH)
        self.which, self.length = (
            np.empty(SURPLUS_BATCH, dtype=np.intp),
            np.empty(SURPLUS_BATCH, dtype=np.intp),
        )
        self.sums, self.segment = np.empty(SURPLUS_BATCH), np.empty(SURPLUS_BATCH, dtype=np.int64)
        self.starts = np.zeros(most + 1, dtype=np.intp)
        self.day = np.empty(most, dtype=np.intp)
        self.days = self.width = 0

    def keep(
        self, day: int, trading: Trading, offers: np.ndarray, sensitivity: np.ndarray, outside: float
    ) -> bool:
        """Keep the day's terms (`offers`: the sellers open that morning); False, keeping
        nothing, if some shopper's log-sum needs `log_sum_exp`'s rare steps (tied largest terms,
        a largest term that is not finite)."""
        odd = self.kernels.keep_surplus_terms(
            trading.utility, offers, outside, sensitivity, trading.shoppers, trading.segment, day,
            self.slope, self.top, self.which, self.length, self.terms, self.segment, self.day, self.starts,
            self.days,
        )  # fmt: skip
        if odd:
            return False
        self.days += 1
        self.width += len(trading.shoppers)
        return True

    def book(self, consumer_surplus: np.ndarray) -> None:
        """Book the kept days' surplus into their rows of `consumer_surplus` and forget them:
        numpy's exp of every kept term and log1p of every sum, the sums and totals compiled."""
        kernels, width, days = self.kernels, self.width, self.days
        terms, sums, starts = self.terms[: width * self.rows], self.sums[:width], self.starts[: days + 1]
        np.exp(terms, out=terms)  # (of numbers ≤ 0: no warning to silence)
        kernels.sum_terms(terms, self.rows, starts, self.which, self.length, sums)
        np.log1p(sums, out=sums)
        kernels.book_surplus(
            sums, self.top, self.slope, self.segment, starts, self.day[:days], consumer_surplus
        )
        self.days = self.width = 0


class _Morning(Observation):
    """`obs` as `MarketModel.observation` makes it: an Observation whose history, rival prices
    and shopper table are made when a strategy first reads them (most strategies read one of
    them or none, every day), the very objects that would have been made at once. Copied or
    pickled, it is a plain Observation; `dataclasses.replace` makes one with every field set."""

    @cached_property
    def history(self) -> History:
        model, seller = self._seen_by
        return History(model.ledger, seller.index, self.day, model.observable)

    @cached_property
    def rival_prices(self) -> Mapping[str, np.ndarray]:
        model, seller = self._seen_by
        return _RivalPrices(model.posted[seller.index], self.day)

    @cached_property
    def shopper_table(self) -> Callable[[], pd.DataFrame]:
        model, seller = self._seen_by
        return model._shopper_table_once(seller, self.day)

    def __reduce__(self) -> tuple:
        return Observation, tuple(getattr(self, field.name) for field in dataclasses.fields(Observation))


class _Once:
    """`make(*args)`, called at most once: the shopper table is built only if a strategy asks."""

    def __init__(self, make: Callable[..., object], *args: object):
        self._make, self._args, self._value = make, args, None

    def __call__(self) -> object:
        if self._make is not None:
            self._value, self._make, self._args = self._make(*self._args), None, ()
        return self._value

    @property
    def called(self) -> bool:
        return self._make is None


def shown_prices(tables: np.ndarray, segment: np.ndarray, returning: np.ndarray) -> np.ndarray:
    """The price each shopper sees of each seller, from the (sellers, segments, new/returning)
    tables: one column of prices when every table holds a single price, as it does without
    segment prices or coupons, else (sellers, shoppers)."""
    sellers = len(tables)
    flat = tables.reshape(sellers, -1)
    # (a handful of prices: compared in Python, as numpy would: -0.0 equals 0.0, NaN nothing)
    if all(price == row[0] for row in flat.tolist() for price in row):
        return flat[:, :1]
    return flat[np.arange(sellers)[:, None], segment * 2 + returning.T]
