"""The market-clearing kernel: every shopper's choice and exact first-come-first-served
allocation against stock, for all shoppers of a day at once (pure numpy).

Each shopper has a score for every offer (higher is better) and a threshold: a shopper buys
the best offer if its score reaches the threshold, otherwise buys nothing. Ties between offers
go to the higher tie-breaker, then to the lower seller index. A shopper whose preferred seller
has no stock left records a lost sale for that seller and chooses again among the sellers that
still have stock, with the same scores. `Consumer.choose` states the same rule for one shopper
in plain Python; the two agree purchase for purchase.

The kernel works on offers as rows (sellers × shoppers): every step is then a pass over a
contiguous row, a few operations per seller, instead of a reduction along a short last axis.
"""

from __future__ import annotations

import math
import operator
from collections.abc import Callable, Sequence
from types import ModuleType

import numpy as np

from market_sim import fast

NONE = -1  # no purchase / no lost sale
# up to this many shoppers a day, whole-array reductions over the offers beat the row-by-row
# pass (which wins on long rows: a reduction along a short axis is slow there)
SMALL_DAY = 2048
# a big day's taste shocks are drawn and used this many shoppers at a time (`MarketModel.clear`):
# a block of (sellers + 1) rows stays in the processor's cache through its passes
TASTE_BLOCK = 8192


class Allocation:
    """Who bought from whom, and who met an empty shelf."""

    __slots__ = ("choice", "_lost_sale", "_missed", "unmet")

    def __init__(
        self,
        choice: np.ndarray,
        lost_sale: np.ndarray | None = None,
        unmet: np.ndarray | None = None,
        missed: tuple[np.ndarray, np.ndarray] | None = None,
    ):
        self.choice = choice  # seller bought from, per shopper, or NONE
        # per shopper: the first choice whose stock-out turned the shopper away, or NONE; made
        # when asked for, from `missed` (the shoppers turned away and the sellers they missed),
        # and without either, nobody was turned away
        self._lost_sale, self._missed = lost_sale, missed
        # per seller: shoppers who would have bought from it had it had stock (the other sellers
        # as they were): it was out, and it ranks above what they took instead; its unmet demand
        self.unmet = unmet

    @property
    def lost_sale(self) -> np.ndarray:
        if self._lost_sale is None:
            self._lost_sale = np.full(len(self.choice), NONE)
            if self._missed is not None:
                shoppers, sellers = self._missed
                self._lost_sale[shoppers] = sellers
        return self._lost_sale

    def unmet_demand(self, sellers: int) -> np.ndarray:
        return np.zeros(sellers, dtype=np.int64) if self.unmet is None else self.unmet


def as_chosen(preferred: np.ndarray, wanted: np.ndarray, stock: Sequence[float]) -> Allocation | None:
    """The allocation of a day on which every seller has stock for all who prefer it (`wanted`:
    how many do; math.inf: unlimited stock): everyone gets their first choice, and nobody is
    turned away. None on a day that needs the service (`clear`). Compared in Python: a few
    sellers' numbers, cheaper than a numpy comparison."""
    if any(map(operator.gt, wanted.tolist(), stock)):
        return None
    unmet = _NOBODY_UNMET.get(len(stock))
    if unmet is None:
        unmet = _NOBODY_UNMET[len(stock)] = np.zeros(len(stock), dtype=np.int64)
        unmet.flags.writeable = False
    return Allocation(preferred, None, unmet)


_NOBODY_UNMET: dict[int, np.ndarray] = {}  # `as_chosen`'s unmet demand: read-only zeros, by sellers


class Scratch:
    """Named arrays reused day after day. glibc hands big freed blocks back to the system and
    faults them in again on the next allocation; in the hot loop that costs about a quarter of
    the time, so the large temporaries live here for the whole run. The views handed out are
    kept too, by name, shape and type (up to VIEWS of them): a day of as many shoppers as an
    earlier one gets its arrays for a dictionary look-up, a third of the cost of a slice and a
    reshape."""

    VIEWS = 4096

    def __init__(self) -> None:
        self._arrays: dict[str, tuple[np.ndarray, type]] = {}
        self._views: dict[tuple[str, tuple[int, ...], type], np.ndarray] = {}

    def __call__(self, name: str, shape: tuple[int, ...], dtype: type = float) -> np.ndarray:
        """A C-contiguous array of `shape` whose contents are left over from earlier use."""
        view = self._views.get((name, shape, dtype))
        if view is not None:
            return view
        size = math.prod(shape)
        array, kind = self._arrays.get(name, (None, None))
        if array is None or array.size < size or kind is not dtype:  # `is`: a dtype compares slowly
            array = np.empty(max(size, 1), dtype)
            self._arrays[name] = array, dtype
            # (the views of the array it replaces would keep that alive)
            self._views = {key: kept for key, kept in self._views.items() if key[0] != name}
        if len(self._views) >= self.VIEWS:
            self._views.clear()
        view = self._views[name, shape, dtype] = array[:size].reshape(shape)
        return view


