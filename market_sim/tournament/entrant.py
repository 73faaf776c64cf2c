"""The tournament's side of an entrant: its process, the limits it is held to, and the seat
proxy that forwards a seller's questions to it.

Each entrant runs in its own process (`host.py`), started once for the whole tournament with a
clean interpreter; every match gives it a fresh copy of its module and a fresh strategy. It
is sent only what its seller may see: the public facts before day 0, each morning the
calendar, its own stock and yesterday's own results and rivals' prices, each evening its
own result. Every request must be answered within the time limit, the process lives within
its memory limit, and what it prints is counted; the first breach disqualifies it.
"""

from __future__ import annotations

import contextlib
import json
import math
import os
import selectors
import signal
import subprocess
import sys
import tempfile
import time
import typing
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from strategies.base import DayResult, MarketInfo, Observation, Prices, PricingStrategy

HOST = Path(__file__).with_name("host.py")
MiB = 1 << 20
MAX_REPLY = 64 * 1024  # bytes of one answer: a price decision is far smaller
STARTUP_SECONDS = 30.0  # to start the interpreter and load the entrant's file
TAIL = 2000  # characters of an entrant's output kept to explain a crash


@dataclass(frozen=True)
class Limits:
    """What every entrant is held to."""

    seconds: float = 2.0  # per decision (reset, price, and posted with observe in the evening)
    memory: int = 1024 * MiB  # address space of its process, in bytes
    output: int = 1 * MiB  # bytes it may print in one match


class Disqualified(Exception):
    """An entrant broke a rule or failed; the message says how."""


