"""The dashboard's model: the batch engine's `MarketModel` with knobs and a day-by-day record.

The knobs move the scenario's key numbers; each becomes an ordinary scenario (a changed copy),
so the dashboard shows exactly what `run` would compute for that scenario, seed and strategy:
- `price`: the focal seller's price under the "fixed price" choice of strategy;
- `mean_wtp`: the shoppers' mean willingness to pay (every segment's distribution moves by the
  same amount; lognormal and exponential ones are rescaled to that mean);
- `price_sensitivity`: the mean price sensitivity (every segment's scaled alike);
- `undercut`: the fraction by which rivals that undercut (`competitor_response`) go below;
- `stock`: the focal seller's opening stock (when it is limited);
- `visit_rate`: the mean chance that a consumer shops on a day (every segment's scaled alike,
  at most 1).
A knob left at None, or at the scenario's own value, leaves the scenario as it is.
"""

from __future__ import annotations

import dataclasses
import math
from collections.abc import Callable
from dataclasses import dataclass
from types import MappingProxyType
from typing import Any

import numpy as np
from mesa import DataCollector

from market_sim.distributions import (
    Constant,
    Distribution,
    Exponential,
    LogNormal,
    Normal,
    Triangular,
    Uniform,
)
from market_sim.model import MarketModel
from market_sim.report.theory import closed_forms
from market_sim.scenario import Scenario, Segment, StrategySpec
from strategies import display_name, resolve

FIXED_PRICE = "a fixed price (the price slider)"
UNDERCUTTING = "undercut"  # the parameter name of rivals the undercut knob moves


@dataclass(frozen=True)
class Knob:
    """One slider: the scenario's own value and a sensible range."""

    label: str
    value: float
    low: float
    high: float
    step: float


def knobs(scenario: Scenario) -> dict[str, Knob]:
    """The knobs that apply to `scenario`, at its own values."""
    segments = scenario.consumers.segments
    found: dict[str, Knob] = {}
    price = default_price(scenario)
    found["price"] = Knob("Fixed focal price", price, 0.0, _round_up(3 * price), _step(price))
    wtp = _mean_over(segments, lambda s: mean(s.wtp))
    spread = max(abs(wtp), scenario.focal.unit_cost, 1.0)
    found["mean_wtp"] = Knob("Mean willingness to pay", wtp, wtp - spread, wtp + spread, _step(spread))
    if scenario.market.choice == "logit":
        beta = _mean_over(segments, lambda s: mean(s.price_sensitivity))
        if beta > 0:
            found["price_sensitivity"] = Knob("Price sensitivity", beta, beta / 10, beta * 3, _step(beta))
    undercut = rival_undercut(scenario)
    if undercut is not None:
        found["undercut"] = Knob("Rival's undercut (fraction)", undercut, 0.0, 0.5, 0.01)
    stock = scenario.focal.inventory.initial
    if math.isfinite(stock):
        found["stock"] = Knob(
            "Focal opening stock", stock, 0.0, _round_up(3 * max(stock, 1)), _step(stock, 1)
        )
    visits = _mean_over(segments, lambda s: s.visit_rate)
    found["visit_rate"] = Knob("Visit rate", visits, 0.01, 1.0, 0.01)
    return found


def adjusted(scenario: Scenario, **values: float | None) -> Scenario:
    """`scenario` with the knobs set to `values` (a None or unchanged knob changes nothing)."""
    own = {name: knob.value for name, knob in knobs(scenario).items()}
    change = {name: v for name, v in values.items() if v is not None and name in own and v != own[name]}
    consumers = scenario.consumers
    segments = list(consumers.segments)
    if "mean_wtp" in change:
        shift = change["mean_wtp"] - own["mean_wtp"]
        segments = [dataclasses.replace(s, wtp=shifted(s.wtp, shift)) for s in segments]
    if "price_sensitivity" in change:
        factor = change["price_sensitivity"] / own["price_sensitivity"]
        segments = [
            dataclasses.replace(s, price_sensitivity=scaled(s.price_sensitivity, factor)) for s in segments
        ]
    if "visit_rate" in change:
        factor = change["visit_rate"] / own["visit_rate"]
        segments = [dataclasses.replace(s, visit_rate=min(1.0, s.visit_rate * factor)) for s in segments]
    sellers = list(scenario.sellers)
    if "undercut" in change:
        sellers = [
            dataclasses.replace(s, strategy=_with(s.strategy, UNDERCUTTING, change["undercut"]))
            if _undercuts(s.strategy)
            else s
            for s in sellers
        ]
    if "stock" in change:
        focal = scenario.focal_index
        inventory = dataclasses.replace(sellers[focal].inventory, initial=float(round(change["stock"])))
        sellers[focal] = dataclasses.replace(sellers[focal], inventory=inventory)
    return dataclasses.replace(
        scenario,
        consumers=dataclasses.replace(consumers, segments=tuple(segments)),
        sellers=tuple(sellers),
    )


