"""The market-clearing kernel: every shopper's choice and exact first-come-first-served
allocation against stock, for all shoppers of a day at once (pure numpy).

Shoppers are given in arrival order with a score for every offer (higher is better) and a
threshold: a shopper buys the best offer if its score reaches the threshold, otherwise buys
nothing. Ties between offers go to the higher tie-breaker. A shopper whose preferred seller
has no stock left records a lost sale for that seller and chooses again among the sellers
that still have stock, with the same scores. `Consumer.choose` states the same rule for one
shopper in plain Python; the two agree purchase for purchase.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

NONE = -1  # no purchase / no lost sale


@dataclass(frozen=True)
class Allocation:
    choice: np.ndarray  # seller bought from, per shopper in arrival order, or NONE
    lost_sale: np.ndarray  # seller whose stock-out turned the shopper away, or NONE


def best_offer(
    scores: np.ndarray,
    threshold: np.ndarray,
    tiebreak: np.ndarray | None,
    available: np.ndarray,
) -> np.ndarray:
    """Each shopper's best available offer, or NONE if it falls short of the threshold."""
    masked = np.where(available, scores, -np.inf)
    if tiebreak is None:
        best = masked.argmax(axis=1)
    else:
        top = masked.max(axis=1, keepdims=True)
        best = np.where(masked == top, tiebreak, -np.inf).argmax(axis=1)
    best_score = np.take_along_axis(masked, best[:, None], axis=1)[:, 0]
    return np.where(best_score >= threshold, best, NONE)


def allocate(
    scores: np.ndarray,
    threshold: np.ndarray,
    stock: np.ndarray,
    tiebreak: np.ndarray | None = None,
) -> Allocation:
    """Serve shoppers in arrival order against `stock` (math.inf for unlimited).

    Exact sequential semantics in at most one pass per seller plus one: each pass lets every
    remaining shopper pick among the sellers in stock, finds the first shopper a seller cannot
    serve (its running count of pickers passes its stock), serves everyone before that
    shopper, and takes the seller off the market.
    """
    n, sellers = scores.shape
    everyone = np.ones(sellers, dtype=bool)
    preferred = best_offer(scores, threshold, tiebreak, everyone)
    choice = np.full(n, NONE)
    lost_sale = np.full(n, NONE)
    remaining = np.asarray(stock, dtype=float).copy()
    start = 0
    while start < n:
        available = remaining > 0
        wanted = preferred[start:]
        turned_away = (wanted != NONE) & ~available[wanted]
        picks = wanted.copy()
        if turned_away.any():
            rows = np.flatnonzero(turned_away) + start
            picks[turned_away] = best_offer(
                scores[rows],
                threshold[rows],
                None if tiebreak is None else tiebreak[rows],
                available,
            )
        cut = len(picks)
        for seller in np.flatnonzero(np.isfinite(remaining)):
            takers = np.flatnonzero(picks == seller)
            if len(takers) > remaining[seller]:
                cut = min(cut, takers[int(remaining[seller])])
        served = slice(start, start + cut)
        choice[served] = picks[:cut]
        lost_sale[served] = np.where(turned_away[:cut], wanted[:cut], NONE)
        bought = picks[:cut]
        remaining -= np.bincount(bought[bought != NONE], minlength=sellers)
        start += cut  # the shopper at the cut meets an empty shelf: the next pass starts there
    return Allocation(choice, lost_sale)