def best_offers(
    scores: np.ndarray,
    threshold: np.ndarray | float,
    tiebreak: np.ndarray | None = None,
    sellers: np.ndarray | None = None,
    scratch: Scratch | None = None,
) -> np.ndarray:
    """Each shopper's best offer among `sellers` (default: all rows of `scores`), or NONE if its
    score falls short of the threshold. `scores` and `tiebreak` are (sellers × shoppers)."""
    n = scores.shape[1]
    if sellers is None and 0 < n <= SMALL_DAY:
        return _best_of_all(scores, threshold, tiebreak)
    scratch = scratch or Scratch()
    candidates = list(range(len(scores)) if sellers is None else sellers)
    if not candidates:
        return np.full(n, NONE)
    first = candidates[0]
    best = np.full(n, first)
    top = scratch("top", (n,))
    np.copyto(top, scores[first])
    better, step = scratch("better", (n,), np.bool_), scratch("step", (n,), np.intp)
    if tiebreak is not None:
        top_tiebreak, level = tiebreak[first].copy(), scratch("level", (n,), np.bool_)
    # arithmetic blends instead of masked copies: a random mask defeats branch prediction and
    # makes `copyto(..., where=)` ten times slower
    for j in candidates[1:]:
        row = scores[j]
        np.greater(row, top, out=better)  # strictly: on a tie the earlier seller stays
        if tiebreak is not None:
            np.equal(row, top, out=level)
            level &= tiebreak[j] > top_tiebreak
            better |= level
            top_tiebreak = np.where(better, tiebreak[j], top_tiebreak)
        np.subtract(j, best, out=step)
        step *= better
        best += step  # best = j where better
        np.maximum(top, row, out=top)
    np.less(top, threshold, out=better)
    np.subtract(NONE, best, out=step)
    step *= better
    best += step  # NONE where the best offer falls short
    return best


def _best_of_all(
    scores: np.ndarray, threshold: np.ndarray | float, tiebreak: np.ndarray | None
) -> np.ndarray:
    """`best_offers` among all sellers for a few shoppers, by whole-array reductions: the first
    seller with the highest score (and among those, the highest tie-breaker) is the one the
    seller-by-seller pass keeps, since it replaces the best only on a strictly better offer."""
    columns = np.arange(scores.shape[1])
    if tiebreak is None:
        best = scores.argmax(axis=0)
        top = scores[best, columns]
    else:
        top = scores.max(axis=0)
        best = np.where(scores == top, tiebreak, -np.inf).argmax(axis=0)
    best[top < threshold] = NONE
    return best


def serve(
    preferred: np.ndarray,
    stock: Sequence[float] | np.ndarray,
    rechoose: Callable[[np.ndarray, np.ndarray], np.ndarray],
    arrival: Callable[[], np.ndarray] | None = None,
) -> Allocation:
    """Serve shoppers first come, first served against `stock` (math.inf for unlimited; left
    as it is).

    `preferred` is each shopper's first choice with every seller in stock; `rechoose(shoppers,
    sellers_in_stock)` chooses again for shoppers who met an empty shelf. `arrival()` gives the
    shoppers in arrival order; it is called only when the order matters (some seller cannot
    serve everyone who prefers it), so quiet days need no order at all. Exact sequential
    semantics in at most one pass per seller plus one (and, on stock-outs, one more choice per
    empty seller for the shoppers turned away, to count its unmet demand): each pass lets every
    remaining shopper pick among the sellers in stock, finds the first shopper a seller cannot
    serve (its running count of pickers passes its stock), serves everyone before that shopper,
    and takes the seller off the market.
    """
    n, sellers = len(preferred), len(stock)
    remaining = np.array(stock, dtype=float)
    wanted_of = np.bincount(preferred + 1, minlength=sellers + 1)[1:]  # NONE counts in bin 0
    if (wanted_of <= remaining).all():  # everyone is served (inf: unlimited stock)
        return Allocation(preferred, None, np.zeros(sellers, dtype=np.int64))
    lost_sale = np.full(n, NONE)
    unmet = np.zeros(sellers, dtype=np.int64)
    order = np.arange(n) if arrival is None else arrival()
    wanted_in_order = preferred[order]
    choice = np.full(n, NONE)
    start = 0
    while start < n:
        available = remaining > 0
        wanted = wanted_in_order[start:]
        turned_away = (wanted != NONE) & ~available[wanted]
        picks = wanted.copy()
        if turned_away.any():
            positions = np.flatnonzero(turned_away)
            picks[positions] = rechoose(order[positions + start], np.flatnonzero(available))
        cut = len(picks)
        for seller in np.flatnonzero(np.isfinite(remaining)):
            takers = np.flatnonzero(picks == seller)
            if len(takers) > remaining[seller]:
                cut = min(cut, takers[int(remaining[seller])])
        served = order[start : start + cut]
        choice[served] = picks[:cut]
        lost_sale[served] = np.where(turned_away[:cut], wanted[:cut], NONE)
        away = order[start : start + cut][turned_away[:cut]]
        for seller in np.flatnonzero(~available) if len(away) else ():
            # would they have bought here, had this seller alone been restocked?
            restocked = np.flatnonzero(available | (np.arange(sellers) == seller))
            unmet[seller] += np.count_nonzero(rechoose(away, restocked) == seller)
        bought = picks[:cut]
        remaining -= np.bincount(bought[bought != NONE], minlength=sellers)
        start += cut  # the shopper at the cut meets an empty shelf: the next pass starts there
    return Allocation(choice, lost_sale, unmet)


