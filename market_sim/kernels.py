"""A day's per-shopper work compiled with numba (the `fast` extra), one pass over the shoppers
instead of a numpy call per step: the same operations in the same order as the numpy path of
`MarketModel.clear` and `utilities`, `log_sum_exp`, `MarketModel.settle` and
`Population.record_*` (the sums in numpy's order: `np.bincount`'s, `ndarray.sum`'s), so the same
numbers to the last bit (no fastmath, so no reordering and no fused multiply-adds). The
transcendental functions (the taste shocks' logarithms, the log-sum's exp and log1p) stay in
numpy, whose SIMD versions may differ from the C library's in the last bit.

Imported through `market_sim.fast.kernels()`, which says whether numba is there at all.
"""

from __future__ import annotations

import numpy as np
from numba import njit

NONE = -1  # (clearing.NONE: this module sits below clearing and imports nothing of the package)
COMPACT_SERVICE = 65536  # from this many shoppers on, `serve_in_order` serves a one-byte copy


@njit(cache=True)
def choose(
    wtp, quality, has_loyalty, loyalty, last_seller, sensitivity, logit, outside, zero_outside,
    shoppers, multiplier, prices, shocks, utility, scores, threshold, preferred, wanted, first,
):  # fmt: skip
    """Each shopper's utility of each offer (`MarketModel.utilities`), its logit score and
    threshold (`MarketModel.clear`), and its first choice with every seller in stock
    (`clearing.best_offers`): the first seller with the highest score, the higher tie-breaker
    among equal scores when `logit` is false (the tie-breakers are then `shocks`' first rows, the
    scores the utilities and the threshold `outside`). For the shoppers `first`, `first` + 1, …
    (as many as `shocks` has columns: `shocks`' column i is shopper `first` + i's): writes their
    columns of `utility`, `scores` and `threshold` (logit only) and `preferred`, and adds each
    first choice to its seller's count in `wanted` (counted from 0 when `first` = 0). With
    `first` = 0, `scores` and `threshold` may be `shocks`' rows (each shock is read before its
    place is written). The arguments up to `zero_outside` are the run's, the others the day's."""
    sellers, count = quality.size, shocks.shape[1]
    if first == 0:
        wanted[:] = 0
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
def _serve(
    order, preferred, scores, threshold, scalar_threshold, tiebreak, with_tiebreak, remaining,
    choice, missed_by, missed, unmet,
):  # fmt: skip
    """`serve_in_order`'s pass over the shoppers (`preferred` and `choice` of any integer type)."""
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
    written). A big day's choices are served from a copy of one byte a shopper (up to 127
    sellers), which the processor's cache holds: a shopper in random order costs a cache hit
    rather than a trip to memory."""
    if preferred.size > COMPACT_SERVICE and remaining.size < 127:
        compact = np.empty(preferred.size, dtype=np.int8)
        for k in range(preferred.size):
            compact[k] = preferred[k]
        lost = _serve(
            order, compact, scores, threshold, scalar_threshold, tiebreak, with_tiebreak, remaining, compact,
            missed_by, missed, unmet,
        )  # fmt: skip
        for k in range(choice.size):  # (every shopper arrives once: each has its choice)
            choice[k] = compact[k]
        return lost
    return _serve(
        order, preferred, scores, threshold, scalar_threshold, tiebreak, with_tiebreak, remaining, choice,
        missed_by, missed, unmet,
    )  # fmt: skip


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
                floats, np.zeros(sellers), True, floats, ints, floats, logit, 0.0, True, shoppers, 1.0,
                prices, shocks, rows.copy(), shocks[:sellers], shocks[sellers], preferred, wanted, 0,
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
    warm_up_booking()


# --- booking ---


@njit(cache=True)
def numpy_sum(values, start, stop):
    """`values[start:stop].sum()` of a contiguous float array as numpy adds it: 0.0 plus the
    pairwise sum (eight running sums per block of up to 128 terms, halves above that)."""
    return 0.0 + _pairwise_sum(values, start, stop - start)


@njit(cache=True)
def _pairwise_sum(values, start, n):
    if n < 8:
        total = 0.0
        for i in range(start, start + n):
            total += values[i]
        return total
    if n <= 128:
        r0, r1, r2, r3 = values[start], values[start + 1], values[start + 2], values[start + 3]
        r4, r5, r6, r7 = values[start + 4], values[start + 5], values[start + 6], values[start + 7]
        i = 8
        while i < n - n % 8:
            at = start + i
            r0 += values[at]
            r1 += values[at + 1]
            r2 += values[at + 2]
            r3 += values[at + 3]
            r4 += values[at + 4]
            r5 += values[at + 5]
            r6 += values[at + 6]
            r7 += values[at + 7]
            i += 8
        total = ((r0 + r1) + (r2 + r3)) + ((r4 + r5) + (r6 + r7))
        while i < n:
            total += values[start + i]
            i += 1
        return total
    half = n // 2
    half -= half % 8
    return _pairwise_sum(values, start, half) + _pairwise_sum(values, start + half, n - half)


@njit(cache=True)
def book_trades(
    day, shoppers, segment, choice, prices, tables, personal, utility, outside, less_outside,
    views, segment_units, segment_revenue, paid_square, segment_surplus, units, revenue,
    visits, purchases, last_purchase, spend, surplus_book, last_seller, bought_from,
):  # fmt: skip
    """The day's books in one pass over its shoppers, the numbers of `MarketModel.settle`'s
    numpy path: row `day` of the ledger's views (per seller, segment and new/returning), units,
    revenue, surplus and paid² per cell and seller, and each shopper's history in the population
    (`Population.record_visits` and `record_purchases`; a shopper is new or returning to a
    seller as `bought_from` says before the day). Sums in shopper order from 0.0, as
    `np.bincount` adds its weights; a seller's revenue is its cells' revenue added as numpy's
    `sum` adds them. `less_outside`: each purchase's surplus is its utility − `outside`."""
    sellers, segments = views.shape[1], views.shape[2]
    cells = views[day]
    cell_units, cell_revenue = segment_units[day], segment_revenue[day]
    cell_surplus, squares = segment_surplus[day], paid_square[day]
    cells[:] = 0
    cell_units[:] = 0
    cell_surplus[:] = 0.0
    squares[:] = 0.0
    if personal:
        cell_revenue[:] = 0.0
    one_price = prices.shape[1] == 1
    for k in range(shoppers.size):
        g, c = segment[k], shoppers[k]
        for j in range(sellers):  # (the shopper's record before today: written below, after)
            cells[j, g, 1 if bought_from[c, j] else 0] += 1
        visits[c] += 1
        s = choice[k]
        if s < 0:
            continue
        status = 1 if bought_from[c, s] else 0
        paid = prices[s, 0 if one_price else k]
        cell_units[s, g, status] += 1
        if personal:
            cell_revenue[s, g, status] += paid
        squares[s] += paid * paid
        surplus = utility[s, k] - outside if less_outside else utility[s, k]
        cell_surplus[s, g, status] += surplus
        purchases[s, c] += 1
        last_purchase[s, c] = day
        spend[s, c] += paid
        surplus_book[s, c] += surplus
        last_seller[c] = s
        if status == 0:
            bought_from[c, s] = True
    if not personal:  # everyone in a cell paid its price
        for j in range(sellers):
            for g in range(segments):
                for status in range(2):
                    cell_revenue[j, g, status] = cell_units[j, g, status] * tables[j, g, status]
    flat = cell_revenue.reshape(sellers * segments * 2)
    for j in range(sellers):
        units[day, j] = cell_units[j].sum()
        revenue[day, j] = numpy_sum(flat, j * segments * 2, (j + 1) * segments * 2)


