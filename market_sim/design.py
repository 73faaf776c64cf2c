"""Sweep designs: the points a parameter sweep visits, each a value for every swept field.

A design is built from a full factorial grid (`--grid path=v1,v2`), a Latin hypercube over
ranges (`--sample N --range path=low:high`) or a table of points (`--design FILE.csv`). Values
stay the YAML text the user wrote (numbers sampled here are written as exact text), so a
design saved to JSON and read back gives the very same scenarios.
"""

from __future__ import annotations

import csv
import itertools
import math
import os
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
from scipy.stats import qmc

from market_sim.loader import Override, field_steps

# the same seed and number of replications at every point: that is what makes the points
# comparable (common random numbers), so these are set for the whole sweep, never swept
NOT_SWEPT = {"seed": "--set seed=N", "replications": "--replications N"}
MAX_POINTS = 1_000_000


class DesignError(ValueError):
    """Sweep input that cannot make a design; the message names the option and the field."""


@dataclass(frozen=True)
class Range:
    """The interval a Latin hypercube samples for one field; `whole` fields get whole numbers."""

    path: str
    low: float
    high: float
    whole: bool = False


@dataclass(frozen=True)
class Design:
    """The swept fields and, per point, the YAML text of each field's value."""

    kind: str  # "grid", "sample" or "table"
    parameters: tuple[str, ...]
    points: tuple[tuple[str, ...], ...]
    sources: tuple[str, ...]  # per point, the option that gave it (named in error messages)
    note: str = ""  # how the points were made, for the report

    def overrides(self, point: int) -> list[Override]:
        """The point as overrides of the scenario file."""
        source = self.sources[point]
        values = zip(self.parameters, self.points[point], strict=True)
        return [Override(path, value, source) for path, value in values]

    def to_json(self) -> dict[str, Any]:
        return {
            "kind": self.kind,
            "parameters": list(self.parameters),
            "points": [list(point) for point in self.points],
            "sources": list(self.sources),
            "note": self.note,
        }

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> Design:
        return cls(
            kind=data["kind"],
            parameters=tuple(data["parameters"]),
            points=tuple(tuple(point) for point in data["points"]),
            sources=tuple(data["sources"]),
            note=data["note"],
        )


def split_assignment(text: str, option: str) -> tuple[str, str]:
    """`path=value` as (path, value text), the path checked."""
    path, equals, value = text.partition("=")
    if not equals:
        raise DesignError(f"{option}: expected PATH=VALUE, got {text!r}")
    return checked_path(path.strip(), option), value.strip()


def checked_path(path: str, option: str) -> str:
    """`path`, refused when it is not a field path or names a field that a sweep must not vary."""
    try:
        field_steps(path)
    except ValueError as error:
        raise DesignError(f"{option}: {error}") from None
    if path in NOT_SWEPT:
        raise DesignError(
            f"{option} {path}: is the same at every point of a sweep (common random numbers); "
            f"set it with {NOT_SWEPT[path]}"
        )
    return path


def grid(assignments: Sequence[str]) -> Design:
    """Every combination of the listed values (the first field varies slowest)."""
    parameters, values = [], []
    for text in assignments:
        path, listed = split_assignment(text, "--grid")
        options = split_values(listed)
        if not options or not all(options):
            raise DesignError(f"--grid {path}: expected values separated by commas, got {listed!r}")
        repeated = next((value for value in options if options.count(value) > 1), None)
        if repeated is not None:
            raise DesignError(f"--grid {path}: the value {repeated!r} is listed twice")
        parameters.append(path)
        values.append(options)
    _check_unique(parameters, "--grid")
    count = math.prod(len(options) for options in values)
    _check_size(count, "--grid")
    points = tuple(itertools.product(*values))
    shape = " × ".join(str(len(options)) for options in values)
    return Design(
        "grid", tuple(parameters), points, ("--grid",) * len(points), f"full factorial grid, {shape}"
    )