def clear(
    scores: np.ndarray,
    threshold: np.ndarray | float,
    stock: Sequence[float] | np.ndarray,
    tiebreak: np.ndarray | None = None,
    arrival: Callable[[], np.ndarray] | None = None,
    scratch: Scratch | None = None,
    preferred: np.ndarray | None = None,
    wanted: np.ndarray | None = None,
) -> Allocation:
    """Choices and first-come-first-served allocation, offers as rows (sellers × shoppers);
    `arrival()` gives the arrival order of the shoppers when it matters (default: as given).
    `preferred`, if given, is `best_offers(scores, threshold, tiebreak)`, computed already (the
    compiled service writes the choices over it), and `wanted`, if given too, how many shoppers
    prefer each seller."""
    if preferred is None:
        preferred = best_offers(scores, threshold, tiebreak, scratch=scratch)
    kernels = fast.kernels()
    if kernels is not None:
        return _serve_compiled(kernels, preferred, stock, scores, threshold, tiebreak, arrival, wanted)

    def rechoose(shoppers: np.ndarray, in_stock: np.ndarray) -> np.ndarray:
        ties = None if tiebreak is None else tiebreak[:, shoppers]
        limit = threshold if np.ndim(threshold) == 0 else threshold[shoppers]
        return best_offers(scores[:, shoppers], limit, ties, in_stock)

    return serve(preferred, stock, rechoose, arrival)


def _serve_compiled(
    kernels: ModuleType,
    preferred: np.ndarray,
    stock: Sequence[float] | np.ndarray,
    scores: np.ndarray,
    threshold: np.ndarray | float,
    tiebreak: np.ndarray | None,
    arrival: Callable[[], np.ndarray] | None,
    wanted: np.ndarray | None = None,
) -> Allocation:
    """`serve` with `clear`'s choices, shopper by shopper in arrival order in compiled code
    (`kernels.serve_in_order`): the same allocation, without a numpy call per pass and seller."""
    n, sellers = len(preferred), len(stock)
    if wanted is None:
        wanted = np.bincount(preferred + 1, minlength=sellers + 1)[1:]
    # everyone is served (inf: unlimited stock): no order needed
    served = as_chosen(preferred, wanted, _numbers(stock))
    if served is not None:
        return served
    remaining = np.array(stock, dtype=float)
    order = np.arange(n) if arrival is None else arrival()
    scalar = np.ndim(threshold) == 0
    limits = np.array([threshold], dtype=float) if scalar else threshold
    ties = scores if tiebreak is None else tiebreak  # (unread without tie-breakers)
    # each shopper's choice over its first choice, read just before (a big day's array less);
    # the lost sales as a list, made whole only when asked for (settling the day does not ask)
    choice, missed_by, missed = preferred, np.empty_like(preferred), np.empty_like(preferred)
    unmet = np.zeros(sellers, dtype=np.int64)
    lost = kernels.serve_in_order(
        order, preferred, scores, limits, scalar, ties, tiebreak is not None, remaining, choice,
        missed_by, missed, unmet,
    )  # fmt: skip
    return Allocation(choice, None, unmet, (missed_by[:lost].copy(), missed[:lost].copy()))


def _numbers(stock: Sequence[float] | np.ndarray) -> list[float]:
    return stock.tolist() if isinstance(stock, np.ndarray) else stock


def allocate(
    scores: np.ndarray,
    threshold: np.ndarray,
    stock: Sequence[float] | np.ndarray,
    tiebreak: np.ndarray | None = None,
) -> Allocation:
    """The same for (shoppers × sellers) arrays with the shoppers in arrival order."""
    return clear(scores.T, threshold, stock, None if tiebreak is None else tiebreak.T)
