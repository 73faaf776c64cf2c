"""A day's per-shopper work compiled with numba (the `fast` extra), one pass over the shoppers
instead of a numpy call per step: the same operations in the same order as the numpy path of
`MarketModel.clear` and `utilities`, `log_sum_exp` and `Population.record_*`, so the same
numbers to the last bit (no fastmath, so no reordering and no fused multiply-adds). The
transcendental functions (the taste shocks' logarithms, the log-sum's exp and log1p) stay in
numpy, whose SIMD versions may differ from the C library's in the last bit.

Imported through `market_sim.fast.kernels()`, which says whether numba is there at all.
"""

from __future__ import annotations

from numba import njit

NONE = -1  # (clearing.NONE: this module sits below clearing and imports nothing of the package)


@njit(cache=True)
def choose(
    shoppers, wtp, multiplier, quality, has_loyalty, loyalty, last_seller, prices, logit, sensitivity,
    shocks, outside, zero_outside, utility, scores, threshold, preferred, wanted, first,
):  # fmt: skip
    """Each shopper's utility of each offer (`MarketModel.utilities`), its logit score and
    threshold (`MarketModel.clear`), and its first choice with every seller in stock
    (`clearing.best_offers`): the first seller with the highest score, the higher tie-breaker
    among equal scores when `logit` is false (the tie-breakers are then `shocks`' first rows, the
    scores the utilities and the threshold `outside`). For the shoppers `first`, `first` + 1, …
    (as many as `shocks` has columns: `shocks`' column i is shopper `first` + i's): writes their
    columns of `utility`, `scores` and `threshold` (logit only) and `preferred`, and adds each
    first choice to its seller's count in `wanted`. With `first` = 0, `scores` and `threshold`
    may be `shocks`' rows (each shock is read before its place is written)."""
    sellers, count = quality.size, shocks.shape[1]
    personal = prices.shape[1] > 1
    for i in range(count):
        k = first + i
        c = shoppers[k]
        value = wtp[c]
        if multiplier != 1.0:
            value = value * multiplier
        beta = sensitivity[c]
        if logit:
            limit = shocks[sellers, i] if zero_outside else beta * outside + shocks[sellers, i]
            threshold[k] = limit
        else:
            limit = outside
        best, top, top_tiebreak = 0, 0.0, 0.0
        for j in range(sellers):
            u = value + quality[j]
            if has_loyalty:
                u = u + loyalty[c] * (1.0 if last_seller[c] == j else 0.0)
            u = u - prices[j, k if personal else 0]
            utility[j, k] = u
            if logit:
                score = beta * u
                score = score + shocks[j, i]
                scores[j, k] = score
                if j == 0 or score > top:
                    best, top = j, score
            elif j == 0 or u > top or (u == top and shocks[j, i] > top_tiebreak):
                best, top, top_tiebreak = j, u, shocks[j, i]
        if top < limit:
            preferred[k] = NONE
        else:
            preferred[k] = best
            wanted[best] += 1


@njit(cache=True)
def log_sum_terms(a, terms, top, count):
    """The first steps of `model.log_sum_exp`, column by column: each column's largest term
    `top`, how many terms equal it (`count`) and `terms` = a − top. Row after row, so that the
    inner loops run along contiguous rows."""
    rows, columns = a.shape
    for k in range(columns):
        top[k] = a[0, k]
        count[k] = 0
    for r in range(1, rows):
        for k in range(columns):
            x, highest = a[r, k], top[k]
            top[k] = x if (x > highest or x != x) else highest  # np.maximum: the larger, or NaN
    for r in range(rows):
        for k in range(columns):
            x, highest = a[r, k], top[k]
            count[k] += x == highest
            terms[r, k] = x - highest


@njit(cache=True)
def sum_below_top(terms, a, top, out):
    """`terms.sum(axis=0)` of exp(a − top), the largest terms of each column (a = top) counting
    0, as numpy adds along axis 0: row after row. (Leaving a zero out of the sum changes nothing:
    0 + x = x, and no exp is −0.)"""
    rows, columns = terms.shape
    for k in range(columns):
        out[k] = 0.0
    for r in range(rows):
        for k in range(columns):
            out[k] = out[k] + (0.0 if a[r, k] == top[k] else terms[r, k])


@njit(cache=True)
def count_visits(visits, shoppers):
    for k in range(shoppers.size):
        visits[shoppers[k]] += 1


@njit(cache=True)
def record_purchases(
    buyers, sellers, returning, known, paid, with_paid, day, surplus, with_surplus,
    purchases, last_purchase, spend, surplus_book, last_seller, bought_from,
):  # fmt: skip
    """`Population.record_purchases` buyer by buyer (each buyer buys once a day)."""
    for k in range(buyers.size):
        b, s = buyers[k], sellers[k]
        purchases[s, b] += 1
        last_purchase[s, b] = day
        if with_paid:
            spend[s, b] += paid[k]
        if with_surplus:
            surplus_book[s, b] += surplus[k]
        last_seller[b] = s
        if not (known and returning[k]):
            bought_from[b, s] = True