class Entrant:
    """One entrant's file and process. `failure` holds the reason once it is disqualified."""

    def __init__(self, path: Path, limits: Limits, index: int):
        self.path, self.limits, self.index = path, limits, index
        self.name = path.stem
        self.strategy = ""  # its class's name, once loaded
        self.failure: str | None = None
        self._process: subprocess.Popen | None = None
        self._folder: tempfile.TemporaryDirectory | None = None
        self._buffer = b""
        self._printed = 0
        self._tail = b""

    def start(self) -> None:
        """Start the process and send it the entrant's file (`ready` waits for its check)."""
        try:
            source = self.path.read_text(encoding="utf-8")
        except (OSError, UnicodeDecodeError) as error:
            self.disqualify(f"cannot read the file: {error}")
            return
        self._folder = tempfile.TemporaryDirectory(prefix="entrant-")
        self._process = subprocess.Popen(
            [sys.executable, "-I", "-B", str(HOST)],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            cwd=self._folder.name,
            env={"PATH": os.defpath, "LANG": "C.UTF-8", "OPENBLAS_NUM_THREADS": "1", "OMP_NUM_THREADS": "1"},
            start_new_session=True,  # its own process group, so everything it starts can be stopped
        )
        self._selector = selectors.DefaultSelector()
        self._selector.register(self._process.stdout, selectors.EVENT_READ)
        self._selector.register(self._process.stderr, selectors.EVENT_READ)
        self._send({"memory": self.limits.memory, "source": source})
        self._send({"op": "check"})

    def ready(self) -> None:
        """Wait until the file is loaded and its strategy made (or the entrant is disqualified)."""
        if self.failure is not None:
            return
        with contextlib.suppress(Disqualified):  # recorded in `failure`
            self.strategy = str(self._answer(self._reply("loading", STARTUP_SECONDS), "loading"))[:100]

    def call(self, op: str, what: str, **payload: Any) -> Any:
        """Ask the entrant something and return its answer; a failure disqualifies it."""
        if self.failure is not None:
            raise Disqualified(self.failure)
        self._send({"op": op, **payload})
        return self._answer(self._reply(what, self.limits.seconds), what)

    def _answer(self, reply: dict, what: str) -> Any:
        if "error" in reply:
            kind = reply.get("kind")
            reason = {
                "memory": f"ran out of memory ({self.limits.memory // MiB} MiB) in {what}",
                "forbidden": f"{reply['error']} in {what}",
                "nonsense": f"answered nonsense in {what}: {reply['error']}",
                "not a strategy": f"not a strategy: {reply['error']}",
            }.get(kind, f"crashed in {what}: {reply['error']}")
            self.fail(reason)
        if "ok" not in reply:
            self.fail(f"sent a malformed answer in {what}")
        return reply["ok"]

    def new_match(self) -> None:
        self._printed = 0

    def disqualify(self, reason: str) -> None:
        """Record the first reason and stop the process."""
        if self.failure is None:
            self.failure = reason
            self.stop()

    def fail(self, reason: str) -> typing.NoReturn:
        """Disqualify, and raise Disqualified to end the match."""
        self.disqualify(reason)
        raise Disqualified(self.failure)

    def stop(self) -> None:
        """End the process (and anything it started)."""
        if self._process is None:
            return
        process, self._process = self._process, None
        with contextlib.suppress(OSError):
            os.killpg(process.pid, signal.SIGKILL)
        process.wait()
        self._selector.close()
        for stream in (process.stdin, process.stdout, process.stderr):
            with contextlib.suppress(OSError):
                stream.close()
        self._folder.cleanup()

    def _send(self, message: dict) -> None:
        try:
            self._process.stdin.write(json.dumps(message).encode() + b"\n")
            self._process.stdin.flush()
        except (BrokenPipeError, OSError):
            self._died("before answering")

    def _reply(self, what: str, seconds: float) -> dict:
        """Wait for one answer line, reading its output meanwhile."""
        deadline = time.monotonic() + seconds
        while b"\n" not in self._buffer:
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                self.fail(f"took longer than {seconds:g} s in {what}")
            for key, _ in self._selector.select(remaining):
                chunk = os.read(key.fd, 65536)
                if key.fileobj is self._process.stderr:
                    self._printed += len(chunk)
                    self._tail = (self._tail + chunk)[-TAIL:]
                    if self._printed > self.limits.output:
                        self.fail(f"printed more than {_size(self.limits.output)} in {what}")
                    if not chunk:
                        self._selector.unregister(key.fileobj)
                elif not chunk:
                    self._died(f"in {what}")
                else:
                    self._buffer += chunk
                    if len(self._buffer) > MAX_REPLY:
                        self.fail(f"sent a malformed answer in {what} (too long)")
        line, _, self._buffer = self._buffer.partition(b"\n")
        try:
            reply = json.loads(line)
        except ValueError:
            reply = None
        if not isinstance(reply, dict):
            self.fail(f"sent a malformed answer in {what}")
        return reply

    def _died(self, what: str) -> typing.NoReturn:
        """Its answers stopped: say how the process ended (or that it hung up and lives on)."""
        try:
            status = self._process.wait(timeout=5)
        except subprocess.TimeoutExpired:
            self.fail(f"closed its answer channel {what}")
        lines = self._tail.decode(errors="replace").strip().splitlines()
        last = f": {lines[-1][:200]}" if lines else ""
        if status < 0:
            name = signal.Signals(-status).name if -status in signal.valid_signals() else str(-status)
            cause = f"killed by signal {name}"
        else:
            cause = f"exited with status {status}"
        self.fail(f"its process {cause} {what}{last}")


