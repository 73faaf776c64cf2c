"""The program each tournament entrant runs in: a clean interpreter, one strategy, JSON lines.

Started by `market_sim.tournament.entrant` as `python -I -B host.py`, with an empty working
folder and an almost empty environment. It imports nothing of the simulator but the strategy
API, so there is no model, population or scenario in its memory to find. The first message
brings the limits and the entrant's source; from then on it answers one request at a time:

    {"op": "match", "info": {...}}          a new match: a fresh copy of the module and a fresh
                                            strategy, then `reset(info)`
    {"op": "price", "obs": {...}}           `price(obs)`; the answer is the decision
    {"op": "posted", "prices": {...}}       `posted(prices)` with the prices after guardrails
    {"op": "observe", "result": {...}}      `observe(result)`

Every answer is one line: {"ok": ...} or {"error": "...", "kind": "..."}. What the entrant
prints goes to standard error (the parent counts it); the protocol keeps private copies of
standard input and output.

Before the entrant's code runs, the host lowers its own limits (address space, file size 0 so
it cannot write files, no core dumps) and installs an audit hook (PEP 578) that refuses
opening or listing anything outside the Python installation, starting programs, opening
sockets, sending signals, loading C libraries through ctypes, and changing limits; the first
refusal is reported and disqualifies the entrant even if its code catches the error. The hook
is a tripwire for Python code, not a sandbox: see the README's threat model.
"""

from __future__ import annotations

import datetime as dt
import importlib.util
import json
import math
import os
import resource
import sys
import traceback
import types
from types import MappingProxyType
from typing import Any

import numpy as np

MODULE = "entrant"  # the name the entrant's file is loaded under
FILENAME = "<entrant>"  # its name in tracebacks
MAX_REASON = 200  # characters of a strategy's `reason` passed on
ALLOWED_FILES = ("/dev/null", "/dev/urandom", "/etc/localtime", "/proc/cpuinfo", "/proc/meminfo")
ALLOWED_FOLDERS = ("/usr/share/zoneinfo", "/sys/fs/cgroup", "/sys/devices/system/cpu", "/proc/self")
FORBIDDEN = {  # audit event -> what the entrant tried to do
    "os.system": "start a program",
    "os.exec": "start a program",
    "os.posix_spawn": "start a program",
    "os.spawn": "start a program",
    "os.fork": "start a process",
    "os.forkpty": "start a process",
    "subprocess.Popen": "start a program",
    "pty.spawn": "start a program",
    "socket.__new__": "open a network socket",
    "os.kill": "send a signal",
    "os.killpg": "send a signal",
    "ctypes.dlopen": "load a C library",
    "ctypes.dlsym": "reach into a C library",
    "resource.setrlimit": "change its limits",
    "resource.prlimit": "change its limits",
    "sys.addaudithook": "install an audit hook",
    "os.remove": "delete a file",
    "os.rename": "rename a file",
    "os.mkdir": "make a folder",
}
WRITE_FLAGS = os.O_WRONLY | os.O_RDWR | os.O_CREAT | os.O_APPEND | os.O_TRUNC


def strategy_api() -> types.ModuleType:
    """The `strategies` package with only its API (`strategies.base`) loaded: the library (and
    scipy behind it) is loaded the first time an entrant asks for anything else."""
    spec = importlib.util.find_spec("strategies")
    package = importlib.util.module_from_spec(spec)
    sys.modules["strategies"] = package
    base = importlib.import_module("strategies.base")
    for name in ("DayResult", "MarketInfo", "Observation", "ParameterError", "Prices", "PricingStrategy"):
        setattr(package, name, getattr(base, name))

    def load_library(name: str) -> Any:
        del package.__getattr__
        spec.loader.exec_module(package)
        return getattr(package, name)

    package.__getattr__ = load_library
    return package


strategies = strategy_api()
base = sys.modules["strategies.base"]


class Refused(PermissionError):
    """An operation an entrant may not do."""


