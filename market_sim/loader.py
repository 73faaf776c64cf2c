"""Read a scenario YAML file into the frozen dataclasses of `market_sim.scenario`.

Strict and kind: every value is checked here, once, so the engine never re-checks; every
mistake becomes one `ScenarioError` naming the file, the field path and the line.
"""

from __future__ import annotations

import datetime as dt
import difflib
import functools
import math
import os
import re
import stat
import sys
from collections.abc import Callable, Collection, Iterable, Mapping
from dataclasses import dataclass
from pathlib import Path
from types import MappingProxyType
from typing import Any, NamedTuple

import yaml

import strategies
from market_sim.distributions import (
    Bernoulli,
    Constant,
    Distribution,
    Exponential,
    FeatureDistribution,
    LogNormal,
    Normal,
    Triangular,
    Uniform,
)
from market_sim.scenario import (
    UNLIMITED,
    Arm,
    Consumers,
    Event,
    Experiment,
    Feature,
    Guardrails,
    Inventory,
    Market,
    Scenario,
    Segment,
    Seller,
    StrategySpec,
)

MAX_FILE_BYTES = 1 << 20  # 1 MB: far above any hand-written scenario
MAX_NODES = 100_000  # values visited, counting an alias each time it is used
MAX_DEPTH = 50
SHARE_TOLERANCE = 1e-6
MAX_MAGNITUDE = 1e12  # the largest number any field accepts
MAX_POPULATION = 50_000_000  # about 5 GB of consumer arrays
MAX_DAYS = 36_500
MAX_EXPECTED_DAYS = 100_000_000  # periods of a learning experiment with `demand: expected`
MAX_REPLICATIONS = 100_000
MAX_LOGNORMAL_SPREAD = 1e100  # sd / mean of a lognormal
MAX_NAME_LENGTH = 200  # names head tables and plot legends
DEFAULT_STRATEGY = StrategySpec("cost_plus", MappingProxyType({}), "cost_plus()")

_MERGE_TAG = "tag:yaml.org,2002:merge"
_COLLECTION_TAGS = (
    yaml.resolver.BaseResolver.DEFAULT_MAPPING_TAG,
    yaml.resolver.BaseResolver.DEFAULT_SEQUENCE_TAG,
)
_REQUIRED: Any = object()  # the default of a field that must be given


class ScenarioError(Exception):
    """A scenario that cannot be loaded: where (file, field path, line) and what is wrong."""

    def __init__(self, source: str, path: str, line: int | None, message: str):
        super().__init__(source, path, line, message)  # all four, so the error pickles
        self.source, self.path, self.line, self.message = source, path, line, message

    def __str__(self) -> str:
        where = self.source if self.line is None else f"{self.source}:{self.line}"
        field = f"{self.path}: " if self.path else ""
        return f"{where}: {field}{self.message}"


class OverrideError(ScenarioError):
    """A command-line override that cannot apply: named by its option and field, not a file line."""

    def __init__(self, source: str, path: str, line: int | None, message: str, option: str = "--set"):
        super().__init__(source, path, line, message)
        self.args = (source, path, line, message, option)  # all five, so the error pickles
        self.option = option

    def __str__(self) -> str:
        return f"{self.option} {self.path}: {self.message}"


class Override(NamedTuple):
    """One change to a scenario file: a field path such as `consumers.segments[0].wtp.mean`, its
    value (YAML text such as `50` or `{dist: uniform, low: 1, high: 2}`, or a plain value), and
    the option that gave it, which error messages name."""

    path: str
    value: Any
    option: str = "--set"


def load_scenario(path: str | os.PathLike[str], overrides: Iterable[tuple] = ()) -> Scenario:
    """Read and validate the scenario file at `path`, with `overrides` applied (see `parse_scenario`)."""
    source = os.fspath(path)
    return parse_scenario(_read_text(source), source, Path(source).absolute().parent, overrides)


def parse_scenario(
    text: str,
    source: str = "<scenario>",
    base_dir: Path | None = None,
    overrides: Iterable[tuple] = (),
    *,
    import_plugins: bool = True,
) -> Scenario:
    """Validate scenario YAML `text`; `base_dir` is where `module:Class` plug-ins may live.

    `overrides` are `Override`s or (path, value) pairs, grafted into the file's values before
    anything is checked, so an overridden field is validated exactly like a written one.
    With `import_plugins=False` (reading a saved run folder) no plug-in module is imported:
    their parameters are taken as written.
    """
    changes = [Override(*item) for item in overrides]
    try:
        tree = _shared_tree(text) if changes else _read_tree(text)
        for index, change in enumerate(changes):
            tree = _graft(tree, change, _override_line(index))
        folder = None if base_dir is None else Path(base_dir).absolute()
        return _scenario(tree, source, folder if import_plugins else _NO_IMPORTS)
    except _Invalid as error:
        raise _located(error, source, changes) from None


def scenario_to_yaml(scenario: Scenario) -> str:
    """The resolved scenario as YAML that `parse_scenario` reads back to an equal Scenario."""
    return yaml.dump(
        _scenario_data(scenario),
        Dumper=_Dumper,
        sort_keys=False,
        allow_unicode=True,
        default_flow_style=None,
        width=110,
    )


# --- reading the file and the YAML tree -------------------------------------------------


class _Invalid(Exception):
    """A mistake found in the tree; `parse_scenario` adds the file name."""

    def __init__(self, path: str, line: int | None, message: str):
        super().__init__(path, line, message)
        self.path, self.line, self.message = path, line, message


@dataclass(frozen=True)
class _Node:
    """One value of the document with the field path and line it was written at."""

    value: Any  # a scalar, or dict[str, _Node] for a mapping, list[_Node] for a sequence
    path: str
    line: int  # 1-based; -(i + 1) for a value given by the i-th override (`_override_line`)


def _fail(node: _Node, message: str) -> _Invalid:
    return _Invalid(node.path, node.line, message)


def _read_text(source: str) -> str:
    try:
        # without blocking: a FIFO or a device would otherwise wait for a writer forever
        descriptor = os.open(source, os.O_RDONLY | os.O_NONBLOCK)
        with open(descriptor, "rb") as file:
            if not stat.S_ISREG(os.fstat(descriptor).st_mode):
                raise ScenarioError(source, "", None, "is not a regular file; give a scenario file")
            data = file.read(MAX_FILE_BYTES + 1)  # never more, whatever the file holds
    except OSError as error:
        raise ScenarioError(source, "", None, f"cannot read the file: {error.strerror or error}") from None
    if len(data) > MAX_FILE_BYTES:
        raise ScenarioError(
            source, "", None, f"the file is larger than 1 MB (scenario files may have {MAX_FILE_BYTES} bytes)"
        )
    try:
        return data.decode("utf-8-sig")
    except UnicodeDecodeError as error:
        line = data[: error.start].count(b"\n") + 1
        raise ScenarioError(source, "", line, "the file is not UTF-8 text") from None


