"""The Mesa agents: consumers (thin views over the population's arrays) and sellers."""

from __future__ import annotations

import dataclasses
import math
import signal
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from types import MappingProxyType

import mesa
import numpy as np

from market_sim.guardrails import apply_guardrails
from market_sim.scenario import Guardrails, Inventory
from strategies.base import EMPTY, DayResult, MarketInfo, Observation, Prices, PricingStrategy


@dataclass(frozen=True)
class Offer:
    """What one shopper sees of one seller today."""

    seller: int
    price: float  # the price shown to this shopper (segment price, less coupons)
    quality: float
    in_stock: bool


@dataclass(frozen=True)
class Decision:
    bought: int | None  # seller bought from
    lost_sale: int | None  # preferred seller that had run out
    unmet: tuple[int, ...] = ()  # sellers out of stock that it would have bought from, had each had stock


class Consumer(mesa.Agent):
    """One shopper. Its traits live in the population arrays; this agent reads its row."""

    def __init__(self, model: mesa.Model, row: int):
        super().__init__(model)
        self.row = row

    @property
    def wtp(self) -> float:
        return float(self.model.population.wtp[self.row])

    @property
    def price_sensitivity(self) -> float:
        return float(self.model.population.price_sensitivity[self.row])

    @property
    def loyalty(self) -> float:
        return float(self.model.population.loyalty[self.row])

    @property
    def segment(self) -> str:
        population = self.model.population
        return population.segment_names[population.segment[self.row]]

    @property
    def last_seller(self) -> int | None:
        seller = int(self.model.population.last_seller[self.row])
        return None if seller < 0 else seller

    def utility(self, offer: Offer) -> float:
        """Money value of an offer: wtp (scaled on event days) + quality + loyalty − price."""
        value = self.wtp * self.model.wtp_multiplier + offer.quality
        if offer.seller == self.last_seller:
            value += self.loyalty
        return value - offer.price

    def choose(self, offers: list[Offer], shocks: np.ndarray) -> Decision:
        """The decision rule: prefer the best offer if it beats buying nothing; if that seller
        has run out, count a lost sale for it and take the best offer still in stock. Every seller
        out of stock that it would have bought from, had that seller had stock, misses a sale
        (its unmet demand).

        `shocks` holds today's taste shock for every offer and, last, for buying nothing.
        Logit: rank offers by β·u + shock. Max surplus: rank by u, shocks only break ties.
        """
        market = self.model.spec.market
        if market.choice == "logit":
            beta = self.price_sensitivity

            def score(o: Offer) -> tuple[float, float]:
                return (beta * self.utility(o) + shocks[o.seller], 0.0)

            threshold = beta * market.outside_utility + shocks[-1]
        else:

            def score(o: Offer) -> tuple[float, float]:
                return (self.utility(o), shocks[o.seller])

            threshold = market.outside_utility

        def best(candidates: list[Offer]) -> int | None:
            if not candidates:
                return None
            top = max(candidates, key=score)
            return top.seller if score(top)[0] >= threshold else None

        preferred = best(offers)
        if preferred is None or offers[preferred].in_stock:
            return Decision(preferred, None)
        in_stock = [o for o in offers if o.in_stock]
        unmet = tuple(o.seller for o in offers if not o.in_stock and best([*in_stock, o]) == o.seller)
        return Decision(best(in_stock), preferred, unmet)


class StrategyFailure(RuntimeError):
    """A strategy raised or returned an unusable price; the run stops with this message."""

    def __init__(self, seller: str, day: int, message: str):
        super().__init__(f"{seller} on day {day}: {message}")
        self.seller, self.day = seller, day


class TimeLimitExceeded(BaseException):
    """A run went past its time limit (a BaseException, so `except Exception` cannot swallow it)."""


def guarded[Result](seller: str, day: int, call: Callable[..., Result], *args: object) -> Result:
    """`call(*args)`, which runs strategy code: whatever it raises, `SystemExit` included,
    becomes a StrategyFailure that stops this run alone. Only the time limit, and a Ctrl-C
    where Ctrl-C stops the program, pass through."""
    try:
        return call(*args)
    except BaseException as error:
        if isinstance(error, StrategyFailure) or stops_the_program(error):
            raise
        raise StrategyFailure(seller, day, _describe(error)) from error


def stops_the_program(error: BaseException) -> bool:
    """The time limit, or a real interrupt: a KeyboardInterrupt where Ctrl-C is not ignored
    (run processes ignore it, so there only a strategy can raise one)."""
    if isinstance(error, TimeLimitExceeded):
        return True
    return isinstance(error, KeyboardInterrupt) and signal.getsignal(signal.SIGINT) is not signal.SIG_IGN


