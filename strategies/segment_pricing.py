"""Third-degree price discrimination: a price per observable segment, given or learned."""

from __future__ import annotations

from collections.abc import Callable, Mapping

import numpy as np

from strategies.base import MarketInfo, Observation, Prices, require
from strategies.learning import Estimate, LearningStrategy

OTHERS = "others"  # everyone the seller cannot tell apart: they pay the base price


class SegmentPricing(LearningStrategy):
    """Third-degree price discrimination (theory.md §5): a price for each observable segment,
    a base price for everyone else, and coupons for new or returning customers.

    prices: given prices of observable segments, e.g. {members: 55}; every observable segment
        not named here gets a learned price, from its own sales, the way demand_response learns.
    base_price: given price for everyone else (segments the seller cannot observe); None:
        learned likewise. When every shopper is in an observable segment nobody is offered the
        base price: the seller's posted price is then its lowest segment price (the engine's
        rule), and only the segment prices count for the guardrails and the scores.
    coupon_new, coupon_returning: money off for shoppers who have never bought from this seller,
        or who have. The engine knows only these two statuses (there is no "lapsed" customer);
        coupons are given, not learned, and prices are learned as listed, before coupons.
    max_ratio: highest ÷ lowest price across segments and the base price (default: the seller's
        `max_segment_ratio` guardrail, if any; the stricter of the two when both are set). Learned
        prices are chosen together to respect it, not cut afterwards.
    The learning parameters (model, explore, window, start_price, start_markup, warmup,
    explore_width, max_move, floor, ceiling, rivals, bandwidth) are those of demand_response;
    every learned segment uses them.
    """

    kind = "segment_pricing"
    prices: dict[str, float] | None = None
    base_price: float | None = None
    coupon_new: float = 0.0
    coupon_returning: float = 0.0
    max_ratio: float | None = None

    def check(self) -> None:
        super().check()
        for name, price in (self.prices or {}).items():
            require(
                isinstance(price, int | float) and not isinstance(price, bool) and price >= 0,
                "prices",
                f"the price of {name!r} must be a number >= 0, got {price!r}",
            )
        require(
            self.base_price is None or self.base_price >= 0,
            "base_price",
            f"must not be negative, got {self.base_price}",
        )
        for name in ("coupon_new", "coupon_returning"):
            require(getattr(self, name) >= 0, name, f"must not be negative, got {getattr(self, name)}")
        require(
            self.max_ratio is None or self.max_ratio >= 1,
            "max_ratio",
            f"must be at least 1, got {self.max_ratio}",
        )

    def check_segments(self, observable: tuple[str, ...]) -> None:
        for name in self.prices or {}:
            require(
                name in observable,
                f"prices.{name}",
                f"{name!r} is not an observable segment, so the seller cannot price it apart "
                f"(observable: {', '.join(observable) or 'none'}; set `observable: true` on the segment)",
            )

    def reset(self, info: MarketInfo) -> None:
        super().reset(info)
        unknown = sorted(set(self.prices or {}) - set(info.segments))
        if unknown:
            observable = ", ".join(info.segments) or "none"
            raise ValueError(
                f"prices: {', '.join(unknown)} not an observable segment (observable: {observable})"
            )
        self.given = {name: float(price) for name, price in (self.prices or {}).items()}
        if self.base_price is not None:
            self.given[OTHERS] = self.base_price
        self.groups = (*info.segments, OTHERS)
        limits = [r for r in (self.max_ratio, getattr(info.guardrails, "max_segment_ratio", None)) if r]
        self.ratio = min(limits) if limits else None
        self.listed: list[Prices] = []  # prices as posted, after the guardrails

    def posted(self, prices: Prices) -> None:
        self.listed.append(prices)

    def price(self, obs: Observation) -> Prices:
        data = self._group_data(obs)
        nobody_else = obs.day > 0 and not data[OTHERS][1].any()  # every shopper is in a segment
        groups = [g for g in self.groups if g not in self.given and not (g == OTHERS and nobody_else)]
        past_rivals, rivals = self.rival_average(obs)
        keep = self.usable_days(obs.history)
        estimates = {g: self.estimate(*data[g], keep, past_rivals) for g in groups if obs.day >= self.warmup}
        learned = {g: e for g, e in estimates.items() if e is not None}
        untaught = {g: self.untaught(obs.day, data[g][0][-1] if obs.day else None) for g in groups}
        warming = {g: price for g, (price, _) in untaught.items() if g not in learned}
        prices, notes = self._plan(obs, learned, rivals, data, keep, {**self.given, **warming})
        notes += [f"{g}: {untaught[g][1]}" for g in warming]
        prices = {**self.given, **prices, **warming}
        base = prices.pop(OTHERS, self.start)  # offered to nobody when every segment has a price
        return Prices(
            base,
            segments=prices,
            coupon_new=self.coupon_new,
            coupon_returning=self.coupon_returning,
            reason="; ".join(notes) or "given prices",
        )

    def _group_data(self, obs: Observation) -> dict[str, tuple[np.ndarray, np.ndarray, np.ndarray]]:
        """Per group: the price it was shown, its shoppers and units, day by day."""
        history = obs.history
        views, units = history.segment_views, history.segment_units
        data = {
            name: (
                np.array([p.segments.get(name, p.base) for p in self.listed]),
                views[name],
                units[name],
            )
            for name in self.info.segments
        }
        seen = sum((v for v in views.values()), np.zeros(obs.day, dtype=np.int64))
        sold = sum((u for u in units.values()), np.zeros(obs.day, dtype=np.int64))
        base = np.array([p.base for p in self.listed])
        data[OTHERS] = (base, history.views - seen, history.units - sold)
        return data

    def _plan(
        self,
        obs: Observation,
        learned: Mapping[str, Estimate],
        rivals: float | None,
        data: Mapping[str, tuple[np.ndarray, np.ndarray, np.ndarray]],
        keep: np.ndarray,
        fixed: Mapping[str, float],
    ) -> tuple[dict[str, float], list[str]]:
        """Learned groups' prices (experiments included) within the ratio, given the `fixed`
        prices of the others, and a note for each."""
        if not learned:
            return {}, []
        cost = obs.unit_cost
        curves = {
            g: e.curve(rivals) if self.explore == "greedy" else e.sample(self.rng, rivals)
            for g, e in learned.items()
        }
        best = {g: e.curve(rivals).best_price(cost, self.low, self.high) for g, e in learned.items()}
        width = self.explore_width

        def peak(group: str) -> float:
            """The group's experiment, at most max_move from yesterday's price."""
            sampled = curves[group].best_price(cost, self.low, self.high)
            experiment = float(np.clip(sampled, best[group] * (1 - width), best[group] * (1 + width)))
            shown = data[group][0]
            return self.step_limit(experiment, float(shown[-1]) if len(shown) else None)

        peaks = {g: peak(g) for g in learned}
        shoppers = {g: float(data[g][1][keep].mean()) for g in learned}

        def value(group: str, price: float) -> float:
            return shoppers[group] * (price - cost) * float(curves[group].rate(price))

        planned = within_ratio(peaks, fixed, value, self.ratio)
        notes = [
            f"{g} {planned[g]:.2f} ({self.explore}: demand {learned[g].curve(rivals).describe()})"
            for g in learned
        ]
        if any(abs(planned[g] - peaks[g]) > 1e-9 for g in learned):
            notes.append(f"within ratio {self.ratio:g}")
        return {g: planned[g] for g in learned}, notes


