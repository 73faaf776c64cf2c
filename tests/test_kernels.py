"""The compiled day kernels (`market_sim.kernels`, numba) give the numpy path's numbers to the
last bit: every ledger and population array of whole runs, on markets that exercise each
branch (logit with and without an outside utility, max surplus with ties, loyalty, event days,
segment prices and coupons, personal prices, stock-outs, days of many shoppers)."""

from __future__ import annotations

import dataclasses
import math
import os
import subprocess
import sys

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from scipy import special
from test_engine import SMALL_MARKET

from market_sim import fast
from market_sim import model as model_module
from market_sim.clearing import clear
from market_sim.loader import load_scenario
from market_sim.model import MarketModel, log_sum_exp
from tests.conftest import run_model, scenario_from

pytest.importorskip("numba")

MANY_SHOPPERS = """
name: many shoppers a day
days: 6
market: {choice: logit}
consumers:
  population: 6000
  segments:
    - {name: all, share: 0.8, visit_rate: 0.9, wtp: {dist: normal, mean: 30, sd: 8, min: 0},
       price_sensitivity: {dist: uniform, low: 0.1, high: 0.6}, loyalty: {dist: exponential, mean: 1}}
    - {name: calm, share: 0.2, visit_rate: 1, wtp: 40, price_sensitivity: 0.2}
sellers:
  - {name: us, focal: true, unit_cost: 10, inventory: {initial: 900, reorder_point: 300, order_quantity: 900, lead_time: 1}}
  - {name: rival, unit_cost: 12, quality: 1, strategy: {kind: fixed, price: 28}, inventory: {initial: 1500}}
  - {name: third, unit_cost: 8, quality: -2, strategy: {kind: fixed, price: 24}}
strategies: [{kind: fixed, price: 27}]
"""


def arrays(model) -> dict[str, np.ndarray]:
    out = {}
    for owner in (model.ledger, model.population):
        for name, value in vars(owner).items():
            if isinstance(value, np.ndarray):
                out[f"{type(owner).__name__}.{name}"] = value.astype(str) if value.dtype == object else value
    return out


def on_both_paths(scenario, days: int | None = None, **options) -> dict[str, np.ndarray]:
    """Run `scenario` with the numpy path and with the compiled kernels: the same arrays."""
    runs = []
    for compiled in (False, True):
        fast.use(compiled)
        try:
            model = MarketModel(scenario, scenario.strategies[0], 1, **options)
            model.run_for(min(days or scenario.days, scenario.days))
            runs.append(arrays(model))
        finally:
            fast.use(None)
    numpy_path, compiled_path = runs
    assert numpy_path.keys() == compiled_path.keys()
    for name, value in numpy_path.items():
        assert value.tobytes() == compiled_path[name].tobytes(), name
    return numpy_path


@pytest.mark.parametrize(
    ("choice", "wtp", "stock"),
    [
        ("logit", "{dist: normal, mean: 30, sd: 8, min: 0}", 25),
        ("max_surplus", "32", 25),  # equal values: ties broken by the tie-breakers
        ("max_surplus", "{dist: uniform, low: 10, high: 60}", 15),
    ],
)
def test_compiled_kernels_give_the_numpy_paths_numbers(plugin_folder, choice, wtp, stock):
    inventory = f"{{initial: {stock}, reorder_point: 10, order_quantity: 40, lead_time: 2}}"
    scenario = scenario_from(SMALL_MARKET.format(choice=choice, wtp=wtp, stock=stock, inventory=inventory))
    books = on_both_paths(scenario)
    assert books["Ledger.units"].sum() > 100 and books["Ledger.lost_sales"].sum() > 0
    assert books["Population.spend"].sum() > 0


def test_compiled_kernels_on_days_of_many_shoppers():
    books = on_both_paths(scenario_from(MANY_SHOPPERS))
    assert books["Ledger.shoppers"].min() > 2048  # the row-by-row pass of clearing.best_offers
    assert books["Ledger.lost_sales"].sum() > 0  # stock-outs: shoppers choose again


@pytest.mark.parametrize("name", ["lessons/07_personalised_pricing", "holiday_market"])
def test_compiled_kernels_on_the_shipped_markets(name):
    on_both_paths(load_scenario(f"scenarios/{name}.yaml"), days=40)


