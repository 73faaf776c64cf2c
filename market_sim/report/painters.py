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

from market_sim import loading

if TYPE_CHECKING:
    from market_sim.report.data import Results

# the run report's figures, the dearest first (so that painters share the load evenly); each is
# a function of market_sim.report.plots, named as report.html's sections use it
FIGURES = (
    "price_response",
    "stock",
    "fairness",
    "price_paths",
    "segments",
    "profit_difference",
    "cumulative_profit",
    "price_distribution",
)

# the time charts: drawn from the scenario, the strategies, the baseline, theory and
# `Results.figures` alone (what `report.chart_results` holds), so they can begin first
CHARTS = ("stock", "price_paths", "profit_difference", "cumulative_profit", "price_distribution")

# what each figure roughly costs to draw once made ahead (CPU milliseconds: the holiday market's,
# four strategies; price response, the linear-demand market's), to share them out among painters
EFFORT = {
    "price_response": 110,
    "stock": 105,
    "fairness": 90,
    "price_paths": 80,
    "segments": 65,
    "profit_difference": 50,
    "cumulative_profit": 45,
    "price_distribution": 45,
}

INTERRUPTS = {signal.SIGINT, signal.SIGTERM}
PATIENCE = 600.0  # seconds without a figure drawn before `draw` gives up on a figure process
PROCESS_NAME = "msim-painter"  # as `ps` and /proc/PID/comm show a painter (Linux)


class FigureError(RuntimeError):
    """A figure that could not be drawn (the message names it and says why)."""


class Painters:
    """`count` painter processes; `draw(results)` gives every figure of the report (by name, a
    PNG data URI or None). Use it as a context manager, or call `close()`. `patience`: seconds
    `draw` waits for the next figure before it stops the painters still drawing (a figure
    process that hangs) and says so."""

    def __init__(self, count: int, patience: float = PATIENCE):
        from market_sim.executors import start_method  # the one place that decides how workers start

        context = start_method()
        self._painters = [_Painter(context) for _ in range(max(1, count))]
        self._patience = patience
        self._begun: Results | None = None  # the results being drawn
        self._waiting: list[str] = []  # figures not handed out yet
        self._busy: dict[multiprocessing.connection.Connection, _Painter] = {}
        self._gone: str | None = None  # why `begin` found a painter dead, raised by `draw`
        self._shares: dict[multiprocessing.connection.Connection, tuple[str, ...]] = {}  # see `expect`
        self._message: bytes | None = None  # the results begun, pickled once for the painters
        self._holding: dict[multiprocessing.connection.Connection, Results] = {}  # what each was sent
        self._found: dict[str, str | None] = {}  # the figures of the results begun drawn so far

    def expect(self, strategies: int, segments: int, stock: bool) -> None:
        """Have each painter make ahead the blank figures of its share of a report of
        `strategies` strategies in a market of `segments` segments, whose focal seller has
        limited `stock` or not (`plots.prepare`), while this process goes on; `draw` then hands
        each painter its share first."""
        drawn = drawn_figures(strategies, segments, stock)
        try:
            for painter, share in zip(self._painters, shares(len(self._painters), drawn), strict=True):
                self._shares[painter.connection] = share
                painter.send(("prepare", (strategies, segments, stock, share)))
        except FigureError as error:  # a painter died: `draw` says so, where the report copes
            self._gone = str(error)

    def begin(self, results: Results) -> None:
        """Send the results and a first figure to each painter, and return at once: the figures
        are drawn while this process goes on (`draw` collects them). Results from
        `report.chart_results` (no summary) begin the time charts only (`CHARTS`); the whole
        results of the same run (the same figure data), given next to `begin` or `draw`, then
        add the other figures."""
        if self._begun is results or not results.strategies:  # begun already, or nothing to draw
            self.poll()
            return
        charts, started = results.summary is None, self._begun
        charted = started is not None and started.summary is None  # time charts begun
        if charted and not charts and started.figures is results.figures:
            self._begun, self._message = results, None  # the same run, its summaries ready now
            self._waiting += [name for name in FIGURES if name not in CHARTS]
        else:
            self._drain()  # figures of other results still being drawn are not wanted any more
            self._begun, self._message, self._busy, self._found = results, None, {}, {}
            self._waiting = [name for name in FIGURES if name in CHARTS or not charts]
            self._holding = {}
        self.poll()

    def poll(self) -> None:
        """Take the figures drawn by now and give their painters the next ones, without waiting:
        called now and then while this process writes the tables, so that no painter waits for
        `draw` with nothing to do."""
        if self._begun is None or self._gone is not None:
            return
        try:
            self._collect(multiprocessing.connection.wait(list(self._busy), timeout=0))
            self._hand_out()
        except FigureError as error:  # a painter died or a figure failed: `draw` says so
            self._gone, self._waiting = str(error), []

    def _collect(self, ready: list) -> None:
        """The figures of the painters `ready` (connections) to answer."""
        for connection in ready:
            name, uri, error = self._busy.pop(connection).receive()
            if error is not None:
                raise FigureError(f"the {name} figure could not be drawn: {error}")
            self._found[name] = uri

    def draw(self, results: Results) -> dict[str, str | None]:
        """Every figure of `results` (begun now unless `begin` was given these results)."""
        if not results.strategies:  # no strategy finished: nothing to draw
            return dict.fromkeys(FIGURES)
        if self._begun is not results:
            self.begin(results)
        try:
            if self._gone is not None:
                gone, self._gone = self._gone, None
                raise FigureError(gone)
            while self._busy:
                ready = multiprocessing.connection.wait(list(self._busy), timeout=self._patience)
                if not ready:
                    self._stop_busy()
                self._collect(ready)
                self._hand_out()
        except BaseException:
            self._drain()  # the painters stay usable
            raise
        finally:
            self._begun = None
        return {name: self._found[name] for name in FIGURES}

    def _stop_busy(self) -> None:
        """Stop the painters that are drawing (they hang) and say which figures are lost."""
        lost = [painter.drawing for painter in self._busy.values()]
        for painter in self._busy.values():
            painter.stop()
        self._busy, self._waiting = {}, []
        raise FigureError(
            f"no figure was drawn in {self._patience:g} s: the figure processes drawing "
            f"{', '.join(lost)} were stopped"
        )

    def _drain(self) -> None:
        """Hand out nothing more and let the painters finish what they hold."""
        self._waiting = []
        for painter in self._busy.values():
            with contextlib.suppress(FigureError):
                painter.receive()
        self._busy = {}

    def _hand_out(self) -> None:
        """A figure to each free painter: the first waiting of its share (or of nobody's), else
        the first waiting; with the results first if it does not hold them yet (it is free: it
        reads them at once)."""
        owned = {name for share in self._shares.values() for name in share}
        for painter in self._painters:
            if self._waiting and painter.connection not in self._busy:
                share = self._shares.get(painter.connection, ())
                mine = (name for name in self._waiting if name in share or name not in owned)
                name = next(mine, self._waiting[0])
                self._waiting.remove(name)
                if self._holding.get(painter.connection) is not self._begun:
                    painter.send(("results", self._pickled()))
                    self._holding[painter.connection] = self._begun
                painter.send(("draw", name))
                painter.drawing = name
                self._busy[painter.connection] = painter

    def _pickled(self) -> bytes:
        """The results begun, as sent to the painters (pickled once)."""
        import cloudpickle  # the theory curves are closures: a fork server's painters get them by value

        if self._message is None:
            self._message = cloudpickle.dumps(_without_rows(self._begun))
        return self._message

    def close(self) -> None:
        for painter in self._painters:  # all told first: they wind down together
            painter.stop()
        for painter in self._painters:
            painter.end()

    def __enter__(self) -> Painters:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


