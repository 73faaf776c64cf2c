"""The strategy API: what a pricing strategy sees, what it returns, and how it is declared.

A strategy is a small class. Its parameters are annotated class attributes: they document the
defaults, a scenario file overrides them (`{kind: cost_plus, markup: 0.4}`), and sweeps search
them. `price(obs)` is called once a day; `reset(info)` before day 0 and `observe(result)` after
each day are optional, for strategies that learn.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import math
import types
import typing
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from types import MappingProxyType
from typing import TYPE_CHECKING, Any, ClassVar

import numpy as np

if TYPE_CHECKING:
    import pandas as pd

    from market_sim.scenario import Guardrails

EMPTY: Mapping[str, Any] = MappingProxyType({})


def quick_init(cls: type) -> type:
    """Give a frozen dataclass (made with `init=False`) an `__init__` that stores its fields at
    once, for the records made every day: the dataclass's own sets each field through
    `object.__setattr__` (it is frozen), several times slower. The same parameters, in the same
    order, with the same defaults (a field with a default factory is not supported)."""
    fields = dataclasses.fields(cls)
    defaults = {f"_{f.name}": f.default for f in fields if f.default is not dataclasses.MISSING}
    if any(f.default_factory is not dataclasses.MISSING for f in fields):
        raise TypeError(f"quick_init: {cls.__name__} has a field with a default factory")
    parameters = ", ".join(f.name + (f"=_{f.name}" if f"_{f.name}" in defaults else "") for f in fields)
    stored = ", ".join(f"{f.name}={f.name}" for f in fields)
    made: dict[str, Any] = {}
    exec(f"def __init__(self, {parameters}):\n    self.__dict__.update({stored})\n", defaults, made)
    init = made["__init__"]
    init.__qualname__, init.__module__ = f"{cls.__qualname__}.__init__", cls.__module__
    init.__annotations__ = {f.name: f.type for f in fields}  # (as `help` shows the parameters)
    cls.__init__ = init
    return cls


@quick_init
@dataclass(frozen=True, init=False)
class Prices:
    """A richer decision than one number: per observable segment prices and coupons, or a
    price per shopper.

    `segments` maps observable segment names to their price (others pay `base`); a coupon is
    money off for customers who never bought from this seller (`coupon_new`) or who did
    (`coupon_returning`). `personal`, one price per row of `obs.shoppers`, is what each of
    today's shoppers sees instead of any segment price or coupon (`base` stays the posted
    price that rivals see). `reason` is a short note kept in the daily output.
    """

    base: float
    segments: Mapping[str, float] = EMPTY
    coupon_new: float = 0.0
    coupon_returning: float = 0.0
    reason: str = ""
    personal: np.ndarray | None = field(default=None, compare=False, repr=False)


@dataclass(frozen=True)
class PublicEvent:
    """An event on the public calendar (its effect on shoppers is hidden)."""

    name: str
    first_day: int
    days: int


@dataclass(frozen=True)
class MarketInfo:
    """What a seller knows before day 0: public facts and its own terms."""

    seller: str
    unit_cost: float
    days: int
    start_date: dt.date | None
    rivals: tuple[str, ...]
    segments: Mapping[str, int]  # observable segments and their number of consumers
    events: tuple[PublicEvent, ...]
    rng: np.random.Generator  # the strategy's own random stream
    guardrails: Guardrails | None = None  # the limits every price of this seller is held to, if any

    def event_days(self, days: int) -> np.ndarray:
        """Whether each of the first `days` days has a public event (bool array)."""
        covered = np.zeros(days, dtype=bool)
        for event in self.events:
            covered[event.first_day : event.first_day + event.days] = True
        return covered


class History:
    """A seller's own past, read-only, one entry per day before today (copies: nothing here
    reaches the market's records).

    `views` counts the shoppers who saw the offer; the `segment_*` mappings hold the same per
    observable segment, and `new_*` / `returning_*` split them by whether the shopper had
    bought from this seller before.
    """

    def __init__(self, ledger: Any, seller: int, day: int, observable: Mapping[str, int]):
        self._ledger = ledger
        self._seller = seller
        self._day = day
        self._observable = observable

    def _own(self, array: np.ndarray) -> np.ndarray:
        return read_only_copy(array[: self._day, self._seller])

    @property
    def prices(self) -> np.ndarray:
        return self._own(self._ledger.price)

    @property
    def views(self) -> np.ndarray:
        return read_only_copy(self._ledger.shoppers[: self._day])

    @property
    def units(self) -> np.ndarray:
        return self._own(self._ledger.units)

    @property
    def revenue(self) -> np.ndarray:
        return self._own(self._ledger.revenue)

    @property
    def lost_sales(self) -> np.ndarray:
        return self._own(self._ledger.lost_sales)

    def _by_segment(self, array: np.ndarray) -> Mapping[str, np.ndarray]:
        return MappingProxyType(
            {
                name: _read_only(array[: self._day, self._seller, g].sum(axis=-1))
                for name, g in self._observable.items()
            }
        )

    @property
    def segment_views(self) -> Mapping[str, np.ndarray]:
        return self._by_segment(self._ledger.views)

    @property
    def segment_units(self) -> Mapping[str, np.ndarray]:
        return self._by_segment(self._ledger.segment_units)

    @property
    def segment_revenue(self) -> Mapping[str, np.ndarray]:
        return self._by_segment(self._ledger.segment_revenue)

    def _by_status(self, array: np.ndarray, returning: int) -> np.ndarray:
        return _read_only(array[: self._day, self._seller, :, returning].sum(axis=-1))

    @property
    def new_views(self) -> np.ndarray:
        return self._by_status(self._ledger.views, 0)

    @property
    def returning_views(self) -> np.ndarray:
        return self._by_status(self._ledger.views, 1)

    @property
    def new_units(self) -> np.ndarray:
        return self._by_status(self._ledger.segment_units, 0)

    @property
    def returning_units(self) -> np.ndarray:
        return self._by_status(self._ledger.segment_units, 1)


@quick_init
@dataclass(frozen=True, init=False)
class Observation:
    """Everything a strategy may see on the morning of `day`: the past and the public."""

    day: int
    weekday: int  # Monday = 0 .. Sunday = 6
    date: dt.date | None
    days_left: int  # including today
    events_today: tuple[str, ...]
    info: MarketInfo
    stock: float  # on hand this morning (math.inf when unlimited)
    on_order: tuple[tuple[int, int], ...]  # (arrival day, units) of orders in transit
    history: History
    rival_prices: Mapping[str, np.ndarray] = EMPTY  # each rival's posted prices before today, read-only
    # builds `shoppers` when a strategy first asks for it (most never do)
    shopper_table: Callable[[], pd.DataFrame] | None = field(default=None, repr=False, compare=False)

    @property
    def shoppers(self) -> pd.DataFrame:
        """Today's shoppers, one row each, read-only: `shopper` (a pseudonymous id, stable over
        the run), `segment` (its name when the segment is observable, else empty), every
        observable feature, and this seller's own history with the shopper: `visits` before
        today, `purchases`, `days_since_purchase` (NaN if never) and `spend`. Rows come in
        pseudonym order; `Prices(personal=...)` gives one price per row."""
        if self.shopper_table is None:
            raise RuntimeError("this observation has no shopper table")
        return self.shopper_table()

    @property
    def unit_cost(self) -> float:
        return self.info.unit_cost

    @property
    def last_price(self) -> float | None:
        """Yesterday's own posted price, or None on day 0."""
        prices = self.history.prices
        return float(prices[-1]) if len(prices) else None