class Tripwire:
    """The audit hook: allows reading the Python installation, refuses the rest, and
    remembers the first refusal."""

    def __init__(self, roots: list[str]):
        self.roots = [os.path.join(os.path.realpath(root), "") for root in roots]
        self.roots += [os.path.join(folder, "") for folder in ALLOWED_FOLDERS]
        self.roots.append(os.path.join(f"/proc/{os.getpid()}", ""))
        self.violation: str | None = None

    def __call__(self, event: str, args: tuple) -> None:
        if event == "open":
            path, mode, flags = args
            writing = (mode is not None and any(c in mode for c in "wax+")) or (
                mode is None and isinstance(flags, int) and flags & WRITE_FLAGS
            )
            if isinstance(path, int):  # an already open descriptor
                return
            if writing:
                self.refuse(f"tried to write {os.fsdecode(path)}")
            self.check_path(path, "read")
        elif event in ("os.listdir", "os.scandir"):
            self.check_path(args[0] if args[0] is not None else ".", "list")
        elif event in FORBIDDEN:
            self.refuse(f"tried to {FORBIDDEN[event]} ({event})")

    def check_path(self, path: Any, verb: str) -> None:
        # Python looks for the entrant's source by its pseudo-name to show a syntax error (in
        # the empty working folder: it finds nothing)
        if isinstance(path, int) or os.fsdecode(path) == FILENAME:
            return
        real = os.path.realpath(os.fsdecode(path))
        if real in ALLOWED_FILES or any(os.path.join(real, "").startswith(root) for root in self.roots):
            return
        self.refuse(f"tried to {verb} {os.fsdecode(path)}")

    def refuse(self, what: str) -> None:
        if self.violation is None:
            self.violation = what
        raise Refused(f"not allowed in a tournament: {what}")


class Host:
    """Runs one entrant's strategy, one request at a time."""

    def __init__(self, source: str, tripwire: Tripwire):
        self.source, self.tripwire = source, tripwire
        self.strategy: Any = None
        self.info: Any = None
        self.ledger: MiniLedger | None = None
        self.observable: dict[str, int] = {}
        self.rival_prices: dict[str, list[float]] = {}

    def load(self) -> type:
        """Run a fresh copy of the entrant's file; return its first PricingStrategy subclass."""
        module = types.ModuleType(MODULE)
        module.__file__ = FILENAME
        sys.modules[MODULE] = module
        try:
            code = compile(self.source, FILENAME, "exec")
        except (SyntaxError, ValueError) as error:  # ValueError: a null byte in the source
            line = f" (line {error.lineno})" if getattr(error, "lineno", None) else ""
            raise NotAStrategy(
                f"the file is not valid Python: {getattr(error, 'msg', error)}{line}"
            ) from None
        exec(code, module.__dict__)
        for value in list(module.__dict__.values()):
            if (
                isinstance(value, type)
                and issubclass(value, strategies.PricingStrategy)
                and value.__module__ == MODULE
            ):
                return value
        raise NotAStrategy("the file defines no subclass of PricingStrategy")

    def check(self, message: dict) -> dict:
        cls = self.load()
        try:
            cls()
        except TypeError as error:  # it asks for arguments: a tournament gives none
            raise NotAStrategy(f"{cls.__name__}() cannot be made without arguments: {error}") from None
        return {"ok": cls.__name__}

    def match(self, message: dict) -> dict:
        cls = self.load()
        self.strategy = cls()
        self.info = market_info(message["info"])
        segments = list(self.info.segments)
        self.observable = {name: g for g, name in enumerate(segments)}
        self.ledger = MiniLedger(self.info.days, len(segments) + 1)
        self.rival_prices = {name: np.zeros(self.info.days) for name in self.info.rivals}
        self.strategy.reset(self.info)
        return {"ok": True}

    def price(self, message: dict) -> dict:
        obs = message["obs"]
        day = obs["day"]
        if day > 0:
            self.ledger.record(day - 1, obs["yesterday"])
            for name, price in obs["rival_prices"].items():
                self.rival_prices[name][day - 1] = price
        observation = base.Observation(
            day=day,
            weekday=obs["weekday"],
            date=dt.date.fromisoformat(obs["date"]) if obs["date"] else None,
            days_left=obs["days_left"],
            events_today=tuple(obs["events_today"]),
            info=self.info,
            stock=math.inf if obs["stock"] is None else obs["stock"],
            on_order=tuple((when, units) for when, units in obs["on_order"]),
            history=base.History(self.ledger, 0, day, MappingProxyType(self.observable)),
            rival_prices=MappingProxyType(
                {name: base._read_only(column[:day]) for name, column in self.rival_prices.items()}
            ),
        )
        return {"ok": decision(self.strategy.price(observation))}

    def evening(self, message: dict) -> dict:
        """The prices posted this morning (after any guardrails), then the day's result."""
        self.strategy.posted(prices(message["prices"]))
        self.strategy.observe(base.DayResult(**message["result"]))
        return {"ok": True}


