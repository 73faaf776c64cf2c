"""Runs: one (focal strategy, replication) replay of the market, and many of them on workers.

Every strategy replays the same replications: replication r draws the same population,
visits, arrival orders and taste shocks whichever strategy sits in the focal seat (common
random numbers), so differences between strategies are differences of strategy alone. A run
depends on nothing but its job, so results are the same on one process, many, or a Dask
cluster.
"""

from __future__ import annotations

import contextlib
import multiprocessing
import signal
import sys
import threading
import time
import traceback
from collections.abc import Callable, Iterator
from concurrent.futures import ProcessPoolExecutor, as_completed
from dataclasses import dataclass
from typing import Any

from tqdm import tqdm

from market_sim.agents import StrategyFailure
from market_sim.executors import EXECUTORS, default_workers
from market_sim.ledger import Ledger
from market_sim.model import MarketModel
from market_sim.scenario import Scenario

LOCAL_DASK_CONFIG = {"distributed.worker.profile.enabled": False, "distributed.admin.tick.interval": "1s"}

tqdm.monitor_interval = 0  # progress bars start no monitor thread, so the pool can fork


@dataclass(frozen=True)
class Job:
    """One replay to run: the scenario, which of its strategies takes the focal seat, and the
    replication (which fixes every random draw)."""

    scenario: Scenario
    strategy: int
    replication: int
    log_offers: bool = False  # keep every offer shown (run --log-offers)


@dataclass(frozen=True)
class Run:
    """The record of one replay: the ledger, and the failure that stopped it, if any."""

    strategy: str
    replication: int
    ledger: Ledger
    seconds: float
    failure: str | None = None
    traceback: str = ""  # where a failing strategy raised (file and line), for its author


class TimeLimitExceeded(BaseException):
    """A run went past its time limit (a BaseException, so strategies cannot swallow it)."""


def comparison_jobs(scenario: Scenario, log_offers: bool = False) -> list[Job]:
    """Every strategy on every replication, strategy by strategy."""
    return [
        Job(scenario, strategy, replication, log_offers)
        for strategy in range(len(scenario.strategies))
        for replication in range(scenario.replications)
    ]


def run_once(job: Job, time_limit: float | None = None) -> Run:
    """Replay the market with the job's strategy in the focal seat.

    A strategy that raises, returns an unusable price or runs past `time_limit` seconds stops
    the run; the days before it stay in the ledger and the failure says what and when.
    """
    scenario = job.scenario
    spec = scenario.strategies[job.strategy]
    started = time.perf_counter()
    model = None
    failure = None
    where = ""
    try:
        with _deadline(time_limit):
            model = MarketModel(scenario, spec, job.replication, log_offers=job.log_offers)
            while model.running:
                model.step()
                if time_limit is not None and time.perf_counter() - started > time_limit:
                    raise TimeLimitExceeded  # between days, where no timer can interrupt (threads)
    except StrategyFailure as error:
        failure = str(error)
        where = traceback.format_exc()
    except TimeLimitExceeded:
        day = model.ledger.days_recorded if model else 0  # the first day not finished
        failure = f"stopped on day {day}: the run took longer than its time limit of {time_limit:g} s"
    ledger = (
        model.ledger
        if model
        else Ledger(scenario.days, len(scenario.sellers), len(scenario.consumers.segments))
    )
    return Run(spec.name, job.replication, ledger, time.perf_counter() - started, failure, where)


@contextlib.contextmanager
def _deadline(seconds: float | None) -> Iterator[None]:
    """Raise TimeLimitExceeded after `seconds`, even inside a strategy that never returns (an
    interval timer: main thread only; elsewhere the run checks the time between days)."""
    if seconds is None or threading.current_thread() is not threading.main_thread():
        yield
        return

    def expire(signum, frame):
        raise TimeLimitExceeded

    previous = signal.signal(signal.SIGALRM, expire)
    signal.setitimer(signal.ITIMER_REAL, seconds)
    try:
        yield
    finally:
        signal.setitimer(signal.ITIMER_REAL, 0)
        signal.signal(signal.SIGALRM, previous)