def strategy_choices(scenario: Scenario) -> list[str]:
    """The strategy picker's choices: the scenario's strategies, then a fixed price."""
    return [spec.name for spec in scenario.strategies] + [FIXED_PRICE]


def chosen_strategy(scenario: Scenario, name: str, price: float | None) -> StrategySpec:
    if name == FIXED_PRICE:
        price = default_price(scenario) if price is None else price
        return StrategySpec("fixed", MappingProxyType({"price": float(price)}), f"fixed price {price:g}")
    for spec in scenario.strategies:
        if spec.name == name:
            return spec
    raise ValueError(f"no strategy named {name!r}; choose one of {', '.join(strategy_choices(scenario))}")


class DashboardModel(MarketModel):
    """The market with one focal strategy, recording every day for the dashboard's charts.

    Every argument is a keyword (Mesa's Reset rebuilds the model with them); `spec` is the
    scenario as loaded, the others are the knobs (see the module's docstring).
    """

    def __init__(
        self,
        *,
        spec: Scenario,
        strategy: str,
        replication: int = 0,
        price: float | None = None,
        mean_wtp: float | None = None,
        price_sensitivity: float | None = None,
        undercut: float | None = None,
        stock: float | None = None,
        visit_rate: float | None = None,
    ):
        given = {
            "price": price,
            "mean_wtp": mean_wtp,
            "price_sensitivity": price_sensitivity,
            "undercut": undercut,
            "stock": stock,
            "visit_rate": visit_rate,
        }
        market = adjusted(spec, **{name: value for name, value in given.items() if name != "price"})
        super().__init__(market, chosen_strategy(spec, strategy, price), int(replication))
        self.strategy_name = strategy
        # what this market was made with: each knob as given, or the scenario's own value
        self.settings = {
            knob.label: knob.value if given[name] is None else float(given[name])
            for name, knob in knobs(spec).items()
            if name != "price" or strategy == FIXED_PRICE
        }
        self.theory = closed_forms(market)
        self.rows: list[dict[str, Any]] = []
        self.datacollector = DataCollector(model_reporters={name: _column(name) for name in self.columns()})

    def columns(self) -> list[str]:
        """The record's columns: the day, then per seller, then the focal seller's per segment."""
        per_seller = [
            f"{what} {seller.name}"
            for what in ("price", "units", "stock", "profit", "cumulative profit", "reason")
            for seller in self.sellers
        ]
        per_segment = [f"price paid {name}" for name in self.population.segment_names]
        return ["day", "shoppers", *per_seller, *per_segment]

    def step(self) -> None:
        """One day of the market, then its row of the record."""
        super().step()
        self.rows.append(self.day_row(self.ledger.days_recorded - 1))
        self.datacollector.collect(self)

    def day_row(self, day: int) -> dict[str, Any]:
        """What the dashboard shows of `day`, from the ledger."""
        ledger, focal = self.ledger, self.spec.focal_index
        row: dict[str, Any] = {"day": day, "shoppers": int(ledger.shoppers[day])}
        for j, seller in enumerate(self.sellers):
            row[f"price {seller.name}"] = float(ledger.price[day, j])
            row[f"units {seller.name}"] = int(ledger.units[day, j])
            stock = float(ledger.inventory[day, j])
            row[f"stock {seller.name}"] = stock if math.isfinite(stock) else np.nan
            row[f"profit {seller.name}"] = float(ledger.profit[day, j])
            row[f"cumulative profit {seller.name}"] = float(ledger.profit[: day + 1, j].sum())
            row[f"reason {seller.name}"] = str(ledger.reason[day, j])
        units = ledger.segment_units[day, focal].sum(axis=-1)
        revenue = ledger.segment_revenue[day, focal].sum(axis=-1)
        for g, name in enumerate(self.population.segment_names):
            row[f"price paid {name}"] = float(revenue[g] / units[g]) if units[g] else np.nan
        return row

    def theory_prices(self) -> list[tuple[str, np.ndarray]]:
        """Textbook price lines (label, one value per day) where a closed form applies."""
        if self.theory is None:
            return []
        return [(reference.label, reference.values) for reference in self.theory.prices]


def default_price(scenario: Scenario) -> float:
    """A starting price for the price slider: the first fixed strategy's price, else cost + 50%."""
    for spec in scenario.strategies:
        if spec.kind == "fixed" and "price" in spec.params:
            return float(spec.params["price"])
    return round(scenario.focal.unit_cost * 1.5, 2)


