"""Loading big libraries without full garbage collections on the way.

Numba (the compiled kernels), Mesa with networkx, pandas and matplotlib make tens of thousands of
objects as they load, which live as long as the process. Python starts a full collection
whenever the objects that outlived two collections have grown by a quarter, and a full
collection goes over every object: while these libraries load, such collections cost the holiday
market's `run` about 0.25 s before its runs begin, and each figure process 0.15 s. `libraries()`
holds the collector off while libraries load, then freezes what the process holds (`gc.freeze`):
later collections pass those objects by (a figure process drawing the report no longer goes
over them), and a process forked afterwards leaves their memory pages shared. The few cycles of
garbage that loading leaves are kept.
"""

from __future__ import annotations

import contextlib
import gc
from collections.abc import Iterator


@contextlib.contextmanager
def libraries() -> Iterator[None]:
    """No garbage collection in the block; at its end, what the process holds is frozen and the
    collector runs again (unless it was off already)."""
    collecting = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        gc.freeze()
        if collecting:
            gc.enable()
