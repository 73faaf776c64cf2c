"""The closed forms of docs/theory.md: pure maths (numpy; scipy imported where it is used) shared
by the scores, the tables, the report and the tests.

Formulas take plain numbers and arrays. `logit_market(scenario)` recognises the logit markets of
§3 that have a closed form and `logit_profits(scenario)` gives the focal seller's profit per
shopper at the Bertrand–Nash and joint-optimum prices, behind the profit-gain index Δ. The
report's presentation of these results (its theory table and curves) is
`market_sim.report.theory`.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import numpy as np

from market_sim.distributions import Constant
from market_sim.scenario import Scenario, Segment

Curve = Callable[[float], float]


# --- formulas (each checked against theory.md in tests/test_report.py) ---------------------


def linear_optimum(a: float, b: float, c: float) -> float:
    """p* = (a + b c) / (2b) for Q = a − b p and unit cost c (§1)."""
    return (a + b * c) / (2 * b)


def linear_units(price: float, volume: np.ndarray, ceiling: np.ndarray) -> np.ndarray:
    """Expected buyers V (1 − p/W)⁺ of segments with V shoppers and wtp uniform on [0, W]."""
    return volume * np.clip(1 - price / ceiling, 0.0, None)


def best_uniform_price(volume: np.ndarray, ceiling: np.ndarray, cost: float) -> float:
    """The one price that maximises Σ (p − c) V (1 − p/W)⁺ over segments (§5): between two
    consecutive ceilings the served segments are fixed and profit is a parabola."""
    bounds = np.unique(np.concatenate([[cost], ceiling[ceiling > cost]]))
    best, best_profit = cost, 0.0
    for low, high in zip(bounds[:-1], bounds[1:], strict=True):
        served = ceiling >= high
        a, b = volume[served].sum(), (volume[served] / ceiling[served]).sum()
        price = float(np.clip(linear_optimum(a, b, cost), low, high))
        profit = (price - cost) * linear_units(price, volume, ceiling).sum()
        if profit > best_profit:
            best, best_profit = price, profit
    return best


def logit_shares(prices: np.ndarray, quality: np.ndarray, outside: float, mu: float) -> np.ndarray:
    """s_i = exp((a_i − p_i)/μ) / (Σ_j exp((a_j − p_j)/μ) + exp(a_0/μ)) (§3)."""
    from scipy import special

    utility = np.append((quality - prices) / mu, outside / mu)
    return np.exp(utility - special.logsumexp(utility))[:-1]


def logit_nash(quality: np.ndarray, cost: np.ndarray, outside: float, mu: float) -> np.ndarray:
    """Bertrand–Nash prices: every seller's first-order condition (p_i − c_i)(1 − s_i) = μ."""
    from scipy import optimize

    def conditions(prices: np.ndarray) -> np.ndarray:
        return (prices - cost) * (1 - logit_shares(prices, quality, outside, mu)) - mu

    solution = optimize.root(conditions, cost + 2 * mu, tol=1e-13)
    return solution.x


def logit_joint(quality: np.ndarray, cost: np.ndarray, outside: float, mu: float) -> np.ndarray:
    """Joint (cartel) optimum: equal markups m = μ (1 + W(Σ_j exp((a_j − c_j − a_0)/μ − 1)))."""
    from scipy import special

    total = np.exp((quality - cost - outside) / mu - 1).sum()
    return cost + mu * (1 + special.lambertw(total).real)


def logit_best_response(
    seller: int, prices: np.ndarray, quality: np.ndarray, cost: np.ndarray, outside: float, mu: float
) -> float:
    """Seller's profit-maximising price against the others' fixed prices: its own FOC."""
    from scipy import optimize

    def condition(price: float) -> float:
        trial = prices.copy()
        trial[seller] = price
        share = logit_shares(trial, quality, outside, mu)[seller]
        return (price - cost[seller]) * (1 - share) - mu

    return optimize.brentq(condition, cost[seller], cost[seller] + mu * 1e3, xtol=1e-13)


def gvr_optimal_revenue(a: float, alpha: float, n: int, t: float) -> float:
    """J*(n, t) = (1/α) ln Σ_{i=0..n} (λ* t)^i / i!, λ* = a/e: optimal expected revenue from n
    units in time t under Poisson demand a e^(−α p) (§4)."""
    from scipy import special

    i = np.arange(n + 1)
    return float(special.logsumexp(i * np.log(a / np.e * t) - special.gammaln(i + 1)) / alpha)


def gvr_optimal_price(a: float, alpha: float, n: int, t: float) -> float:
    """p*(n, t) = J*(n, t) − J*(n − 1, t) + 1/α: the optimal price now, with n units left."""
    return gvr_optimal_revenue(a, alpha, n, t) - gvr_optimal_revenue(a, alpha, n - 1, t) + 1 / alpha


def gvr_fluid(a: float, alpha: float, n: int, t: float) -> tuple[float, float]:
    """The deterministic (fluid) price p^D = max(1/α, (1/α) ln(a t / n)) and its revenue J^D,
    an upper bound on any policy's expected revenue."""
    price = max(1 / alpha, np.log(a * t / n) / alpha)
    return float(price), float(t * a * np.exp(-alpha * price) * price)


