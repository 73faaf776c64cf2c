"""Processes that draw the report's figures, started before the figures are wanted.

`market-sim run` starts them as the runs begin and `market-sim report DIR` before it reads the
tables: each imports matplotlib and loads its fonts while the command is busy elsewhere, and
(`expect`) makes the blank figures the report will ask for, then waits. When the results are
ready they are sent once to every painter (without the big daily and segment tables: the
figures draw `Results.figures`), and the figures are handed out one at a time, the dearest
first, to whichever painter is free. This module imports neither matplotlib nor pandas, so a
command that holds painters need not import them itself.

No thread is started here: a process that keeps painters can still fork its run workers.
"""

from __future__ import annotations

import contextlib
import dataclasses
import multiprocessing
import multiprocessing.connection
import signal
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from market_sim.report.data import Results

# the run report's figures, the dearest first (so that painters share the load evenly); each is
# a function of market_sim.report.plots, named as report.html's sections use it
FIGURES = (
    "stock",
    "price_paths",
    "fairness",
    "cumulative_profit",
    "profit_difference",
    "price_distribution",
    "segments",
    "price_response",
)


# what each figure roughly costs to draw (the holiday market's, in tenths of a CPU second), to
# share them out among painters told what to expect
EFFORT = {
    "stock": 2.4,
    "price_paths": 2.1,
    "fairness": 2.4,
    "cumulative_profit": 1.1,
    "profit_difference": 1.2,
    "price_distribution": 1.1,
    "segments": 1.6,
    "price_response": 1.0,
}

PROCESS_NAME = "msim-painter"  # as `ps` and /proc/PID/comm show a painter (Linux)


class FigureError(RuntimeError):
    """A figure that could not be drawn (the message names it and says why)."""


class Painters:
    """`count` painter processes; `draw(results)` gives every figure of the report (by name, a
    PNG data URI or None). Use it as a context manager, or call `close()`."""

    def __init__(self, count: int):
        from market_sim.executors import start_method  # the one place that decides how workers start

        context = start_method()
        self._painters = [_Painter(context) for _ in range(max(1, count))]
        self._begun: Results | None = None  # the results being drawn
        self._waiting: list[str] = []  # figures not handed out yet
        self._busy: dict[multiprocessing.connection.Connection, _Painter] = {}
        self._gone: str | None = None  # why `begin` found a painter dead, raised by `draw`
        self._shares: dict[multiprocessing.connection.Connection, tuple[str, ...]] = {}  # see `expect`

    def expect(self, strategies: int, segments: int, stock: bool) -> None:
        """Have each painter make ahead the blank figures of its share of a report of
        `strategies` strategies in a market of `segments` segments, whose focal seller has
        limited `stock` or not (`plots.prepare`), while this process goes on; `draw` then hands
        each painter its share first."""
        try:
            for painter, share in zip(self._painters, shares(len(self._painters)), strict=True):
                self._shares[painter.connection] = share
                painter.send(("prepare", (strategies, segments, stock, share)))
        except FigureError as error:  # a painter died: `draw` says so, where the report copes
            self._gone = str(error)

    def begin(self, results: Results) -> None:
        """Send the results and a first figure to each painter, and return at once: the figures
        are drawn while this process goes on (`draw` collects them)."""
        import cloudpickle  # the theory curves are closures: a fork server's painters get them by value

        if self._begun is results or not results.strategies:  # begun already, or nothing to draw
            return
        self._drain()  # figures of other results still being drawn are not wanted any more
        message = cloudpickle.dumps(_without_rows(results))
        self._begun, self._waiting, self._busy = results, list(FIGURES), {}
        try:
            for painter in self._painters:
                painter.send(("results", message))
            self._hand_out()
        except FigureError as error:  # a painter died: `draw` says so, where the report copes
            self._gone, self._waiting = str(error), []

    def draw(self, results: Results) -> dict[str, str | None]:
        """Every figure of `results` (begun now unless `begin` was given these results)."""
        if not results.strategies:  # no strategy finished: nothing to draw
            return dict.fromkeys(FIGURES)
        if self._begun is not results:
            self.begin(results)
        found: dict[str, str | None] = {}
        try:
            if self._gone is not None:
                gone, self._gone = self._gone, None
                raise FigureError(gone)
            while self._busy:
                for connection in multiprocessing.connection.wait(list(self._busy)):
                    name, uri, error = self._busy.pop(connection).receive()
                    if error is not None:
                        raise FigureError(f"the {name} figure could not be drawn: {error}")
                    found[name] = uri
                self._hand_out()
        except BaseException:
            self._drain()  # the painters stay usable
            raise
        finally:
            self._begun = None
        return {name: found[name] for name in FIGURES}

    def _drain(self) -> None:
        """Hand out nothing more and let the painters finish what they hold."""
        self._waiting = []
        for painter in self._busy.values():
            with contextlib.suppress(FigureError):
                painter.receive()
        self._busy = {}

    def _hand_out(self) -> None:
        """A figure to each free painter: the first waiting of its share, else the first waiting."""
        for painter in self._painters:
            if self._waiting and painter.connection not in self._busy:
                share = self._shares.get(painter.connection, ())
                name = next((name for name in self._waiting if name in share), self._waiting[0])
                self._waiting.remove(name)
                painter.send(("draw", name))
                self._busy[painter.connection] = painter

    def close(self) -> None:
        for painter in self._painters:
            painter.end()

    def __enter__(self) -> Painters:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