# YAML 1.1 reads `1e6` and `2.5e3` as text; users mean numbers (as YAML 1.2 does)
_EXPONENT_FLOAT = re.compile(r"^[-+]?[0-9][0-9_]*(?:\.[0-9_]*)?[eE][-+]?[0-9]+$")


class _Loader(yaml.SafeLoader):
    """The safe loader, stopping early on documents too deep or too large to be scenarios."""

    _depth = 0
    _composed = 0

    def compose_node(self, parent: Any, index: Any) -> Any:
        self._composed += 1
        if self._composed > MAX_NODES:  # the tree builder would refuse it too, after more work
            raise _too_many_values()
        if self._depth >= MAX_DEPTH:  # before the recursive composer overflows the stack
            raise _too_deep(self.peek_event().start_mark.line + 1)
        self._depth += 1
        try:
            return super().compose_node(parent, index)
        finally:
            self._depth -= 1


class _Dumper(yaml.SafeDumper):
    """The safe dumper, quoting what `_Loader` would read as a number and keeping text blocks."""


def _represent_text(dumper: yaml.SafeDumper, text: str) -> yaml.ScalarNode:
    return dumper.represent_scalar("tag:yaml.org,2002:str", text, style="|" if "\n" in text else None)


for _yaml_class in (_Loader, _Dumper):
    _yaml_class.add_implicit_resolver("tag:yaml.org,2002:float", _EXPONENT_FLOAT, list("-+0123456789"))
_Dumper.add_representer(str, _represent_text)


def _too_many_values() -> _Invalid:
    return _Invalid(
        "",
        None,
        f"too many values: more than {MAX_NODES} (an alias *name or a merge << counts each time it is used)",
    )


def _too_deep(line: int) -> _Invalid:
    return _Invalid("", line, f"nested deeper than {MAX_DEPTH} levels")


def _read_tree(text: str) -> _Node:
    try:
        loader = _Loader(text)
    except yaml.YAMLError as error:
        raise _yaml_problem(error) from None
    try:
        root = loader.get_single_node()
        if root is None:
            raise _Invalid("", None, "the file is empty; a scenario is a mapping starting with `name:`")
        return _TreeBuilder(loader).build(root, "", _line(root), 0)
    except yaml.YAMLError as error:
        raise _yaml_problem(error) from None
    finally:
        loader.dispose()


def _yaml_problem(error: yaml.YAMLError) -> _Invalid:
    if not isinstance(error, yaml.MarkedYAMLError):
        return _Invalid("", None, f"invalid YAML: {str(error).splitlines()[0]}")
    mark = error.problem_mark or error.context_mark
    message = error.problem or "syntax error"
    if error.context:
        context_line = f" on line {error.context_mark.line + 1}" if error.context_mark else ""
        message += f" ({error.context}{context_line})"
    return _Invalid("", None if mark is None else mark.line + 1, f"invalid YAML: {message}")


def _line(node: yaml.Node) -> int:
    return node.start_mark.line + 1


def _key_path(path: str, key: str) -> str:
    return f"{path}.{key}" if path else key


class _TreeBuilder:
    """Turns composed YAML nodes into `_Node`s, counting each visit so aliases cannot explode."""

    def __init__(self, loader: _Loader):
        self.loader = loader
        self.visited = 0

    def build(self, node: yaml.Node, path: str, line: int, depth: int) -> _Node:
        self._visit(line, depth)
        if isinstance(node, yaml.ScalarNode):
            return _Node(self._scalar(node, path, line), path, line)
        if node.tag not in _COLLECTION_TAGS:
            raise _Invalid(path, line, f"cannot read this value: unsupported tag {node.tag!r}")
        if isinstance(node, yaml.MappingNode):
            return _Node(self._mapping(node, path, depth), path, line)
        items = [
            self.build(item, f"{path}[{i}]", _line(item), depth + 1) for i, item in enumerate(node.value)
        ]
        return _Node(items, path, line)

    def _visit(self, line: int, depth: int) -> None:
        self.visited += 1
        if self.visited > MAX_NODES:  # aliases (*name) and merges (<<) count every time they are used
            raise _too_many_values()
        if depth >= MAX_DEPTH:  # reachable through aliases even when the text is shallow
            raise _too_deep(line)

    def _scalar(self, node: yaml.ScalarNode, path: str, line: int) -> Any:
        try:
            return self.loader.construct_object(node)
        except yaml.constructor.ConstructorError as error:  # e.g. a !!python/object tag
            raise _Invalid(path, line, f"cannot read this value: {error.problem}") from None
        except Exception as error:  # e.g. the date 2026-02-30, or `!!int abc`
            detail = f": {error}" if isinstance(error, ValueError) else ""
            tag = node.tag.replace("tag:yaml.org,2002:", "!!")
            raise _Invalid(path, line, f"cannot read {_shown(node.value)} as {tag}{detail}") from None

    def _mapping(self, node: yaml.MappingNode, path: str, depth: int) -> dict[str, _Node]:
        entries: dict[str, _Node] = {}
        merged: dict[str, _Node] = {}
        for key_node, value_node in node.value:
            if key_node.tag == _MERGE_TAG:
                for source in _merge_sources(value_node, path):
                    self._visit(_line(source), depth + 1)  # a merged mapping is a value used again
                    for key, child in self._mapping(source, path, depth + 1).items():
                        merged.setdefault(key, child)  # the first merged mapping wins, as in YAML
                continue
            key = self._key(key_node, path)
            line = _line(key_node)
            if key in entries:
                raise _Invalid(
                    _key_path(path, key),
                    line,
                    f"duplicate key {key!r} (first given on line {entries[key].line})",
                )
            entries[key] = self.build(value_node, _key_path(path, key), line, depth + 1)
        return merged | entries  # keys written in the mapping itself override merged ones

    def _key(self, node: yaml.Node, path: str) -> str:
        key = self._scalar(node, path, _line(node)) if isinstance(node, yaml.ScalarNode) else None
        if not isinstance(key, str):
            shown = _shown(key) if isinstance(node, yaml.ScalarNode) else "a mapping or list"
            raise _Invalid(path, _line(node), f"keys must be text, got {shown}")
        return key


def _merge_sources(node: yaml.Node, path: str) -> list[yaml.MappingNode]:
    sources = node.value if isinstance(node, yaml.SequenceNode) else [node]
    if not all(isinstance(source, yaml.MappingNode) for source in sources):
        raise _Invalid(path, _line(node), "`<<` must merge a mapping or a list of mappings")
    return sources