def _describe(error: BaseException) -> str:
    try:
        text = str(error)
    except BaseException:  # a hostile exception whose __str__ raises
        text = ""
    return f"{type(error).__name__}: {text}" if text else type(error).__name__


class Seller(mesa.Agent):
    """A shop: its stock and replenishment, its costs, and the strategy that sets its prices."""

    def __init__(
        self,
        model: mesa.Model,
        index: int,
        name: str,
        unit_cost: float,
        quality: float,
        inventory: Inventory,
        strategy: PricingStrategy,
        guardrails: Guardrails | None,
    ):
        super().__init__(model)
        self.index, self.name = index, name
        self.unit_cost, self.quality = unit_cost, quality
        self.inventory, self.strategy, self.guardrails = inventory, strategy, guardrails
        self.on_hand = inventory.initial
        self.in_transit: list[tuple[int, int]] = []  # (arrival day, units)
        self.decision: Prices | None = None  # today's prices, after guardrails
        self.personal: np.ndarray | None = None  # today's personal prices (rows of obs.shoppers)
        self.info: MarketInfo | None = None  # public facts, set by `start`
        self.guardrail_hits = 0  # prices the guardrails changed today
        self.below_cost_allowed = False  # the strategy's `allow_below_cost`, read by `start`
        # whether the strategy has its own `posted` / `observe` (else the base class's no-op
        # is not called, and the day's result not built for it)
        self.hears_posted = self.hears_results = True
        # yesterday's answer if it was one plain price posted as it came (no guardrail moved it),
        # and that price: the same object again needs neither checks nor guardrails
        self._standing: tuple[Prices, float] | None = None

    def start(self, info: MarketInfo) -> None:
        """Tell the strategy what it may know before day 0 (its own guardrails included); an
        oracle benchmark is also shown the hidden truth, the model itself."""
        self.info = dataclasses.replace(info, guardrails=self.guardrails)

        def reset() -> None:
            self.strategy.reset(self.info)
            if self.strategy.uses_hidden_truth is True:
                self.strategy.reveal(self.model)
            self.below_cost_allowed = self.strategy.allow_below_cost is True

        guarded(self.name, 0, reset)
        self.hears_posted = _overrides(self.strategy, "posted")
        self.hears_results = _overrides(self.strategy, "observe")

    def receive(self, day: int) -> int:
        """Put orders due today on the shelf; return the units received."""
        if not self.in_transit:
            return 0
        arrived = sum(units for when, units in self.in_transit if when == day)
        self.in_transit = [(when, units) for when, units in self.in_transit if when != day]
        self.on_hand += arrived
        return arrived

    def post_prices(
        self,
        obs: Observation,
        segment_names: tuple[str, ...],
        observable: np.ndarray,
        shoppers: int | None = None,
    ) -> np.ndarray | float:
        """Ask the strategy for today's prices; return the price table (segment × new/returning),
        or the one price of every cell.
        Personal prices (one per row of `obs.shoppers`, of which there are `shoppers`) are
        checked, held to the guardrails and kept in `self.personal`. Everything that touches
        the strategy's answer is guarded: a user's strategy stops its own run, never the others."""
        day, name = obs.day, self.name
        answer = guarded(name, day, self.strategy.price, obs)
        standing = self._standing
        if standing is not None and answer is standing[0]:
            # the very answer of yesterday (a Prices is immutable), which passed every check and
            # which the guardrails left as it was: they leave it again (its own price is
            # yesterday's, well inside the daily change, and their bounds have not moved)
            self.decision, self.personal, self.guardrail_hits = answer, None, 0
            if self.hears_posted:
                guarded(name, day, self.strategy.posted, answer)
            return standing[1]
        self._standing = None
        plain = type(answer) is Prices and _plain(answer)  # (reads no strategy code: not guarded)
        decision = answer if plain else guarded(name, day, _as_prices, answer, name, day)
        personal = None
        if not plain:  # (a plain decision has neither segment nor personal prices)
            if decision.segments:
                decision = _posted(decision, segment_names, observable)
            if decision.personal is not None:
                personal = guarded(name, day, _personal_prices, decision, shoppers, name, day)
        if self.guardrails is not None:
            cost_floor = 0.0 if self.below_cost_allowed else self.unit_cost
            yesterday = self.decision
            decision, self.guardrail_hits = apply_guardrails(decision, yesterday, self.guardrails, cost_floor)
            if personal is not None:
                personal, moved, note = guard_personal(personal, yesterday, self.guardrails, cost_floor)
                self.guardrail_hits += moved
                if moved:
                    decision = dataclasses.replace(
                        decision, reason=f"{decision.reason}; guardrails: {note}".lstrip("; ")
                    )
        if personal is not None:
            personal.flags.writeable = False
            decision = dataclasses.replace(decision, personal=personal)
        self.decision, self.personal = decision, personal
        if self.hears_posted:
            guarded(name, day, self.strategy.posted, decision)
        table = _price_table(decision, segment_names, observable, name, day)
        if plain and decision is answer and type(table) is float:
            self._standing = answer, table
        return table

    def settle(self, day: int, units: int, last_day: bool) -> dict[str, float]:
        """Take sold units off the shelf, reorder, and book the day's costs."""
        stock = self.inventory
        on_hand = self.on_hand - units
        stockout = on_hand == 0
        ordered = 0
        reorder_point = stock.reorder_point
        if reorder_point is not None:
            on_order = sum(u for _, u in self.in_transit) if self.in_transit else 0
            if on_hand + on_order <= reorder_point:
                ordered = stock.order_quantity
                if stock.lead_time == 0:
                    on_hand += ordered
                else:
                    self.in_transit.append((day + stock.lead_time, ordered))
        self.on_hand = on_hand
        unlimited = stock.unlimited
        leftover = on_hand if last_day and not unlimited else 0
        return {
            "cost_of_goods": self.unit_cost * (units + leftover),
            "holding_cost": 0.0 if unlimited else stock.holding_cost * on_hand,
            "order_cost": stock.order_cost if ordered else 0.0,
            "salvage": stock.salvage_value * leftover,
            "ordered": ordered,
            "stockout": stockout,
        }

    def observe(self, result: DayResult) -> None:
        if self.hears_results:
            guarded(self.name, result.day, self.strategy.observe, result)