@njit(cache=True)
def surplus_terms(utility, offers, outside, sensitivity, shoppers, first, slope, top, which, length, terms):
    """The terms of the logit consumer surplus's log-sums (`MarketModel.consumer_surplus`, the
    steps of `model.log_sum_exp`) of the shoppers `first`, `first` + 1, … (columns of `utility`,
    entries of `shoppers`; as many as `slope` has entries), a column of `terms` each. A
    shopper's terms a are 0 for buying nothing (row 0), then β (u_j − u₀) of each offer j of
    `offers` (the sellers open that morning) in order. Writes each shopper's β (`slope`), its
    largest term (`top`: `np.maximum` row after row), that term's row (`which`), how many rows
    are its own (`length`; the rows below hold 0.0) and a − top. Row after row over
    one-dimensional slices, loops that numba vectorises (it does not with two indices per
    access). Returns how many shoppers have tied largest terms or a largest term that is not
    finite (`which` < 0 or `top` not finite), whose log-sum takes `log_sum_exp`'s other steps."""
    rows, width = offers.size + 1, slope.size
    for i in range(width):
        slope[i] = sensitivity[shoppers[first + i]]
    top[:] = 0.0
    which[:] = -1
    length[:] = rows
    terms[0] = 0.0
    for r in range(1, rows):
        values, row = utility[offers[r - 1], first : first + width], terms[r]
        for i in range(width):
            x = (values[i] - outside) * slope[i]
            row[i] = x
            highest = top[i]
            top[i] = x if (x > highest or x != x) else highest  # np.maximum: the larger, or NaN
    for r in range(rows):
        row = terms[r]
        for i in range(width):
            x, highest, w = row[i], top[i], which[i]
            which[i] = (r if w == -1 else -2) if x == highest else w  # -2: a second largest term
            row[i] = x - highest
    for r in range(rows, terms.shape[0]):
        terms[r] = 0.0
    odd = 0
    for i in range(width):
        odd += which[i] < 0 or top[i] - top[i] != 0.0
    return odd


