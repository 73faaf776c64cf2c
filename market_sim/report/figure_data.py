"""What the report's time charts draw, computed once from the daily and segment tables.

Every figure used to filter the whole tables by strategy again and again, on every figure
process. Here the focal seller's rows are laid out once as (strategy × replication × day)
arrays, with one pass of numpy per statistic, and only the per-day lines and bands each figure
shows are kept: a few kilobytes a strategy, which is all a figure process receives.

Each statistic follows the pandas computation it replaces (`groupby("day")` over the rows a
strategy has, missing values skipped; see tests/test_report_figures.py): a day a strategy has no
row for is not drawn, a missing value (an unlimited stock) is skipped.
"""

from __future__ import annotations

import dataclasses
import warnings
from dataclasses import dataclass, field

import numpy as np
import pandas as pd
from scipy import special

from market_sim.metrics import CONFIDENCE, groups

HISTOGRAM_BINS = 40  # of the prices paid


@dataclass(frozen=True)
class Line:
    """A value per day, with a band around it (equal to the value when there is none)."""

    days: np.ndarray
    mean: np.ndarray
    low: np.ndarray
    high: np.ndarray


@dataclass(frozen=True)
class StrategyDays:
    """One strategy's focal-seller days, as its figures draw them."""

    price: Line  # posted price: mean and 10–90% band over replications
    cumulative: Line  # cumulative profit: mean and its 95% interval
    inventory: Line  # stock each evening: mean and 10–90% band
    inventory_max: float  # the highest stock of any replication (nan: unlimited)
    sold_out: pd.Series  # share of replications sold out, per day
    delivered: pd.Series  # share of replications a delivery arrived in, per day
    rivals: dict[str, pd.Series]  # each rival's mean posted price per day
    paid: dict[str, pd.Series]  # average price paid per day (per segment when several)
    paid_differs: bool  # buyers paid something else than the posted price on some day
    paid_share: np.ndarray | None  # share of units per bin of `FigureData.price_bins`
    difference: Line | None = None  # cumulative profit − the baseline's, paired; mean, 95% interval
    # the one price posted all run (the first row's when no two rows differ), else None
    one_price: float | None = None


@dataclass(frozen=True)
class Cumulative:
    """Every replication's cumulative profit (strategy × replication × day, missing where a run
    has no row), from which the paired differences against any baseline are drawn."""

    strategies: tuple[str, ...]
    days: np.ndarray
    values: np.ndarray


@dataclass(frozen=True)
class FigureData:
    """The per-strategy lines of every time chart and the prices-paid histogram."""

    strategies: dict[str, StrategyDays] = field(default_factory=dict)
    price_bins: np.ndarray | None = None  # edges of the prices-paid histogram
    last_day: int = 0
    leftover: float = 0.0  # mean units the focal seller had left on the last day (unlimited: 0)
    has_inventory: bool = False  # the focal seller's stock is limited
    cumulative: Cumulative | None = None

    @property
    def top_cumulative(self) -> float:
        """The highest mean cumulative profit of any strategy on any day."""
        return max((float(np.nanmax(s.cumulative.mean)) for s in self.strategies.values()), default=0.0)


def figure_data(daily: pd.DataFrame, segments: pd.DataFrame, focal: str, baseline: str) -> FigureData:
    """The lines every time chart of the report draws, from a run's daily and segment tables."""
    if daily.empty:
        return FigureData()
    own = daily[daily["seller"] == focal]
    if own.empty:
        return FigureData()
    grid = _Grid(own)
    columns = {
        name: grid.layout(own[name].to_numpy(dtype=float))
        for name in ("price", "profit", "inventory", "stockout", "received", "revenue", "units")
    }
    cumulative = Cumulative(tuple(grid.strategies), grid.days, _cumulative(columns["profit"], grid.present))
    prices = own["price"].to_numpy(dtype=float)
    rivals = _rival_prices(daily, focal)
    bought = segments if segments.empty else segments[segments["seller"] == focal]  # from the focal seller
    paid = _prices_paid(bought)
    bins, shares = _paid_histograms(bought)
    differences = _differences(cumulative, baseline)
    strategies = {}
    for s, name in enumerate(grid.strategies):
        days = grid.present[s].any(axis=0)  # the days this strategy has rows for
        on = {key: value[s][:, days] for key, value in columns.items()}
        present = grid.present[s][:, days]
        rows = {key: value[s][grid.present[s]] for key, value in columns.items()}  # every row's
        strategies[name] = StrategyDays(
            price=_spread(grid.days[days], on["price"]),
            cumulative=_mean_band(grid.days[days], cumulative.values[s][:, days]),
            inventory=_spread(grid.days[days], on["inventory"]),
            inventory_max=_nanmax(on["inventory"]),
            sold_out=pd.Series(_nanmean(on["stockout"]), index=grid.days[days]),
            delivered=pd.Series(
                (on["received"] > 0).sum(axis=0) / present.sum(axis=0), index=grid.days[days]
            ),
            rivals=rivals.get(name, {}),
            paid=paid.get(name, {}),
            paid_differs=not np.allclose(rows["revenue"], rows["units"] * rows["price"], rtol=1e-9),
            paid_share=shares.get(name),
            difference=differences.get(name),
            one_price=_one_price(prices[grid.strategy_codes == s]),
        )
    last = own[own["day"] == own["day"].max()]
    return FigureData(
        strategies=strategies,
        price_bins=bins,
        last_day=int(last["day"].iloc[0]),
        leftover=float(last["inventory"].fillna(0).mean()),
        has_inventory=not own["inventory"].isna().all(),
        cumulative=cumulative,
    )


