"""Pricing strategies: the API (`strategies.base`) and the built-in library.

`build(spec)` makes a fresh strategy for one run from a scenario's `StrategySpec`; `kind` is a
built-in name or `module:Class` for any importable subclass of `PricingStrategy`.
"""

from __future__ import annotations

import importlib
from collections.abc import Mapping
from typing import Any

from strategies.base import (
    DayResult,
    MarketInfo,
    Observation,
    ParameterError,
    Prices,
    PricingStrategy,
)
from strategies.demand_response import DemandResponse
from strategies.inventory_aware import InventoryAware
from strategies.ml_pricing import MLPricing
from strategies.oracles import OracleBestFixed, OracleBestResponse
from strategies.personal import OraclePersonal, PersonalRule
from strategies.promotions import Promotions
from strategies.segment_pricing import SegmentPricing
from strategies.simple import CompetitorResponse, CostPlus, Fixed

__all__ = [
    "BUILT_IN",
    "DayResult",
    "MarketInfo",
    "Observation",
    "ParameterError",
    "Prices",
    "PricingStrategy",
    "UnknownStrategy",
    "build",
    "display_name",
    "resolve",
]

BUILT_IN: dict[str, type[PricingStrategy]] = {
    cls.kind: cls
    for cls in (
        Fixed,
        CostPlus,
        CompetitorResponse,
        DemandResponse,
        SegmentPricing,
        Promotions,
        InventoryAware,
        OracleBestFixed,
        OracleBestResponse,
        OraclePersonal,
        MLPricing,
        PersonalRule,
    )
}


class UnknownStrategy(LookupError):
    """A `kind` that names no built-in strategy and no importable plug-in class."""


def resolve(kind: str) -> type[PricingStrategy]:
    """The strategy class a scenario's `kind` names."""
    if ":" not in kind:
        if kind in BUILT_IN:
            return BUILT_IN[kind]
        raise UnknownStrategy(
            f"unknown strategy {kind!r}; built in: {', '.join(sorted(BUILT_IN))}, "
            "or a plug-in as module:Class"
        )
    module_name, _, class_name = kind.partition(":")
    try:
        module = importlib.import_module(module_name)
    except (Exception, SystemExit) as error:  # the plug-in's own import errors are the user's to see
        raise UnknownStrategy(f"cannot import {module_name!r}: {error}") from error
    cls = getattr(module, class_name, None)
    if not (isinstance(cls, type) and issubclass(cls, PricingStrategy)):
        raise UnknownStrategy(f"{module_name!r} has no PricingStrategy subclass {class_name!r}")
    return cls


def build(kind: str | type[PricingStrategy], params: Mapping[str, Any]) -> PricingStrategy:
    """A fresh strategy of `kind` (a name, or the class itself) with `params` (raises
    ParameterError naming a bad one)."""
    return (kind if isinstance(kind, type) else resolve(kind))(**params)


def display_name(kind: str, params: dict[str, Any]) -> str:
    """The stable readable name of a strategy, e.g. `cost_plus(markup=0.6)`."""
    shown = ", ".join(f"{key}={_show(value)}" for key, value in params.items())
    return f"{kind}({shown})"


def _show(value: Any) -> str:
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    if isinstance(value, dict):
        return "{" + ", ".join(f"{k}: {_show(v)}" for k, v in value.items()) + "}"
    if isinstance(value, list):
        return "[" + ", ".join(_show(v) for v in value) + "]"
    return str(value)
