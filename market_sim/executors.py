"""Where runs go, named without importing the engine (so the command line starts fast)."""

from __future__ import annotations

import multiprocessing
import os
import threading

EXECUTORS = ("local", "dask-local", "dask")


def start_method() -> multiprocessing.context.BaseContext:
    """Fork when this process has a single thread: workers start at once with the engine already
    imported. Forking a multi-threaded process can deadlock, so then a fork server, which has
    imported the engine once, starts them instead."""
    if threading.active_count() == 1:
        return multiprocessing.get_context("fork")
    context = multiprocessing.get_context("forkserver")
    context.set_forkserver_preload(["market_sim.runner", "market_sim.tables"])
    return context


def default_workers() -> int:
    return os.cpu_count() or 1


class SchedulerError(ValueError):
    """A Dask scheduler address that cannot be used (invalid input: it names the option)."""