class NotAStrategy(Exception):
    """The file has no usable PricingStrategy subclass."""


class Nonsense(Exception):
    """A strategy's answer that is not a price."""


class MiniLedger:
    """The entrant's own past in the layout `strategies.base.History` reads: one seller, the
    observable segments, and one more column that makes the totals by new and returning
    customers come out right (it holds no segment's data)."""

    def __init__(self, days: int, columns: int):
        detail = (days, 1, columns, 2)
        self.shoppers = np.zeros(days, dtype=np.int64)
        self.price = np.zeros((days, 1))
        self.units = np.zeros((days, 1), dtype=np.int64)
        self.revenue = np.zeros((days, 1))
        self.lost_sales = np.zeros((days, 1), dtype=np.int64)
        self.views = np.zeros(detail, dtype=np.int64)
        self.segment_units = np.zeros(detail, dtype=np.int64)
        self.segment_revenue = np.zeros(detail)

    def record(self, day: int, row: dict) -> None:
        self.shoppers[day] = row["shoppers"]
        for name in ("price", "units", "revenue", "lost_sales"):
            getattr(self, name)[day, 0] = row[name]
        for name in ("views", "segment_units", "segment_revenue"):
            getattr(self, name)[day, 0] = row[name]


def market_info(data: dict) -> Any:
    guardrails = data["guardrails"]
    return base.MarketInfo(
        seller=data["seller"],
        unit_cost=data["unit_cost"],
        days=data["days"],
        start_date=dt.date.fromisoformat(data["start_date"]) if data["start_date"] else None,
        rivals=tuple(data["rivals"]),
        segments=MappingProxyType(data["segments"]),
        events=tuple(base.PublicEvent(*event) for event in data["events"]),
        rng=np.random.default_rng(data["seed"]),
        guardrails=None if guardrails is None else types.SimpleNamespace(**guardrails),
    )


def decision(answer: Any) -> dict:
    """A strategy's answer as JSON: a number or `Prices`, anything else is nonsense."""
    if isinstance(answer, strategies.Prices):
        fields = {
            "base": answer.base,
            "segments": dict(answer.segments),
            "coupon_new": answer.coupon_new,
            "coupon_returning": answer.coupon_returning,
            "reason": answer.reason,
        }
    elif isinstance(answer, int | float | np.number) and not isinstance(answer, bool | np.bool_):
        fields = {"base": answer, "segments": {}, "coupon_new": 0.0, "coupon_returning": 0.0, "reason": ""}
    else:
        raise Nonsense(f"price() returned {short(repr(answer))}, not a number or Prices")
    for name in ("base", "coupon_new", "coupon_returning"):
        fields[name] = number(fields[name], name)
    fields["segments"] = {
        str(segment): number(value, f"the price of segment {segment!r}")
        for segment, value in fields["segments"].items()
    }
    if not isinstance(fields["reason"], str):
        raise Nonsense(f"Prices.reason is {short(repr(fields['reason']))}, not text")
    fields["reason"] = fields["reason"][:MAX_REASON]
    return fields


