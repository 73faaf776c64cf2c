"""Guardrails: bounds on every price the focal seller posts, whatever its strategy says."""

from __future__ import annotations

import dataclasses
from types import MappingProxyType

import numpy as np

from market_sim.scenario import Guardrails
from strategies.base import Prices


def apply_guardrails(decision: Prices, yesterday: Prices | None, rails: Guardrails) -> tuple[Prices, int]:
    """The decision with every price moved inside the guardrails, and how many prices moved.

    Order matters: the daily-change limit first, then the hard bounds, then the segment
    ratio (the cheapest segment price stays, dearer ones are capped at ratio × cheapest).
    """

    def bound(price: float, before: float | None) -> float:
        if rails.max_daily_change is not None and before is not None:
            step = rails.max_daily_change * before
            price = float(np.clip(price, before - step, before + step))
        return float(np.clip(price, rails.min_price, rails.max_price))

    base = bound(decision.base, yesterday.base if yesterday else None)
    segments = {
        name: bound(price, _segment_price(yesterday, name)) for name, price in decision.segments.items()
    }
    if rails.max_segment_ratio is not None and segments:
        cap = min(base, *segments.values()) * rails.max_segment_ratio
        base = min(base, cap)
        segments = {name: min(price, cap) for name, price in segments.items()}
    moved = (base != decision.base) + sum(segments[n] != p for n, p in decision.segments.items())
    if not moved:
        return decision, 0
    guarded = dataclasses.replace(decision, base=base, segments=MappingProxyType(segments))
    return guarded, int(moved)


def _segment_price(decision: Prices | None, name: str) -> float | None:
    if decision is None:
        return None
    return decision.segments.get(name, decision.base)
