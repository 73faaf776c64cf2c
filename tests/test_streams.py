"""The random streams: a day's draws positioned by jumps, drawn row by row in blocks, and the
day's shoppers, all the very numbers of the plain draws (common random numbers)."""

from __future__ import annotations

import numpy as np
from hypothesis import given, settings
from hypothesis import strategies as st

from market_sim import fast
from market_sim.population import Population, _bernoulli_positions
from market_sim.streams import DailyStream, Purpose, stream


@settings(max_examples=60, deadline=None)
@given(
    day=st.integers(0, 4000),
    rows=st.integers(1, 5),
    length=st.integers(1, 300),
    widths=st.lists(st.integers(1, 90), min_size=1, max_size=8),
)
def test_rows_drawn_block_by_block_are_the_days_draws(day, rows, length, widths):
    """Each row of `on(day).random((rows, length))` drawn from `rows(...)`'s generators in
    blocks of any widths, the generators used one after the other, block after block."""
    daily = DailyStream(7, 2, Purpose.TASTE)
    whole = daily.on(day).random((rows, length))
    daily.on(day + 1).random(5)  # the other generator's use changes nothing
    generators = daily.rows(day, rows, length)
    pieces = [[] for _ in range(rows)]
    start, turn = 0, 0
    while start < length:
        width = min(widths[turn % len(widths)], length - start)
        for r, generator in enumerate(generators):
            out = np.empty(width)
            generator.random(out=out)
            pieces[r].append(out)
        start, turn = start + width, turn + 1
    assert np.concatenate([np.concatenate(p) for p in pieces]).tobytes() == whole.tobytes()
    # the day's draws depend on (seed, replication, purpose, day) alone
    again = DailyStream(7, 2, Purpose.TASTE).on(day).random((rows, length))
    assert again.tobytes() == whole.tobytes()


def _plain_day(seed: int, replication: int, purpose: Purpose, day: int) -> np.random.Generator:
    """Day `day` of a DailyStream as its definition says: the seeded PCG64 jumped d · 2⁶⁴ draws."""
    bits = np.random.PCG64(np.random.SeedSequence([seed, replication, int(purpose)]))
    return np.random.Generator(bits.advance(day << 64))


@settings(max_examples=60, deadline=None)
@given(
    calls=st.lists(
        st.tuples(st.integers(0, 3000), st.integers(1, 400), st.sampled_from(["none", "floats", "halves"])),
        min_size=1,
        max_size=12,
    ),
)
def test_each_day_is_reached_from_any_other_with_its_very_draws(calls):
    """`on(day)` and `uniforms(day, out)` in any order of days (forward, back, the next, the same
    again), whatever was drawn before, 32-bit draws too (which keep half a 64-bit draw): each
    gives the day's plain draws."""
    daily = DailyStream(3, 1, Purpose.TASTE)
    for day, size, before in calls:
        if before == "floats":  # someone else draws from the generator in between
            daily.on(day + 7).random(size % 13)
        elif before == "halves":
            daily.on(day + 1).integers(2**32, size=size % 5 + 1, dtype=np.uint32)
        got = daily.uniforms(day, np.empty(size)) if size % 2 else daily.on(day).random(size)
        assert got.tobytes() == _plain_day(3, 1, Purpose.TASTE, day).random(size).tobytes()
        halves = daily.on(day).integers(2**32, size=3, dtype=np.uint32)
        assert (
            halves.tolist()
            == _plain_day(3, 1, Purpose.TASTE, day).integers(2**32, size=3, dtype=np.uint32).tolist()
        )


def test_a_pickled_stream_gives_the_same_days():
    import pickle

    daily = DailyStream(11, 0, Purpose.VISITS)
    daily.on(5).random(3)
    again = pickle.loads(pickle.dumps(daily))
    for day in (5, 6, 2, 40_000_000):
        assert again.on(day).random(4).tobytes() == _plain_day(11, 0, Purpose.VISITS, day).random(4).tobytes()
        assert daily.on(day).random(4).tobytes() == _plain_day(11, 0, Purpose.VISITS, day).random(4).tobytes()