def number(value: Any, what: str) -> float:
    if isinstance(value, bool | np.bool_) or not isinstance(value, int | float | np.number):
        raise Nonsense(f"{what} is {short(repr(value))}, not a number")
    return float(value)


def prices(data: dict) -> Any:
    return strategies.Prices(
        base=data["base"],
        segments=MappingProxyType(data["segments"]),
        coupon_new=data["coupon_new"],
        coupon_returning=data["coupon_returning"],
        reason=data["reason"],
    )


def short(text: str, limit: int = 80) -> str:
    return text if len(text) <= limit else text[: limit - 1] + "…"


def failure(error: BaseException) -> dict:
    """An error as the parent reports it: what, and where in the entrant's file."""
    if isinstance(error, MemoryError):
        return {"error": "ran out of memory", "kind": "memory"}
    if isinstance(error, Nonsense):
        return {"error": str(error), "kind": "nonsense"}
    if isinstance(error, NotAStrategy):
        return {"error": str(error), "kind": "not a strategy"}
    # line numbers only: formatting a traceback would read the source files of every frame
    frames = traceback.walk_tb(error.__traceback__)
    lines = [line for frame, line in frames if frame.f_code.co_filename == FILENAME]
    where = f" (line {lines[-1]})" if lines else ""
    return {"error": short(f"{type(error).__name__}: {error}", 300) + where, "kind": "crashed"}


def limit_resources(memory: int) -> None:
    """Address space, no files written, no core dumps (lowered for good: a process without
    privileges cannot raise them again)."""
    for limit, value in (
        (resource.RLIMIT_AS, memory),
        (resource.RLIMIT_FSIZE, 0),
        (resource.RLIMIT_CORE, 0),
    ):
        resource.setrlimit(limit, (value, value))


def private_streams() -> tuple[Any, Any]:
    """The protocol's own copies of stdin and stdout; the entrant's prints go to stderr and its
    reads of stdin find nothing."""
    requests = os.fdopen(os.dup(0), "r", encoding="utf-8")
    replies = os.fdopen(os.dup(1), "w", encoding="utf-8")
    null = os.open(os.devnull, os.O_RDONLY)
    os.dup2(null, 0)
    os.close(null)
    os.dup2(2, 1)
    sys.stdin = open(0, encoding="utf-8", closefd=False)  # noqa: SIM115 (lives as long as the process)
    sys.stdout = sys.stderr
    return requests, replies


def main() -> None:
    requests, replies = private_streams()
    hello = json.loads(requests.readline())
    limit_resources(hello["memory"])
    # the Python installation and the simulator's own source (the strategy library imports parts
    # of it), never its state: nothing of the simulator is imported here unless the entrant asks
    simulator = importlib.util.find_spec("market_sim").submodule_search_locations
    roots = [
        sys.prefix,
        sys.base_prefix,
        sys.exec_prefix,
        sys.base_exec_prefix,
        *strategies.__path__,
        *simulator,
    ]
    sys.path[:] = [entry for entry in sys.path if any(entry.startswith(root) for root in roots)]
    tripwire = Tripwire(roots)
    sys.addaudithook(tripwire)
    host = Host(hello["source"], tripwire)
    handlers = {
        "check": host.check,
        "match": host.match,
        "price": host.price,
        "evening": host.evening,
    }
    for line in requests:
        message = json.loads(line)
        try:
            reply = handlers[message["op"]](message)
        except BaseException as error:  # the entrant's code: report whatever it raised
            reply = failure(error)
        if tripwire.violation is not None:
            reply = {"error": tripwire.violation, "kind": "forbidden"}
        replies.write(json.dumps(reply) + "\n")
        replies.flush()


if __name__ == "__main__":
    main()
