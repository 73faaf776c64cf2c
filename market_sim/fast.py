"""Whether the day's compiled kernels (`market_sim.kernels`, numba: the `fast` extra) are used:
when numba is installed, unless the environment sets MARKET_SIM_NUMPY=1. Either way the numbers
are the same to the last bit; the numpy path is the reference and serves installs without it."""

from __future__ import annotations

import contextlib
import os
import signal
from collections.abc import Iterator
from types import ModuleType

from market_sim import loading

_loaded: ModuleType | bool | None = None  # the kernels module, False without them, None: not asked


def kernels() -> ModuleType | None:
    """`market_sim.kernels`, or None when numba is missing or MARKET_SIM_NUMPY=1 (read once).
    The first call loads the kernels' machine code (about half a second): `population` asks
    when it is imported, so that a process pays it before its first run, not inside the run's
    time limit."""
    global _loaded
    if _loaded is None:
        _loaded = False
        if os.environ.get("MARKET_SIM_NUMPY", "") in ("", "0"):
            with _interrupts_after(), loading.libraries():
                try:
                    from market_sim import kernels as compiled
                except ImportError:
                    pass
                else:
                    compiled.warm_up()
                    compiled.warm_up_daily()
                    _loaded = compiled
    return _loaded or None


@contextlib.contextmanager
def _interrupts_after() -> Iterator[None]:
    """SIGINT and SIGTERM held back (blocked in this thread) until the block is over, then
    delivered: an interrupt raised inside llvmlite while numba loads the kernels lands in a
    finaliser half-way through freeing an object, which the interpreter's exit frees again
    (a double free, the process aborted)."""
    if not hasattr(signal, "pthread_sigmask"):  # (not on Windows)
        yield
        return
    before = signal.pthread_sigmask(signal.SIG_BLOCK, {signal.SIGINT, signal.SIGTERM})
    try:
        yield
    finally:
        signal.pthread_sigmask(signal.SIG_SETMASK, before)


def use(compiled: bool | None) -> None:
    """Use the compiled kernels (True: ImportError without numba), the numpy path (False), or
    decide again as `kernels()` does (None), from now on: for tests that compare the two."""
    global _loaded
    if compiled:
        from market_sim import kernels as compiled_kernels

        _loaded = compiled_kernels
    else:
        _loaded = None if compiled is None else False
