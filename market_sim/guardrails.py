"""Guardrails: bounds on every price the focal seller posts, whatever its strategy says."""

from __future__ import annotations

import dataclasses
from types import MappingProxyType

from market_sim.scenario import Guardrails
from strategies.base import Prices


def apply_guardrails(
    decision: Prices, yesterday: Prices | None, rails: Guardrails, cost_floor: float = 0.0
) -> tuple[Prices, int]:
    """The decision with every price moved inside the guardrails, and how many prices moved.

    Order matters: the daily-change limit first, then the hard bounds (the floor is the higher
    of `min_price` and `cost_floor`; `max_price` wins if the two cross), then the segment
    ratio (the cheapest price stays, dearer ones are capped at ratio × cheapest), and last the
    coupons, cut so that no price after a coupon falls below the floor. Every price that moved
    counts once and is named in the decision's reason.
    """
    floor = max(rails.min_price, cost_floor)
    floor_rule = "min_price" if rails.min_price >= cost_floor else "unit cost"
    if not decision.segments and not decision.coupon_new and not decision.coupon_returning:
        # one price: only its own bounds can move it (what the rule below comes to)
        before = yesterday.base if yesterday else None
        base, base_rule = _bound(decision.base, before, rails, floor, floor_rule)
        if base == decision.base:
            return decision, 0
        note = _note("base", decision.base, base, base_rule)
        reason = f"{decision.reason}; guardrails: {note}".lstrip("; ")
        coupons = (decision.coupon_new, decision.coupon_returning)
        return Prices(base, MappingProxyType({}), *coupons, reason, decision.personal), 1
    before = {name: _segment_price(yesterday, name) for name in decision.segments}
    base, base_rule = _bound(decision.base, yesterday.base if yesterday else None, rails, floor, floor_rule)
    bounded = {
        name: _bound(price, before[name], rails, floor, floor_rule)
        for name, price in decision.segments.items()
    }
    segments = {name: price for name, (price, _) in bounded.items()}
    rules = {name: rule for name, (_, rule) in bounded.items()}
    if rails.max_segment_ratio is not None and segments:
        cap = min(base, *segments.values()) * rails.max_segment_ratio
        if base > cap:
            base, base_rule = cap, "max_segment_ratio"
        for name, price in segments.items():
            if price > cap:
                segments[name], rules[name] = cap, "max_segment_ratio"
    room = max(min([base, *segments.values()]) - floor, 0.0)
    coupons = {"coupon_new": decision.coupon_new, "coupon_returning": decision.coupon_returning}
    cut = {name: min(value, room) for name, value in coupons.items()}

    notes = [_note("base", decision.base, base, base_rule)]
    notes += [_note(name, decision.segments[name], segments[name], rules[name]) for name in segments]
    notes += [_note(name, coupons[name], cut[name], f"{floor_rule} after coupon") for name in coupons]
    notes = [note for note in notes if note]
    if not notes:
        return decision, 0
    guarded = dataclasses.replace(
        decision,
        base=base,
        segments=MappingProxyType(segments),
        reason=f"{decision.reason}; guardrails: {', '.join(notes)}".lstrip("; "),
        **cut,
    )
    return guarded, len(notes)


def _bound(
    price: float, before: float | None, rails: Guardrails, floor: float, floor_rule: str
) -> tuple[float, str]:
    """One price inside the daily-change limit and the hard bounds, and the last rule that moved it."""
    rule = ""
    if rails.max_daily_change is not None and before is not None:
        step = rails.max_daily_change * before
        if abs(price - before) > step:
            price, rule = min(max(price, before - step), before + step), "max_daily_change"
    if price < floor:
        price, rule = floor, floor_rule
    if price > rails.max_price:
        price, rule = rails.max_price, "max_price"
    return price, rule


def _note(label: str, wanted: float, got: float, rule: str) -> str:
    return f"{label} {wanted:.2f}→{got:.2f} ({rule})" if got != wanted else ""


def _segment_price(decision: Prices | None, name: str) -> float | None:
    if decision is None:
        return None
    return decision.segments.get(name, decision.base)
