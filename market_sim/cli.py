"""The command line: `market-sim COMMAND ...` (or `python run_sim.py COMMAND ...`).

This module only parses arguments, hands them to the command, and turns errors into exit
statuses: 0 success, 2 invalid input (scenario or arguments: one message naming the field,
no traceback), 130 interrupted, 1 anything else (including a strategy that failed; the
other strategies' results are still written).

Adding a command: write `market_sim/commands/NAME.py` with two functions,
- `add_parser(subparsers) -> argparse.ArgumentParser`: `subparsers.add_parser("NAME", help=...)`
  and its arguments (argument types shared by several commands are in
  `market_sim.commands.arguments`);
- `run(args) -> int`: do the work and return the exit status. Raise
  `market_sim.commands.UsageError` (or the loader's `ScenarioError`) for bad input: it is
  printed as `error: ...` with status 2.
and add NAME to `COMMANDS` below. The module imports only the standard library and light
`market_sim` modules at its top; everything heavy (the engine, pandas, matplotlib, scipy,
Dask) is imported inside `run`, so that `--help`, `--version` and `validate` start at once
(tests/test_startup.py checks this). A result folder is written and read through
`market_sim.result_folder` (atomic write, manifest, runs kept for --resume). The work itself
(comparing, sweeping) is done by `market_sim.api`, the Python API, so that a script or notebook
and the command line take the same path; its `OptionError` is invalid input too.
"""

from __future__ import annotations

import argparse
import atexit
import functools
import gc
import importlib
import os
import signal
import sys
import threading
import time
from collections.abc import Callable
from typing import Any

import market_sim
from market_sim.commands import UsageError

INVALID_INPUT = 2
INTERRUPTED = 130
PROFILERS = {"cProfile", "profile", "trace"}  # modules that, loaded, may write after `main` returns
# the commands, in the order `--help` lists them: modules of market_sim.commands
COMMANDS = (
    "run",
    "sweep",
    "tournament",
    "dashboard",
    "validate",
    "report",
    "strategies",
    "history",
    "estimate",
)


def main(argv: list[str] | None = None) -> int:
    """Run the command; `argv` given means called from Python: signal handlers are restored
    after (as the program, a command that holds interrupts holds them until it exits, and the
    program ends as soon as the command returns: `_end_now`)."""
    status = _command(argv)
    if argv is None:
        _end_now(status)
    return status


def _end_now(status: int) -> None:
    """End the program with `status` at once: exit handlers run and the output is flushed, but
    the interpreter does not free every object of a comparison one by one (a tenth of a second
    after the holiday market); the system frees the memory. With a thread the exit would wait
    for, a profiler or tracer, or output that cannot be flushed, the interpreter's own exit
    instead."""
    waited_for = [t for t in threading.enumerate() if not t.daemon and t is not threading.main_thread()]
    if waited_for or sys.gettrace() is not None or PROFILERS & sys.modules.keys():
        return  # (a tracer, or a profiler such as `python -m cProfile`, writes what it saw after `main`)
    atexit._run_exitfuncs()  # what `atexit` and `weakref.finalize` registered (worker clean-up)
    try:
        sys.stdout.flush()
        sys.stderr.flush()
    except (OSError, ValueError):
        return
    os._exit(status)


def _command(argv: list[str] | None) -> int:
    started = time.perf_counter() - (_process_age() if argv is None else 0.0)
    hook, sys.unraisablehook = sys.unraisablehook, functools.partial(_interrupt_again, sys.unraisablehook)
    try:  # (Ctrl-C may land while the commands' modules load, in `parser`)
        args = parser().parse_args(argv)
        args.started = started  # a command may report how long its start took (run: manifest.json timings)
        return args.command(args)
    except KeyboardInterrupt:
        return _stopped(program=argv is None)
    except BrokenPipeError:  # the reader left (`market-sim strategies | head`): no traceback
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        return 1
    except OSError as error:  # a full disk, a read-only folder, an unreachable scheduler
        print(f"error: {_os_error_text(error)}", file=sys.stderr)
        return 1
    except Exception as error:
        if _interrupted(error):  # Ctrl-C inside an extension module's import becomes its ImportError
            return _stopped(program=argv is None)
        if not isinstance(error, _invalid_input()):
            raise
        print(f"error: {error}", file=sys.stderr)
        return INVALID_INPUT
    finally:
        if argv is not None:
            from market_sim.commands.arguments import Interrupts

            Interrupts.restore()
            sys.unraisablehook = hook
        else:  # the program ends now: what it holds is freed at exit without a last full
            gc.freeze()  # collection over it (about half a second after a comparison)