# --- overrides: values given on the command line ----------------------------------------

_FIELD_PATH = re.compile(r"[A-Za-z_][A-Za-z0-9_]*(?:\.[A-Za-z_][A-Za-z0-9_]*|\[[0-9]+\])*")
_PATH_STEP = re.compile(r"([A-Za-z_][A-Za-z0-9_]*)|\[([0-9]+)\]")


@functools.lru_cache(maxsize=4)
def _shared_tree(text: str) -> _Node:
    """The tree of `text`, read once for the many override sets of a sweep; `_graft` copies the
    nodes it changes, so the shared tree is never modified."""
    return _read_tree(text)


def _override_line(index: int) -> int:
    """The line recorded for values of the `index`-th override: negative, so no file line."""
    return -(index + 1)


def field_steps(path: str) -> list[str | int]:
    """The keys and list indexes of a field path: `a.b[0].c` gives ["a", "b", 0, "c"]."""
    if not _FIELD_PATH.fullmatch(path):
        raise ValueError(f"{path!r} is not a field path; write it like consumers.segments[0].wtp.mean")
    return [key or int(index) for key, index in _PATH_STEP.findall(path)]


def _graft(root: _Node, change: Override, line: int) -> _Node:
    """`root` with the override's value at its path, creating missing mappings on the way."""
    try:
        steps = field_steps(change.path)
    except ValueError as error:
        raise _Invalid(change.path, line, str(error)) from None
    return _replaced(root, steps, _override_value(change, line), line)


def _replaced(node: _Node, steps: list[str | int], value: _Node, line: int) -> _Node:
    if not steps:
        return value
    step, rest = steps[0], steps[1:]
    if isinstance(step, int):
        if not isinstance(node.value, list):
            raise _Invalid(value.path, line, f"{node.path} is {_shown(node.value)}, not a list")
        if step >= len(node.value):
            count = f"{len(node.value)} entr{'y' if len(node.value) == 1 else 'ies'}"
            raise _Invalid(value.path, line, f"{node.path} has {count}, so there is no {node.path}[{step}]")
        items = list(node.value)
        items[step] = _replaced(items[step], rest, value, line)
        return _Node(items, node.path, node.line)
    if not isinstance(node.value, dict):
        where = node.path or "the scenario"
        raise _Invalid(value.path, line, f"{where} is {_shown(node.value)}, not a mapping")
    here = _key_path(node.path, step)
    if step not in node.value and rest and isinstance(rest[0], int):
        raise _Invalid(value.path, line, f"{here} is not in the scenario, so there is no {here}[{rest[0]}]")
    child = node.value.get(step, _Node({}, here, line))
    return _Node({**node.value, step: _replaced(child, rest, value, line)}, node.path, node.line)


def _override_value(change: Override, line: int) -> _Node:
    """The override's value read as YAML (with the file's limits), placed at its path."""
    text = change.value if isinstance(change.value, str) else yaml.dump(change.value, Dumper=_Dumper)
    if not text.strip():
        return _Node(None, change.path, line)
    try:
        return _moved(_read_tree(text), change.path, line)
    except _Invalid as error:
        raise _Invalid(change.path, line, f"cannot read the value {_shown(text)}: {error.message}") from None


def _moved(node: _Node, path: str, line: int) -> _Node:
    """`node` as if written at `path` on `line`."""
    if isinstance(node.value, dict):
        value: Any = {key: _moved(child, _key_path(path, key), line) for key, child in node.value.items()}
    elif isinstance(node.value, list):
        value = [_moved(child, f"{path}[{i}]", line) for i, child in enumerate(node.value)]
    else:
        value = node.value
    return _Node(value, path, line)


def _located(error: _Invalid, source: str, changes: list[Override]) -> ScenarioError:
    """The error as the user should read it: an overridden value is named by its option, and
    the other overrides nearby that may have made a value wrong are listed."""
    culprit = changes[-error.line - 1] if error.line is not None and error.line < 0 else None
    related = [
        change
        for change in changes
        if change is not culprit and error.path and _related(change.path, error.path)
    ]
    message = error.message
    if related:
        given = ", ".join(f"{change.option} {change.path}={_value_text(change.value)}" for change in related)
        message += f" (with {given})"
    if culprit is not None:
        return OverrideError(source, error.path, None, message, culprit.option)
    return ScenarioError(source, error.path, error.line, message)


def _related(changed: str, path: str) -> bool:
    """Whether the error at `path` may come from changing `changed`: a field beside it, or one
    that holds it."""
    parent = changed[: max(changed.rfind("."), changed.rfind("["), 0)]
    return _within(path, parent) or _within(changed, path)


def _within(path: str, scope: str) -> bool:
    return not scope or path == scope or path.startswith((f"{scope}.", f"{scope}["))


def _value_text(value: Any) -> str:
    return value if isinstance(value, str) else _shown(value)


# --- reading values ---------------------------------------------------------------------


def _shown(value: Any) -> str:
    """A value as the user wrote it, shortened, for one-line messages."""
    if isinstance(value, dict):
        return "a mapping"
    if isinstance(value, list):
        return "a list"
    if value is None:
        return "nothing"
    if isinstance(value, bool):
        return str(value).lower()
    if isinstance(value, dt.date):
        return value.isoformat()
    text = repr(value)
    return text if len(text) <= 60 else f"{text[:57]}..."


def _number_text(value: float) -> str:
    return str(int(value)) if float(value).is_integer() and abs(value) < 1e15 else repr(value)


def _is_int(value: Any) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


def _is_number(value: Any) -> bool:
    if isinstance(value, bool) or not isinstance(value, int | float):
        return False
    try:
        return math.isfinite(value)
    except OverflowError:  # an int too large for a float
        return False


def _suggestion(word: str, known: Iterable[str]) -> str:
    close = difflib.get_close_matches(word, list(known), n=1)
    return f"; did you mean {close[0]!r}?" if close else ""