class Seat(PricingStrategy):
    """A seller's strategy in a match: forwards every call to an entrant's process, sending
    only what that seller may see."""

    def __init__(self, entrant: Entrant, seed: list[int]):
        super().__init__()
        self.entrant, self.seed = entrant, seed
        self.segments: tuple[str, ...] = ()
        self.today: Prices | None = None

    def reset(self, info: MarketInfo) -> None:
        self.entrant.new_match()
        self.segments = tuple(info.segments)
        guardrails = info.guardrails
        self.entrant.call(
            "match",
            "reset",
            info={
                "seller": info.seller,
                "unit_cost": info.unit_cost,
                "days": info.days,
                "start_date": info.start_date.isoformat() if info.start_date else None,
                "rivals": list(info.rivals),
                "segments": dict(info.segments),
                "events": [[e.name, e.first_day, e.days] for e in info.events],
                "seed": self.seed,
                "guardrails": None
                if guardrails is None
                else {
                    "min_price": guardrails.min_price,
                    "max_price": guardrails.max_price,
                    "max_daily_change": guardrails.max_daily_change,
                    "max_segment_ratio": guardrails.max_segment_ratio,
                },
            },
        )

    def price(self, obs: Observation) -> Prices:
        day = obs.day
        message = {
            "day": day,
            "weekday": obs.weekday,
            "date": obs.date.isoformat() if obs.date else None,
            "days_left": obs.days_left,
            "events_today": list(obs.events_today),
            "stock": None if math.isinf(obs.stock) else obs.stock,
            "on_order": [list(order) for order in obs.on_order],
            "yesterday": self._yesterday(obs) if day > 0 else None,
            "rival_prices": {name: float(prices[-1]) for name, prices in obs.rival_prices.items() if day > 0},
        }
        answer = self.entrant.call("price", f"price() on day {day}", obs=message)
        try:
            return _prices(answer)
        except ValueError as error:
            self.entrant.fail(f"sent a malformed answer in price() on day {day}: {error}")

    def _yesterday(self, obs: Observation) -> dict:
        """Yesterday's own results in the layout the host's ledger keeps: per observable segment
        (all shoppers in the first column), then one column that completes the totals by new
        and returning customers."""
        history = obs.history

        def last(values: Any) -> Any:
            return values[-1].item()

        def columns(by_segment: Any, new: Any, returning: Any) -> list[list[float]]:
            rows = [[last(by_segment[name]), 0] for name in self.segments]
            return [*rows, [last(new) - sum(row[0] for row in rows), last(returning)]]

        return {
            "price": last(history.prices),
            "shoppers": last(history.views),
            "units": last(history.units),
            "revenue": last(history.revenue),
            "lost_sales": last(history.lost_sales),
            "views": columns(history.segment_views, history.new_views, history.returning_views),
            "segment_units": columns(history.segment_units, history.new_units, history.returning_units),
            "segment_revenue": [[last(history.segment_revenue[name]), 0.0] for name in self.segments]
            + [[0.0, 0.0]],
        }

    def posted(self, prices: Prices) -> None:
        self.today = prices  # sent with the evening's result: one round trip less a day

    def observe(self, result: DayResult) -> None:
        self.entrant.call(
            "evening",
            f"posted() or observe() on day {result.day}",
            prices=_prices_data(self.today),
            result={
                "day": result.day,
                "price": result.price,
                "views": result.views,
                "units": result.units,
                "revenue": result.revenue,
                "lost_sales": result.lost_sales,
                "stock": result.stock,
            },
        )


def _prices(answer: Any) -> Prices:
    """The host's answer as Prices; the engine then checks the numbers."""
    try:
        return Prices(
            base=_number(answer["base"]),
            segments={str(k): _number(v) for k, v in dict(answer["segments"]).items()},
            coupon_new=_number(answer["coupon_new"]),
            coupon_returning=_number(answer["coupon_returning"]),
            reason=str(answer["reason"]),
        )
    except (TypeError, KeyError) as error:
        raise ValueError(f"{type(error).__name__}: {error}") from None


def _number(value: Any) -> float:
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise ValueError(f"{value!r} is not a number")
    return float(value)


def _prices_data(prices: Prices) -> dict:
    return {
        "base": prices.base,
        "segments": dict(prices.segments),
        "coupon_new": prices.coupon_new,
        "coupon_returning": prices.coupon_returning,
        "reason": prices.reason,
    }


def _size(size: int) -> str:
    return f"{size / MiB:g} MiB" if size >= MiB else f"{size:,} bytes"