@quick_init
@dataclass(frozen=True, init=False)
class DayResult:
    """A seller's own outcome of one day, given to `observe` in the evening."""

    day: int
    price: float
    views: int
    units: int
    revenue: float
    lost_sales: int
    stock: float  # on hand at the end of the day
    # when the strategy read `obs.shoppers` today: for each of its rows, whether that shopper
    # bought from this seller (a seller knows its own customers)
    bought: np.ndarray | None = field(default=None, repr=False, compare=False)


class ParameterError(ValueError):
    """A strategy parameter that does not fit its declared type; `.param` names it."""

    def __init__(self, param: str, message: str):
        super().__init__(message)
        self.param = param


class PricingStrategy:
    """Base class of every pricing strategy. Subclasses declare parameters as annotated class
    attributes and implement `price(obs)`."""

    kind: ClassVar[str] = ""  # the name used in scenario files; plug-ins use module:Class
    uses_hidden_truth: ClassVar[bool] = False  # oracles only: benchmarks, never real strategies
    # the guardrails keep a focal seller's prices at or above unit cost unless this is true
    allow_below_cost: ClassVar[bool] = False
    # true of a strategy whose prices depend on the calendar and its own parameters alone (not on
    # sales, stock or rivals): the hindsight oracle then needs no replay per price of its own
    market_blind: ClassVar[bool] = False
    # scenario-file names of parameters whose attribute is named otherwise, e.g. the `price`
    # of `fixed`, which cannot be an attribute because `price` is the method
    aliases: ClassVar[Mapping[str, str]] = EMPTY

    def __init__(self, **params: Any):
        declared = self.parameters()
        for name, value in params.items():
            if name not in declared:
                known = ", ".join(declared) or "none"
                raise ParameterError(name, f"unknown parameter (this strategy takes: {known})")
            setattr(self, self.aliases.get(name, name), _coerce(name, value, declared[name]))
        self.check()

    def __init_subclass__(cls, **kwargs: Any):
        super().__init_subclass__(**kwargs)
        if cls.uses_hidden_truth and not cls.kind.startswith("oracle_"):
            raise TypeError(f"{cls.__name__} uses hidden truth, so its kind must start with 'oracle_'")

    def check_segments(self, observable: tuple[str, ...]) -> None:
        """Check parameters that name consumer segments against the scenario's `observable` ones
        (raise ParameterError, e.g. via `require`): the loader calls it, so a mistake is a
        scenario error and not a failure mid-run."""

    @classmethod
    def parameters(cls) -> dict[str, Any]:
        """Declared parameters (by their scenario-file names) and their types, in order."""
        hints = typing.get_type_hints(cls)
        attribute_to_name = {attribute: name for name, attribute in cls.aliases.items()}
        names: dict[str, Any] = {}
        for klass in reversed(cls.__mro__):
            for attribute in getattr(klass, "__annotations__", {}):
                hint = hints.get(attribute)
                if attribute.startswith("_") or hint is None or typing.get_origin(hint) is ClassVar:
                    continue
                names[attribute_to_name.get(attribute, attribute)] = hint
        return names

    def check(self) -> None:
        """Refuse parameter values that do not make sense (raise ParameterError naming one)."""

    def reset(self, info: MarketInfo) -> None:
        """Called before day 0 of every run."""

    def price(self, obs: Observation) -> float | Prices:
        """Today's price: one number for everyone, or a `Prices` decision."""
        raise NotImplementedError

    def posted(self, prices: Prices) -> None:
        """Called with the prices actually posted today, after the guardrails."""

    def observe(self, result: DayResult) -> None:
        """Called after every day with the seller's own outcome."""

    def stable_for(self) -> int | None:
        """Learners with a greedy policy: days in a row it has not changed (`stop_when_stable`
        ends a run when every such learner is stable); None for every other strategy."""
        return None

    def reveal(self, model: Any) -> None:
        """Oracles only (`uses_hidden_truth`): called after `reset` with the whole market model,
        consumers' hidden parameters included. Never called for any other strategy."""