SHOPPERS = """
name: a few hundred shoppers
days: 5
consumers:
  population: 500
  segments: [{name: all, share: 1, visit_rate: 0.7, wtp: 30, price_sensitivity: 0.2}]
sellers:
  - {name: us, focal: true, unit_cost: 10}
strategies: [{kind: fixed, price: 20}]
"""


def _bernoulli_positions_reference(rng, chance, size):
    """The batches as they were first written: the same gaps, batch sizes and stopping rule."""
    found, last = [], -1
    while True:
        expected = (size - 1 - last) * chance
        gaps = rng.geometric(chance, int(expected + 4 * expected**0.5 + 16))
        positions = last + np.cumsum(gaps)
        inside = np.searchsorted(positions, size)
        found.append(positions[:inside])
        if inside < len(positions):
            return found[0] if len(found) == 1 else np.concatenate(found)
        last = int(positions[-1])


@settings(max_examples=200, deadline=None)
@given(
    chance=st.floats(1e-4, 0.999),
    size=st.integers(1, 5000),
    seed=st.integers(0, 2**32 - 1),
)
def test_visits_are_the_reference_batches(chance, size, seed):
    """Positions, and where the stream stands after them (the next segment draws from there),
    on the compiled path and on numpy's."""
    for compiled in (True, False) if fast.kernels() is not None else (False,):
        fast.use(compiled)
        try:
            rngs = [np.random.default_rng(seed) for _ in range(2)]
            got = _bernoulli_positions(rngs[0], chance, size)
        finally:
            fast.use(None)
        expected = _bernoulli_positions_reference(rngs[1], chance, size)
        assert got.dtype == expected.dtype and got.tobytes() == expected.tobytes()
        assert rngs[0].bit_generator.state == rngs[1].bit_generator.state
        assert (np.diff(got) > 0).all() and (len(got) == 0 or 0 <= got[0] <= got[-1] < size)


def test_a_day_when_everyone_or_nobody_shops_draws_no_visits():
    consumers = 15
    population = Population(
        segment=np.repeat([0, 1, 2], 5), wtp=np.ones(consumers), price_sensitivity=np.ones(consumers),
        loyalty=np.zeros(consumers), visit_rate=np.repeat([1.0, 1.0, 0.0], 5),
        segment_names=("all", "all too", "none"), observable=np.zeros(3, dtype=bool),
        last_seller=np.full(consumers, -1), bought_from=np.zeros((consumers, 1), dtype=bool),
    )  # fmt: skip

    def no_draws():
        raise AssertionError("no visit is drawn")

    everyone = population.shoppers(1.0, no_draws)
    assert everyone.tolist() == list(range(10)) and everyone.dtype == np.intp
    asked = []

    def visits():
        asked.append(True)
        return stream(1, 0, Purpose.VISITS, 3)

    half = population.shoppers(0.5, visits)
    assert asked == [True]  # asked once, for the first segment that draws
    rng = stream(1, 0, Purpose.VISITS, 3)  # the segments in turn from one generator
    expected = [_bernoulli_positions_reference(rng, 0.5, 5) + start for start in (0, 5)]
    assert half.tolist() == np.concatenate(expected).tolist()


def test_the_arrival_order_is_the_same_whenever_it_is_asked_for():
    """Not kept between calls (a big day's order is freed once the shoppers are served), yet
    every call gives the day's one permutation, whatever the other streams drew meanwhile."""
    from market_sim.model import MarketModel
    from tests.conftest import scenario_from

    model = MarketModel(scenario_from(SHOPPERS))
    arrivals = model.arrivals(3)
    first = arrivals.order()
    model.stream(Purpose.ARRIVALS, 4).permutation(10)
    model.stream(Purpose.TASTE, 3).random(7)
    again = arrivals.order()
    assert again is not first and again.tobytes() == first.tobytes()
    assert sorted(first.tolist()) == list(range(len(arrivals.shoppers)))
    expected = stream(model.spec.seed, 0, Purpose.ARRIVALS)  # the day's draws, 3 · 2⁶⁴ in
    expected.bit_generator.advance(3 << 64)
    assert first.tobytes() == expected.permutation(len(arrivals.shoppers)).tobytes()