def run_jobs(
    jobs: list[Job],
    workers: int | None = None,
    executor: str = "local",
    scheduler: str | None = None,
    time_limit: float | None = None,
    prepare: Callable[[Run], Any] | None = None,
) -> Iterator[tuple[int, Any]]:
    """Run `jobs`, yielding (position in `jobs`, run) as each finishes.

    `executor`: `local` (a process pool of `workers`, default all cores; in-process for one),
    `dask-local` (a Dask cluster of `workers` processes on this machine) or `dask` (the Dask
    scheduler at `scheduler`). Plug-in folders on this process's path travel with every job.
    `prepare`, if given, turns each run into what is yielded, on the worker that ran it (e.g.
    its rows of the output tables), so that work is shared out too.
    """
    if executor not in EXECUTORS:
        raise ValueError(f"executor must be one of {', '.join(EXECUTORS)}, got {executor!r}")
    workers = max(1, min(workers or default_workers(), len(jobs) or 1))
    task = _Task(time_limit, list(sys.path), prepare)
    if executor == "local" and workers == 1:
        for index, job in enumerate(jobs):
            yield index, task(job)
    elif executor == "local":
        yield from _run_on_pool(jobs, workers, task)
    else:
        yield from _run_on_dask(jobs, workers, scheduler if executor == "dask" else None, task)


@dataclass(frozen=True)
class _Task:
    """What a worker does with a job: run it (with the submitting process's plug-in folders
    importable) and prepare the result."""

    time_limit: float | None
    path: list[str]
    prepare: Callable[[Run], Any] | None

    def __call__(self, job: Job) -> Any:
        sys.path.extend(folder for folder in self.path if folder not in sys.path)
        run = run_once(job, self.time_limit)
        return self.prepare(run) if self.prepare else run


def _run_on_pool(jobs: list[Job], workers: int, task: _Task) -> Iterator[tuple[int, Any]]:
    with ProcessPoolExecutor(workers, mp_context=start_method()) as pool:
        futures = {pool.submit(task, job): i for i, job in enumerate(jobs)}
        try:
            for future in as_completed(futures):
                # popped, so a finished run's ledger is freed once the caller is done with it
                yield futures.pop(future), future.result()
        finally:  # interrupted: drop what has not started
            pool.shutdown(wait=False, cancel_futures=True)


def start_method() -> multiprocessing.context.BaseContext:
    """Fork when this process has a single thread: workers start at once with the engine already
    imported. Forking a multi-threaded process can deadlock, so then a fork server, which has
    imported the engine once, starts them instead."""
    if threading.active_count() == 1:
        return multiprocessing.get_context("fork")
    context = multiprocessing.get_context("forkserver")
    context.set_forkserver_preload(["market_sim.runner"])
    return context


def _run_on_dask(
    jobs: list[Job], workers: int, scheduler: str | None, task: _Task
) -> Iterator[tuple[int, Any]]:
    import dask  # only when asked for
    from dask.distributed import Client, LocalCluster, as_completed

    with contextlib.ExitStack() as stack:
        if scheduler is None:
            # the workers' sampling profiler and event-loop ticks take the GIL from the running
            # simulation every few ms: off, runs take about 6% less time (their stats are unused)
            with dask.config.set(LOCAL_DASK_CONFIG):
                cluster = LocalCluster(
                    n_workers=workers, threads_per_worker=1, processes=True, dashboard_address=None
                )
            client = stack.enter_context(Client(stack.enter_context(cluster)))
        else:
            client = stack.enter_context(Client(scheduler))
        futures = client.map(task, jobs, pure=False)
        positions = {future.key: i for i, future in enumerate(futures)}
        try:
            for future in as_completed(futures):
                yield positions[future.key], future.result()
                future.release()  # so the workers drop the run's ledger instead of holding every one
        finally:
            client.cancel(futures)