@dataclass(frozen=True)
class _Range:
    """The numbers a field accepts; `low_name` says when the bound is another field."""

    low: float = -MAX_MAGNITUDE
    high: float = MAX_MAGNITUDE
    low_open: bool = False
    low_name: str = ""

    def __contains__(self, value: float) -> bool:
        above = value > self.low if self.low_open else value >= self.low
        return above and value <= self.high

    def describe(self, noun: str) -> str:
        low = _number_text(self.low) if not self.low_name else f"{self.low_name} ({_number_text(self.low)})"
        if self.high < MAX_MAGNITUDE and not self.low_open and not self.low_name:
            return f"{noun} between {low} and {_number_text(self.high)}"
        bounds = []
        if self.low > -MAX_MAGNITUDE:
            bounds.append(f"{'>' if self.low_open else '>='} {low}")
        if self.high < MAX_MAGNITUDE:
            bounds.append(f"<= {_number_text(self.high)}")
        return " and ".join([f"{noun} {bounds[0]}", *bounds[1:]]) if bounds else noun

    def number(self, node: _Node) -> float:
        if _is_number(node.value) or _is_int(node.value):
            _check_magnitude(node)  # first: the range's words never mention this limit
        if not (_is_number(node.value) and node.value in self):
            raise _fail(node, f"must be {self.describe('a number')}, got {_shown(node.value)}")
        return float(node.value)

    def whole(self, node: _Node) -> int:
        value = node.value
        if _is_number(value) or _is_int(value):
            _check_magnitude(node)
        if not (_is_number(value) and float(value).is_integer() and value in self):
            raise _fail(node, f"must be {self.describe('a whole number')}, got {_shown(value)}")
        return int(value)


def _check_magnitude(node: _Node) -> None:
    """Numbers beyond any market (1e300 people, prices or days) are typos, and would overflow."""
    if abs(node.value) > MAX_MAGNITUDE:
        raise _fail(node, f"must be at most {MAX_MAGNITUDE:g} in size, got {_shown(node.value)}")


ANY = _Range()
NON_NEGATIVE = _Range(0)
POSITIVE = _Range(0, low_open=True)
FRACTION = _Range(0, 1)
SHARE = _Range(0, 1, low_open=True)
AT_LEAST_ONE = _Range(1)
POPULATION = _Range(1, MAX_POPULATION)
DAYS = _Range(1, MAX_DAYS)
EXPECTED_DAYS = _Range(1, MAX_EXPECTED_DAYS)
REPLICATIONS = _Range(1, MAX_REPLICATIONS)


def _text(node: _Node) -> str:
    if not isinstance(node.value, str):
        hint = "" if isinstance(node.value, dict | list) else " (put it in quotes)"
        raise _fail(node, f"must be text, got {_shown(node.value)}{hint}")
    return node.value


def _name(node: _Node) -> str:
    if not _text(node).strip():
        raise _fail(node, "must not be empty")
    if len(node.value) > MAX_NAME_LENGTH:
        raise _fail(node, f"must be at most {MAX_NAME_LENGTH} characters long, got {len(node.value)}")
    return node.value


def _flag(node: _Node) -> bool:
    if not isinstance(node.value, bool):
        raise _fail(node, f"must be true or false, got {_shown(node.value)}")
    return node.value


def _date(node: _Node) -> dt.date:
    value = node.value
    if isinstance(value, str) and re.fullmatch(r"\d{4}-\d{2}-\d{2}", value):  # a quoted date is still a date
        try:
            return dt.date.fromisoformat(value)
        except ValueError as error:
            raise _fail(node, f"is not a date: {error}") from None
    if not isinstance(value, dt.date) or isinstance(value, dt.datetime):
        raise _fail(node, f"must be a date written as YYYY-MM-DD, got {_shown(value)}")
    return value


def _one_of(*words: str) -> Callable[[_Node], str]:
    def read(node: _Node) -> str:
        if not isinstance(node.value, str) or node.value not in words:
            hint = _suggestion(node.value, words) if isinstance(node.value, str) else ""
            raise _fail(node, f"must be one of {', '.join(words)}, got {_shown(node.value)}{hint}")
        return node.value

    return read


def _items(node: _Node, non_empty: bool = False) -> list[_Node]:
    if not isinstance(node.value, list):
        raise _fail(node, f"must be a list, got {_shown(node.value)}")
    if non_empty and not node.value:
        raise _fail(node, "must list at least one entry, got an empty list")
    return node.value


def _plain(node: _Node) -> Any:
    """The value as plain Python (for strategy parameters), refusing NaN and infinities."""
    if isinstance(node.value, dict):
        return {key: _plain(child) for key, child in node.value.items()}
    if isinstance(node.value, list):
        return [_plain(child) for child in node.value]
    if isinstance(node.value, float) and not math.isfinite(node.value):
        raise _fail(node, f"must be a finite number, got {node.value!r}")
    if _is_number(node.value):
        _check_magnitude(node)
    return node.value


def _unique(named: Iterable[tuple[_Node, str]], what: str, hint: str = "") -> None:
    """Refuse a repeated name, reported where the repeat was written."""
    first: dict[str, _Node] = {}
    for node, name in named:
        if name in first:
            raise _fail(node, f"duplicate {what} name {name!r} (also {first[name].path}){hint}")
        first[name] = node


class _Fields:
    """The entries of one mapping, checked against the keys it may have (None: any key)."""

    def __init__(self, node: _Node, known: Collection[str] | None, what: str = "a mapping"):
        if not isinstance(node.value, dict):
            raise _fail(node, f"must be {what}, got {_shown(node.value)}")
        for key, child in node.value.items():
            if known is not None and key not in known:
                listed = _suggestion(key, known) or f"; expected one of: {', '.join(known)}"
                raise _fail(child, f"unknown key {key!r}{listed}")
        self.node = node
        self.entries: dict[str, _Node] = node.value

    def __contains__(self, key: str) -> bool:
        return key in self.entries

    def read(self, key: str, reader: Callable[[_Node], Any], default: Any = _REQUIRED) -> Any:
        """The field read by `reader`, or `default` when absent (an error if there is none)."""
        if key in self.entries:
            return reader(self.entries[key])
        if default is _REQUIRED:
            raise _Invalid(_key_path(self.node.path, key), self.node.line, "required field is missing")
        return default


# --- the scenario, section by section ---------------------------------------------------

_TOP_KEYS = (
    "name",
    "description",
    "lesson",
    "days",
    "start_date",
    "replications",
    "seed",
    "stop_when_stable",
    "market",
    "consumers",
    "sellers",
    "strategies",
    "guardrails",
    "experiment",
)


