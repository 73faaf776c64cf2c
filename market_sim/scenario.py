"""A scenario as frozen dataclasses: built once by `market_sim.loader`, trusted by the engine."""

from __future__ import annotations

import copyreg
import datetime as dt
import math
from collections.abc import Mapping
from dataclasses import dataclass, field
from itertools import cycle, islice
from types import MappingProxyType
from typing import Any, Literal

from market_sim.distributions import Distribution, FeatureDistribution

UNLIMITED = math.inf
Choice = Literal["logit", "max_surplus"]
Demand = Literal["sampled", "expected"]


@dataclass(frozen=True)
class Event:
    """A stretch of days when visits and willingness to pay are multiplied."""

    name: str
    first_day: int  # 0-based day of the run
    days: int = 1
    traffic: float = 1.0
    wtp: float = 1.0
    date: dt.date | None = None  # as written in the file, when given by date

    def covers(self, day: int) -> bool:
        return self.first_day <= day < self.first_day + self.days


@dataclass(frozen=True)
class Market:
    choice: Choice = "logit"
    outside_utility: float = 0.0
    weekly_traffic: tuple[float, ...] = (1.0,) * 7  # Monday..Sunday
    events: tuple[Event, ...] = ()
    demand: Demand = "sampled"  # expected: every seller sells its expected logit share (no draws)


@dataclass(frozen=True)
class Segment:
    name: str
    share: float
    wtp: Distribution
    price_sensitivity: Distribution
    observable: bool = False
    visit_rate: float = 1.0
    loyalty: Distribution | None = None  # None: no loyalty bonus
    # shopper features: this segment's own distributions (overriding `Consumers.features`) and
    # the money each unit of a feature adds to willingness to pay (before event multipliers)
    features: Mapping[str, FeatureDistribution] = field(default_factory=lambda: MappingProxyType({}))
    wtp_per_feature: Mapping[str, float] = field(default_factory=lambda: MappingProxyType({}))


@dataclass(frozen=True)
class Feature:
    """A number drawn once per consumer; sellers see it when `observable` (`obs.shoppers`)."""

    dist: FeatureDistribution
    observable: bool = True


@dataclass(frozen=True)
class Consumers:
    population: int
    segments: tuple[Segment, ...]
    features: Mapping[str, Feature] = field(default_factory=lambda: MappingProxyType({}))

    def segment_sizes(self) -> tuple[int, ...]:
        """Consumers per segment: shares of the population, rounded by largest remainders."""
        exact = [s.share * self.population for s in self.segments]
        sizes = [math.floor(x) for x in exact]
        by_remainder = sorted(range(len(exact)), key=lambda i: (sizes[i] - exact[i], i))
        for i in by_remainder[: self.population - sum(sizes)]:
            sizes[i] += 1
        return tuple(sizes)


@dataclass(frozen=True)
class Inventory:
    initial: float = UNLIMITED  # units on hand before day 0, or UNLIMITED
    reorder_point: int | None = None  # (s, Q): order when on hand + on order <= s
    order_quantity: int = 0
    lead_time: int = 0  # an order placed at the end of day d is on the shelf from day d + lead_time
    order_cost: float = 0.0
    holding_cost: float = 0.0  # per unit on hand at the end of a day
    salvage_value: float = 0.0  # per unit left after the last day

    @property
    def unlimited(self) -> bool:
        return self.initial == UNLIMITED


@dataclass(frozen=True)
class StrategySpec:
    """A strategy as the scenario names it: built anew for every run by `strategies.build`.

    `python_class` is set only for a strategy handed over from Python whose class no worker
    could import by name (one defined in a notebook or inside a function): the class itself,
    which travels to worker processes by value (see `__reduce__`); `kind` then only labels it.
    """

    kind: str
    params: Mapping[str, Any] = field(default_factory=lambda: MappingProxyType({}))
    name: str = ""
    python_class: type | None = None

    @property
    def builds(self) -> str | type:
        """What `strategies.build` makes this strategy from: the class itself, or its kind."""
        return self.python_class or self.kind

    def to_yaml(self) -> dict:
        extra = {"name": self.name} if self.name else {}
        return {"kind": self.kind, **dict(self.params), **extra}

    def __reduce__(self) -> tuple:
        """Pickled for worker processes. A class from Python goes by value (cloudpickle), so a
        worker that cannot import it (a fork server's, Dask's) still builds the same strategy."""
        if self.python_class is None:
            return StrategySpec, (self.kind, self.params, self.name)
        import cloudpickle

        return _with_class, (self.kind, self.params, self.name, cloudpickle.dumps(self.python_class))


@dataclass(frozen=True)
class Seller:
    name: str
    unit_cost: float
    focal: bool = False
    quality: float = 0.0
    inventory: Inventory = Inventory()
    strategy: StrategySpec | None = None  # rivals' pricing; the focal seat takes `strategies`


