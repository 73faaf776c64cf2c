"""Runs: one (focal strategy, replication) replay of the market, and many of them on workers.

Every strategy replays the same replications: replication r draws the same population,
visits, arrival orders and taste shocks whichever strategy sits in the focal seat (common
random numbers), so differences between strategies are differences of strategy alone. A run
depends on nothing but its job, so results are the same on one process, many, or a Dask
cluster.

Plug-in strategy code never runs in the command's own process: every run that involves a
plug-in gets a process of its own, forked from a process that has run none (so class or
module state a plug-in keeps cannot leak from one run into another), and a process that dies
(`os._exit`, the out-of-memory killer, a crash in compiled code) loses that run alone.
"""

from __future__ import annotations

import contextlib
import ctypes
import hashlib
import importlib
import importlib.util
import json
import math
import multiprocessing
import multiprocessing.connection
import os
import pickle
import shutil
import signal
import sys
import tempfile
import threading
import time
import traceback
from collections import deque
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
from tqdm import tqdm

import market_sim
from market_sim.agents import StrategyFailure, TimeLimitExceeded, stops_the_program
from market_sim.executors import EXECUTORS, SchedulerError, default_workers, start_method
from market_sim.ledger import Ledger
from market_sim.model import MarketModel
from market_sim.scenario import Scenario, StrategySpec

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
    lost: bool = False  # its process died: nothing of it was kept, `--resume` runs it again
    learning: dict[str, float] | None = None  # batched learning runs: converged, learning_days
    impulse: np.ndarray | None = None  # batched learning runs: (days, sellers) impulse response


WORKER_NAME = "market-sim-worker"  # the name of the processes that run jobs
SCHEDULER_TIMEOUT = 10  # seconds to reach a Dask scheduler
GRACE_SECONDS = 2.0  # a run's process is ended this long after its time limit if it has not stopped


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
    ledger = model.ledger if model else empty_ledger(scenario)
    return Run(spec.name, job.replication, ledger, time.perf_counter() - started, failure, where)


def empty_ledger(scenario: Scenario) -> Ledger:
    """The ledger of a run that recorded no day."""
    return Ledger(scenario.days, len(scenario.sellers), len(scenario.consumers.segments))


def lost_run(job: Job, reason: str, seconds: float = 0.0, died: bool = True) -> Run:
    """The record of a run whose days are lost: with the process that ran it (`died`: it may
    be run again), or to a failure outside the days."""
    spec = job.scenario.strategies[job.strategy]
    return Run(spec.name, job.replication, empty_ledger(job.scenario), seconds, reason, lost=died)


@contextlib.contextmanager
def _deadline(seconds: float | None) -> Iterator[None]:
    """Raise TimeLimitExceeded after `seconds`, even inside a strategy that never returns: an
    interval timer in the main thread, an exception sent to the thread elsewhere (Dask runs
    jobs in worker threads). A strategy blocked in C code is stopped when it returns to Python,
    and one that swallows the exception by its process being ended (`_Child`)."""
    if seconds is None:
        yield
    elif threading.current_thread() is threading.main_thread():
        yield from _alarm(seconds)
    else:
        yield from _thread_alarm(seconds)


def _alarm(seconds: float) -> Iterator[None]:
    def expire(signum, frame):
        raise TimeLimitExceeded

    previous = signal.signal(signal.SIGALRM, expire)
    signal.setitimer(signal.ITIMER_REAL, seconds)
    try:
        yield
    finally:
        signal.setitimer(signal.ITIMER_REAL, 0)
        signal.signal(signal.SIGALRM, previous)


def _thread_alarm(seconds: float) -> Iterator[None]:
    thread = ctypes.c_ulong(threading.get_ident())
    lock, done = threading.Lock(), []

    def expire() -> None:
        with lock:
            if not done:
                ctypes.pythonapi.PyThreadState_SetAsyncExc(thread, ctypes.py_object(TimeLimitExceeded))

    timer = threading.Timer(seconds, expire)
    timer.daemon = True
    timer.start()
    try:
        yield
    finally:
        with lock:
            done.append(True)
            timer.cancel()
            ctypes.pythonapi.PyThreadState_SetAsyncExc(thread, None)  # one sent but not yet raised