@njit(cache=True)
def keep_surplus_terms(
    utility, offers, outside, sensitivity, shoppers, segment, day,
    slope, top, which, length, terms, kept_segment, kept_day, starts, days,
):  # fmt: skip
    """`surplus_terms` of a day's shoppers written after the `days` days already kept side by
    side (`model._SurplusKept`: its shoppers' slots are starts[days] onwards, its terms the
    block of a row per seller and one more there), and, when none of its shoppers is odd, the
    day kept: its shoppers' segments, its day and where it ends (`starts[days + 1]`). Returns
    the number of odd shoppers (`surplus_terms`'s; the day is not kept if there is one)."""
    rows, start = utility.shape[0] + 1, starts[days]
    end = start + shoppers.size
    block = terms[start * rows : end * rows].reshape((rows, end - start))
    odd = surplus_terms(
        utility, offers, outside, sensitivity, shoppers, 0, slope[start:end], top[start:end],
        which[start:end], length[start:end], block,
    )  # fmt: skip
    if odd == 0:
        kept_segment[start:end] = segment
        kept_day[days] = day
        starts[days + 1] = end
    return odd


@njit(cache=True)
def sum_terms(terms, rows, starts, which, length, sums):
    """Each shopper's sum of exp(a − top) (`terms` after numpy's exp) without its largest term
    and below its `length`, row after row from 0.0, as `log_sum_exp` adds a column's (a term
    left out would have added +0.0). `terms` holds blocks of `rows` × n written by
    `surplus_terms`, one after the other: that of shoppers starts[d] to starts[d + 1]."""
    for d in range(starts.size - 1):
        first, width = starts[d], starts[d + 1] - starts[d]
        block = terms[first * rows : (first + width) * rows]
        out, tops, rows_of = (
            sums[first : first + width],
            which[first : first + width],
            length[first : first + width],
        )
        out[:] = 0.0
        for r in range(rows):
            row = block[r * width : (r + 1) * width]
            for i in range(width):
                out[i] = out[i] + (row[i] if (r != tops[i] and r < rows_of[i]) else 0.0)


@njit(cache=True)
def add_log_sums(log_sums, top, slope, segment, first, width, totals):
    """Each shopper's surplus, (its log1p + its largest term) / β (into `log_sums`), added to its
    segment's total (`segment[first + i]`) in shopper order, as `np.bincount` adds its weights
    (a run of shoppers of one segment in a running sum, not through memory)."""
    surplus, tops, slopes = log_sums[:width], top[:width], slope[:width]
    for i in range(width):
        surplus[i] = (surplus[i] + tops[i]) / slopes[i]
    g, total = -1, 0.0
    for i in range(width):
        here = segment[first + i]
        if here != g:
            if g >= 0:
                totals[g] = total
            g = here
            total = totals[g]
        total += surplus[i]
    if g >= 0:
        totals[g] = total


