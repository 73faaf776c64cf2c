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

import ctypes
import sys
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
    day) alone, not on what earlier days drew.

    Moving to a day sets the generator's 128-bit state to the day's start, worked out in Python:
    PCG64 steps its state by x → m·x + i (mod 2¹²⁸), so a jump of any number of draws is such
    an affine map too, and those of 2⁶⁴, 2⁶⁵, … draws are read from numpy's own `advance` once
    and composed. Going on to the next day is one multiplication. The state is written straight
    into the generator's memory where numpy keeps it as expected (`_StateWords`, checked when
    the stream is made), else through numpy's `state` setter: the setter and a jump cost about
    3.5 µs, and a small market's day of about 60 µs reached two streams so (0.45 µs now)."""

    def __init__(self, seed: int, replication: int, purpose: Purpose):
        self._keys = (seed, replication, purpose)
        self._bits = np.random.PCG64(np.random.SeedSequence([seed, replication, int(purpose)]))
        self._start = self._bits.state
        self._generator = np.random.Generator(self._bits)
        self._rows: list[tuple[np.random.PCG64, np.random.Generator]] = []  # see `rows`
        # (a, c) of the jumps of 2⁶⁴, 2⁶⁵, … draws: the state after one is a·x + c of x before
        self._jumps = [_jump_map(self._bits, self._start, 1 << 64)]
        self._start_state = self._start["state"]["state"]
        self._day, self._day_state = 0, self._start_state  # the last day reached, and its state
        self._words = _StateWords.of(self._bits)

    def __reduce__(self) -> tuple:  # (the words are an address in this process)
        return DailyStream, self._keys

    def on(self, day: int) -> np.random.Generator:
        """The generator at the start of `day`'s draws (the same object every day: use it
        before asking for another day)."""
        state = self._state_of(day)
        if self._words is not None:
            self._words.write(state)
        else:
            self._bits.state = {**self._start, "state": {"state": state, "inc": self._start["state"]["inc"]}}
        return self._generator

    def uniforms(self, day: int, out: np.ndarray) -> np.ndarray:
        """`on(day).random(out=out)`: `out` (float64) filled with the day's first uniforms."""
        return self.on(day).random(out=out)

    def _state_of(self, day: int) -> int:
        """PCG64's state at the start of `day`'s draws: from the last day reached, one jump on
        to the next day (a run goes day after day), the jumps of the gap's binary digits to a
        later day, those of `day`'s own digits from the stream's start to an earlier one."""
        if day == self._day + 1:
            a, c = self._jumps[0]
            state = (a * self._day_state + c) & _MASK128
        elif day != self._day:
            state, days = (self._day_state, day - self._day) if day > self._day else (self._start_state, day)
            jumps, bit = self._jumps, 0
            while days:
                if bit == len(jumps):  # twice the longest jump known: its map composed with itself
                    a, c = jumps[-1]
                    jumps.append((a * a & _MASK128, (a * c + c) & _MASK128))
                if days & 1:
                    a, c = jumps[bit]
                    state = (a * state + c) & _MASK128
                days, bit = days >> 1, bit + 1
        else:
            return self._day_state
        self._day, self._day_state = day, state
        return state

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


_MASK64, _MASK128 = (1 << 64) - 1, (1 << 128) - 1


def _jump_map(bits: np.random.PCG64, start: dict, draws: int) -> tuple[int, int]:
    """(a, c) such that PCG64's state after `draws` draws is a·x + c (mod 2¹²⁸) of its state x
    before (with the increment of `start`), as numpy's `advance` moves it; `bits` left at
    `start`."""

    def after(state: int) -> int:
        bits.state = {**start, "state": {"state": state, "inc": start["state"]["inc"]}}
        bits.advance(draws)
        return bits.state["state"]["state"]

    c = after(0)
    a = (after(1) - c) & _MASK128
    bits.state = start
    return a, c


class _StateWords:
    """A PCG64 generator's 128-bit state in its own memory, for `DailyStream.on` to write: two
    words, instead of numpy's `state` setter, which parses a dictionary (about 2 µs). Numpy's
    `ctypes.state_address` points at a struct whose first member points at the state (then
    the increment), both inside the generator object, and whose next two hold the half of a
    64-bit draw kept for a 32-bit one (a flag and the half: zeroed, as a day starts with none).
    `of` finds them only where every part of that is checked to hold (CPython, numpy's layout
    of this version, either order of the two halves of a 128-bit number)."""

    def __init__(self, words: ctypes.Array, low_first: bool, half: ctypes.Array):
        self._words, self._low_first, self._half = words, low_first, half

    def write(self, state: int) -> None:
        words, low, high = self._words, state & _MASK64, state >> 64
        if self._low_first:
            words[0], words[1] = low, high
        else:
            words[0], words[1] = high, low
        half = self._half
        half[0] = half[1] = 0

    @classmethod
    def of(cls, bits: np.random.PCG64) -> _StateWords | None:
        """The state words of `bits`, or None where they are not where they are expected."""
        if sys.implementation.name != "cpython" or type(bits) is not np.random.PCG64:
            return None  # (id() is the object's address in CPython)
        inside = range(id(bits), id(bits) + type(bits).__basicsize__)
        pointer_size = ctypes.sizeof(ctypes.c_void_p)
        struct = bits.ctypes.state_address
        if struct not in inside or struct + pointer_size + 8 - 1 not in inside:
            return None
        state = ctypes.c_void_p.from_address(struct).value
        if state is None or state not in inside or state + 32 - 1 not in inside:
            return None
        words = (ctypes.c_uint64 * 4).from_address(state)
        half = (ctypes.c_uint32 * 2).from_address(struct + pointer_size)
        start = bits.state
        found = [words[0] | words[1] << 64, words[1] | words[0] << 64, words[2] | words[3] << 64]
        expected = start["state"]
        if expected["inc"] not in (found[2], words[3] | words[2] << 64) or expected["state"] not in found[:2]:
            return None
        kept = cls(words, found[0] == expected["state"], half)
        try:  # the half of a draw kept where it is expected, a state written read back by numpy
            np.random.Generator(bits).integers(2**32, dtype=np.uint32)
            after = bits.state
            if after["has_uint32"] != 1 or [half[0], half[1]] != [1, after["uinteger"]]:
                return None
            kept.write(expected["state"] ^ (1 << 127 | 1))
            if bits.state != {**start, "state": {**expected, "state": expected["state"] ^ (1 << 127 | 1)}}:
                return None
            return kept
        finally:
            bits.state = start


def gumbel(uniforms: np.ndarray) -> np.ndarray:
    """Standard Gumbel variates −log(−log U) from uniforms U in [0, 1), in place, as
    whole-array logarithms: about four times faster than `Generator.gumbel`, which draws them
    one at a time. (U = 0, once in 2⁵³ draws, gives −inf: that offer is never preferred.)"""
    np.log(uniforms, out=uniforms)
    np.negative(uniforms, out=uniforms)
    np.log(uniforms, out=uniforms)
    return np.negative(uniforms, out=uniforms)