def against(data: FigureData, baseline: str) -> FigureData:
    """The same lines with the paired differences drawn against `baseline`."""
    if data.cumulative is None:
        return data
    differences = _differences(data.cumulative, baseline)
    strategies = {
        name: dataclasses.replace(days, difference=differences.get(name))
        for name, days in data.strategies.items()
    }
    return dataclasses.replace(data, strategies=strategies)


def _one_price(prices: np.ndarray) -> float | None:
    """The price of every row when none differs (the theory table compares it with the textbook)."""
    if not prices.size or np.ptp(prices) > 0:
        return None
    return float(prices[0])


class _Grid:
    """The focal seller's rows placed on a strategy × replication × day grid (strategies in the
    order they first appear, replications and days sorted); cells with no row are missing."""

    def __init__(self, own: pd.DataFrame):
        self.strategy_codes, strategies = pd.factorize(own["strategy"])
        self.strategies = list(strategies)
        self.replication_codes, self.replications = _codes(own["replication"].to_numpy())
        self.day_codes, self.days = _codes(own["day"].to_numpy())
        shape = (len(self.strategies), len(self.replications), len(self.days))
        codes = (self.strategy_codes, self.replication_codes, self.day_codes)
        self.index = np.ravel_multi_index(codes, shape)
        self.shape = shape
        present = np.zeros(int(np.prod(shape)), dtype=bool)
        present[self.index] = True
        self.present = present.reshape(shape)

    def layout(self, values: np.ndarray) -> np.ndarray:
        grid = np.full(int(np.prod(self.shape)), np.nan)
        grid[self.index] = values
        return grid.reshape(self.shape)


def _codes(values: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Each value's position among the sorted distinct values, and those values."""
    distinct, codes = np.unique(values, return_inverse=True)
    return codes, distinct


def _cumulative(profit: np.ndarray, present: np.ndarray) -> np.ndarray:
    """Cumulative profit over the days of each replication, missing values skipped (as pandas'
    cumsum does), missing where the row or the value is missing."""
    total = np.cumsum(np.nan_to_num(profit), axis=-1)
    return np.where(present & ~np.isnan(profit), total, np.nan)


def _differences(cumulative: Cumulative, baseline: str) -> dict[str, Line]:
    """Each strategy's cumulative profit minus the baseline's, replication by replication, on
    the days both have: its mean and 95% interval."""
    if baseline not in cumulative.strategies or len(cumulative.strategies) < 2:
        return {}
    base = cumulative.values[cumulative.strategies.index(baseline)]
    lines = {}
    for s, name in enumerate(cumulative.strategies):
        if name == baseline:
            continue
        difference = cumulative.values[s] - base
        days = ~np.isnan(difference).all(axis=0)
        lines[name] = _mean_band(cumulative.days[days], difference[:, days])
    return lines


def _nanmean(values: np.ndarray) -> np.ndarray:
    with warnings.catch_warnings():  # a day with no value: nan, as pandas gives
        warnings.simplefilter("ignore", RuntimeWarning)
        return np.nanmean(values, axis=0)


def _nanmax(values: np.ndarray) -> float:
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)
        return float(np.nanmax(values)) if values.size else np.nan