def drawn_figures(strategies: int, segments: int, stock: bool) -> tuple[str, ...]:
    """The figures a report of `strategies` strategies in a market of `segments` segments, whose
    focal seller has limited `stock` or not, is expected to draw (price response: only for a
    closed form, which is not known ahead; it goes to whichever painter is free)."""
    absent = {"price_response"}
    absent |= set() if stock else {"stock"}
    absent |= set() if strategies > 1 else {"profit_difference"}
    absent |= set() if segments > 1 else {"segments"}
    return tuple(name for name in FIGURES if name not in absent)


def shares(count: int, names: tuple[str, ...] = FIGURES) -> list[tuple[str, ...]]:
    """The figures `names` split among `count` painters by their EFFORT, each share the dearest
    first: between two painters the split whose larger share is least (there are few figures:
    every split is tried), among more each figure, the dearest first, to the least loaded."""
    if count == 2:
        splits = (
            [tuple(name for i, name in enumerate(names) if mask >> i & 1 == side) for side in (0, 1)]
            for mask in range(2 ** len(names))
        )
        return min(splits, key=lambda split: max(sum(EFFORT[name] for name in share) for share in split))
    loads, split = [0.0] * count, [[] for _ in range(count)]
    for name in sorted(names, key=EFFORT.get, reverse=True):
        least = loads.index(min(loads))
        loads[least] += EFFORT[name]
        split[least].append(name)
    return [tuple(share) for share in split]


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
        self.drawing = ""  # the figure it was last given
        self.process = context.Process(
            target=_paint, args=(theirs, self.connection), name="market-sim painter", daemon=True
        )
        # forked with interrupts held: until the painter has set its own handlers, a SIGTERM
        # must not reach the handler it inherits (which may note it and go on)
        held = signal.pthread_sigmask(signal.SIG_BLOCK, INTERRUPTS)
        try:
            self.process.start()
        finally:
            signal.pthread_sigmask(signal.SIG_SETMASK, held)
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

    def stop(self) -> None:
        """End the process now (it holds nothing to save: no need to let it wind down)."""
        self.connection.close()
        self.process.kill()

    def end(self) -> None:
        if not self.connection.closed:
            self.stop()
        self.process.join()


def _paint(
    connection: multiprocessing.connection.Connection, command: multiprocessing.connection.Connection
) -> None:
    """A painter: import matplotlib and load its fonts now, then draw what it is asked for.
    `command`: the command's end of the pipe, closed here so that the painter reads the end of
    it when the command is gone, however it ended."""
    command.close()
    signal.signal(signal.SIGINT, signal.SIG_IGN)  # the command decides what an interrupt does
    signal.signal(signal.SIGTERM, signal.SIG_DFL)
    signal.pthread_sigmask(signal.SIG_UNBLOCK, INTERRUPTS)
    _call_it(PROCESS_NAME)
    with loading.libraries():  # matplotlib: its objects kept out of the collections while drawing
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