def run_jobs(
    jobs: list[Job],
    workers: int | None = None,
    executor: str = "local",
    scheduler: str | None = None,
    time_limit: float | None = None,
    prepare: Callable[[Run], Any] | None = None,
) -> Iterator[tuple[int, Any]]:
    """Run `jobs`, yielding (position in `jobs`, run) as each finishes.

    `executor`: `local` (`workers` processes at a time, default all cores; built-in strategies
    on one worker run in this process), `dask-local` (a Dask cluster of `workers` processes on
    this machine) or `dask` (the Dask scheduler at `scheduler`). Plug-in folders on this
    process's path travel with every job. `prepare`, if given, turns each run into what is
    yielded, on the worker that ran it (e.g. its rows of the output tables), so that work is
    shared out too. A run whose process died is yielded as a failed run with no days.
    """
    if executor not in EXECUTORS:
        raise ValueError(f"executor must be one of {', '.join(EXECUTORS)}, got {executor!r}")
    workers = max(1, min(workers or default_workers(), len(jobs) or 1))
    units = work_units(jobs, workers)
    batches = [unit for unit in units if isinstance(unit, Batch)]
    if batches:  # the batched learning engine: built-in strategies only, no plug-in code
        yield from _run_batches(batches, workers, executor, scheduler, time_limit, prepare)
    singles = [unit for unit in units if not isinstance(unit, Batch)]
    positions = [position for position, _ in singles]
    jobs = [job for _, job in singles]
    for index, result in _run_singles(jobs, workers, executor, scheduler, time_limit, prepare):
        yield positions[index], result


def _run_singles(
    jobs: list[Job],
    workers: int,
    executor: str,
    scheduler: str | None,
    time_limit: float | None,
    prepare: Callable[[Run], Any] | None,
) -> Iterator[tuple[int, Any]]:
    """Runs of their own: in this process, on our worker processes, or on Dask."""
    if not jobs:
        return
    plugins = any(map(runs_plugins, jobs)) and _sendable(jobs)  # else they can only run here
    if executor == "local" and workers == 1 and not plugins:
        task = _Task(time_limit, list(sys.path), prepare)
        for index, job in enumerate(jobs):
            yield index, task(job)
    elif executor == "local":
        task = _Task(time_limit, list(sys.path), prepare)
        yield from _run_in_processes(jobs, workers, task)
    else:
        task = _Task(time_limit, list(sys.path), prepare, fresh_imports=True)
        yield from _run_on_dask(jobs, workers, scheduler if executor == "dask" else None, task)


@dataclass(frozen=True)
class Batch:
    """Replications of one strategy that the batched learning engine runs together, and the
    positions of their jobs."""

    scenario: Scenario
    strategy: int
    replications: tuple[int, ...]
    positions: tuple[int, ...]


Unit = tuple[int, Job] | Batch

BATCH_SIZE = 100  # replications per batch at most: the pool shares them out, progress shows