def _spread(days: np.ndarray, values: np.ndarray) -> Line:
    """The mean over replications per day, in a band from their 10th to 90th percentile
    (`np.quantile` when no value is missing: the same numbers, computed for every day at once
    where `np.nanquantile` takes the days one by one, 27 times slower)."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)
        quantile = np.nanquantile if np.isnan(values).any() else np.quantile
        low, high = quantile(values, [0.1, 0.9], axis=0)
    return Line(days, _nanmean(values), low, high)


def _mean_band(days: np.ndarray, values: np.ndarray) -> Line:
    """The mean per day and the t interval of that mean across replications."""
    n = (~np.isnan(values)).sum(axis=0)
    mean = _nanmean(values)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)
        sd = np.nanstd(values, axis=0, ddof=1)
    half = special.stdtrit(np.maximum(n - 1, 1), 0.5 + CONFIDENCE / 2) * sd / np.sqrt(n)
    half = np.nan_to_num(np.where(n > 1, half, 0.0))
    return Line(days, mean, mean - half, mean + half)


def _rival_prices(daily: pd.DataFrame, focal: str) -> dict[str, dict[str, pd.Series]]:
    """Per strategy, each rival's mean posted price per day."""
    rivals = daily[daily["seller"] != focal]
    if rivals.empty:
        return {}
    means = rivals.groupby(["strategy", "seller", "day"], sort=False)["price"].mean()
    found: dict[str, dict[str, pd.Series]] = {}
    for (strategy, seller), line in _days_by(means, ["strategy", "seller"]).items():
        found.setdefault(strategy, {})[seller] = line
    return found


def _prices_paid(bought: pd.DataFrame) -> dict[str, dict[str, pd.Series]]:
    """Per strategy, the average price paid per day, all replications together, from the focal
    seller's segment rows: per segment when the strategy's rows hold several."""
    if bought.empty:
        return {}
    sums = bought.groupby(["strategy", "segment", "day"], sort=False)[["revenue", "units"]].sum()
    lines = _days_by(_paid(sums), ["strategy", "segment"])
    found: dict[str, dict[str, pd.Series]] = {}
    for strategy in dict.fromkeys(strategy for strategy, _ in lines):
        names = [name for (of, name) in lines if of == strategy]
        found[strategy] = (
            {"average price paid": lines[strategy, names[0]]}
            if len(names) == 1
            else {f"price paid by {name}": lines[strategy, name] for name in names}
        )
    return found


def _days_by(values: pd.Series, keys: list[str]) -> dict[tuple, pd.Series]:
    """A series indexed by (keys..., "day") split by its keys, in the order they first appear:
    each part over its days in order, the keys dropped (what grouping by the keys, dropping them
    and `sort_index` give), made with numpy: pandas takes milliseconds for each part."""
    index = values.index
    group, count = groups(index.to_frame(index=False), keys)  # numbered in the order they first appear
    days = index.get_level_values("day")
    levels = [index.get_level_values(key) for key in keys]
    data = values.to_numpy()
    parts = {}
    for g in range(count):
        rows = np.flatnonzero(group == g)
        rows = rows[np.argsort(days[rows], kind="stable")]
        parts[tuple(level[rows[0]] for level in levels)] = pd.Series(
            data[rows], index=days[rows], name=values.name
        )
    return parts


def _paid(sums: pd.DataFrame) -> pd.Series:
    return (sums["revenue"] / sums["units"]).where(sums["units"] > 0)


def _paid_histograms(bought: pd.DataFrame) -> tuple[np.ndarray | None, dict[str, np.ndarray]]:
    """Bins of the prices buyers paid the focal seller (all strategies together), and per
    strategy the share of its units in each bin, from the focal seller's segment rows."""
    if bought.empty:
        return None, {}
    units = bought["units"].to_numpy()
    sold = units > 0
    if not sold.any():
        return None, {}
    units, prices = units[sold], bought["avg_price_paid"].to_numpy()[sold]
    known = prices[~np.isnan(prices)]  # (the lowest and highest as pandas' min and max skip NaN)
    low, high = (known.min(), known.max()) if known.size else (np.nan, np.nan)
    if high - low < 1e-9 * max(1.0, abs(high)):
        low, high = low * 0.95 - 0.5, high * 1.05 + 0.5
    bins = np.linspace(low, high, HISTOGRAM_BINS + 1)
    codes, strategies = pd.factorize(bought["strategy"].to_numpy()[sold])  # in the order they first sell
    shares = {}
    for s, strategy in enumerate(strategies):
        mine = codes == s
        weights = units[mine] / units[mine].sum()
        shares[strategy] = np.histogram(prices[mine], bins=bins, weights=weights)[0]
    return bins, shares