def split_values(text: str) -> list[str]:
    """Values separated by commas outside brackets and quotes: `1, [2, 3], {a: 4, b: 5}`."""
    values, depth, quote, start = [], 0, "", 0
    for i, char in enumerate(text):
        if quote:
            quote = "" if char == quote else quote
        elif char in "'\"":
            quote = char
        elif char in "[{":
            depth += 1
        elif char in "]}":
            depth -= 1
        elif char == "," and depth == 0:
            values.append(text[start:i].strip())
            start = i + 1
    values.append(text[start:].strip())
    return values if text.strip() else []


def parse_range(text: str) -> tuple[str, float, float]:
    """`path=low:high` as (path, low, high)."""
    path, bounds = split_assignment(text, "--range")
    low_text, colon, high_text = bounds.partition(":")
    try:
        low, high = float(low_text), float(high_text)
    except ValueError:
        low = high = math.nan
    if not (colon and math.isfinite(low) and math.isfinite(high) and low < high):
        raise DesignError(f"--range {path}: expected LOW:HIGH, two numbers with LOW < HIGH, got {bounds!r}")
    return path, low, high


def latin_hypercube(ranges: Sequence[Range], count: int, seed: int) -> Design:
    """`count` points, each range cut into `count` equal strata and every stratum sampled once."""
    _check_unique([r.path for r in ranges], "--range")
    _check_size(count, "--sample")
    unit = qmc.LatinHypercube(len(ranges), seed=seed).random(count)
    columns = [_scaled(unit[:, i], r) for i, r in enumerate(ranges)]
    points = tuple(zip(*columns, strict=True))
    return Design(
        "sample",
        tuple(r.path for r in ranges),
        points,
        ("--range",) * count,
        f"Latin hypercube of {count} points, seed {seed}",
    )


def _scaled(unit: np.ndarray, span: Range) -> list[str]:
    """Unit-interval samples as value texts in the range; every whole number of a whole range
    gets an equal share of the unit interval (plain rounding would halve the chances of the ends)."""
    if not span.whole:
        return [repr(float(x)) for x in span.low + unit * (span.high - span.low)]
    low, high = math.ceil(span.low), math.floor(span.high)
    return [str(int(x)) for x in np.minimum(low + np.floor(unit * (high - low + 1)), high)]


def table_design(path: Path) -> Design:
    """The points of a CSV file whose header names the fields and whose rows are the points."""
    option = f"--design {path}"
    try:
        with open(path, newline="", encoding="utf-8-sig") as file:
            reader = csv.reader(file)
            header = [cell.strip() for cell in next(reader, [])]
            rows = [(reader.line_num, row) for row in reader if any(cell.strip() for cell in row)]
    except (OSError, UnicodeDecodeError, csv.Error) as error:
        reason = error.strerror if isinstance(error, OSError) and error.strerror else error
        raise DesignError(f"{option}: cannot read the design table: {reason}") from None
    if not any(header):
        raise DesignError(
            f"{option}: the first row must name the swept fields, e.g. days,strategies[0].markup"
        )
    parameters = [checked_path(name, option) for name in header]
    _check_unique(parameters, option)
    if not rows:
        raise DesignError(f"{option}: lists no points (one row per point after the header)")
    _check_size(len(rows), option)
    for line, row in rows:
        if len(row) != len(parameters):
            raise DesignError(f"{option}:{line}: has {len(row)} values for the {len(parameters)} columns")
    points = tuple(tuple(cell.strip() for cell in row) for _, row in rows)
    sources = tuple(f"{option}:{line}" for line, _ in rows)
    return Design("table", tuple(parameters), points, sources, f"design table {os.path.basename(path)}")


def _check_unique(paths: Iterable[str], option: str) -> None:
    seen: set[str] = set()
    for path in paths:
        if path in seen:
            raise DesignError(f"{option} {path}: is given twice")
        seen.add(path)


def _check_size(count: int, option: str) -> None:
    if count > MAX_POINTS:
        raise DesignError(f"{option}: {count} points is more than a sweep may have ({MAX_POINTS})")