def _overrides(strategy: object, method: str) -> bool:
    """Whether `strategy.method` may do more than `PricingStrategy`'s own, which does nothing."""
    try:
        return getattr(type(strategy), method, None) is not getattr(PricingStrategy, method) or (
            method in vars(strategy)
        )
    except Exception:  # no instance dictionary, or a hostile class: ask it every day
        return True


def _as_prices(decision: object, seller: str, day: int) -> Prices:
    """Check a strategy's answer, a finite non-negative number or a `Prices`; return it as a
    plain `Prices` of floats (nothing of the strategy's own objects is kept)."""
    if type(decision) is Prices and _plain(decision):
        return decision  # already such a Prices, made of immutable parts
    if isinstance(decision, bool) or not isinstance(decision, int | float | np.number | Prices):
        raise StrategyFailure(seller, day, f"price must be a number or Prices, got {_short(decision)}")
    if not isinstance(decision, Prices):
        return Prices(_price(decision, "price", seller, day))
    if type(decision.segments) not in _MAPPINGS and not isinstance(decision.segments, Mapping):
        raise StrategyFailure(
            seller, day, f"Prices.segments must map segment names to prices, got {_short(decision.segments)}"
        )
    segments = {}
    for name, value in decision.segments.items():
        if not isinstance(name, str):
            raise StrategyFailure(seller, day, f"Prices.segments: names must be text, got {_short(name)}")
        segments[name] = _price(value, f"the price of segment {name!r}", seller, day)
    if not isinstance(decision.reason, str):
        raise StrategyFailure(seller, day, f"Prices.reason must be text, got {_short(decision.reason)}")
    return Prices(
        _price(decision.base, "price", seller, day),
        MappingProxyType(segments),
        _price(decision.coupon_new, "coupon_new", seller, day),
        _price(decision.coupon_returning, "coupon_returning", seller, day),
        str(decision.reason),
        decision.personal,  # checked with the day's shoppers (`_personal_prices`)
    )


_MAPPINGS = (MappingProxyType, dict)  # checked before the (slower) abstract Mapping


def _plain(decision: Prices) -> bool:
    """Whether a `Prices` is one price as `_as_prices` would return it: a finite, non-negative
    float base and coupons, no segment prices, no personal prices, a str reason (the common
    answer, checked without building a copy)."""
    base, new, returning = decision.base, decision.coupon_new, decision.coupon_returning
    return (
        decision.segments is EMPTY
        and decision.personal is None
        and type(decision.reason) is str
        and type(base) is float
        and type(new) is float
        and type(returning) is float
        and 0.0 <= base < math.inf
        and 0.0 <= new < math.inf
        and 0.0 <= returning < math.inf
    )