def test_the_agents_engine_agrees_with_the_compiled_kernels(plugin_folder):
    scenario = scenario_from(
        SMALL_MARKET.format(choice="logit", wtp="30", stock=20, inventory="{initial: 20}")
    )
    fast.use(True)
    try:
        vectorised = run_model(scenario).ledger
    finally:
        fast.use(None)
    agents = run_model(scenario, engine="agents").ledger
    for name in ("units", "lost_sales", "segment_units", "segment_surplus", "consumer_surplus"):
        np.testing.assert_array_equal(getattr(agents, name), getattr(vectorised, name), err_msg=name)


def test_compiled_log_sum_exp_is_scipys_to_the_last_bit():
    rng = np.random.default_rng(4)
    for rows, columns in [(1, 5), (2, 3000), (4, 7000), (9, 300)]:
        a = rng.standard_normal((rows, columns)) * rng.choice([1e-3, 1.0, 40.0, 1e6], size=(rows, columns))
        a[rng.random(a.shape) < 0.1] = -np.inf
        a[:, : columns // 5] = a[0, : columns // 5]  # ties with the largest term
        a[-1, -1], a[0, -2] = np.inf, np.nan
        fast.use(True)
        try:
            compiled = log_sum_exp(a)
        finally:
            fast.use(None)
        fast.use(False)
        try:
            reference = log_sum_exp(a)
        finally:
            fast.use(None)
        with np.errstate(all="ignore"):
            expected = special.logsumexp(a, axis=0)
        assert compiled.tobytes() == reference.tobytes()
        np.testing.assert_array_equal(compiled, expected)  # (NaN where scipy's is NaN)


def test_market_sim_numpy_switches_the_kernels_off():
    code = "from market_sim import fast; print(fast.kernels() is None)"
    env = dict(os.environ, MARKET_SIM_NUMPY="1")
    off = subprocess.run([sys.executable, "-c", code], env=env, capture_output=True, text=True, check=True)
    env.pop("MARKET_SIM_NUMPY")
    on = subprocess.run([sys.executable, "-c", code], env=env, capture_output=True, text=True, check=True)
    assert (off.stdout.strip(), on.stdout.strip()) == ("True", "False")


@settings(max_examples=200, deadline=None)
@given(
    shoppers=st.integers(0, 80),
    sellers=st.integers(1, 4),
    stock=st.lists(st.one_of(st.integers(0, 25), st.just(math.inf)), min_size=4, max_size=4),
    ties=st.booleans(),
    scalar=st.booleans(),
    seed=st.integers(0, 2**32 - 1),
)
def test_compiled_service_equals_the_numpy_passes(shoppers, sellers, stock, ties, scalar, seed):
    """Lost sales, unmet demand and choices of `clearing.clear`, compiled and in numpy, with an
    arrival order, tie-breakers and a threshold per shopper or one for all."""
    rng = np.random.default_rng(seed)
    scores = (
        rng.integers(0, 3, (sellers, shoppers)).astype(float)
        if ties
        else rng.normal(size=(sellers, shoppers))
    )
    scores[rng.random(scores.shape) < 0.05] = -np.inf
    threshold = 0.5 if scalar else rng.normal(size=shoppers) - 0.5
    tiebreak = rng.random((sellers, shoppers)) if ties else None
    stock = np.array(stock[:sellers], dtype=float)
    order = rng.permutation(shoppers)
    numpy_path, compiled_path = served_on_both_paths(scores, threshold, stock, tiebreak, order)
    for name in ("choice", "lost_sale"):
        np.testing.assert_array_equal(getattr(compiled_path, name), getattr(numpy_path, name), err_msg=name)
    np.testing.assert_array_equal(compiled_path.unmet_demand(sellers), numpy_path.unmet_demand(sellers))


@pytest.mark.parametrize(("ties", "scalar"), [(False, False), (True, True)])
def test_the_compiled_service_of_a_big_day_equals_the_numpy_passes(ties, scalar):
    """A day of more shoppers than `kernels.COMPACT_SERVICE`, whose first choices the compiled
    service serves from a one-byte copy: the numpy passes' choices, lost sales and unmet demand,
    sellers running out at different times."""
    from market_sim import kernels

    rng = np.random.default_rng(13)
    shoppers, sellers = kernels.COMPACT_SERVICE + 4321, 3
    scores = (
        rng.integers(0, 3, (sellers, shoppers)).astype(float)
        if ties
        else rng.normal(size=(sellers, shoppers))
    )
    threshold = 0.5 if scalar else rng.normal(size=shoppers) - 0.5
    tiebreak = rng.random((sellers, shoppers)) if ties else None
    stock = np.array([shoppers // 9, shoppers // 5, math.inf])
    order = rng.permutation(shoppers)
    numpy_path, compiled_path = served_on_both_paths(scores, threshold, stock, tiebreak, order)
    assert (numpy_path.lost_sale != -1).sum() > 1000 and numpy_path.unmet_demand(sellers)[:2].min() > 0
    for name in ("choice", "lost_sale"):
        np.testing.assert_array_equal(getattr(compiled_path, name), getattr(numpy_path, name), err_msg=name)
    assert compiled_path.choice.dtype == numpy_path.choice.dtype
    np.testing.assert_array_equal(compiled_path.unmet_demand(sellers), numpy_path.unmet_demand(sellers))


def test_compiled_consumer_surplus_with_ties_and_infinite_utilities():
    """Offers tied with each other or with buying nothing, and infinite utilities (the direct
    log of the sum), in slices of a few shoppers: the numpy path's totals to the last bit."""
    scenario = scenario_from(MANY_SHOPPERS)
    model = MarketModel(scenario, scenario.strategies[0], 0)
    days = []
    model.settle = lambda day, trading, received: days.append(trading)
    model.run_for(1)
    trading = days[0]
    utility = np.round(trading.utility, 0)  # whole numbers: many ties
    utility[:, 5::97] = 0.0  # tied with buying nothing
    first = np.flatnonzero(trading.segment == 0)  # infinite offers to the first segment only
    utility[0, first[7::101]], utility[1, first[9::103]] = np.inf, -np.inf
    utility[2, 11::89] = -np.inf
    trading = dataclasses.replace(trading, utility=utility)
    totals = []
    for compiled in (False, True):
        fast.use(compiled)
        try:
            for width in (4096, 1000, 7):  # slices and blocks of every size, the last one short
                with pytest.MonkeyPatch.context() as patch:  # (blocks with and without ties)
                    patch.setattr(model_module, "SURPLUS_SLICE", width)
                    patch.setattr(model_module, "TASTE_BLOCK", width)
                    totals.append(model.consumer_surplus(0, trading, 2))
        finally:
            fast.use(None)
    # an infinite offer makes its shoppers' surplus infinite; the other segment's is a number
    assert np.isinf(totals[0][0]) and np.isfinite(totals[0][1])
    for numpy_total, compiled_total in zip(totals[:3], totals[3:], strict=True):
        assert numpy_total.tobytes() == compiled_total.tobytes()


@pytest.mark.parametrize("market", ["{choice: logit}", "{choice: logit, outside_utility: 4}"])
def test_a_big_days_shocks_drawn_block_by_block_give_the_same_numbers(monkeypatch, market):
    """Days of more than two blocks of shoppers draw and use their taste shocks a block at a
    time (`DailyStream.rows`): every array as the numpy path's whole-day draws give it, with
    stock-outs (the service reads the stored scores)."""
    from market_sim.streams import DailyStream

    scenario = scenario_from(MANY_SHOPPERS.replace("market: {choice: logit}", f"market: {market}"))
    monkeypatch.setattr(model_module, "TASTE_BLOCK", 701)  # blocks of every size: 4,700 shoppers a day
    blocked_days = []
    rows = DailyStream.rows
    monkeypatch.setattr(
        DailyStream, "rows", lambda self, *args: blocked_days.append(args) or rows(self, *args)
    )
    books = on_both_paths(scenario)
    assert len(blocked_days) == scenario.days  # the compiled run took the block path every day
    assert books["Ledger.lost_sales"].sum() > 0


def test_a_big_days_surplus_worked_out_while_clearing_with_tied_offers(monkeypatch):
    """A big day's logit surplus is added up block by block as the day is cleared; two rivals
    with the same quality and price tie for every shopper not loyal to one of them, so some
    blocks take `log_sum_exp`'s steps for tied largest terms: the numpy path's numbers."""
    scenario = scenario_from(
        MANY_SHOPPERS.replace(
            "quality: -2, strategy: {kind: fixed, price: 24}",
            "quality: 1, strategy: {kind: fixed, price: 28}",
        )
    )
    from market_sim import kernels

    monkeypatch.setattr(model_module, "TASTE_BLOCK", 301)
    odd, ahead = [], []
    terms, surplus = kernels.surplus_terms, MarketModel.consumer_surplus
    monkeypatch.setattr(kernels, "surplus_terms", lambda *args: odd.append(terms(*args)) or odd[-1])
    monkeypatch.setattr(
        MarketModel,
        "consumer_surplus",
        lambda self, day, *args: ahead.append(self._surplus_ahead is not None) or surplus(self, day, *args),
    )
    books = on_both_paths(scenario)
    assert books["Ledger.consumer_surplus"].min() > 0
    assert ahead == [False] * scenario.days + [True] * scenario.days  # numpy path, then compiled: worked out
    assert min(odd) == 0 and max(odd) > 0  # blocks without and with tied offers


@settings(max_examples=80, deadline=None)
@given(
    shoppers=st.integers(1, 60),
    sellers=st.integers(1, 4),
    block=st.integers(1, 25),
    logit=st.booleans(),
    personal=st.booleans(),
    seed=st.integers(0, 2**32 - 1),
)
def test_choose_block_by_block_is_choose_on_the_whole_day(shoppers, sellers, block, logit, personal, seed):
    """`kernels.choose` over blocks of shoppers (`first` > 0, each block's own shocks) writes the
    whole day's utilities, scores, thresholds and first choices, and counts each seller's first
    choices (`wanted`) as `np.bincount` of them does."""
    from market_sim import kernels

    rng = np.random.default_rng(seed)
    consumers = shoppers + 5
    chosen = np.sort(rng.choice(consumers, shoppers, replace=False))
    wtp, beta = rng.uniform(0, 40, consumers), rng.uniform(0.1, 0.5, consumers)
    loyalty, last = rng.uniform(0, 3, consumers), rng.integers(-1, sellers, consumers)
    quality = rng.normal(size=sellers)
    prices = rng.uniform(5, 35, (sellers, shoppers if personal else 1)).round(0)
    shocks = rng.random((sellers + 1, shoppers)).round(1)  # ties among the tie-breakers too
    runs = []
    for width in (shoppers, block):
        utility, scores = np.empty((sellers, shoppers)), np.empty((sellers, shoppers))
        threshold, preferred = np.empty(shoppers), np.empty(shoppers, dtype=np.intp)
        wanted = np.zeros(sellers, dtype=np.int64)
        for first in range(0, shoppers, width):
            own = np.ascontiguousarray(shocks[:, first : first + width])
            kernels.choose(
                wtp, quality, True, loyalty, last, beta, logit, 0.5, False, chosen, 1.1, prices, own,
                utility, scores if logit else utility, threshold if logit else own[sellers], preferred,
                wanted, first,
            )  # fmt: skip
        runs.append((utility, scores if logit else utility, threshold if logit else None, preferred, wanted))
    for whole, blocks in zip(*runs, strict=True):
        assert (whole is None and blocks is None) or whole.tobytes() == blocks.tobytes()
    preferred, wanted = runs[0][3], runs[0][4]
    assert wanted.tolist() == np.bincount(preferred[preferred >= 0], minlength=sellers).tolist()


# --- booking ---


@settings(max_examples=300, deadline=None)
@given(
    values=st.lists(
        st.one_of(
            st.floats(allow_nan=False, allow_infinity=False, width=64),
            st.sampled_from([0.0, -0.0, 1e-300, -1e300, 0.1]),
        ),
        max_size=300,
    ),
    start=st.integers(0, 5),
)
def test_numpy_sum_adds_as_numpy_does(values, start):
    """A seller's revenue is the sum of its cells, added as `ndarray.sum` adds (0.0, then
    pairwise): the same bits for any length, signed zeros included."""
    from market_sim import kernels

    array = np.array([1.0] * start + values, dtype=float)
    with np.errstate(over="ignore", invalid="ignore"):
        expected = array[start:].sum()
        got = kernels.numpy_sum(array, start, array.size)
    assert np.array([got]).tobytes() == np.array([expected]).tobytes()


@pytest.mark.parametrize(("choice", "outside"), [("logit", "0"), ("logit", "-0.0"), ("max_surplus", "2.5")])
def test_compiled_booking_with_outside_utilities(plugin_folder, choice, outside):
    """Each purchase's surplus less the outside utility (a −0.0 one too: less −0.0 turns −0.0
    into 0.0), with segment prices and coupons and stock-outs: the numpy path's books."""
    text = SMALL_MARKET.format(
        choice=choice,
        wtp="{dist: normal, mean: 30, sd: 8, min: 0}",
        stock=20,
        inventory="{initial: 20, reorder_point: 10, order_quantity: 40, lead_time: 2}",
    ).replace("outside_utility: 1", f"outside_utility: {outside}")
    books = on_both_paths(scenario_from(text))
    assert books["Ledger.segment_units"].sum() > 50 and books["Ledger.lost_sales"].sum() > 0


def _kept_days(seed: int, ties: bool, infinite: bool, closed: float):
    """Twelve days of a small logit market (a few dozen shoppers a day), their utilities made
    to tie (whole numbers, some equal to buying nothing) or infinite, and sellers out of stock
    on some mornings."""
    from test_surplus_booking import market

    scenario = market(population=300, visit=0.15)
    model = MarketModel(scenario, scenario.strategies[0], 0)
    days = []
    model.settle = lambda day, trading, received: days.append(trading)
    model.run_for(12)
    rng = np.random.default_rng(seed)
    kept = []
    for trading in days:
        utility = trading.utility.copy()
        if ties:
            utility = np.round(utility, 0)
            utility[:, rng.random(utility.shape[1]) < 0.1] = 0.0
        if infinite:
            utility[rng.random(utility.shape) < 0.03] = np.inf
            utility[rng.random(utility.shape) < 0.05] = -np.inf
        shut = rng.random(utility.shape[0]) < closed
        kept.append((dataclasses.replace(trading, utility=utility), shut))
    return scenario, kept


@settings(max_examples=25, deadline=None)
@given(
    seed=st.integers(0, 2**32 - 1),
    ties=st.booleans(),
    infinite=st.booleans(),
    closed=st.sampled_from([0.0, 0.3, 1.0]),
    batch=st.sampled_from([40, 100, 4096]),
)
def test_kept_surplus_compiled_equals_the_numpy_path(seed, ties, infinite, closed, batch):
    """The logit surplus of days kept for later, booked by the compiled kernels from their
    side-by-side buffers, against the numpy path's batches and each day booked alone: ties with
    the largest term, infinite utilities (the direct log of the sum), sellers out of stock."""
    scenario, kept = _kept_days(seed, ties, infinite, closed)
    books = []
    for path in ("compiled", "numpy", "alone"):
        fast.use(path == "compiled")
        try:
            model = MarketModel(scenario, scenario.strategies[0], 0)
            with pytest.MonkeyPatch.context() as patch:
                patch.setattr(model_module, "SURPLUS_BATCH", batch)
                for day, (trading, shut) in enumerate(kept):
                    for seller, out in zip(model.sellers, shut, strict=True):
                        seller.on_hand = 0 if out else 10
                    if path == "alone":
                        model.ledger.consumer_surplus[day] = model.consumer_surplus(day, trading, 2)
                    else:
                        model.book_consumer_surplus(day, trading, 2)
                model.book_surplus_due()
            if batch > 90:  # (days of more shoppers than a batch are booked alone)
                assert (model._surplus_kept is not None) == (path == "compiled")
            books.append(model.ledger.consumer_surplus[: len(kept)].copy())
        finally:
            fast.use(None)
    compiled, numpy_path, alone = books
    assert compiled.tobytes() == numpy_path.tobytes()
    assert compiled.tobytes() == alone.tobytes()
    if not infinite:  # (with every seller out of stock, a surplus of log 1 = 0)
        assert np.isfinite(compiled).all() and ((compiled > 0).any() or closed == 1.0)


def served_on_both_paths(scores, threshold, stock, tiebreak, order):
    """`clear`'s allocation on the numpy path, then on the compiled one."""
    allocations = []
    for compiled in (False, True):
        fast.use(compiled)
        try:
            allocations.append(clear(scores, threshold, stock, tiebreak, lambda: order))
        finally:
            fast.use(None)
    return allocations


def test_an_interrupt_while_the_kernels_load_comes_after_they_are_loaded():
    """Ctrl-C while numba loads the kernels lands, unless held back, inside llvmlite's
    finalisers, half-way through freeing an object (the exit freed it again: a double free,
    the process aborted in a fault test). It is delivered once the loading is over. (Sent to
    this thread, the one held back: sent to the process, it would go to any other thread an
    earlier test left running, such as a Dask worker's, and be raised here at once.)"""
    import signal
    import threading

    previous = signal.signal(signal.SIGINT, signal.default_int_handler)
    finished = []
    try:
        with pytest.raises(KeyboardInterrupt), fast._interrupts_after():
            signal.pthread_kill(threading.get_ident(), signal.SIGINT)
            sum(range(100_000))  # (bytecode, where a delivered SIGINT would raise)
            finished.append(True)
    finally:
        signal.signal(signal.SIGINT, previous)
    assert finished == [True]