def fixed_price_units(price: float, a: float, alpha: float, n: int, t: float) -> float:
    """E[min(N, n)], N ~ Poisson(a e^(−α p) t): expected units sold at a fixed price."""
    from scipy import stats

    mean = a * np.exp(-alpha * price) * t
    return float(stats.poisson.sf(np.arange(n), mean).sum())


def fixed_price_revenue(price: float, a: float, alpha: float, n: int, t: float) -> float:
    """Expected revenue of one fixed price for the whole horizon."""
    return price * fixed_price_units(price, a, alpha, n, t)


def best_fixed_price(revenue: Curve, high: float) -> float:
    """The price in [0, high] that maximises `revenue`: the best of a 401-point grid, polished by a
    bounded search between its neighbours."""
    from scipy import optimize

    grid = np.linspace(0.0, high, 401)
    step = grid[1] - grid[0]
    start = grid[int(np.argmax([revenue(p) for p in grid]))]
    low, high = max(0.0, start - step), start + step
    return float(optimize.minimize_scalar(lambda p: -revenue(p), bounds=(low, high), method="bounded").x)


# --- what a scenario implies -----------------------------------------------------------------


def expected_shoppers(scenario: Scenario) -> np.ndarray:
    """Expected shopping visits per day and segment: consumers × visit chance that day."""
    sizes = np.array(scenario.consumers.segment_sizes(), dtype=float)
    rates = np.array([s.visit_rate for s in scenario.consumers.segments])
    traffic = np.array([scenario.traffic(day) for day in range(scenario.days)])
    return sizes[None, :] * np.minimum(rates[None, :] * traffic[:, None], 1.0)


def wtp_multipliers(scenario: Scenario) -> np.ndarray:
    """The events' multiplier of willingness to pay, day by day."""
    return np.array([scenario.wtp_multiplier(day) for day in range(scenario.days)])


def loyal(segment: Segment) -> bool:
    return segment.loyalty is not None and segment.loyalty != Constant(0.0)


@dataclass(frozen=True)
class LogitMarket:
    """A logit market of §3 with a closed form: a_i = wtp + quality_i, costs c_i, a₀, μ."""

    quality: np.ndarray
    cost: np.ndarray
    outside: float
    mu: float


def logit_market(scenario: Scenario) -> LogitMarket | None:
    """The scenario as a §3 logit market: `logit` choice, every segment with the same constant wtp
    and price sensitivity 1/μ and no loyalty, every seller with unlimited stock; else None."""
    segments, market = scenario.consumers.segments, scenario.market
    if market.choice != "logit" or not all(s.inventory.unlimited for s in scenario.sellers):
        return None
    first = segments[0]
    if not (isinstance(first.wtp, Constant) and isinstance(first.price_sensitivity, Constant)):
        return None
    same = all(s.wtp == first.wtp and s.price_sensitivity == first.price_sensitivity for s in segments)
    wtp, beta = first.wtp.value, first.price_sensitivity.value
    if not same or beta <= 0 or any(loyal(s) for s in segments):
        return None
    if wtp != 0 and np.ptp(wtp_multipliers(scenario)) > 0:
        return None
    return LogitMarket(
        quality=np.array([wtp + s.quality for s in scenario.sellers]),
        cost=np.array([s.unit_cost for s in scenario.sellers]),
        outside=market.outside_utility,
        mu=1 / beta,
    )


@dataclass(frozen=True)
class LogitEquilibria:
    """Bertrand–Nash and joint-optimum prices and shares, and the focal seller's profit per shopper."""

    nash: np.ndarray
    joint: np.ndarray
    nash_share: np.ndarray
    joint_share: np.ndarray
    nash_profit: float
    joint_profit: float


def logit_equilibria(market: LogitMarket, focal: int) -> LogitEquilibria:
    quality, cost, outside, mu = market.quality, market.cost, market.outside, market.mu
    nash, joint = logit_nash(quality, cost, outside, mu), logit_joint(quality, cost, outside, mu)
    nash_share = logit_shares(nash, quality, outside, mu)
    joint_share = logit_shares(joint, quality, outside, mu)
    return LogitEquilibria(
        nash=nash,
        joint=joint,
        nash_share=nash_share,
        joint_share=joint_share,
        nash_profit=float((nash[focal] - cost[focal]) * nash_share[focal]),
        joint_profit=float((joint[focal] - cost[focal]) * joint_share[focal]),
    )


def logit_profits(scenario: Scenario) -> tuple[float, float] | None:
    """The focal profit per shopper at the Bertrand–Nash and the joint-optimum prices (the ends
    of the profit-gain index Δ), or None when the scenario has no logit closed form."""
    market = logit_market(scenario)
    if market is None:
        return None
    equilibria = logit_equilibria(market, scenario.focal_index)
    return equilibria.nash_profit, equilibria.joint_profit
