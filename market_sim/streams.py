"""The one place where randomness is created: streams keyed by (seed, replication, purpose, ...).

Every draw comes from a stream named by its purpose and keyed by the day, sized by the
population, today's shoppers and the number of sellers, never by anything a strategy did. So
two strategies replayed on the same seed and replication meet the same shoppers with the same
shocks (common random numbers), and paired differences between them have small variance.

A day's draws, for the m consumers who shop (in consumer order) and s sellers:
- VISITS: for each segment in turn, geometric gaps from one shopper to the next (each consumer
  shops with its chance independently; drawing the gaps costs one draw per shopper, not one
  per consumer). A segment whose chance is 1 draws nothing.
- ARRIVALS: a permutation of the m shoppers, their arrival order. It is drawn only on days
  when the order matters (a seller cannot serve everyone who wants it); being keyed by the
  day, it is the same permutation whether or not other days drew theirs.
- TASTE: (s + 1) × m uniforms, one row per offer and a last row for buying nothing, turned
  into Gumbel taste shocks for logit choice (`gumbel`) or used as they are to break ties
  between equal offers (max_surplus).
How many numbers a day draws depends on the population, the visits and s, never on prices.
"""

from __future__ import annotations

from enum import IntEnum

import numpy as np


class Purpose(IntEnum):
    POPULATION = 0  # who the consumers are
    VISITS = 1  # who shops on a day
    ARRIVALS = 2  # in which order they arrive
    TASTE = 3  # taste shocks (logit) or tie-breakers (max_surplus)
    STRATEGY = 4  # a strategy's own stream, per seller
    MESA = 5  # the Mesa model's own generator (unused by the market itself)
    EXPERIMENT = 16  # an A/B test's randomisation of shoppers or days to arms


def stream(seed: int, replication: int, purpose: Purpose, *key: int) -> np.random.Generator:
    """A generator for one purpose, e.g. `stream(seed, rep, Purpose.TASTE, day)`."""
    return np.random.default_rng([seed, replication, int(purpose), *key])


class DailyStream:
    """One purpose's stream for a whole run, cut into days: day d's draws begin d · 2⁶⁴ draws
    into the stream (far more than a day uses), so they depend on (seed, replication, purpose,
    day) alone, not on what earlier days drew. Moving to a day costs a jump, not the seeding
    of a new generator (about ten times cheaper, and it happens several times a day)."""

    def __init__(self, seed: int, replication: int, purpose: Purpose):
        self._bits = np.random.PCG64(np.random.SeedSequence([seed, replication, int(purpose)]))
        self._start = self._bits.state
        self._generator = np.random.Generator(self._bits)
        self._rows: list[tuple[np.random.PCG64, np.random.Generator]] = []  # see `rows`
        self._at: int | None = None  # draws into the stream where `uniforms` left it (None: unknown)

    def on(self, day: int) -> np.random.Generator:
        """The generator at the start of `day`'s draws (the same object every day: use it
        before asking for another day)."""
        self._at = None  # (its user may draw any number of values)
        self._bits.state = self._start
        self._bits.advance(day << 64)
        return self._generator

    def uniforms(self, day: int, out: np.ndarray) -> np.ndarray:
        """`on(day).random(out=out)`: `out` (float64) filled with the day's first uniforms. Each
        is one 64-bit draw, so the stream is known to stand `out.size` draws into the day after
        it, and the next call reaches its day by one relative jump (wrapping around the
        period when it goes back), a third of the cost of setting the state and jumping."""
        start = day << 64
        if self._at is None:
            self._bits.state = self._start
            self._bits.advance(start)
        else:
            self._bits.advance(start - self._at)
        self._generator.random(out=out)
        self._at = start + out.size
        return out

    def rows(self, day: int, rows: int, length: int) -> list[np.random.Generator]:
        """Generators at the starts of the rows of `on(day).random((rows, length))`, the r-th
        `r · length` draws into the day (each uniform is one 64-bit draw): drawing each row
        piece by piece, column block after column block, gives that array's very numbers, so a
        big day's blocks stay in the processor's cache. (Other objects than `on`'s, the same
        every day.)"""
        while len(self._rows) < rows:
            bits = np.random.PCG64()
            self._rows.append((bits, np.random.Generator(bits)))
        for r, (bits, _) in enumerate(self._rows[:rows]):
            bits.state = self._start
            bits.advance((day << 64) + r * length)
        return [generator for _, generator in self._rows[:rows]]


def gumbel(uniforms: np.ndarray) -> np.ndarray:
    """Standard Gumbel variates −log(−log U) from uniforms U in [0, 1), in place, as
    whole-array logarithms: about four times faster than `Generator.gumbel`, which draws them
    one at a time. (U = 0, once in 2⁵³ draws, gives −inf: that offer is never preferred.)"""
    np.log(uniforms, out=uniforms)
    np.negative(uniforms, out=uniforms)
    np.log(uniforms, out=uniforms)
    return np.negative(uniforms, out=uniforms)