def _interrupt_again(hook: Callable[[Any], object], unraisable: Any) -> None:
    """`sys.unraisablehook` while a command runs: an interrupt that landed in a finaliser (a
    library's `__del__`, such as llvmlite's while numba loads the kernels), where Python can
    only print it with a traceback and go on, comes again a moment later, once the finaliser
    is over, as a SIGINT to the main thread (its handler of the moment, which may hold it);
    anything else goes to `hook`."""
    if issubclass(unraisable.exc_type, KeyboardInterrupt) and callable(signal.getsignal(signal.SIGINT)):
        # (not at once: a handler that raised while this hook runs would be swallowed again)
        again = threading.Timer(0.01, signal.pthread_kill, (threading.main_thread().ident, signal.SIGINT))
        again.daemon = True
        again.start()
    else:
        hook(unraisable)


def _stopped(program: bool) -> int:
    """Say the command was interrupted; in the program, a second interrupt must not spoil its exit."""
    if program:
        for number in (signal.SIGINT, signal.SIGTERM):
            signal.signal(number, signal.SIG_IGN)
    print("interrupted", file=sys.stderr)
    return INTERRUPTED


def _interrupted(error: BaseException) -> bool:
    """Whether `error` was caused by an interrupt (a KeyboardInterrupt in its chain of causes)."""
    seen: set[int] = set()
    while error is not None and id(error) not in seen:
        if isinstance(error, KeyboardInterrupt):
            return True
        seen.add(id(error))
        error = error.__cause__ or error.__context__
    return False


def _process_age() -> float:
    """Seconds since this process started (the interpreter's own start-up included): Linux's
    /proc/self/stat, to its clock tick; elsewhere 0 (timed from `main`)."""
    try:
        with open("/proc/self/stat", encoding="ascii") as stat:
            fields = stat.read().rsplit(")", 1)[1].split()
        started = int(fields[19]) / os.sysconf("SC_CLK_TCK")  # field 22, starttime, in ticks since boot
        return max(0.0, time.clock_gettime(time.CLOCK_BOOTTIME) - started)
    except (OSError, ValueError, IndexError, AttributeError):
        return 0.0


def _os_error_text(error: OSError) -> str:
    """One line: the path, what went wrong, and what to do."""
    where = f"{error.filename}: " if error.filename else ""
    what = error.strerror or str(error) or type(error).__name__
    return f"{where}{what} (nothing already on disk was changed: fix this and run again)"


def parser() -> argparse.ArgumentParser:
    """Every command's parser, each with `command` set to its module's `run`."""
    top = argparse.ArgumentParser(
        prog="market-sim", description="Agent-based market simulator and pricing-strategy backtester."
    )
    top.add_argument("--version", action="version", version=f"%(prog)s {market_sim.__version__}")
    subparsers = top.add_subparsers(required=True, metavar="COMMAND")
    for name in COMMANDS:
        command = importlib.import_module(f"market_sim.commands.{name}")
        command.add_parser(subparsers).set_defaults(command=command.run)
    return top


def _invalid_input() -> tuple[type[Exception], ...]:
    """Errors that mean bad input (exit status 2); the loader is imported only once one is raised."""
    from market_sim.api import OptionError
    from market_sim.executors import SchedulerError
    from market_sim.loader import ScenarioError

    return (ScenarioError, OptionError, UsageError, FileExistsError, SchedulerError)
