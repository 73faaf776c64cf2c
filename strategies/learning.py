"""Learning a seller's demand from its own history, and pricing so as to keep learning.

Demand is modelled per shopper visit (units ÷ views), so busy and quiet days compare:
- `linear`: q(p) = a − b p, fitted by weighted least squares (weights: views);
- `log_linear`: q(p) = a e^(−b p), the exponential demand of Gallego & van Ryzin;
- `log_log`: q(p) = a p^(−b), constant elasticity b.
The two log models are Poisson regressions of units on log a and b (units ~ Poisson(views ·
q(p))) fitted by maximum likelihood, with the spread of the estimate widened by the data's
over-dispersion.

A certainty-equivalent ("greedy") learner charges the best price for its current estimate and
can stall away from the optimum, because prices that stop moving stop teaching it anything:
the incomplete-learning trap of Keskin & Zeevi (theory.md §7). Thompson sampling prices for a
demand curve drawn from the estimate's uncertainty instead, so it keeps experimenting exactly
as long as it is unsure.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Literal

import numpy as np

from strategies.base import History, MarketInfo, Observation, PricingStrategy, percent, require

DemandModel = Literal["linear", "log_linear", "log_log"]
Exploration = Literal["thompson", "greedy"]
MIN_DAYS = 3  # days of data before a fit (two parameters and one degree of freedom)
MAX_RIVAL_CORRELATION = 0.999  # beyond it our own and the rivals' price effects cannot be separated


@dataclass(frozen=True)
class DemandCurve:
    """Expected units as a function of price (per shopper visit when learned, or per day when
    a seller states its demand): `linear` a − b p, `log_linear` a e^(−b p), `log_log` a p^(−b)."""

    model: DemandModel
    a: float
    b: float

    def rate(self, price: np.ndarray | float) -> np.ndarray:
        """Expected units at `price`."""
        price = np.asarray(price, dtype=float)
        if self.model == "linear":
            return np.maximum(self.a - self.b * price, 0.0)
        if self.model == "log_linear":
            return self.a * np.exp(-self.b * price)
        return self.a * price ** (-self.b)

    def best_price(self, cost: float, low: float, high: float) -> float:
        """The price in [low, high] that maximises (p − cost) q(p); `high` when demand does not
        fall fast enough with price for an interior optimum (e.g. elasticity ≤ 1)."""
        if self.model == "linear":
            best = (self.a + self.b * cost) / (2 * self.b) if self.b > 0 else high
        elif self.model == "log_linear":
            best = cost + 1 / self.b if self.b > 0 else high
        else:
            best = cost * self.b / (self.b - 1) if self.b > 1 else high
        return float(np.clip(best, low, high))

    def price_for_rate(self, rate: float) -> float:
        """The price at which q(p) = rate (infinite when demand does not fall with price)."""
        if self.b <= 0:
            return np.inf
        if self.model == "linear":
            return (self.a - rate) / self.b
        if self.model == "log_linear":
            return float(np.log(self.a / rate) / self.b)
        return float((self.a / rate) ** (1 / self.b))

    def describe(self) -> str:
        """The curve as a short formula, e.g. `1.02 − 0.0201p` or `0.736·e^(−1p)`."""
        if self.model == "linear":
            return f"{self.a:.3g} − {self.b:.3g}p"
        if self.model == "log_linear":
            return f"{self.a:.3g}·e^(−{self.b:.3g}p)"
        return f"{self.a:.3g}·p^−{self.b:.3g}"


@dataclass(frozen=True)
class Estimate:
    """A fitted demand model with the uncertainty of its parameters: (a, b), or (a, b, d) when
    the rivals' average price r enters as a + d·x(r) (x: the price itself, or its log for
    `log_log`), so that a curve is for given rival prices."""

    model: DemandModel
    mean: np.ndarray
    cov: np.ndarray
    days: int  # days of data behind the fit

    @property
    def uses_rivals(self) -> bool:
        return len(self.mean) == 3

    def curve(self, rivals: float | None = None) -> DemandCurve:
        """The best estimate (at rivals' average price `rivals`, if the fit has a rival term)."""
        return self._curve(self.mean, rivals)

    def sample(self, rng: np.random.Generator, rivals: float | None = None) -> DemandCurve:
        """A curve drawn from the estimate's approximate posterior (normal around the fit)."""
        # a relative jitter keeps Cholesky working when the fit is exact (zero covariance)
        size = len(self.mean)
        jitter = 1e-12 * np.trace(self.cov) + 1e-300
        draw = self.mean + np.linalg.cholesky(self.cov + jitter * np.eye(size)) @ rng.standard_normal(size)
        return self._curve(draw, rivals)

    def _curve(self, theta: np.ndarray, rivals: float | None) -> DemandCurve:
        level = float(theta[0])  # the log models are fitted on the log scale
        if self.uses_rivals and rivals is not None:
            level += float(theta[2]) * float(_regressor(self.model, np.asarray(rivals)))
        # the clip keeps a wild early draw finite (e^700 is near the largest float)
        scale = level if self.model == "linear" else float(np.exp(np.clip(level, -700, 700)))
        return DemandCurve(self.model, scale, float(theta[1]))


def fit_demand(
    model: DemandModel,
    prices: np.ndarray,
    views: np.ndarray,
    units: np.ndarray,
    rivals: np.ndarray | None = None,
    weights: np.ndarray | None = None,
) -> Estimate | None:
    """Fit `model` to daily (price, views, units), with the rivals' average price as a further
    regressor when given and when it varied, each day counting by its weight in (0, 1] (default
    1); None without enough days or price variation."""
    keep = views > 0
    weights = np.ones(len(prices)) if weights is None else np.asarray(weights, dtype=float)
    prices, views, units = prices[keep], views[keep].astype(float), units[keep].astype(float)
    weights = weights[keep]
    if weights.sum() < MIN_DAYS or not _varies(prices):
        return None
    columns = [np.ones_like(prices), -_regressor(model, prices)]
    if rivals is not None and _separable(prices, rivals[keep]):
        columns.append(_regressor(model, rivals[keep]))
    design = np.column_stack(columns)
    if model == "linear":
        return _least_squares(model, design, units / views, views * weights, weights.sum())
    if weights[units > 0].sum() < MIN_DAYS:  # too few sales: the slope could run off to infinity
        return None
    return _poisson(model, design, views, units, weights)


def _regressor(model: DemandModel, prices: np.ndarray) -> np.ndarray:
    return np.log(prices) if model == "log_log" else prices


def _varies(values: np.ndarray) -> bool:
    return bool(np.ptp(values) > 1e-9 * max(np.abs(values).max(), 1.0))


def _separable(prices: np.ndarray, rivals: np.ndarray) -> bool:
    """Whether the rivals' price can be told apart from our own: it varied, and not in lockstep
    with ours (|correlation| below MAX_RIVAL_CORRELATION)."""
    if len(prices) <= MIN_DAYS or not _varies(rivals):
        return False
    return bool(abs(np.corrcoef(prices, rivals)[0, 1]) < MAX_RIVAL_CORRELATION)


def _least_squares(
    model: DemandModel, design: np.ndarray, rate: np.ndarray, weight: np.ndarray, days: float
) -> Estimate:
    """Weighted least squares; `days` is the effective number of days behind the weights."""
    information = design.T @ (design * weight[:, None])
    mean = np.linalg.solve(information, design.T @ (weight * rate))
    residual = rate - design @ mean
    variance = (weight * residual**2).sum() / max(days - design.shape[1], 1.0)
    return Estimate(model, mean, variance * np.linalg.inv(information), len(rate))


def _poisson(
    model: DemandModel, design: np.ndarray, views: np.ndarray, units: np.ndarray, weight: np.ndarray
) -> Estimate | None:
    """Weighted maximum likelihood of units ~ Poisson(views · e^(design · θ)), started from a
    least-squares fit of the log rates."""
    from scipy import optimize  # imported when first used: loading a scenario stays fast

    log_rate = np.log((units + 0.5) / views)
    start = _least_squares(model, design, log_rate, (units + 0.5) * weight, weight.sum()).mean

    def expected(theta: np.ndarray) -> np.ndarray:
        return views * np.exp(np.clip(design @ theta, -50, 50))

    def negative_log_likelihood(theta: np.ndarray) -> float:
        return float((weight * (expected(theta) - units * (design @ theta))).sum())

    def gradient(theta: np.ndarray) -> np.ndarray:
        return design.T @ (weight * (expected(theta) - units))

    def hessian(theta: np.ndarray) -> np.ndarray:
        return design.T @ (design * (weight * expected(theta))[:, None])

    fit = optimize.minimize(negative_log_likelihood, start, jac=gradient, hess=hessian, method="trust-exact")
    theta, mu = fit.x, expected(fit.x)
    pearson = (weight * (units - mu) ** 2 / mu).sum()
    dispersion = max(pearson / max(weight.sum() - design.shape[1], 1.0), 1e-12)
    with np.errstate(all="ignore"):
        cov = dispersion * np.linalg.pinv(hessian(theta))
    # e.g. every sale at the lowest price tried: the slope runs off to infinity (a fit that
    # merely stopped short of full precision is good enough to price with)
    if not (np.isfinite(theta).all() and np.isfinite(cov).all()):
        return None
    return Estimate(model, theta, cov, len(units))


@dataclass(frozen=True)
class Choice:
    """A learner's price for today and why."""

    price: float
    best: float  # the estimate's own best price
    limited: bool  # held back by max_move


class LearningStrategy(PricingStrategy):
    """What the demand-learning strategies share: their parameters, bounds and experiments.

    model: demand per shopper visit: `linear` (a − b p), `log_linear` (a e^(−b p)) or
        `log_log` (a p^(−b), constant elasticity b).
    explore: `thompson` (default): price for a demand curve drawn from the estimate's
        uncertainty, so prices keep varying while the estimate is unsure; `greedy`: always
        the estimate's best price (certainty equivalent; it can stall, theory.md §7).
    window: fit on the last `window` days only, for markets that change (default: all days).
    start_price: the first price (default: unit cost × (1 + start_markup)).
    start_markup: markup over cost of the default start price.
    warmup: days of a three-price ladder (start price and ± explore_width) before the first fit.
    explore_width: an experiment stays within this fraction of the estimate's best price.
    max_move: the price moves at most this fraction a day (None: no limit), so that a wild early
        estimate is corrected by what the next prices teach rather than acted on at once.
    floor, ceiling: no price outside [floor, ceiling] is ever tried (default: unit cost, or a
        tenth of the start price at zero cost; and 5 × start price), nor outside the seller's
        guardrails. When demand does not fall fast enough for an optimum the price stops at the
        ceiling.
    rivals: let the rivals' average posted price enter the fit, and price for rivals at their
        latest prices (default). Off, a seller learns its own price alone, and when rivals move
        with it (as other learners do) it mistakes their moves for its customers' indifference.
    bandwidth: fit locally: a day counts less the further its price is from the latest price,
        with normal weights of sd bandwidth × that price (None: every day counts the same). A
        straight line fitted to a curved demand over a wide range of prices has the wrong
        slope where it matters; locally it has the right one.
    Days with a public event or with lost sales are left out of the fit (on them demand is not
    the everyday demand, or was not all seen), and so are the warm-up days once there are three
    times as many later ones: the ladder's wide prices (and rivals' own ladders) serve to start.
    """

    model: DemandModel = "linear"
    explore: Exploration = "thompson"
    window: int | None = None
    start_price: float | None = None
    start_markup: float = 0.5
    warmup: int = 6
    explore_width: float = 0.25
    floor: float | None = None
    ceiling: float | None = None
    rivals: bool = True
    bandwidth: float | None = 0.5
    max_move: float | None = 0.25

    def check(self) -> None:
        require(
            self.window is None or self.window >= MIN_DAYS + 1,
            "window",
            f"must be at least {MIN_DAYS + 1} days, got {self.window}",
        )
        require(self.warmup >= MIN_DAYS, "warmup", f"must be at least {MIN_DAYS} days, got {self.warmup}")
        for name in ("explore_width", "max_move"):
            value = getattr(self, name)
            require(value is None or 0 < value < 1, name, f"must be between 0 and 1, got {value}")
        require(
            self.start_price is None or self.start_price > 0,
            "start_price",
            f"must be positive, got {self.start_price}",
        )
        require(self.floor is None or self.floor > 0, "floor", f"must be positive, got {self.floor}")
        require(
            self.bandwidth is None or self.bandwidth > 0,
            "bandwidth",
            f"must be positive, got {self.bandwidth}",
        )
        require(
            self.ceiling is None or self.ceiling > (self.floor or 0),
            "ceiling",
            f"must be above the floor, got {self.ceiling}",
        )

    def default_start(self, info: MarketInfo) -> float:
        """The first price when `start_price` is not given."""
        return info.unit_cost * (1 + self.start_markup)

    def reset(self, info: MarketInfo) -> None:
        start = self.start_price or self.default_start(info)
        if start <= 0:
            raise ValueError("needs a positive start_price: unit cost × (1 + start_markup) is not positive")
        at_cost = info.unit_cost > 0 and not self.allow_below_cost
        low = self.floor or (info.unit_cost if at_cost else start / 10)
        high = self.ceiling or 5 * max(start, low)
        if info.guardrails is not None:  # prices outside the seller's guardrails teach nothing new
            low = max(low, info.guardrails.min_price)
            high = max(min(high, info.guardrails.max_price), low)
        self.info, self.rng = info, info.rng
        self.low, self.high = low, high
        self.start = float(np.clip(start, low, high))
        self._block, self._rungs = -1, np.zeros(3)  # the ladder's current three days and their order

    def ladder_price(self, day: int, around: float | None = None) -> float:
        """The experiment of a day without a fit: `around` (default the start price) and
        ± explore_width, each once in every three days, in a random order (so that rivals warming
        up alike do not move in step)."""
        if self._block != day // 3:  # one order per three days, shared by every group
            self._block, self._rungs = day // 3, self.rng.permutation([0.0, 1.0, -1.0])
        step = self._rungs[day % 3]
        centre = self.start if around is None else around
        return float(np.clip(centre * (1 + step * self.explore_width), self.low, self.high))

    def untaught(self, day: int, last: float | None) -> tuple[float, str]:
        """Today's price and reason when no fit is possible: the warm-up ladder, or after the
        warm-up (e.g. a fit that failed) the same ladder around yesterday's price."""
        if day < self.warmup or last is None:
            price = self.ladder_price(day)
            return price, f"warm-up: trying {price:.2f}"
        price = self.ladder_price(day, last)
        return price, f"no usable fit today: trying {price:.2f}"

    def usable_days(self, history: History) -> np.ndarray:
        """Days to learn from: in the window, with shoppers, no public event and no lost sales,
        and past the warm-up once there are enough later days."""
        days = len(history.prices)
        keep = (history.views > 0) & ~self.info.event_days(days)
        if self.window is not None:
            keep[: max(days - self.window, 0)] = False
        if days >= 4 * self.warmup:
            keep[: self.warmup] = False
        return keep & (history.lost_sales == 0)

    def rival_average(self, obs: Observation) -> tuple[np.ndarray | None, float | None]:
        """The rivals' average posted price on each past day and the latest one (today's best
        guess); (None, None) without rivals or when `rivals` is off."""
        if not self.rivals or not obs.rival_prices or obs.day == 0:
            return None, None
        past = np.mean(np.vstack(list(obs.rival_prices.values())), axis=0)
        return past, float(past[-1])

    def estimate(
        self,
        prices: np.ndarray,
        views: np.ndarray,
        units: np.ndarray,
        keep: np.ndarray,
        rivals: np.ndarray | None = None,
    ) -> Estimate | None:
        """The demand fit on the kept days, local around the latest price."""
        prices, rival_prices = prices[keep], None if rivals is None else rivals[keep]
        weights = None
        if self.bandwidth is not None and len(prices):
            local = np.exp(-0.5 * ((prices - prices[-1]) / (self.bandwidth * prices[-1])) ** 2)
            # right after a jump few days are near the new price: then every day counts
            weights = local if local.sum() >= 2 * MIN_DAYS else None
        return fit_demand(self.model, prices, views[keep], units[keep], rival_prices, weights)

    def experiment(
        self,
        estimate: Estimate,
        plan: Callable[[DemandCurve], float],
        rivals: float | None = None,
        last: float | None = None,
    ) -> Choice:
        """Today's price, where `plan` prices a demand curve (for rivals at their average price
        `rivals`) and `last` is yesterday's price.

        Thompson sampling plans for a sampled curve, kept within explore_width of the estimate's
        price; greedy plans for the estimate. Either moves at most max_move from `last`.
        """
        best = plan(estimate.curve(rivals))
        price = best
        if self.explore == "thompson":
            width = self.explore_width * best
            price = float(np.clip(plan(estimate.sample(self.rng, rivals)), best - width, best + width))
        held = self.step_limit(price, last)
        return Choice(held, best, held != price)

    def step_limit(self, price: float, last: float | None) -> float:
        """`price` moved at most max_move from `last`."""
        if self.max_move is None or last is None:
            return price
        return float(np.clip(price, last * (1 - self.max_move), last * (1 + self.max_move)))

    def describe(self, estimate: Estimate, choice: Choice, rivals: float | None = None) -> str:
        """A short reason, e.g. `thompson: demand 1.02 − 0.0201p per shopper (40 days) → 30.41`."""
        text = f"{self.explore}: demand {estimate.curve(rivals).describe()} per shopper"
        if estimate.uses_rivals and rivals is not None:
            text += f" with rivals at {rivals:.2f}"
        text += f" ({estimate.days} days) → {choice.price:.2f}"
        if choice.limited:
            return text + f" (estimate's best {choice.best:.2f}; moved at most {percent(self.max_move)})"
        return text + (f" (estimate's best {choice.best:.2f})" if choice.price != choice.best else "")