@dataclass(frozen=True)
class Guardrails:
    min_price: float = 0.0
    max_price: float = math.inf
    max_daily_change: float | None = None  # fraction of yesterday's price
    max_segment_ratio: float | None = None  # highest / lowest price across segments on a day


@dataclass(frozen=True)
class Arm:
    """One arm of an A/B test: its name and the strategy (by name) the focal seller runs in it."""

    name: str
    strategy: str


@dataclass(frozen=True)
class Experiment:
    """An A/B test: the focal seller runs the arms side by side for `days` days from day 0,
    shoppers (or days) randomised between them; the first arm is the control."""

    arms: tuple[Arm, ...]
    unit: Literal["shopper", "day"] = "shopper"
    days: int = 28
    detect: float | None = None  # the effect on profit per shopper worth detecting (power preview)


@dataclass(frozen=True)
class Scenario:
    name: str
    days: int
    market: Market
    consumers: Consumers
    sellers: tuple[Seller, ...]
    strategies: tuple[StrategySpec, ...]  # each takes the focal seat in its own replay
    guardrails: Guardrails = Guardrails()
    description: str = ""
    lesson: str = ""
    start_date: dt.date | None = None
    replications: int = 10
    seed: int = 0
    stop_when_stable: int | None = None  # end once no learner's greedy policy changed for this many days
    source: str = "<scenario>"  # the file it came from, for messages
    experiment: Experiment | None = None  # an A/B test of strategies, run beside the comparison

    @property
    def focal(self) -> Seller:
        return next(s for s in self.sellers if s.focal)

    @property
    def focal_index(self) -> int:
        return next(i for i, s in enumerate(self.sellers) if s.focal)

    def weekday(self, day: int) -> int:
        """Monday = 0 .. Sunday = 6; without a start date day 0 counts as a Monday."""
        if self.start_date is None:
            return day % 7
        return (self.start_date + dt.timedelta(days=day)).weekday()

    def date(self, day: int) -> dt.date | None:
        return None if self.start_date is None else self.start_date + dt.timedelta(days=day)

    def events_on(self, day: int) -> tuple[Event, ...]:
        return tuple(e for e in self.market.events if e.covers(day))

    def traffic(self, day: int) -> float:
        """Multiplier of every consumer's visit rate on `day` (weekday and events)."""
        return self.market.weekly_traffic[self.weekday(day)] * math.prod(
            e.traffic for e in self.events_on(day)
        )

    def capped_visits(self) -> list[str]:
        """A warning per segment whose visit probability, visit_rate × weekday × event traffic,
        passes 1 on some day: the engine caps it at 1 (every consumer of the segment shops)."""
        warnings = []
        for g, segment in enumerate(self.consumers.segments):
            chance = [segment.visit_rate * self.traffic(day) for day in range(self.days)]
            day = max(range(self.days), key=chance.__getitem__)
            if chance[day] > 1:
                events = ", ".join(e.name for e in self.events_on(day))
                warnings.append(
                    f"consumers.segments[{g}].visit_rate: {segment.visit_rate:g} × traffic "
                    f"{self.traffic(day):g} on day {day}{f' ({events})' if events else ''} = "
                    f"{chance[day]:g}, capped at 1: every consumer of {segment.name!r} shops that day, "
                    "and more traffic adds no shoppers"
                )
        return warnings

    def wtp_multiplier(self, day: int) -> float:
        """Multiplier of every consumer's willingness to pay on `day` (events)."""
        return math.prod(e.wtp for e in self.events_on(day))

    def event_days(self, first: int, stop: int) -> list[int]:
        """The days of range(first, stop) that some event covers, in order."""
        covered: set[int] = set()
        for e in self.market.events:
            covered.update(range(max(first, e.first_day), min(stop, e.first_day + e.days)))
        return sorted(covered)

    def day_factors(self, first: int, stop: int) -> tuple[list[float], list[float]]:
        """`traffic(day)` and `wtp_multiplier(day)` of each day of range(first, stop), the same
        numbers a block of days at a time: the week's traffic in turn (times no event's factor:
        math.prod of nothing, 1, changes no number), and the events' products on the days they
        cover, worked out as those two do."""
        week, weekday = self.market.weekly_traffic, self.weekday(first)
        traffic = list(islice(cycle(week[weekday:] + week[:weekday]), stop - first))
        wtp = [1] * (stop - first)  # math.prod(()): the integer 1, as wtp_multiplier gives
        for day in self.event_days(first, stop):
            traffic[day - first], wtp[day - first] = self.traffic(day), self.wtp_multiplier(day)
        return traffic, wtp


def _with_class(kind: str, params: Mapping[str, Any], name: str, pickled: bytes) -> StrategySpec:
    import cloudpickle

    return StrategySpec(kind, params, name, cloudpickle.loads(pickled))


def _frozen(mapping: dict) -> Mapping:
    return MappingProxyType(mapping)


# frozen mappings travel to worker processes as plain dicts and come back frozen
copyreg.pickle(MappingProxyType, lambda mapping: (_frozen, (dict(mapping),)))