def _scenario(root: _Node, source: str, base_dir: Path | None) -> Scenario:
    fields = _Fields(root, _TOP_KEYS, "a mapping of scenario fields (name, days, consumers, sellers, ...)")
    name = fields.read("name", _name)
    description = fields.read("description", _text, "")
    lesson = fields.read("lesson", _text, "")
    start_date = fields.read("start_date", _date, None)
    market = fields.read("market", lambda node: _market(node, start_date), Market())
    days = fields.read("days", lambda node: _days(node, market.demand == "expected"))
    replications = fields.read("replications", REPLICATIONS.whole, 10)
    seed = fields.read("seed", NON_NEGATIVE.whole, 0)
    consumers = fields.read("consumers", _consumers)
    sellers = fields.read("sellers", lambda node: _sellers(node, base_dir))
    if market.demand == "expected":
        _check_expected(fields, consumers, sellers)
    focal = next(seller for seller in sellers if seller.focal)
    compared = fields.read(
        "strategies", lambda node: _strategies(node, base_dir), (focal.strategy or DEFAULT_STRATEGY,)
    )
    observable = tuple(segment.name for segment in consumers.segments if segment.observable)
    if "strategies" in fields:
        _check_segments(fields.entries["strategies"].value, compared, observable, base_dir)
    for item, seller in zip(fields.entries["sellers"].value, sellers, strict=True):
        if seller.strategy is not None and "strategy" in item.value:
            _check_segments([item.value["strategy"]], [seller.strategy], observable, base_dir)
    return Scenario(
        name=name,
        days=days,
        market=market,
        consumers=consumers,
        sellers=sellers,
        strategies=compared,
        guardrails=fields.read("guardrails", _guardrails, Guardrails()),
        description=description,
        lesson=lesson,
        start_date=start_date,
        replications=replications,
        seed=seed,
        stop_when_stable=fields.read("stop_when_stable", AT_LEAST_ONE.whole, None),
        source=source,
        experiment=fields.read(
            "experiment", lambda node: _experiment(node, compared, market.demand == "expected"), None
        ),
    )


def _days(node: _Node, expected: bool) -> int:
    """Up to MAX_DAYS, or MAX_EXPECTED_DAYS with expected demand (a day costs no draws)."""
    if not expected and _is_number(node.value) and node.value > MAX_DAYS:
        raise _fail(
            node,
            f"must be at most {MAX_DAYS}, got {_shown(node.value)} (up to {MAX_EXPECTED_DAYS} with "
            "market.demand: expected)",
        )
    return (EXPECTED_DAYS if expected else DAYS).whole(node)


def _check_expected(fields: _Fields, consumers: Consumers, sellers: tuple[Seller, ...]) -> None:
    """Expected demand draws no purchases: no logit shares without logit choice, no loyalty
    without purchases, no stock to run out of."""
    market = fields.entries["market"]
    if market.value.get("choice") is not None and market.value["choice"].value != "logit":
        raise _fail(
            market.value["demand"], "expected demand is the expected logit share: it needs choice: logit"
        )
    segments = fields.entries["consumers"].value["segments"].value
    for node, segment in zip(segments, consumers.segments, strict=True):
        if segment.loyalty is not None:
            raise _fail(
                node.value["loyalty"],
                "is not available with market.demand: expected (no purchases are drawn)",
            )
    for node, seller in zip(fields.entries["sellers"].value, sellers, strict=True):
        if not seller.inventory.unlimited:
            raise _fail(
                node.value["inventory"], "must be unlimited with market.demand: expected (no stock is kept)"
            )


def _market(node: _Node, start_date: dt.date | None) -> Market:
    fields = _Fields(node, ("choice", "demand", "outside_utility", "weekly_traffic", "events"))
    return Market(
        choice=fields.read("choice", _one_of("logit", "max_surplus"), "logit"),
        demand=fields.read("demand", _one_of("sampled", "expected"), "sampled"),
        outside_utility=fields.read("outside_utility", ANY.number, 0.0),
        weekly_traffic=fields.read("weekly_traffic", _weekly_traffic, (1.0,) * 7),
        events=fields.read("events", lambda events: tuple(_event(e, start_date) for e in _items(events)), ()),
    )


def _weekly_traffic(node: _Node) -> tuple[float, ...]:
    items = _items(node)
    if len(items) != 7:
        raise _fail(node, f"must list 7 numbers (Monday..Sunday), got {len(items)}")
    return tuple(NON_NEGATIVE.number(item) for item in items)


def _event(node: _Node, start_date: dt.date | None) -> Event:
    fields = _Fields(node, ("name", "date", "day", "days", "traffic", "wtp"))
    name = fields.read("name", _name)
    if ("date" in fields) == ("day" in fields):
        given = "both" if "date" in fields else "neither"
        raise _fail(node, f"needs exactly one of `date` (YYYY-MM-DD) or `day` (0-based), got {given}")
    date = fields.read("date", lambda date_node: _event_date(date_node, start_date), None)
    first_day = (date - start_date).days if date is not None else fields.read("day", NON_NEGATIVE.whole)
    return Event(
        name=name,
        first_day=first_day,
        days=fields.read("days", AT_LEAST_ONE.whole, 1),
        traffic=fields.read("traffic", NON_NEGATIVE.number, 1.0),
        wtp=fields.read("wtp", NON_NEGATIVE.number, 1.0),
        date=date,
    )


def _event_date(node: _Node, start_date: dt.date | None) -> dt.date:
    date = _date(node)
    if start_date is None:
        raise _fail(node, "a dated event needs the top-level `start_date`; without one give `day:` (0-based)")
    if date < start_date:
        raise _fail(node, f"must not be before start_date ({start_date}), got {date}")
    return date


def _consumers(node: _Node) -> Consumers:
    fields = _Fields(node, ("population", "features", "segments"))
    features = fields.read("features", _features, MappingProxyType({}))
    return Consumers(
        population=fields.read("population", POPULATION.whole),
        segments=fields.read("segments", lambda segments: _segments(segments, features)),
        features=features,
    )


def _segments(node: _Node, features: Mapping[str, Feature] = MappingProxyType({})) -> tuple[Segment, ...]:
    items = _items(node, non_empty=True)
    segments = tuple(_segment(item, features) for item in items)
    _unique(((item.value["name"], s.name) for item, s in zip(items, segments, strict=True)), "segment")
    total = math.fsum(segment.share for segment in segments)
    if abs(total - 1) > SHARE_TOLERANCE:
        raise _fail(node, f"shares must sum to 1, got {total:.10g}")
    return segments


def _segment(node: _Node, features: Mapping[str, Feature] = MappingProxyType({})) -> Segment:
    keys = ("name", "share", "observable", "visit_rate", "wtp", "price_sensitivity", "loyalty")
    fields = _Fields(node, (*keys, "features", "wtp_per_feature"))
    own_features = fields.read("features", lambda n: _segment_features(n, features), MappingProxyType({}))
    wtp_per_feature = fields.read(
        "wtp_per_feature", lambda n: _wtp_per_feature(n, features), MappingProxyType({})
    )
    return Segment(
        name=fields.read("name", _name),
        share=fields.read("share", SHARE.number),
        observable=fields.read("observable", _flag, False),
        visit_rate=fields.read("visit_rate", FRACTION.number, 1.0),
        wtp=fields.read("wtp", _distribution),
        price_sensitivity=fields.read("price_sensitivity", _price_sensitivity, Constant(1.0)),
        loyalty=fields.read("loyalty", _distribution, None),
        features=own_features,
        wtp_per_feature=wtp_per_feature,
    )