@njit(cache=True)
def book_surplus(log_sums, top, slope, segment, starts, days, consumer_surplus):
    """The kept days' surplus (`add_log_sums` shopper by shopper; day d's shoppers are slots
    starts[d] to starts[d + 1]) added up per day and segment from 0.0 into rows `days` of
    `consumer_surplus` (a run of shoppers of one segment in a running sum, not through memory)."""
    for d in range(days.size):
        row = consumer_surplus[days[d]]
        row[:] = 0.0
        g, total = -1, 0.0
        for k in range(starts[d], starts[d + 1]):
            here = segment[k]
            if here != g:
                if g >= 0:
                    row[g] = total
                g = here
                total = row[g]
            total += (log_sums[k] + top[k]) / slope[k]
        if g >= 0:
            row[g] = total


def warm_up_booking() -> None:
    """`warm_up` of the booking kernels, with the argument types `MarketModel.settle` and
    `book_surplus_due` pass."""
    import numpy as np

    count, sellers, segments, days = 2, 3, 2, 2
    shoppers, flags = np.arange(count), np.zeros((count, sellers), dtype=bool)
    tables, utility = np.zeros((sellers, segments, 2)), np.zeros((sellers, count))
    detail, by_seller = (days, sellers, segments, 2), (days, sellers)
    column = tables.reshape(sellers, -1)[:, :1]  # one price per seller (a view), or one per shopper
    for prices, personal in ((column, False), (utility.copy(), False), (utility.copy(), True)):
        book_trades(
            0, shoppers, shoppers.copy(), shoppers - 1, prices, tables, personal, utility, 0.0, False,
            np.zeros(detail, dtype=np.int64), np.zeros(detail, dtype=np.int64), np.zeros(detail),
            np.zeros(by_seller), np.zeros(detail), np.zeros(by_seller, dtype=np.int64), np.zeros(by_seller),
            np.zeros(count, dtype=np.int32), np.zeros((sellers, count), dtype=np.int32),
            np.zeros((sellers, count), dtype=np.int32), np.zeros((sellers, count)),
            np.zeros((sellers, count)), np.zeros(count, dtype=np.int64), flags.copy(),
        )  # fmt: skip
    starts, top, which = np.array([0, count]), np.zeros(count), np.zeros(count, dtype=np.intp)
    segment, terms = np.zeros(count, dtype=np.int64), np.zeros((sellers + 1) * count)
    offers, slope, rows = np.arange(sellers), top.copy(), which.copy()
    block = terms.reshape(sellers + 1, count)
    surplus_terms(utility, offers, 0.0, top + 1, shoppers, 0, slope, top, which, rows, block)
    sum_terms(terms, sellers + 1, starts, which, rows, sums := np.zeros(count))
    add_log_sums(sums, top, top + 1, segment, 0, count, np.zeros(segments))
    keep_surplus_terms(
        utility, offers, 0.0, top + 1, shoppers, segment, 0, slope, top, which, rows, terms, segment.copy(),
        starts.copy(), starts.copy(), 0,
    )  # fmt: skip
    book_surplus(sums, top, top + 1, segment, starts, shoppers[:1], np.zeros((days, segments)))


# --- per-day (daily) ---


@njit(cache=True)
def cumulate_until(gaps, last, size):
    """`gaps[0] += last`, then the running sums of `gaps` in place (as `np.cumsum`: integers, so
    in any order the same) up to the first that reaches `size`; returns its index (what
    `searchsorted(size)` of the whole cumulated array gives, the sums rising), or `gaps.size`
    if none does. The rest is left as drawn."""
    total = last
    for k in range(gaps.size):
        total += gaps[k]
        gaps[k] = total
        if total >= size:
            return k
    return gaps.size


def warm_up_daily() -> None:
    """`warm_up` of the per-day kernels, with the argument types a run passes."""
    import numpy as np

    cumulate_until(np.ones(3, dtype=np.int64), -1, 2)
