"""The batched learning loop of `market_sim.batched`, compiled with numba (the `fast` extra):
the same operations in the same order as `_block_numpy`, one replication at a time."""

from __future__ import annotations

import math

import numpy as np
from numba import njit

from strategies.q_learning import BLOCK


@njit(cache=True)
def _argmax(row: np.ndarray) -> int:
    best = 0
    for k in range(1, row.size):
        if row[k] > row[best]:
            best = k
    return best


@njit(cache=True)
def block(
    first, days, stop, q, best, top, state, stable, alpha, discount, width, maps, seller_of, explore,
    b_seller, b_grid, b_explore, pulls, means, b_greedy, b_stable, logs, actions, rewards, reward_tables,
    table_of, strides, done, days_run, taken,
):  # fmt: skip
    """Up to BLOCK days from day `first` for every replication not done."""
    learners, sellers = seller_of.size, actions.shape[1]
    yesterday = np.empty(sellers, dtype=np.int64)
    for b in range(done.size):
        if done[b]:
            continue
        for offset in range(BLOCK):
            day = first + offset
            yesterday[:] = actions[b]  # every learner's state is made of yesterday's prices
            for i in range(learners):
                j = seller_of[i]
                grid, states = width[i, 0], width[i, 1]
                current = state[i, b]
                if day > 0:
                    code = 0
                    for position in range(sellers):
                        seller = maps[i, position, 0]
                        code = code * grid + maps[i, position, 1 + yesterday[seller]]
                    following = (current * grid**sellers + code) % states
                    # the greedy price and the top value of every row are kept up to date
                    # (`best`, `top`), so a day reads them instead of scanning rows: the same
                    # numbers as np.argmax and max, first maximum on ties
                    row = q[i, b, current]
                    played = yesterday[j]
                    before, highest = best[i, b, current], top[i, b, current]
                    target = rewards[b, j] + discount[i] * top[i, b, following]
                    value = (1 - alpha[i]) * row[played] + alpha[i] * target
                    row[played] = value
                    if played == before:
                        if value >= highest:
                            top[i, b, current] = value
                        else:
                            k = _argmax(row)
                            best[i, b, current], top[i, b, current] = k, row[k]
                    elif value > highest or (value == highest and played < before):
                        best[i, b, current], top[i, b, current] = played, value
                    if best[i, b, current] != before:
                        stable[i, b] = 0
                    else:
                        stable[i, b] += 1
                    state[i, b] = following
                    current = following
                chosen = explore[i, b, offset]
                actions[b, j] = chosen if chosen >= 0 else best[i, b, current]
            for i in range(b_seller.size):  # UCB: every price once, then the highest upper bound
                arm = -1
                for k in range(b_grid[i]):
                    if pulls[i, b, k] == 0:
                        arm = k
                        break
                if arm < 0:
                    arm = 0
                    upper = means[i, b, 0] + b_explore[i] * math.sqrt(2 * logs[offset] / pulls[i, b, 0])
                    for k in range(1, b_grid[i]):
                        bound = means[i, b, k] + b_explore[i] * math.sqrt(2 * logs[offset] / pulls[i, b, k])
                        if bound > upper:
                            upper, arm = bound, k
                actions[b, b_seller[i]] = arm
            combo = 0
            for k in range(sellers):
                taken[offset, b, k] = actions[b, k]
                combo += actions[b, k] * strides[k]
            for k in range(sellers):
                rewards[b, k] = reward_tables[table_of[b], combo, k]
            for i in range(b_seller.size):
                arm = actions[b, b_seller[i]]
                pulls[i, b, arm] += 1
                old = means[i, b, arm]
                means[i, b, arm] = old + (rewards[b, b_seller[i]] - old) / pulls[i, b, arm]
                greedy = -1
                for k in range(b_grid[i]):
                    if pulls[i, b, k] > 0 and (greedy < 0 or means[i, b, k] > means[i, b, greedy]):
                        greedy = k
                if greedy == b_greedy[i, b]:
                    b_stable[i, b] += 1
                else:
                    b_stable[i, b] = 0
                b_greedy[i, b] = greedy
            finished = day + 1 >= days
            if stop > 0:
                all_stable = True
                for i in range(learners):
                    if stable[i, b] < stop:
                        all_stable = False
                for i in range(b_seller.size):
                    if b_stable[i, b] < stop:
                        all_stable = False
                finished = finished or all_stable
            if finished:
                done[b] = True
                days_run[b] = day + 1
                break
