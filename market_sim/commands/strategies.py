"""`market-sim strategies [KIND]`: the built-in strategies, each with its parameters, their
types and defaults and a one-line description, read from the classes themselves; with KIND,
that strategy's whole documentation."""

from __future__ import annotations

import argparse
import inspect
import re
import typing
from collections.abc import Mapping
from typing import Any

from market_sim.commands import UsageError


def add_parser(subparsers: argparse._SubParsersAction) -> argparse.ArgumentParser:
    parser = subparsers.add_parser(
        "strategies", help="list the built-in strategies with their parameters and defaults"
    )
    parser.add_argument("kind", nargs="?", help="show this strategy's whole documentation")
    return parser


def run(args: argparse.Namespace) -> int:
    import strategies

    if args.kind is None:
        for kind, cls in strategies.BUILT_IN.items():
            print(f"{kind}: {summary(cls)}")
            for line in parameter_lines(cls):
                print(f"    {line}")
        print("Details: market-sim strategies KIND. Plug-ins: kind module:Class (see the README).")
        return 0
    if args.kind not in strategies.BUILT_IN:
        known = ", ".join(strategies.BUILT_IN)
        raise UsageError(f"strategies: no built-in strategy {args.kind!r}; built in: {known}")
    cls = strategies.BUILT_IN[args.kind]
    print(f"{args.kind}: {inspect.getdoc(cls)}")
    print("Parameters (scenario name: type = default):")
    for line in parameter_lines(cls):
        print(f"    {line}")
    return 0


def summary(cls: type) -> str:
    """The first sentence of the class's docstring, on one line."""
    paragraph = (inspect.getdoc(cls) or "").split("\n\n", 1)[0]
    text = " ".join(paragraph.split())
    first = re.match(r"(.+?\.)(\s|$)", text)
    return first.group(1) if first else text


def parameter_lines(cls: Any) -> list[str]:
    """`name: type = default` for every parameter a scenario may set, in declaration order
    (defaults as YAML)."""
    lines = []
    for name, hint in cls.parameters().items():
        attribute = cls.aliases.get(name, name)
        default = getattr(cls, attribute, inspect.Parameter.empty)
        shown = "required" if default is inspect.Parameter.empty else _value(default)
        lines.append(f"{name}: {_type(hint)} = {shown}")
    return lines


def _type(hint: Any) -> str:
    if isinstance(hint, type) and typing.get_origin(hint) is None:
        return hint.__name__
    return re.sub(r"\b(typing|collections\.abc)\.", "", str(hint))


def _value(value: Any) -> str:
    """A default as a scenario file would write it (YAML)."""
    import yaml

    plain = dict(value) if isinstance(value, Mapping) else value
    text = yaml.safe_dump(plain, default_flow_style=True, sort_keys=False, allow_unicode=True)
    return text.removesuffix("\n").removesuffix("\n...").strip()