def rival_undercut(scenario: Scenario) -> float | None:
    """The undercut of the first rival that undercuts, or None when none does."""
    for seller in scenario.sellers:
        if not seller.focal and _undercuts(seller.strategy):
            params = seller.strategy.params
            return float(params.get(UNDERCUTTING, getattr(_class(seller.strategy), UNDERCUTTING)))
    return None


def mean(distribution: Distribution) -> float:
    """The mean of a trait's distribution."""
    match distribution:
        case Constant(value=value):
            return float(value)
        case Uniform(low=low, high=high):
            return (low + high) / 2
        case Normal(mean=mu, sd=sd, min=None, max=None):
            return mu
        case Normal(mean=mu, sd=sd, min=low, max=high):
            from scipy import stats

            if sd == 0:
                return float(np.clip(mu, low, high))
            a = -math.inf if low is None else (low - mu) / sd
            b = math.inf if high is None else (high - mu) / sd
            return float(stats.truncnorm.mean(a, b, loc=mu, scale=sd))
        case LogNormal(mean=mu) | Exponential(mean=mu):
            return mu
        case Triangular(low=low, mode=mode, high=high):
            return (low + mode + high) / 3
    raise TypeError(f"unknown distribution {distribution!r}")


def shifted(distribution: Distribution, shift: float) -> Distribution:
    """The distribution moved by `shift` (lognormal and exponential: rescaled to the new mean,
    which stays positive)."""
    match distribution:
        case Constant(value=value):
            return Constant(value + shift)
        case Uniform(low=low, high=high):
            return Uniform(low + shift, high + shift)
        case Normal(mean=mu, sd=sd, min=low, max=high):
            return Normal(mu + shift, sd, _plus(low, shift), _plus(high, shift))
        case Triangular(low=low, mode=mode, high=high):
            return Triangular(low + shift, mode + shift, high + shift)
        case LogNormal(mean=mu) | Exponential(mean=mu):
            return scaled(distribution, max(mu + shift, mu / 100) / mu)
    raise TypeError(f"unknown distribution {distribution!r}")


def scaled(distribution: Distribution, factor: float) -> Distribution:
    """The distribution with every value multiplied by `factor` (> 0)."""
    match distribution:
        case Constant(value=value):
            return Constant(value * factor)
        case Uniform(low=low, high=high):
            return Uniform(low * factor, high * factor)
        case Normal(mean=mu, sd=sd, min=low, max=high):
            return Normal(mu * factor, sd * factor, _times(low, factor), _times(high, factor))
        case LogNormal(mean=mu, sd=sd):
            return LogNormal(mu * factor, sd * factor)
        case Exponential(mean=mu):
            return Exponential(mu * factor)
        case Triangular(low=low, mode=mode, high=high):
            return Triangular(low * factor, mode * factor, high * factor)
    raise TypeError(f"unknown distribution {distribution!r}")


def _plus(value: float | None, shift: float) -> float | None:
    return None if value is None else value + shift


def _times(value: float | None, factor: float) -> float | None:
    return None if value is None else value * factor


def _mean_over(segments: tuple[Segment, ...], of: Callable[[Segment], float]) -> float:
    """Population-weighted mean of a segment quantity."""
    return float(sum(s.share * of(s) for s in segments) / sum(s.share for s in segments))


def _undercuts(spec: StrategySpec | None) -> bool:
    return spec is not None and UNDERCUTTING in _class(spec).parameters()


def _class(spec: StrategySpec) -> type:
    builds = spec.builds
    return builds if isinstance(builds, type) else resolve(builds)


def _with(spec: StrategySpec, name: str, value: float) -> StrategySpec:
    """The strategy with one parameter changed (and its name, when it was made from them)."""
    params = {**spec.params, name: float(value)}
    named = spec.name == display_name(spec.kind, dict(spec.params))
    return dataclasses.replace(
        spec, params=MappingProxyType(params), name=display_name(spec.kind, params) if named else spec.name
    )


def _column(name: str) -> Callable[[DashboardModel], Any]:
    def read(model: DashboardModel) -> Any:
        return model.rows[-1][name]

    return read


def _step(scale: float, smallest: float = 0.01) -> float:
    """A slider step of about a hundredth of `scale`, rounded to 1, 2 or 5 times a power of ten."""
    if scale <= 0:
        return smallest
    power = 10 ** math.floor(math.log10(scale / 100))
    step = next(m * power for m in (1, 2, 5, 10) if m * power >= scale / 100)
    return max(step, smallest)


def _round_up(value: float) -> float:
    """A round upper end for a slider."""
    if value <= 0:
        return 1.0
    power = 10 ** math.floor(math.log10(value))
    return math.ceil(value / power) * power