def shares(count: int) -> list[tuple[str, ...]]:
    """The figures split among `count` painters by their EFFORT: each, the dearest first, to
    the painter with the least so far."""
    loads, split = [0.0] * count, [[] for _ in range(count)]
    for name in FIGURES:
        least = loads.index(min(loads))
        loads[least] += EFFORT[name]
        split[least].append(name)
    return [tuple(names) for names in split]


def draw_all(results: Results, workers: int | Painters = 1) -> dict[str, str | None]:
    """Every figure of the report: on `Painters` already started, on up to `workers` new
    painter processes, or here (`workers` 1)."""
    if not results.strategies:  # no strategy finished: nothing to draw
        return dict.fromkeys(FIGURES)
    if isinstance(workers, Painters):
        return workers.draw(results)
    if workers <= 1:
        from market_sim.report import plots

        return {name: getattr(plots, name)(results) for name in FIGURES}
    with Painters(min(workers, len(FIGURES))) as painters:
        return painters.draw(results)


def _without_rows(results: Results) -> Results:
    """The results a figure needs: the daily and segment tables left out (they are drawn from
    `results.figures`, computed once)."""
    empty = type(results.scores)()  # an empty DataFrame, without importing pandas here
    return dataclasses.replace(results, daily=empty, segments=empty)


class _Painter:
    """One painter process and the pipe to it."""

    def __init__(self, context: multiprocessing.context.BaseContext):
        self.connection, theirs = context.Pipe()
        self.process = context.Process(target=_paint, args=(theirs,), name="market-sim painter", daemon=True)
        self.process.start()
        theirs.close()

    def send(self, message: tuple) -> None:
        try:
            self.connection.send(message)
            return
        except OSError as error:
            problem = str(error)
        # raised here, not in the handler: nothing keeps the failed send's frames (and the
        # buffer they export) alive, which CPython may free in the wrong order later
        raise FigureError(f"a figure process is gone ({problem})")

    def receive(self) -> tuple[str, str | None, str | None]:
        try:
            return self.connection.recv()
        except (EOFError, OSError):
            raise FigureError(f"a figure process died (exit status {self.process.exitcode})") from None

    def end(self) -> None:
        self.connection.close()
        self.process.terminate()  # it holds nothing to save: no need to wait for it to wind down
        self.process.join()


def _paint(connection: multiprocessing.connection.Connection) -> None:
    """A painter: import matplotlib and load its fonts now, then draw what it is asked for."""
    signal.signal(signal.SIGINT, signal.SIG_IGN)  # the command decides what an interrupt does
    signal.signal(signal.SIGTERM, signal.SIG_DFL)
    _call_it(PROCESS_NAME)
    from market_sim.report import plots

    plots.warm_up()
    results = None
    while True:
        try:
            message = connection.recv()
        except (EOFError, OSError):  # the command is gone
            return
        if message is None:
            return
        what, value = message
        if what == "results":
            import cloudpickle

            results = cloudpickle.loads(value)
            continue
        if what == "prepare":
            with contextlib.suppress(Exception):  # else each figure is made when it is asked for
                plots.prepare(*value)
            continue
        try:
            connection.send((value, getattr(plots, value)(results), None))
        except Exception as error:  # the command decides: report.html then holds the ranking and why
            connection.send((value, None, repr(error)))


def _call_it(name: str) -> None:
    """Name this process for `ps` and /proc/PID/comm (Linux's prctl PR_SET_NAME), so that a
    painter is told from a run worker; elsewhere nothing happens."""
    try:
        import ctypes

        ctypes.CDLL(None, use_errno=True).prctl(15, name.encode()[:15], 0, 0, 0)
    except (OSError, AttributeError):
        pass