# --- shopper features -------------------------------------------------------------------

# columns of `obs.shoppers` that a feature may not be named after
RESERVED_FEATURE_NAMES = ("shopper", "segment", "visits", "purchases", "days_since_purchase", "spend")


def _features(node: _Node) -> Mapping[str, Feature]:
    """The top level's features: name -> distribution (+ `observable`, default true)."""
    features = {}
    for name, child in _Fields(node, None, "a mapping of feature name -> distribution").entries.items():
        _feature_name(child, name)
        observable = True
        if isinstance(child.value, dict) and "observable" in child.value:
            observable = _flag(child.value["observable"])
            child = _Node({k: v for k, v in child.value.items() if k != "observable"}, child.path, child.line)
        features[name] = Feature(_feature_distribution(child), observable)
    return MappingProxyType(features)


def _feature_name(node: _Node, name: str) -> None:
    if not re.fullmatch(r"[A-Za-z_][A-Za-z0-9_]*", name):
        raise _fail(node, f"feature name {name!r} must be letters, digits and underscores, not a digit first")
    if len(name) > MAX_NAME_LENGTH:
        raise _fail(node, f"feature name must be at most {MAX_NAME_LENGTH} characters long")
    if name in RESERVED_FEATURE_NAMES:
        raise _fail(node, f"feature name {name!r} is taken by a column of obs.shoppers; choose another")


def _known_feature(node: _Node, name: str, features: Mapping[str, Feature]) -> None:
    if name not in features:
        known = ", ".join(features) or "none (declare features under consumers.features)"
        hint = _suggestion(name, features) or f"; the top level declares: {known}"
        raise _fail(node, f"unknown feature {name!r}{hint}")


def _segment_features(node: _Node, features: Mapping[str, Feature]) -> Mapping[str, FeatureDistribution]:
    """A segment's own distributions of features the top level declares."""
    own = {}
    for name, child in _Fields(node, None, "a mapping of feature name -> distribution").entries.items():
        _known_feature(child, name, features)
        if isinstance(child.value, dict) and "observable" in child.value:
            raise _fail(child.value["observable"], "is set once, under consumers.features, not per segment")
        own[name] = _feature_distribution(child)
    return MappingProxyType(own)


def _wtp_per_feature(node: _Node, features: Mapping[str, Feature]) -> Mapping[str, float]:
    weights = {}
    for name, child in _Fields(node, None, "a mapping of feature name -> money per unit").entries.items():
        _known_feature(child, name, features)
        weights[name] = ANY.number(child)
    return MappingProxyType(weights)


def _bernoulli(fields: _Fields) -> Bernoulli:
    return Bernoulli(fields.read("p", FRACTION.number))


def _feature_distribution(node: _Node) -> FeatureDistribution:
    """Every distribution of the format, `{dist: bernoulli, p: ...}` (0 or 1), or a constant
    (a number, or `{value: ...}` when it needs `observable` next to it)."""
    if isinstance(node.value, dict) and "value" in node.value:
        return Constant(_Fields(node, ("value",)).read("value", ANY.number))
    if isinstance(node.value, dict) and "dist" in node.value:
        _one_of(*_DISTRIBUTIONS, "bernoulli")(node.value["dist"])
        if node.value["dist"].value == "bernoulli":
            return _bernoulli(_Fields(node, ("dist", "p")))
    return _distribution(node)


def _price_sensitivity(node: _Node) -> Distribution:
    distribution = _distribution(node)
    if distribution.lowest < 0:
        why = "it would make shoppers prefer higher prices"
        if isinstance(distribution, Normal) and distribution.min is None:
            raise _fail(node, f"a normal without `min: 0` can produce negative values; {why}")
        raise _fail(node, f"can produce negative values (down to {_number_text(distribution.lowest)}); {why}")
    return distribution


# --- distributions ----------------------------------------------------------------------


def _uniform(fields: _Fields) -> Uniform:
    low = fields.read("low", ANY.number)
    return Uniform(low, fields.read("high", _Range(low, low_name="low").number))


def _normal(fields: _Fields) -> Normal:
    mean, sd = fields.read("mean", ANY.number), fields.read("sd", NON_NEGATIVE.number)
    low = fields.read("min", ANY.number, None)
    # a zero-width window only makes sense for a distribution that has no width either
    above_min = ANY if low is None else _Range(low, low_open=sd != 0, low_name="min")
    return Normal(mean, sd, low, fields.read("max", above_min.number, None))


def _lognormal(fields: _Fields) -> LogNormal:
    mean, sd = fields.read("mean", POSITIVE.number), fields.read("sd", NON_NEGATIVE.number)
    if sd > MAX_LOGNORMAL_SPREAD * mean:  # its log-scale spread, log(1 + (sd / mean)²), would overflow
        raise _fail(
            fields.entries["sd"],
            f"must be at most {MAX_LOGNORMAL_SPREAD:g} times the mean ({_number_text(mean)}), "
            f"got {_shown(fields.entries['sd'].value)}",
        )
    return LogNormal(mean, sd)


def _exponential(fields: _Fields) -> Exponential:
    return Exponential(fields.read("mean", POSITIVE.number))


def _triangular(fields: _Fields) -> Triangular:
    low = fields.read("low", ANY.number)
    mode = fields.read("mode", _Range(low, low_name="low").number)
    return Triangular(low, mode, fields.read("high", _Range(mode, low_name="mode").number))


_DISTRIBUTIONS: dict[str, tuple[tuple[str, ...], Callable[[_Fields], Distribution]]] = {
    "uniform": (("low", "high"), _uniform),
    "normal": (("mean", "sd", "min", "max"), _normal),
    "lognormal": (("mean", "sd"), _lognormal),
    "exponential": (("mean",), _exponential),
    "triangular": (("low", "mode", "high"), _triangular),
}


def _distribution(node: _Node) -> Distribution:
    if isinstance(node.value, int | float) and not isinstance(node.value, bool):
        return Constant(ANY.number(node))  # which refuses NaN and infinities
    what = "a number or a distribution such as {dist: uniform, low: 1, high: 5}"
    dist = _Fields(node, None, what).read("dist", _one_of(*_DISTRIBUTIONS))
    parameters, build = _DISTRIBUTIONS[dist]
    return build(_Fields(node, ("dist", *parameters)))


# --- sellers and strategies -------------------------------------------------------------


