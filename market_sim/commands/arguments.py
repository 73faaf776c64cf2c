"""What several commands share: argument types, option helps, output folder names and the
interrupt signal. Imports nothing heavy: `--help` must stay instant."""

from __future__ import annotations

import argparse
import datetime as dt
import re
from pathlib import Path

SET_HELP = "change one field of the scenario, e.g. consumers.segments[0].wtp.mean=50 (repeatable)"


def positive(text: str) -> int:
    value = natural(text)
    if value < 1:
        raise argparse.ArgumentTypeError(f"must be at least 1, got {text!r}")
    return value


def natural(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"must be a whole number, got {text!r}") from None
    if value < 0:
        raise argparse.ArgumentTypeError(f"must not be negative, got {text!r}")
    return value


def seconds(text: str) -> float:
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"must be a number of seconds, got {text!r}") from None
    if not value > 0 or value == float("inf"):
        raise argparse.ArgumentTypeError(f"must be a positive number of seconds, got {text!r}")
    return value


def assignment(text: str):
    """`--set PATH=VALUE`: an override of one scenario field, checked when the scenario loads."""
    from market_sim.loader import Override

    path, equals, value = text.partition("=")
    if not equals or not path.strip():
        raise argparse.ArgumentTypeError(f"expected PATH=VALUE, got {text!r}")
    return Override(path.strip(), value.strip(), "--set")


def workers_help() -> str:
    from market_sim.executors import default_workers

    return f"processes (default: all cores, here {default_workers()})"


def default_out(scenario: Path, suffix: str = "") -> Path:
    """reports/<scenario><suffix>-<time>: where a command writes when --out is not given."""
    return Path("reports") / f"{slug(scenario.stem)}{suffix}-{dt.datetime.now():%Y%m%d-%H%M%S}"


def slug(text: str) -> str:
    return re.sub(r"[^A-Za-z0-9_]+", "-", text).strip("-_")[:60] or "run"


class Interrupts:
    """SIGINT and SIGTERM for a command that keeps what finished: they raise KeyboardInterrupt
    while runs go on, and are only noted once `hold()` is called, so what is being written is
    finished whole. Installed explicitly, so SIGINT works even in a process started in the
    background (where the shell makes it ignored)."""

    previous: dict[int, object] = {}  # the handlers before the first Interrupts, for `restore`

    def __init__(self) -> None:
        import signal

        self.held = False
        self.received: list[int] = []
        for number in (signal.SIGINT, signal.SIGTERM):
            handler = signal.signal(number, self)
            if not isinstance(handler, Interrupts):
                Interrupts.previous.setdefault(number, handler)

    def __call__(self, signum, frame) -> None:
        self.received.append(signum)
        if not self.held:
            raise KeyboardInterrupt

    def hold(self) -> None:
        """From now on an interrupt is noted, not raised."""
        self.held = True

    def release(self) -> None:
        """Interrupts raise again (one noted while held is not raised late)."""
        self.held = False

    @staticmethod
    def restore() -> None:
        """The handlers from before (for a command called from Python, which goes on after it;
        as the program, a command keeps interrupts held until it exits)."""
        import signal

        for number, handler in Interrupts.previous.items():
            signal.signal(number, handler)
        Interrupts.previous.clear()
