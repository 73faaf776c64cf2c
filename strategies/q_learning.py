"""Tabular Q-learning over a price grid: the algorithmic-collusion experiment of Calvano,
Calzolari, Denicolò & Pastorello (AER 2020; theory.md §10).

The seller learns only from the profits it observes. What it assumes about the market is
design, as in the paper: the logit demand it is told (`quality`, `outside_utility`, `mu`;
Calvano's baseline by default) places the price grid between the Bertrand–Nash and the
joint-optimum prices and sets the initial Q-values, the discounted profit of each price
against rivals who price uniformly at random.

Randomness: one uniform a day from the seller's own stream, drawn in blocks (`Exploration`).
A day explores when u < ε_t = e^(−βt), and then plays grid price ⌊m·u/ε_t⌋, uniform over the
grid; otherwise the greedy price. `market_sim.batched` draws the same blocks from the same
streams, so a replication gives the same prices however it is run.
"""

from __future__ import annotations

import math

import numpy as np

from strategies.base import DayResult, MarketInfo, Observation, Prices, PricingStrategy, require

BLOCK = 4096  # uniforms drawn from the stream at a time (part of the stream's contract)


def logit_prices(players: int, quality: float, cost: float, outside: float, mu: float) -> tuple[float, float]:
    """(Bertrand–Nash, joint-optimum) price of `players` identical sellers in a logit market
    (theory.md §3): the first-order condition (p − c)(1 − s) = μ at equal prices, and equal
    markups μ(1 + W(n·e^((a − c − a₀)/μ − 1)))."""
    from scipy import optimize, special

    def share(price: float) -> float:
        return 1 / (players + math.exp((outside - quality + price) / mu))

    high = max(cost, quality - outside) + 40 * mu  # there the share is nil and the markup above μ
    nash = optimize.brentq(lambda p: (p - cost) * (1 - share(p)) - mu, cost, high, xtol=1e-14)
    joint = cost + mu * (1 + special.lambertw(players * math.exp((quality - cost - outside) / mu - 1)).real)
    return float(nash), float(joint)


def price_grid(nash: float, joint: float, size: int, xi: float) -> np.ndarray:
    """`size` prices evenly spaced on [p_N − ξ(p_M − p_N), p_M + ξ(p_M − p_N)]."""
    spread = joint - nash
    return np.linspace(nash - xi * spread, joint + xi * spread, size)


def logit_profit_table(
    grid: np.ndarray, players: int, quality: float, cost: float, outside: float, mu: float
) -> np.ndarray:
    """Profit per shopper of player 0 for every combination of grid prices: shape (m,) * players."""
    prices = np.stack(np.meshgrid(*[grid] * players, indexing="ij"), axis=-1)
    utility = (quality - prices) / mu
    top = np.maximum(utility.max(axis=-1), outside / mu)
    weights = np.exp(utility - top[..., None])
    share = weights[..., 0] / (weights.sum(axis=-1) + np.exp(outside / mu - top))
    return (prices[..., 0] - cost) * share


def initial_q(profits: np.ndarray, discount: float, states: int) -> np.ndarray:
    """Q₀(s, a) = mean profit of a against rivals pricing uniformly at random / (1 − δ), the
    same in every state: shape (states, m)."""
    rivals = tuple(range(1, profits.ndim))
    row = profits.mean(axis=rivals) / (1 - discount)
    return np.tile(row, (states, 1))


def nearest(grid: np.ndarray, price: float) -> int:
    """The index of the grid price closest to `price` (the lower one on a tie)."""
    return int(np.argmin(np.abs(grid - price)))


def epsilon(beta: float, first_day: int, days: int) -> np.ndarray:
    """ε_t = e^(−βt) for days first_day .. first_day + days − 1."""
    return np.exp(-beta * np.arange(first_day, first_day + days, dtype=float))


def explored(uniform: np.ndarray, eps: np.ndarray, size: int) -> np.ndarray:
    """The grid index an exploring day plays (uniform over the grid), or −1 for a greedy day."""
    pick = np.minimum((uniform / eps * size).astype(np.int64), size - 1)
    return np.where(uniform < eps, pick, -1)


class Exploration:
    """A seller's exploration decisions, day by day, from its own stream in blocks of BLOCK."""

    def __init__(self, rng: np.random.Generator, beta: float, size: int):
        self.rng, self.beta, self.size = rng, beta, size
        self.block = np.empty(0, dtype=np.int64)
        self.first = 0

    def on(self, day: int) -> int:
        """Day `day`'s exploring grid index, or −1 (days must come in order)."""
        while day >= self.first + len(self.block):
            self.first += len(self.block)
            self.block = explored(self.rng.random(BLOCK), epsilon(self.beta, self.first, BLOCK), self.size)
        return int(self.block[day - self.first])