def within_ratio(
    peaks: Mapping[str, float],
    fixed: Mapping[str, float],
    value: Callable[[str, float], float],
    ratio: float | None,
) -> dict[str, float]:
    """Prices for the `peaks` groups that maximise Σ value(group, price) with the highest ÷ lowest
    price of all groups (`fixed` ones included, at their prices) at most `ratio`.

    Each group's value is single-peaked at its peak, so for a lowest price L its best price is
    its peak clipped into [L, ratio × L]; what remains is a search over L.
    """
    from scipy import optimize  # imported when first used: loading a scenario stays fast

    everything = {**fixed, **peaks}
    if ratio is None or not peaks or max(everything.values()) <= ratio * min(everything.values()):
        return dict(peaks)
    # the lowest price is at most every fixed price and at least the dearest one ÷ ratio; beyond
    # the spread of all prices a different lowest price changes nothing
    low = max(max(fixed.values(), default=0.0), min(everything.values())) / ratio
    high = min(min(fixed.values(), default=np.inf), max(everything.values()))
    if high <= low:  # the given prices leave no room: the guardrails will have the last word
        return dict(peaks)

    def prices_at(lowest: float) -> dict[str, float]:
        return {g: float(np.clip(p, lowest, ratio * lowest)) for g, p in peaks.items()}

    def loss(lowest: float) -> float:
        return -sum(value(g, p) for g, p in prices_at(lowest).items())

    best = optimize.minimize_scalar(
        loss, bounds=(low, high), method="bounded", options={"xatol": 1e-6 * high}
    )
    return prices_at(float(best.x))