def _sellers(node: _Node, base_dir: Path | None) -> tuple[Seller, ...]:
    items = _items(node, non_empty=True)
    sellers = tuple(_seller(item, base_dir) for item in items)
    _unique(((item.value["name"], s.name) for item, s in zip(items, sellers, strict=True)), "seller")
    focal = [seller.name for seller in sellers if seller.focal]
    if len(focal) != 1:
        named = f" ({', '.join(focal)})" if focal else ""
        raise _fail(node, f"exactly one seller must have `focal: true`, found {len(focal)}{named}")
    return sellers


def _seller(node: _Node, base_dir: Path | None) -> Seller:
    fields = _Fields(node, ("name", "focal", "unit_cost", "quality", "inventory", "strategy"))
    name = fields.read("name", _name)
    focal = fields.read("focal", _flag, False)
    return Seller(
        name=name,
        focal=focal,
        unit_cost=fields.read("unit_cost", NON_NEGATIVE.number),
        quality=fields.read("quality", ANY.number, 0.0),
        inventory=fields.read("inventory", _inventory, Inventory()),
        # the focal seat takes `strategies`; a rival without a strategy prices at cost plus
        strategy=fields.read(
            "strategy", lambda strategy: _strategy(strategy, base_dir), None if focal else DEFAULT_STRATEGY
        ),
    )


def _inventory(node: _Node) -> Inventory:
    if node.value == "unlimited":
        return Inventory()
    keys = (
        "initial",
        "reorder_point",
        "order_quantity",
        "lead_time",
        "order_cost",
        "holding_cost",
        "salvage_value",
    )
    fields = _Fields(node, keys, "`unlimited` or a mapping such as {initial: 500}")
    inventory = Inventory(
        initial=fields.read("initial", _stock, UNLIMITED),
        reorder_point=fields.read("reorder_point", NON_NEGATIVE.whole, None),
        order_quantity=fields.read(
            "order_quantity", AT_LEAST_ONE.whole, _REQUIRED if "reorder_point" in fields else 0
        ),
        lead_time=fields.read("lead_time", NON_NEGATIVE.whole, 0),
        order_cost=fields.read("order_cost", NON_NEGATIVE.number, 0.0),
        holding_cost=fields.read("holding_cost", NON_NEGATIVE.number, 0.0),
        salvage_value=fields.read("salvage_value", NON_NEGATIVE.number, 0.0),
    )
    _check_inventory(fields, inventory)
    return inventory


def _check_inventory(fields: _Fields, inventory: Inventory) -> None:
    """Refuse replenishment settings that would be silently ignored."""
    if inventory.reorder_point is None and "order_quantity" in fields:
        raise _fail(fields.entries["order_quantity"], "is used only with a `reorder_point`")
    if inventory.unlimited and inventory.reorder_point is not None:
        raise _fail(
            fields.entries["reorder_point"], "needs a limited `initial` stock: unlimited stock never runs low"
        )


def _stock(node: _Node) -> float:
    if node.value == "unlimited":
        return UNLIMITED
    value = node.value
    if not (_is_number(value) and float(value).is_integer() and value >= 0):
        raise _fail(node, f"must be a whole number >= 0 or `unlimited`, got {_shown(value)}")
    _check_magnitude(node)
    return float(value)


def _strategies(node: _Node, base_dir: Path | None) -> tuple[StrategySpec, ...]:
    items = _items(node, non_empty=True)
    specs = tuple(_strategy(item, base_dir) for item in items)
    named = ((item.value.get("name", item), spec.name) for item, spec in zip(items, specs, strict=True))
    _unique(named, "strategy", "; give one of them a `name`")
    return specs


def _experiment(node: _Node, compared: tuple[StrategySpec, ...], expected: bool = False) -> Experiment:
    fields = _Fields(node, ("arms", "unit", "days", "detect"), "a mapping with arms, unit and days")
    arms = tuple(_arm(item, compared) for item in _items(fields.read("arms", lambda n: n)))
    if len(arms) < 2:
        raise _fail(fields.entries["arms"], f"needs two or more arms, got {len(arms)}")
    _unique(((item, arm.name) for item, arm in zip(fields.entries["arms"].value, arms, strict=True)), "arm")
    unit = fields.read("unit", _one_of("shopper", "day"), "shopper")
    if unit == "shopper" and expected:
        raise _fail(
            fields.entries.get("unit", node),
            "a shopper-level test needs shoppers, and market.demand: expected draws none; use unit: day",
        )
    days = fields.read("days", DAYS.whole, 28)
    if unit == "day" and days < 2 * len(arms):
        raise _fail(
            fields.entries.get("days", node),
            f"must give each arm at least two days: at least {2 * len(arms)}",
        )
    return Experiment(arms, unit, days, fields.read("detect", POSITIVE.number, None))


def _arm(node: _Node, compared: tuple[StrategySpec, ...]) -> Arm:
    if not isinstance(node.value, dict) or len(node.value) != 1:
        raise _fail(
            node,
            'must be one `arm name: strategy name` pair, e.g. control: "fixed(price=40)", '
            f"got {_shown(node.value)}",
        )
    ((name, child),) = node.value.items()
    strategy = _name(child)
    known = {spec.name: spec for spec in compared}
    if strategy not in known:
        listed = _suggestion(strategy, known) or f"; the scenario's strategies are: {', '.join(known)}"
        raise _fail(child, f"no strategy named {strategy!r} in `strategies`{listed}")
    if strategies.resolve(known[strategy].kind).uses_hidden_truth:
        raise _fail(
            child,
            f"{strategy!r} is an oracle: it needs the whole market's hidden truth, "
            "so it cannot run as an arm",
        )
    return Arm(name, strategy)


def _experiment_data(experiment: Experiment | None) -> dict[str, Any] | None:
    if experiment is None:
        return None
    return _present(
        arms=[{arm.name: arm.strategy} for arm in experiment.arms],
        unit=experiment.unit,
        days=experiment.days,
        detect=experiment.detect,
    )


def _strategy(node: _Node, base_dir: Path | None) -> StrategySpec:
    fields = _Fields(node, None, "a mapping such as {kind: cost_plus, markup: 0.5}")
    kind = fields.read("kind", _name)
    name = fields.read("name", _name, None)
    params = {key: _plain(child) for key, child in fields.entries.items() if key not in ("kind", "name")}
    _check_parameters(fields, _strategy_class(fields.entries["kind"], base_dir), params)
    return StrategySpec(kind, MappingProxyType(params), name or strategies.display_name(kind, params))


class _NotImported(strategies.PricingStrategy):
    """Stands for a plug-in class that is not to be imported: takes its parameters as written."""

    def __init__(self, **params: Any):
        pass