def percent(fraction: float) -> str:
    """A fraction for a reason text: 0.02 → `2%`, 0.025 → `2.5%`."""
    return f"{fraction * 100:.4g}%"


def require(condition: bool, param: str, message: str) -> None:
    """Raise ParameterError(param, message) unless `condition` holds (for `check`)."""
    if not condition:
        raise ParameterError(param, message)


def _read_only(array: np.ndarray) -> np.ndarray:
    view = array.view()
    view.flags.writeable = False
    return view


def read_only_copy(array: np.ndarray) -> np.ndarray:
    """A read-only copy of `array` for a strategy: made writable again (`setflags`, `.base`),
    it changes only itself, never the records it was copied from."""
    copy = np.array(array)
    copy.flags.writeable = False
    return copy


def _coerce(name: str, value: Any, kind: Any) -> Any:
    """Check `value` against a declared parameter type; return it in that type."""
    origin, args = typing.get_origin(kind), typing.get_args(kind)
    if origin in (types.UnionType, typing.Union):
        if value is None and type(None) in args:
            return None
        errors = []
        for option in (a for a in args if a is not type(None)):
            try:
                return _coerce(name, value, option)
            except ParameterError as error:
                errors.append(str(error))
        raise ParameterError(name, " or ".join(errors))
    if origin is typing.Literal:
        if value in args:
            return value
        raise ParameterError(name, f"must be one of {', '.join(map(repr, args))}, got {value!r}")
    if kind is float:
        if isinstance(value, bool) or not isinstance(value, int | float) or math.isnan(value):
            raise ParameterError(name, f"must be a number, got {value!r}")
        return float(value)
    if kind is int:
        if isinstance(value, float) and value.is_integer():
            value = int(value)
        if isinstance(value, bool) or not isinstance(value, int):
            raise ParameterError(name, f"must be a whole number, got {value!r}")
        return value
    if kind is bool:
        if not isinstance(value, bool):
            raise ParameterError(name, f"must be true or false, got {value!r}")
        return value
    if kind is str:
        if not isinstance(value, str):
            raise ParameterError(name, f"must be text, got {value!r}")
        return value
    check = origin or kind
    if isinstance(check, type) and not isinstance(value, check):
        raise ParameterError(name, f"must be a {check.__name__}, got {value!r}")
    return value
