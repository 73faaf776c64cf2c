"""Bandits over the price grid of `q_learning`: they learn which price pays best on average and
ignore the rivals' prices altogether (no state), the contrast to a Q-learner that conditions
on them. Both learn from the day's profit per shopper.
"""

from __future__ import annotations

import numpy as np

from strategies.base import DayResult, MarketInfo, Observation, Prices, require
from strategies.q_learning import BLOCK, GridPricing


def day_logs(first: int, days: int) -> np.ndarray:
    """ln t for days first .. first + days − 1 (day 0 counts as 1), computed a block at a time
    so that `market_sim.batched` gets the very same numbers."""
    return np.log(np.maximum(np.arange(first, first + days, dtype=float), 1.0))


class _GridBandit(GridPricing):
    """Counts and mean profit per grid price; the greedy price is the best mean so far."""

    def reset(self, info: MarketInfo) -> None:
        super().reset(info)
        self.rng = info.rng
        self.pulls = np.zeros(self.grid)
        self.means = np.zeros(self.grid)
        self.arm = 0
        self.greedy = -1
        self.stable = 0

    def observe(self, result: DayResult) -> None:
        self.pulls[self.arm] += 1
        self.means[self.arm] += (self.reward(result) - self.means[self.arm]) / self.pulls[self.arm]
        greedy = int(np.argmax(np.where(self.pulls > 0, self.means, -np.inf)))
        self.stable = self.stable + 1 if greedy == self.greedy else 0
        self.greedy = greedy

    def stable_for(self) -> int | None:
        return self.stable

    def posted_arm(self, arm: int, why: str) -> Prices:
        self.arm = arm
        return Prices(float(self.prices[arm]), reason=why)


class UCB(_GridBandit):
    """UCB1 over the grid: every price once, then the price with the highest mean profit per
    shopper + explore · √(2 ln t / n).

    explore: weight of the confidence bonus (rewards are profits per shopper, of order 0.1-1).
    grid, xi, quality, outside_utility, mu: the price grid (as `q_learning`).
    """

    kind = "ucb"
    explore: float = 1.0

    def check(self) -> None:
        super().check()
        require(self.explore >= 0, "explore", f"must not be negative, got {self.explore}")

    def reset(self, info: MarketInfo) -> None:
        super().reset(info)
        self.logs_from, self.logs = 0, day_logs(0, BLOCK)

    def price(self, obs: Observation) -> Prices:
        untried = np.flatnonzero(self.pulls == 0)
        if len(untried):
            return self.posted_arm(int(untried[0]), "UCB tries every price once")
        if obs.day >= self.logs_from + BLOCK:
            self.logs_from = obs.day - obs.day % BLOCK
            self.logs = day_logs(self.logs_from, BLOCK)
        bonus = self.explore * np.sqrt(2 * self.logs[obs.day - self.logs_from] / self.pulls)
        return self.posted_arm(int(np.argmax(self.means + bonus)), "UCB")


class ThompsonGrid(_GridBandit):
    """Gaussian Thompson sampling over the grid: each day draws every price's mean profit from
    N(mean, noise² / (n + 1)) (an untried price from N(0, noise²)) and plays the best draw.

    noise: the assumed spread of a day's profit per shopper around its mean.
    grid, xi, quality, outside_utility, mu: the price grid (as `q_learning`).
    """

    kind = "thompson_grid"
    noise: float = 0.1

    def check(self) -> None:
        super().check()
        require(self.noise > 0, "noise", f"must be positive, got {self.noise}")

    def price(self, obs: Observation) -> Prices:
        draws = self.means + self.noise / np.sqrt(self.pulls + 1) * self.rng.standard_normal(self.grid)
        return self.posted_arm(int(np.argmax(draws)), "Thompson sampling")