_NO_IMPORTS = Path("<plug-ins not imported>")  # a base_dir meaning: import no plug-in


def _check_segments(
    nodes: list[_Node], specs: Iterable[StrategySpec], observable: tuple[str, ...], base_dir: Path | None
) -> None:
    """Segments a strategy names must be observable ones (`check_segments`)."""
    for node, spec in zip(nodes, specs, strict=True):
        if ":" in spec.kind and base_dir == _NO_IMPORTS:
            continue  # a plug-in that is not to be imported is taken as written
        try:
            strategies.build(spec.builds, spec.params).check_segments(observable)
        except strategies.ParameterError as error:
            where = node
            for key in error.param.split("."):  # the deepest node written in the file
                if isinstance(where.value, dict) and key in where.value:
                    where = where.value[key]
            raise _Invalid(_key_path(node.path, error.param), where.line, str(error)) from None


def _strategy_class(node: _Node, base_dir: Path | None) -> type[strategies.PricingStrategy]:
    kind = node.value
    if ":" in kind and base_dir == _NO_IMPORTS:
        return _NotImported
    if ":" in kind and base_dir is not None:
        _make_importable(base_dir)
    try:
        return strategies.resolve(kind)
    except strategies.UnknownStrategy as error:
        hint = "" if ":" in kind else _suggestion(kind, strategies.BUILT_IN)
        raise _fail(node, f"{error}{hint}") from None


def _make_importable(folder: Path) -> None:
    """Let `module:Class` kinds import plug-ins that sit next to the scenario file; that folder
    comes first, as a script's own folder does."""
    if str(folder) in sys.path:
        sys.path.remove(str(folder))
    sys.path.insert(0, str(folder))


def _check_parameters(fields: _Fields, cls: type[strategies.PricingStrategy], params: dict[str, Any]) -> None:
    """Build the strategy once, so a bad parameter is reported now and not mid-run."""
    try:
        cls(**params)
    except strategies.ParameterError as error:
        declared = cls.parameters()
        hint = "" if error.param in declared else _suggestion(error.param, declared)
        line = fields.entries[error.param].line if error.param in fields else fields.node.line
        raise _Invalid(_key_path(fields.node.path, error.param), line, f"{error}{hint}") from None
    except (Exception, SystemExit) as error:  # a plug-in's own check: the user needs its words
        raise _fail(
            fields.node, f"{fields.entries['kind'].value} refused its parameters: {error!r}"
        ) from None


def _guardrails(node: _Node) -> Guardrails:
    fields = _Fields(node, ("min_price", "max_price", "max_daily_change", "max_segment_ratio"))
    min_price = fields.read("min_price", NON_NEGATIVE.number, 0.0)
    return Guardrails(
        min_price=min_price,
        max_price=fields.read(
            "max_price", _Range(min_price, low_open=True, low_name="min_price").number, math.inf
        ),
        max_daily_change=fields.read("max_daily_change", POSITIVE.number, None),
        max_segment_ratio=fields.read("max_segment_ratio", AT_LEAST_ONE.number, None),
    )


# --- writing ----------------------------------------------------------------------------


def _present(**fields: Any) -> dict[str, Any]:
    """The fields that have a value: absent ones are left out of the written file."""
    return {key: value for key, value in fields.items() if value is not None}


def _scenario_data(scenario: Scenario) -> dict[str, Any]:
    return _present(
        name=scenario.name,
        description=scenario.description or None,
        lesson=scenario.lesson or None,
        days=scenario.days,
        start_date=scenario.start_date,
        replications=scenario.replications,
        seed=scenario.seed,
        stop_when_stable=scenario.stop_when_stable,
        market=_market_data(scenario.market),
        consumers=_present(
            population=scenario.consumers.population,
            features=_features_data(scenario.consumers.features) or None,
            segments=[_segment_data(segment) for segment in scenario.consumers.segments],
        ),
        sellers=[_seller_data(seller) for seller in scenario.sellers],
        strategies=[spec.to_yaml() for spec in scenario.strategies],
        guardrails=_present(
            min_price=scenario.guardrails.min_price,
            max_price=None if math.isinf(scenario.guardrails.max_price) else scenario.guardrails.max_price,
            max_daily_change=scenario.guardrails.max_daily_change,
            max_segment_ratio=scenario.guardrails.max_segment_ratio,
        ),
        experiment=_experiment_data(scenario.experiment),
    )


def _market_data(market: Market) -> dict[str, Any]:
    events = [
        _present(
            name=event.name,
            date=event.date,
            day=event.first_day if event.date is None else None,
            days=event.days,
            traffic=event.traffic,
            wtp=event.wtp,
        )
        for event in market.events
    ]
    return {
        "choice": market.choice,
        **({"demand": market.demand} if market.demand != "sampled" else {}),
        "outside_utility": market.outside_utility,
        "weekly_traffic": list(market.weekly_traffic),
        "events": events,
    }


def _segment_data(segment: Segment) -> dict[str, Any]:
    return _present(
        name=segment.name,
        share=segment.share,
        observable=segment.observable,
        visit_rate=segment.visit_rate,
        wtp=segment.wtp.to_yaml(),
        price_sensitivity=segment.price_sensitivity.to_yaml(),
        loyalty=None if segment.loyalty is None else segment.loyalty.to_yaml(),
        features={name: dist.to_yaml() for name, dist in segment.features.items()} or None,
        wtp_per_feature=dict(segment.wtp_per_feature) or None,
    )


def _features_data(features: Mapping[str, Feature]) -> dict[str, Any]:
    data = {}
    for name, feature in features.items():
        written = feature.dist.to_yaml()
        if not feature.observable:
            written = written if isinstance(written, dict) else {"value": written}
            written = {**written, "observable": False}
        data[name] = written
    return data


def _seller_data(seller: Seller) -> dict[str, Any]:
    return _present(
        name=seller.name,
        focal=seller.focal,
        unit_cost=seller.unit_cost,
        quality=seller.quality,
        inventory=_inventory_data(seller.inventory),
        strategy=None if seller.strategy is None else seller.strategy.to_yaml(),
    )


def _inventory_data(inventory: Inventory) -> str | dict[str, Any]:
    if inventory == Inventory():
        return "unlimited"
    ordering = inventory.reorder_point is not None
    return _present(
        initial="unlimited" if inventory.unlimited else inventory.initial,
        reorder_point=inventory.reorder_point,
        order_quantity=inventory.order_quantity if ordering else None,
        lead_time=inventory.lead_time,
        order_cost=inventory.order_cost,
        holding_cost=inventory.holding_cost,
        salvage_value=inventory.salvage_value,
    )