class GridPricing(PricingStrategy):
    """What grid learners share: the grid of Calvano et al. from the logit demand they assume.

    grid: number of prices (m).
    xi: how far the grid reaches beyond the Nash and joint-optimum prices, as a share of their gap.
    quality, outside_utility, mu: the logit demand the designer assumes (a, a₀, μ), which places
        the grid (and initialises Q-values); the seller learns only from the profits it observes.
    """

    grid: int = 15
    xi: float = 0.1
    quality: float = 2.0
    outside_utility: float = 0.0
    mu: float = 0.25

    def check(self) -> None:
        require(self.grid >= 2, "grid", f"must be at least 2, got {self.grid}")
        require(self.xi >= 0, "xi", f"must not be negative, got {self.xi}")
        require(self.mu > 0, "mu", f"must be positive, got {self.mu}")

    def reset(self, info: MarketInfo) -> None:
        self.info = info
        self.players = 1 + len(info.rivals)
        self.nash, self.joint = logit_prices(
            self.players, self.quality, info.unit_cost, self.outside_utility, self.mu
        )
        self.prices = price_grid(self.nash, self.joint, self.grid, self.xi)

    def reward(self, result: DayResult) -> float:
        """The day's profit per shopper: what every grid learner learns from."""
        return reward(result.revenue, result.units, self.info.unit_cost, result.views)


def reward(revenue: float, units: float, unit_cost: float, views: float) -> float:
    """Profit per shopper, (revenue − cost · units) / shoppers (0 on a day without shoppers)."""
    return (revenue - unit_cost * units) / views if views else 0.0


class QLearning(GridPricing):
    """Tabular Q-learning (Calvano et al. 2020): the state is the grid prices of every seller over
    the last `memory` days (rivals' prices rounded to the nearest grid price); ε-greedy
    exploration with ε_t = e^(−βt); Q(s, a) ← (1 − α) Q(s, a) + α (π + δ max Q(s′, ·)) with π
    the day's profit per shopper.

    alpha: learning rate α.
    beta: exploration decay β.
    discount: discount factor δ (0 is myopic).
    memory: days of prices in the state.
    grid, xi, quality, outside_utility, mu: the price grid (see GridPricing).
    """

    kind = "q_learning"
    alpha: float = 0.15
    beta: float = 4.0e-6
    discount: float = 0.95
    memory: int = 1

    def check(self) -> None:
        super().check()
        require(0 < self.alpha <= 1, "alpha", f"must be in (0, 1], got {self.alpha}")
        require(self.beta >= 0, "beta", f"must not be negative, got {self.beta}")
        require(0 <= self.discount < 1, "discount", f"must be in [0, 1), got {self.discount}")
        require(self.memory >= 1, "memory", f"must be at least 1, got {self.memory}")

    def reset(self, info: MarketInfo) -> None:
        super().reset(info)
        states = self.grid ** (self.players * self.memory)
        require(states * self.grid <= 50_000_000, "memory", f"makes a Q-table of {states} states: too large")
        profits = logit_profit_table(
            self.prices, self.players, self.quality, info.unit_cost, self.outside_utility, self.mu
        )
        self.q = initial_q(profits, self.discount, states)
        self.state = initial_state(info.rng, self.grid, self.players, self.memory)
        self.exploration = Exploration(info.rng, self.beta, self.grid)
        self.action = -1
        self.last_reward = 0.0
        self.stable = 0  # updates in a row that left the greedy policy unchanged

    def price(self, obs: Observation) -> Prices:
        if obs.day > 0:
            rivals = [nearest(self.prices, float(obs.rival_prices[name][-1])) for name in self.info.rivals]
            following = next_state(self.state, [self.action, *rivals], self.grid, len(self.q))
            changed = learn(self.q, self.state, self.action, self.last_reward, following, self)
            self.stable = 0 if changed else self.stable + 1
            self.state = following
        explore = self.exploration.on(obs.day)
        self.action = explore if explore >= 0 else int(np.argmax(self.q[self.state]))
        why = "explores" if explore >= 0 else "greedy"
        return Prices(float(self.prices[self.action]), reason=f"Q-learning {why}")

    def observe(self, result: DayResult) -> None:
        self.last_reward = self.reward(result)

    def stable_for(self) -> int | None:
        return self.stable


def initial_state(rng: np.random.Generator, size: int, players: int, memory: int) -> int:
    """A random starting state: every seller's grid price on each of the `memory` days before day 0."""
    return int(rng.integers(size ** (players * memory)))


def next_state(state: int, today: list[int], size: int, states: int) -> int:
    """The state after a day on which the sellers played grid indices `today` (own first): the
    oldest day drops out, today comes in as the lowest digits."""
    code = 0
    for index in today:
        code = code * size + index
    return (state * size ** len(today) + code) % states


def learn(q: np.ndarray, state: int, action: int, reward: float, following: int, params: QLearning) -> bool:
    """One Q-learning update of (state, action); whether it changed the greedy price of `state`."""
    row = q[state]
    before = int(np.argmax(row))
    row[action] = (1 - params.alpha) * row[action] + params.alpha * (
        reward + params.discount * float(q[following].max())
    )
    return int(np.argmax(row)) != before