@njit(cache=True)
def _best_in_stock(scores, threshold, tiebreak, with_tiebreak, k, remaining, restocked):
    """`clearing.best_offers` for shopper `k` among the sellers with stock left (and seller
    `restocked`, if not −1): the first highest score (the higher tie-breaker among equal
    scores), NONE if it falls short of `threshold` or no seller is left."""
    best, top, top_tiebreak = NONE, 0.0, 0.0
    for j in range(remaining.size):
        if not (remaining[j] > 0 or j == restocked):
            continue
        score = scores[j, k]
        if best == NONE or score > top:
            best, top = j, score
            if with_tiebreak:
                top_tiebreak = tiebreak[j, k]
        elif with_tiebreak and score == top and tiebreak[j, k] > top_tiebreak:
            best, top_tiebreak = j, tiebreak[j, k]
    if best == NONE or top < threshold:
        return NONE
    return best


@njit(cache=True)
def serve_in_order(
    order, preferred, scores, threshold, scalar_threshold, tiebreak, with_tiebreak, remaining,
    choice, missed_by, missed, unmet,
):  # fmt: skip
    """`clearing.serve` shopper by shopper in arrival order: shopper k = `order[p]`, whose first
    choice is `preferred[k]`, takes it (`choice[k]`) if it is in stock; else records a lost sale
    for it and chooses again among the sellers with stock left, and for each empty seller
    counts whether it would have bought there had that seller alone been restocked (its unmet
    demand). The lost sales go to `missed_by` (the shoppers, in arrival order) and `missed` (the
    sellers they missed); returns how many. `remaining` is updated; only shoppers who meet an
    empty shelf read their scores. `choice` may be `preferred` (each is read before it is
    written)."""
    sellers, lost = remaining.size, 0
    for p in range(order.size):
        k = order[p]
        want = preferred[k]
        if want == NONE or remaining[want] > 0:
            pick = want
        else:
            limit = threshold[0] if scalar_threshold else threshold[k]
            missed_by[lost], missed[lost] = k, want
            lost += 1
            pick = _best_in_stock(scores, limit, tiebreak, with_tiebreak, k, remaining, NONE)
            for s in range(sellers):
                empty = not remaining[s] > 0
                if empty and _best_in_stock(scores, limit, tiebreak, with_tiebreak, k, remaining, s) == s:
                    unmet[s] += 1
        choice[k] = pick
        if pick != NONE:
            remaining[pick] -= 1
    return lost


@njit(cache=True)
def surplus_scaled(utility, open_, outside, sensitivity, shoppers, start, a):
    """The terms of the log-sums of `MarketModel.consumer_surplus` for the shoppers from
    `start` on (as many as `a` has columns): 0 for buying nothing (row 0), then β (u_j − u₀) of
    each open offer j."""
    width = a.shape[1]
    for k in range(width):
        a[0, k] = 0.0
    for r in range(1, a.shape[0]):
        j = open_[r - 1]
        for k in range(width):
            a[r, k] = (utility[j, start + k] - outside) * sensitivity[shoppers[start + k]]


@njit(cache=True)
def add_surplus(log_sums, sensitivity, shoppers, start, segment, totals):
    """Each shopper's surplus, its log-sum / β, added to its segment's total in shopper order
    (as `np.bincount` adds its weights)."""
    for k in range(log_sums.size):
        c = start + k
        totals[segment[c]] += log_sums[k] / sensitivity[shoppers[c]]


def warm_up() -> None:
    """Call every kernel once on a tiny day, with the argument types a run passes, so that
    loading their machine code (about half a second for the first, once per process) happens
    here and not on a run's first day, inside its time limit."""
    import numpy as np

    count, sellers = 2, 3
    shoppers, floats, ints = np.arange(count), np.zeros(count), np.zeros(count, dtype=np.int64)
    rows, shocks = np.zeros((sellers, count)), np.zeros((sellers + 1, count))
    preferred, flags = np.zeros(count, dtype=np.intp), np.zeros(count, dtype=bool)
    tables = np.zeros((sellers, 1, 2))
    wanted = np.zeros(sellers, dtype=np.int64)
    for prices in (tables.reshape(sellers, -1)[:, :1], rows):  # one column (a view), or a row each
        for logit in (True, False):
            choose(
                shoppers, floats, 1.0, np.zeros(sellers), True, floats, ints, prices, logit, floats,
                shocks, 0.0, True, rows.copy(), shocks[:sellers], shocks[sellers], preferred, wanted, 0,
            )  # fmt: skip
    count_visits(np.zeros(count, dtype=np.int32), shoppers)
    books = np.zeros((sellers, count), dtype=np.int32)
    record_purchases(
        shoppers, shoppers, flags, True, floats, True, 0, floats, True, books, books.copy(), rows.copy(),
        rows.copy(), ints.copy(), np.zeros((count, sellers), dtype=bool),
    )  # fmt: skip
    top, sums = np.zeros(count), np.zeros(count)
    log_sum_terms(rows, rows.copy(), top, preferred.copy())
    sum_below_top(rows.copy(), rows, top, sums)
    surplus_scaled(rows, np.arange(sellers), 0.0, floats, shoppers, 0, shocks.copy())
    add_surplus(floats, floats + 1, shoppers, 0, ints, np.zeros(1))
    remaining = np.full(sellers, np.inf)
    for tiebreak in (False, True):
        serve_in_order(
            shoppers, preferred, rows, floats, False, rows, tiebreak, remaining, preferred.copy(),
            preferred.copy(), preferred.copy(), wanted,
        )  # fmt: skip