def _price(value: object, what: str, seller: str, day: int) -> float:
    if isinstance(value, bool) or not isinstance(value, int | float | np.number):
        raise StrategyFailure(seller, day, f"{what} must be a number, got {_short(value)}")
    number = float(value)
    if not math.isfinite(number) or number < 0:
        raise StrategyFailure(seller, day, f"{what} must be finite and not negative, got {_short(value)}")
    return number


def _short(value: object) -> str:
    """A strategy's value as a message shows it: its repr, cut short."""
    try:
        text = repr(value)
    except BaseException:  # noqa: BLE001 - a hostile __repr__
        text = f"a {type(value).__name__}"
    return text if len(text) <= 80 else text[:77] + "..."


def _personal_prices(decision: Prices, shoppers: int | None, seller: str, day: int) -> np.ndarray | None:
    """The decision's personal prices as a fresh float array, checked: one finite, non-negative
    number per row of `obs.shoppers`."""
    if decision.personal is None:
        return None
    try:
        personal = np.array(decision.personal, dtype=float)
    except (TypeError, ValueError) as error:
        raise StrategyFailure(seller, day, f"personal prices must be numbers: {error}") from None
    if personal.ndim != 1 or (shoppers is not None and len(personal) != shoppers):
        raise StrategyFailure(
            seller,
            day,
            f"personal prices must be one number per row of obs.shoppers ({shoppers}), "
            f"got an array of shape {personal.shape}",
        )
    bad = ~np.isfinite(personal) | (personal < 0)
    if bad.any():
        k = int(np.flatnonzero(bad)[0])
        raise StrategyFailure(
            seller,
            day,
            f"personal prices must be finite and not negative, got {float(personal[k])!r} in row {k} "
            f"({int(bad.sum())} such rows)",
        )
    return personal


def guard_personal(
    personal: np.ndarray, yesterday: Prices | None, rails: Guardrails, cost_floor: float
) -> tuple[np.ndarray, int, str]:
    """Every personal price moved inside the guardrails (as `apply_guardrails` moves one price:
    the daily-change limit around yesterday's base price, then the floor and `max_price`, then
    `max_segment_ratio` × the cheapest personal price); how many moved, and a note naming the rules."""
    guarded, rules = personal.copy(), []

    def limit(rule: str, low: float, high: float) -> None:
        below, above = guarded < low, guarded > high
        if below.any() or above.any():
            guarded[below], guarded[above] = low, high
            rules.append(rule)

    if rails.max_daily_change is not None and yesterday is not None:
        step = rails.max_daily_change * yesterday.base
        limit("max_daily_change", yesterday.base - step, yesterday.base + step)
    floor_rule = "min_price" if rails.min_price >= cost_floor else "unit cost"
    limit(floor_rule, max(rails.min_price, cost_floor), np.inf)
    limit("max_price", -np.inf, rails.max_price)
    if rails.max_segment_ratio is not None and len(guarded):
        limit("max_segment_ratio", -np.inf, guarded.min() * rails.max_segment_ratio)
    moved = int(np.count_nonzero(guarded != personal))
    note = f"{moved} of {len(personal)} personal prices moved ({', '.join(rules)})" if moved else ""
    return guarded, moved, note


def _posted(decision: Prices, names: tuple[str, ...], observable: np.ndarray) -> Prices:
    """The decision with a base price someone is offered: when every segment is observable and
    has its own price, no shopper sees the base price, so the seller's posted price (and the
    guardrails' reference) is its lowest segment price instead."""
    if not decision.segments:
        return decision
    priced = set(decision.segments)
    if not all(observable) or not priced.issuperset(names):
        return decision
    return dataclasses.replace(decision, base=min(decision.segments.values()))


def offered_prices(decision: Prices, names: tuple[str, ...]) -> list[float]:
    """The price each segment is offered, before coupons."""
    return [decision.segments.get(name, decision.base) for name in names]


def _price_table(
    decision: Prices,
    names: tuple[str, ...],
    observable: np.ndarray,
    seller: str,
    day: int,
) -> np.ndarray | float:
    """Price per (segment, new = 0 / returning = 1) customer, coupons taken off; one number when
    every cell holds it."""
    coupons = decision.coupon_new or decision.coupon_returning
    if not decision.segments and not coupons and decision.base > 0:
        return float(decision.base)  # one price: what the rule below gives
    for name in decision.segments:
        if name not in names or not observable[names.index(name)]:
            raise StrategyFailure(
                seller,
                day,
                f"priced segment {name!r}, which is not an observable segment",
            )
    by_segment = np.array(offered_prices(decision, names), dtype=float)
    coupons = np.array([decision.coupon_new, decision.coupon_returning], dtype=float)
    return np.maximum(by_segment[:, None] - coupons[None, :], 0.0)
