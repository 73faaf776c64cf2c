"""The clearing kernel: exact first-come-first-served, checked against a plain loop."""

from __future__ import annotations

import math

import numpy as np
from hypothesis import given, settings
from hypothesis import strategies as st

from market_sim.clearing import NONE, SMALL_DAY, Scratch, allocate, best_offers


def sequential(scores, threshold, stock, tiebreak):
    """The rule one shopper at a time, as the scenario format states it."""
    stock = list(stock)
    choice, lost = [], []
    sellers = range(scores.shape[1])

    def best(i, candidates):
        if not candidates:
            return NONE
        key = (lambda j: (scores[i, j], tiebreak[i, j])) if tiebreak is not None else (lambda j: scores[i, j])
        top = max(candidates, key=key)
        return top if scores[i, top] >= threshold[i] else NONE

    for i in range(len(scores)):
        preferred = best(i, list(sellers))
        if preferred == NONE or stock[preferred] > 0:
            pick, missed = preferred, NONE
        else:
            pick, missed = best(i, [j for j in sellers if stock[j] > 0]), preferred
        if pick != NONE:
            stock[pick] -= 1
        choice.append(pick)
        lost.append(missed)
    return np.array(choice), np.array(lost)


@settings(max_examples=300, deadline=None)
@given(
    shoppers=st.integers(0, 60),
    sellers=st.integers(1, 4),
    stock=st.lists(st.one_of(st.integers(0, 25), st.just(math.inf)), min_size=4, max_size=4),
    ties=st.booleans(),
    seed=st.integers(0, 2**32 - 1),
)
def test_vectorised_allocation_equals_sequential_service(shoppers, sellers, stock, ties, seed):
    rng = np.random.default_rng(seed)
    scores = (
        rng.integers(0, 3, (shoppers, sellers)).astype(float)
        if ties
        else rng.normal(size=(shoppers, sellers))
    )
    threshold = rng.normal(size=shoppers) - 0.5
    tiebreak = rng.random((shoppers, sellers)) if ties else None
    stock = np.array(stock[:sellers], dtype=float)
    allocation = allocate(scores, threshold, stock, tiebreak)
    choice, lost = sequential(scores, threshold, stock, tiebreak)
    np.testing.assert_array_equal(allocation.choice, choice)
    np.testing.assert_array_equal(allocation.lost_sale, lost)


def test_seller_with_k_units_sells_exactly_k_and_later_shoppers_substitute_or_leave():
    # everyone prefers seller 0 (3 units); seller 1 is second best for shoppers 0-5 only
    scores = np.array([[2.0, 1.0]] * 6 + [[2.0, -5.0]] * 4)
    allocation = allocate(scores, np.zeros(10), np.array([3.0, math.inf]))
    assert allocation.choice.tolist() == [0, 0, 0, 1, 1, 1, NONE, NONE, NONE, NONE]
    assert allocation.lost_sale.tolist() == [NONE] * 3 + [0] * 7


@settings(max_examples=60, deadline=None)
@given(
    shoppers=st.integers(1, 300),
    sellers=st.integers(1, 5),
    ties=st.booleans(),
    seed=st.integers(0, 2**32 - 1),
)
def test_a_small_day_picks_the_same_offers_as_the_seller_by_seller_pass(shoppers, sellers, ties, seed):
    """Few shoppers take whole-array reductions; naming every seller forces the row-by-row pass.
    Scores and tie-breakers on a coarse grid, so that ties (and ties of tie-breakers) abound."""
    rng = np.random.default_rng(seed)
    scores = rng.integers(-3, 4, (sellers, shoppers)).astype(float)
    scores[rng.random(scores.shape) < 0.05] = -np.inf
    threshold = rng.integers(-3, 4, shoppers).astype(float)
    tiebreak = rng.integers(0, 3, (sellers, shoppers)) / 3 if ties else None
    assert shoppers <= SMALL_DAY
    fast = best_offers(scores, threshold, tiebreak)
    rows = best_offers(scores, threshold, tiebreak, sellers=list(range(sellers)))
    np.testing.assert_array_equal(fast, rows)
    # (with 5 sellers about 1 shopper in 10 buys nothing: all of 28 buy 5% of the time)
    assert (fast == NONE).any() and (fast != NONE).any() or shoppers < 100


def test_scratch_hands_out_views_of_one_array_a_name_and_forgets_those_of_a_replaced_one():
    """The same view for the same name, shape and type; a request bigger than the array makes a
    new one, and no view of the old one is handed out again (nor keeps it alive)."""
    scratch = Scratch()
    first = scratch("x", (2, 3))
    assert first.shape == (2, 3) and first.flags.c_contiguous and first.dtype == float
    assert scratch("x", (2, 3)) is first and np.shares_memory(scratch("x", (4,)), first)
    big = scratch("x", (10, 10))
    assert not np.shares_memory(big, first)
    again = scratch("x", (2, 3))
    assert again is not first and np.shares_memory(again, big)
    whole = scratch("y", (5,), np.intp)
    assert whole.dtype == np.intp and scratch("y", (5,), np.intp) is whole