def work_units(jobs: list[Job], workers: int) -> list[Unit]:
    """The jobs as units of work: (position, job) for a run of its own, or a Batch of the
    replications of a strategy that the batched learning engine runs exactly (`batched.qualifies`)."""
    from market_sim import batched

    units: list[Unit] = []
    grouped: dict[tuple[int, int], list[int]] = {}
    qualifying: dict[tuple[int, int], bool] = {}
    for position, job in enumerate(jobs):
        key = (id(job.scenario), job.strategy)
        if key not in qualifying:
            qualifying[key] = batched.qualifies(job.scenario, job.scenario.strategies[job.strategy])
        if qualifying[key]:
            grouped.setdefault(key, []).append(position)
        else:
            units.append((position, job))
    for positions in grouped.values():
        size = min(BATCH_SIZE, -(-len(positions) // workers))
        for start in range(0, len(positions), size):
            chunk = positions[start : start + size]
            first = jobs[chunk[0]]
            replications = tuple(jobs[p].replication for p in chunk)
            units.append(Batch(first.scenario, first.strategy, replications, tuple(chunk)))
    return units


def run_batch(batch: Batch, time_limit: float | None = None) -> list[Run]:
    """The runs of a Batch, by the batched learning engine: each run's ledger holds its limit
    play (`batched.TAIL_DAYS` greedy days after learning).

    The replications of a batch learn together, so they share their time limits: the batch may
    take `time_limit` × its replications, checked before every block of `batched.BLOCK` learning
    days. Once that is used up every run of the batch fails, saying on which day it stopped (a
    learning run is scored on its play after learning, so no day of it is kept)."""
    from market_sim import batched

    started = time.perf_counter()
    spec = batch.scenario.strategies[batch.strategy]
    budget = batch_limit(batch, time_limit)

    def in_time(day: int) -> None:
        if budget is not None and time.perf_counter() - started > budget:
            raise _OutOfTime(day)

    try:
        outcomes = batched.run_batch(batch.scenario, spec, batch.replications, between_blocks=in_time)
    except _OutOfTime as stop:
        count = len(batch.replications)
        reason = (
            f"stopped on day {stop.day}: its batch of {count} replications took longer than their "
            f"time limits ({count} × {time_limit:g} s)"
        )
        seconds = (time.perf_counter() - started) / count
        return [lost_run(job, reason, seconds, died=False) for job in batch_jobs(batch)]
    seconds = (time.perf_counter() - started) / len(outcomes)
    return [
        Run(
            spec.name,
            outcome.replication,
            outcome.ledger,
            seconds,
            learning={"converged": float(outcome.converged), "learning_days": float(outcome.days)},
            impulse=outcome.impulse,
        )
        for outcome in outcomes
    ]


def batch_limit(batch: Batch, time_limit: float | None) -> float | None:
    """The seconds a batch may take: its runs' time limits together."""
    return None if time_limit is None else time_limit * len(batch.replications)


def batch_jobs(batch: Batch) -> list[Job]:
    return [Job(batch.scenario, batch.strategy, replication) for replication in batch.replications]


class _OutOfTime(Exception):
    """A batch stopped by its time limit before the learning day `day`."""

    def __init__(self, day: int):
        super().__init__(day)
        self.day = day


def _sendable(jobs: list[Job]) -> bool:
    """Whether the jobs can be sent to another process (a class from a notebook that cannot be
    pickled keeps them in this one)."""
    try:
        for scenario in {id(job.scenario): job.scenario for job in jobs}.values():
            pickle.dumps(scenario)
    except Exception:
        return False
    return True


def runs_plugins(job: Job) -> bool:
    """Whether the job's market has a plug-in strategy (`module:Class`, or a class handed over
    from Python) in any seat."""
    return any(":" in spec.kind or spec.python_class is not None for spec in _seated(job))


def _seated(job: Job) -> list[StrategySpec]:
    scenario = job.scenario
    rivals = [seller.strategy for seller in scenario.sellers if seller.strategy is not None]
    return [scenario.strategies[job.strategy], *rivals]


def _plugin_modules(job: Job) -> list[str]:
    """The modules named by the job's `module:Class` strategies (a class handed over from Python
    travels by value and names none)."""
    kinds = [spec.kind for spec in _seated(job) if spec.python_class is None]
    return list(dict.fromkeys(kind.partition(":")[0] for kind in kinds if ":" in kind))


def fingerprints(scenario: Scenario, jobs: list[Job]) -> list[str]:
    """What determines each job's run, hashed: the resolved scenario, the focal strategy's kind
    and parameters, the source of the plug-in modules in its market, and this package's
    version. A run kept for `--resume` whose fingerprint differs was made by other code or
    settings."""
    from market_sim.loader import scenario_to_yaml

    common = [market_sim.__version__, scenario_to_yaml(scenario)]
    sources: dict[str, str] = {}
    prints = []
    for job in jobs:
        spec = scenario.strategies[job.strategy]
        modules = _plugin_modules(job)
        for name in modules:
            if name not in sources:
                sources[name] = _source(name)
        handed = getattr(spec.python_class, "__qualname__", "")
        parts = [*common, spec.kind, handed, json.dumps(dict(spec.params), sort_keys=True, default=str)]
        parts += [f"{name}\n{sources[name]}" for name in modules]
        prints.append(hashlib.sha256("\0".join(parts).encode()).hexdigest())
    return prints


def _source(module: str) -> str:
    """The source text of a plug-in module ("" when it has none to read)."""
    try:
        spec = importlib.util.find_spec(module)
        return Path(spec.origin).read_text(encoding="utf-8", errors="replace") if spec and spec.origin else ""
    except (ImportError, ValueError, OSError):
        return ""


@dataclass(frozen=True)
class _Task:
    """What a worker does with a job: run it (with the submitting process's plug-in folders
    importable) and prepare the result. With `fresh_imports` (workers that run many jobs, as
    Dask's do), plug-in modules are imported afresh before every run, so no run sees state
    that another left in them."""

    time_limit: float | None
    path: list[str]
    prepare: Callable[[Run], Any] | None
    fresh_imports: bool = False

    def __call__(self, job: Job) -> Any:
        return self.finish(self.run(job))

    def run(self, job: Job) -> Run:
        sys.path.extend(folder for folder in self.path if folder not in sys.path)
        started = time.perf_counter()
        try:
            if self.fresh_imports:
                _reimport(_plugin_modules(job))
            return run_once(job, self.time_limit)
        except BaseException as error:  # a plug-in touch point the model does not guard
            if stops_the_program(error):
                raise
            took = time.perf_counter() - started
            return lost_run(job, f"{type(error).__name__}: {error}", took, died=False)

    def finish(self, run: Run) -> Any:
        return self.prepare(run) if self.prepare else run

    # what a worker process (`_Worker`) asks of the task it runs
    def limit(self, job: Job) -> float | None:
        """The seconds the job may take."""
        return self.time_limit

    def alone(self, job: Job) -> bool:
        """Whether the job needs a process that runs nothing else (plug-in code)."""
        return runs_plugins(job)

    def lost(self, job: Job, reason: str, seconds: float, died: bool) -> Any:
        """What is yielded for a job whose process was ended or died."""
        return self.finish(lost_run(job, reason, seconds, died))


def _reimport(modules: list[str]) -> None:
    for name in modules:
        module = sys.modules.get(name)
        if module is None:
            importlib.import_module(name)
        else:
            importlib.reload(module)


# --- worker processes ---------------------------------------------------------------------

_RAN = "ran"  # a worker's first answer to a job: the run is over, only preparing it is left
AHEAD = 1  # jobs sent to a busy worker beyond the one it runs, so it never waits for the next


def _run_in_processes(jobs: list[Any], workers: int, task: _Task | _BatchTask) -> Iterator[tuple[int, Any]]:
    """Jobs (or batches) on `workers` processes of our own. A worker runs one job at a time, so
    a worker that dies loses that job alone (the jobs sent ahead to it go to another), and is
    replaced; a job with plug-in code gets a fresh worker that runs nothing else after it.

    Workers are forked with the jobs and told only which to run. While there are jobs enough
    for every worker, each is sent its next job before it finishes the one it runs, so it starts
    that job at once instead of waiting for this process to read its result and answer; the
    last ones go to whichever worker is free first."""
    context = start_method()
    waiting = deque(range(len(jobs)))
    pool: list[_Worker] = []
    _remove_abandoned_handovers()
    handover = tempfile.TemporaryDirectory(prefix=f"{_HANDOVER_PREFIX}{os.getpid()}-", dir=_HANDOVER_ROOT)
    try:
        while waiting or any(worker.queue for worker in pool):
            pool = [worker for worker in pool if worker.alive]
            for worker in pool:
                if not worker.queue and waiting and worker.give(waiting[0]):
                    waiting.popleft()
            while waiting and len(pool) < workers:
                pool.append(_Worker(context, task, jobs, handover.name))
                if pool[-1].give(waiting[0]):
                    waiting.popleft()
            for worker in pool:
                if len(waiting) >= len(pool) and worker.takes_more() and worker.give(waiting[0]):
                    waiting.popleft()
            busy = [worker.connection for worker in pool if worker.queue]
            multiprocessing.connection.wait(busy, timeout=0.5)
            for worker in pool:
                outcome = worker.outcome()
                waiting.extendleft(reversed(worker.unsent()))  # a worker gone: its jobs not begun
                if outcome is not None:
                    yield outcome
    finally:  # done or interrupted: no worker outlives the jobs
        for worker in pool:
            worker.end()
        handover.cleanup()


# where workers leave their prepared runs: memory (tmpfs) where there is one, else the temp folder
_HANDOVER_ROOT = "/dev/shm" if os.path.isdir("/dev/shm") and os.access("/dev/shm", os.W_OK) else None
_HANDOVER_PREFIX = "market-sim-runs-"  # then the pid of the process that reads them


def _remove_abandoned_handovers() -> None:
    """Remove the hand-over folders (ours) of processes that are gone: one killed outright
    (SIGKILL, the out-of-memory killer) cannot remove its own, and /dev/shm is memory."""
    root = Path(_HANDOVER_ROOT or tempfile.gettempdir())
    for folder in root.glob(f"{_HANDOVER_PREFIX}*-*"):
        pid = folder.name.removeprefix(_HANDOVER_PREFIX).split("-", 1)[0]
        with contextlib.suppress(OSError, ValueError):
            if folder.stat().st_uid == os.getuid() and not _alive(int(pid)):
                shutil.rmtree(folder, ignore_errors=True)


def _alive(pid: int) -> bool:
    """Whether a process `pid` exists (one of another user's counts)."""
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


@dataclass(frozen=True)
class _Handed:
    """A prepared run a worker left in a file: a megabyte through the pipe would keep the worker
    waiting, chunk by chunk, until this process has read it (20 ms a run on a busy machine)."""

    path: str

    @staticmethod
    def over(result: Any, folder: str, index: int) -> Any:
        """The result as a file in `folder` (or itself when it cannot be written there)."""
        path = os.path.join(folder, f"{os.getpid()}-{index}.pickle")
        try:
            with open(path, "wb") as file:
                pickle.dump(result, file, protocol=pickle.HIGHEST_PROTOCOL)
        except OSError:  # no room: through the pipe
            with contextlib.suppress(OSError):
                os.unlink(path)
            return result
        return _Handed(path)

    @staticmethod
    def taken(message: Any) -> Any:
        """The result a worker sent, read from its file (then removed) when it left one."""
        if not isinstance(message, _Handed):
            return message
        with open(message.path, "rb") as file:
            result = pickle.load(file)
        os.unlink(message.path)
        return result


class _Worker:
    """A process that runs jobs, named by their position in `jobs`, one at a time in the order
    sent, each to a deadline from when it begins (when the job before it is over)."""

    def __init__(
        self,
        context: multiprocessing.context.BaseContext,
        task: _Task | _BatchTask,
        jobs: list[Any],
        handover: str,
    ):
        self.task, self.jobs = task, jobs
        self.connection, theirs = context.Pipe()
        self.process = context.Process(
            target=_worker_main, args=(task, jobs, theirs, handover), name=WORKER_NAME, daemon=True
        )
        self.process.start()
        theirs.close()  # so the pipe reads as closed once the worker is gone
        self.alive = True
        self.queue: deque[int] = deque()  # the job it runs, then those sent ahead
        self.started = self.deadline = 0.0
        self.limit: float | None = None
        self.last_job = False  # it runs a job with plug-in code: it ends after it, runs no other
        self._unsent: list[int] = []

    def takes_more(self) -> bool:
        """Whether a job may be sent ahead to it: it is busy with one, may run another after."""
        return self.alive and not self.last_job and 0 < len(self.queue) <= AHEAD

    def give(self, index: int) -> bool:
        """Send the job; False (and the worker ended) if the worker is gone."""
        try:
            self.connection.send(index)
        except OSError:  # it died (the out-of-memory killer): a job it ran is lost in `outcome`
            if not self.queue:
                self.end()
            return False
        # plug-in code never shares a process with a later run
        self.last_job = self.task.alone(self.jobs[index])
        self.queue.append(index)
        if len(self.queue) == 1:
            self._begin()
        return True

    def _begin(self) -> None:
        """The first job of the queue begins now: its deadline."""
        self.started = time.monotonic()
        self.limit = self.task.limit(self.jobs[self.queue[0]])
        self.deadline = math.inf if self.limit is None else self.started + self.limit + GRACE_SECONDS

    def outcome(self) -> tuple[int, Any] | None:
        """(position, prepared run) once its current job is over or lost, else None."""
        if not self.queue:
            return None
        index = self.queue[0]
        while self.connection.poll():
            try:
                message = self.connection.recv()
            except (EOFError, OSError):
                self.end()
                return index, self._lost(index, _death(self.process.exitcode))
            if message == _RAN:
                self.deadline = math.inf  # the run is over: preparing it is not held to its limit
                continue
            try:
                result = _Handed.taken(message)
            except (OSError, EOFError, pickle.UnpicklingError) as error:  # its file removed or cut short
                self.end()
                return index, self._lost(index, f"its result could not be read back ({error}); run it again")
            self.queue.popleft()
            if self.queue:
                self._begin()
            elif self.last_job:
                self.end()
            return index, result
        if time.monotonic() > self.deadline:
            self.end()
            return index, self._lost(
                index,
                f"the run did not stop at its time limit of {self.limit:g} s "
                "(it swallowed the stop), so its process was ended",
                died=False,  # it would not stop again: not worth running again
            )
        return None

    def unsent(self) -> list[int]:
        """The jobs sent ahead to it that it never began, once, when it is gone (to run elsewhere)."""
        unsent, self._unsent = self._unsent, []
        return unsent

    def _lost(self, index: int, reason: str, died: bool = True) -> Any:
        return self.task.lost(self.jobs[index], reason, time.monotonic() - self.started, died)

    def end(self) -> None:
        if self.alive:
            self.alive = False
            self.process.kill()
            self.process.join()
            self.connection.close()
            self._unsent = list(self.queue)[1:]  # the first: being run, lost with it (see outcome)
            self.queue.clear()


def _worker_main(
    task: _Task | _BatchTask,
    jobs: list[Any],
    connection: multiprocessing.connection.Connection,
    handover: str,
) -> None:
    # the command decides what an interrupt does and ends its workers when it has to; a
    # KeyboardInterrupt seen here is then a strategy's own, that run's failure (agents.py)
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    signal.signal(signal.SIGTERM, signal.SIG_DFL)
    while True:
        try:
            index = connection.recv()
        except EOFError:  # the command is gone
            return
        run = task.run(jobs[index])
        connection.send(_RAN)
        connection.send(_Handed.over(task.finish(run), handover, index))


def _death(code: int | None) -> str:
    """Why a run's process ended before reporting, from its exit code."""
    if code is not None and code < 0:
        name = signal.Signals(-code).name
        why = {
            "SIGKILL": " (as the out-of-memory killer does)",
            "SIGSEGV": " (a crash in compiled code)",
        }.get(name, "")
        return f"the process running it was killed by {name}{why}; its days are lost"
    return f"the process running it exited with status {code} before the run finished; its days are lost"


def _dask_death(error: BaseException) -> str:
    tries = getattr(error, "allowed_failures", None)
    times = {0: "once"}.get(tries, f"{tries + 1} times") if isinstance(tries, int) else "repeatedly"
    return f"the Dask workers running it died ({times}); its days are lost"


def _connect(client: Callable[..., Any], scheduler: str | None) -> Any:
    try:
        return client(scheduler, timeout=SCHEDULER_TIMEOUT)
    except (OSError, ValueError, TypeError, AssertionError) as error:  # Dask's words for a bad address
        detail = str(error) or "not a scheduler address"
        raise SchedulerError(
            f"--scheduler {scheduler}: cannot connect ({detail}); check the address and that the "
            "scheduler is running"
        ) from None


@dataclass(frozen=True)
class _BatchTask:
    """What a worker does with a Batch: run it and prepare each run, as [(position, prepared
    run)]. The same worker processes as single runs (`_Worker`) run batches, so a batch whose
    process dies loses its own runs alone (`--resume` runs them again)."""

    time_limit: float | None
    prepare: Callable[[Run], Any] | None

    def __call__(self, batch: Batch) -> list[tuple[int, Any]]:
        return self.finish(self.run(batch))

    def run(self, batch: Batch) -> list[tuple[int, Run]]:
        return list(zip(batch.positions, run_batch(batch, self.time_limit), strict=True))

    def finish(self, runs: list[tuple[int, Run]]) -> list[tuple[int, Any]]:
        return [(position, self.prepare(run) if self.prepare else run) for position, run in runs]

    def limit(self, batch: Batch) -> float | None:
        return batch_limit(batch, self.time_limit)

    def alone(self, batch: Batch) -> bool:
        return False  # built-in code only

    def lost(self, batch: Batch, reason: str, seconds: float, died: bool) -> list[tuple[int, Any]]:
        seconds /= len(batch.replications)
        jobs = batch_jobs(batch)
        return self.finish(
            [(p, lost_run(job, reason, seconds, died)) for p, job in zip(batch.positions, jobs, strict=True)]
        )


def _run_batches(
    batches: list[Batch],
    workers: int,
    executor: str,
    scheduler: str | None,
    time_limit: float | None,
    prepare: Callable[[Run], Any] | None,
) -> Iterator[tuple[int, Any]]:
    """Batches of the learning engine (built-in code only) shared out by our worker processes or Dask."""
    task = _BatchTask(time_limit, prepare)
    if workers == 1 or len(batches) == 1:
        for batch in batches:
            yield from task(batch)
    elif executor == "local":
        for _, done in _run_in_processes(batches, min(workers, len(batches)), task):
            yield from done
    else:
        for _, done in _run_on_dask(batches, workers, scheduler if executor == "dask" else None, task):
            yield from done


def _run_on_dask(
    items: list[Any], workers: int, scheduler: str | None, task: _Task | _BatchTask
) -> Iterator[tuple[int, Any]]:
    """`task` on each item on a Dask cluster; yields (position in `items`, what it returned).
    An item whose workers all died running it (Dask tries it on a few) is lost, as with our
    own workers: `--resume` runs it again."""
    import dask  # only when asked for
    from dask.distributed import Client, KilledWorker, LocalCluster, as_completed

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
            client = stack.enter_context(_connect(Client, scheduler))
        futures = client.map(task, items, pure=False)
        positions = {future.key: i for i, future in enumerate(futures)}
        try:
            for future in as_completed(futures):
                position = positions[future.key]
                try:
                    result = future.result()
                except KilledWorker as error:
                    result = task.lost(items[position], _dask_death(error), 0.0, died=True)
                yield position, result
                future.release()  # so the workers drop the run's ledger instead of holding every one
        finally:
            client.cancel(futures)
