"""Where runs go, named without importing the engine (so the command line starts fast)."""

from __future__ import annotations

import os

EXECUTORS = ("local", "dask-local", "dask")


def default_workers() -> int:
    return os.cpu_count() or 1


class SchedulerError(ValueError):
    """A Dask scheduler address that cannot be used (invalid input: it names the option)."""
