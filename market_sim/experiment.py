"""A/B tests inside a simulated market, checked against the truth the simulator knows.

In an experiment the focal seller runs the arms side by side for `days` days: each day (unit
`day`) or each shopper (unit `shopper`, by pseudonym; shown their arm's price as a personal
price, so the books hold what shoppers paid) is randomised to one arm, from the experiment's
own random stream, in equal numbers. The outcome is profit per shopper: the focal seller's revenue
less the unit cost of the units it sold, per shopping visit. Per replication and arm against the
first arm (the control) we report the estimated effect, its 95% interval and p-value, and the
true effect: the same replication (the same shoppers and shocks) run with that arm alone minus
the control alone. Across replications: the coverage of the intervals, the bias, and the
false-positive rate of an A/A split of the control's units tested once at the end against
testing every day and stopping at the first p < 0.05 ("peeking").
"""

from __future__ import annotations

import dataclasses
import math
from collections.abc import Mapping
from dataclasses import dataclass
from types import MappingProxyType
from typing import Any

import numpy as np
import pandas as pd
from scipy import stats

from market_sim.model import MarketModel
from market_sim.scenario import Experiment, Scenario, StrategySpec
from market_sim.streams import Purpose, stream
from strategies.base import DayResult, MarketInfo, Observation, Prices, PricingStrategy, read_only_copy

ALPHA = 0.05
POWER = 0.8
Z = float(stats.norm.ppf(1 - ALPHA / 2))
Z_POWER = float(stats.norm.ppf(POWER))


class ArmsByDay(PricingStrategy):
    """The focal seat of a day-randomised experiment: on day d the arm `assignment[d]` sets the
    price. Every arm observes every day, as it would read the seller's shared history."""

    kind = "experiment_arms_by_day"
    arms: list = []  # the arms: {kind: name or class, params: {...}}
    assignment: list = []  # arm per day

    def reset(self, info: MarketInfo) -> None:
        import strategies

        self._arms = [strategies.build(spec["kind"], spec["params"]) for spec in self.arms]
        for arm in self._arms:
            arm.reset(info)
        self._today = 0

    def price(self, obs: Observation) -> float | Prices:
        self._today = self.assignment[obs.day]
        decision = self._arms[self._today].price(obs)
        if isinstance(decision, Prices):
            return dataclasses.replace(decision, reason=f"arm {self._today}: {decision.reason}".strip(": "))
        return Prices(float(decision), reason=f"arm {self._today}")

    def posted(self, prices: Prices) -> None:
        self._arms[self._today].posted(prices)

    def observe(self, result: DayResult) -> None:
        for arm in self._arms:
            arm.observe(result)


class ArmsByShopper(PricingStrategy):
    """The focal seat of a shopper-randomised experiment, on the personal-price path: each
    shopper (by pseudonym, `arm_of`) belongs to one arm, every arm prices its own shoppers
    (seeing only their rows of `obs.shoppers` and its own history: its prices, shoppers, sales
    and revenue), and each shopper is shown their arm's price as a personal price, so the
    seller's books hold what shoppers paid. The posted price, which rivals see, is the average
    of the arms' base prices (arms of equal size). Stock is shared: every arm sees the one
    shelf and its lost sales, which no shopper's row can be charged with."""

    kind = "experiment_arms_by_shopper"
    arms: list = []  # the arms: {kind: name or class, params: {...}}
    arm_of: list = []  # arm of each pseudonymous shopper id
    # whether every segment is observable: then an arm pricing each segment posts its lowest
    # segment price, as the engine posts a seller's (nobody is shown its base price)
    every_segment_observable: bool = False

    def reset(self, info: MarketInfo) -> None:
        import strategies

        self._arms = [strategies.build(spec["kind"], spec["params"]) for spec in self.arms]
        self._histories = [ArmHistory(info.days, list(info.segments)) for _ in self._arms]
        # the first arm draws from the seat's own stream, as it does alone; the others from
        # streams spawned from it (spawning leaves the seat's stream as it is)
        streams = [info.rng, *info.rng.spawn(len(self._arms) - 1)]
        for arm, rng in zip(self._arms, streams, strict=True):
            arm.reset(dataclasses.replace(info, rng=rng))
        self._arm_of = np.asarray(self.arm_of)

    def price(self, obs: Observation) -> Prices:
        table = obs.shoppers
        arm_of = self._arm_of[table["shopper"].to_numpy()]
        self._segment = table["segment"].astype(str).to_numpy()
        self._returning = table["purchases"].to_numpy() > 0
        self._rows = [np.flatnonzero(arm_of == k) for k in range(len(self._arms))]
        self._tables, self._decisions = [], []
        shown = np.zeros(len(table))
        for k, (arm, rows) in enumerate(zip(self._arms, self._rows, strict=True)):
            own = _Table(table, rows)
            decision = arm.price(dataclasses.replace(obs, history=self._histories[k], shopper_table=own))
            decision = decision if isinstance(decision, Prices) else Prices(float(decision))
            if (
                self.every_segment_observable
                and decision.segments
                and set(decision.segments) >= set(obs.info.segments)
            ):
                decision = dataclasses.replace(decision, base=min(decision.segments.values()))
            shown[rows] = _shown_prices(
                decision, self._segment[rows], self._returning[rows], obs.info.segments, k
            )
            self._tables.append(own)
            self._decisions.append(decision)
        base = float(np.mean([d.base for d in self._decisions]))
        reason = "arms side by side: each shopper sees their arm's price, rivals the average"
        return Prices(base, personal=shown, reason=reason)

    def posted(self, prices: Prices) -> None:
        self._shown = np.asarray(prices.personal)  # after the guardrails: what shoppers see
        for arm, decision, rows in zip(self._arms, self._decisions, self._rows, strict=True):
            personal = None if decision.personal is None else read_only_copy(self._shown[rows])
            arm.posted(dataclasses.replace(decision, personal=personal))

    def observe(self, result: DayResult) -> None:
        bought = np.asarray(result.bought, dtype=bool)
        for k, arm in enumerate(self._arms):
            rows, decision = self._rows[k], self._decisions[k]
            sold, paid = bought[rows], self._shown[rows]
            own = DayResult(
                day=result.day,
                price=decision.base,
                views=len(rows),
                units=int(np.count_nonzero(sold)),
                revenue=float(paid[sold].sum()),
                lost_sales=result.lost_sales,
                stock=result.stock,
                bought=read_only_copy(sold) if self._tables[k].called else None,
            )
            self._histories[k].record(own, sold, self._segment[rows], self._returning[rows], paid)
            arm.observe(own)


class _Table:
    """An arm's rows of today's `obs.shoppers` (renumbered from 0), built when it first asks."""

    def __init__(self, table: pd.DataFrame, rows: np.ndarray):
        self._source, self._rows, self._table = table, rows, None

    def __call__(self) -> pd.DataFrame:
        if self._table is None:
            self._table = self._source.iloc[self._rows].reset_index(drop=True)
        return self._table

    @property
    def called(self) -> bool:
        return self._table is not None


def _shown_prices(
    decision: Prices, segment: np.ndarray, returning: np.ndarray, observable: Mapping[str, int], arm: int
) -> np.ndarray:
    """The price each of an arm's shoppers sees under its decision, as the engine would show
    it: their personal price, else their visible segment's price (or the base price) less the
    coupon for new or returning customers."""
    if decision.personal is not None:
        personal = np.asarray(decision.personal, dtype=float)
        if personal.shape != (len(segment),):
            raise ValueError(
                f"arm {arm}: personal prices must be one number per row of obs.shoppers "
                f"({len(segment)}), got an array of shape {personal.shape}"
            )
        return personal
    unknown = sorted(set(decision.segments) - set(observable))
    if unknown:
        raise ValueError(f"arm {arm}: priced segment {unknown[0]!r}, which is not an observable segment")
    names, which = np.unique(segment, return_inverse=True)
    price = np.array([decision.segments.get(name, decision.base) for name in names], dtype=float)[which]
    return np.maximum(price - np.where(returning, decision.coupon_returning, decision.coupon_new), 0.0)


class ArmHistory:
    """An arm's own past, read as `obs.history` by the arm's strategy (the interface of
    `strategies.base.History`): per day the arm's base price, its shoppers (`views`), units,
    revenue and the shared shelf's lost sales; the same per observable segment and per new /
    returning customer."""

    def __init__(self, days: int, segments: list[str]):
        self._segments, self._day = segments, 0
        self._price, self._revenue = np.zeros(days), np.zeros(days)
        self._lost = np.zeros(days, dtype=np.int64)
        self._status = np.zeros((2, 2, days), dtype=np.int64)  # views / units × new / returning
        self._segment = np.zeros((3, len(segments), days))  # views / units / revenue per segment

    def record(
        self,
        result: DayResult,
        sold: np.ndarray,
        segment: np.ndarray,
        returning: np.ndarray,
        paid: np.ndarray,
    ) -> None:
        """The arm's day: its result, whom of its shoppers it sold to, their visible segment,
        whether they had bought before, and the price each was shown."""
        day = result.day
        self._price[day], self._revenue[day] = result.price, result.revenue
        self._lost[day] = result.lost_sales
        for status, rows in enumerate((~returning, returning)):
            self._status[:, status, day] = np.count_nonzero(rows), np.count_nonzero(sold & rows)
        for g, name in enumerate(self._segments):
            mine = segment == name
            views, units = np.count_nonzero(mine), np.count_nonzero(sold & mine)
            self._segment[:, g, day] = views, units, paid[sold & mine].sum()
        self._day = day + 1

    def _past(self, array: np.ndarray) -> np.ndarray:
        return read_only_copy(array[..., : self._day])

    @property
    def prices(self) -> np.ndarray:
        return self._past(self._price)

    @property
    def views(self) -> np.ndarray:
        return self._past(self._status[0].sum(axis=0))

    @property
    def units(self) -> np.ndarray:
        return self._past(self._status[1].sum(axis=0))

    @property
    def revenue(self) -> np.ndarray:
        return self._past(self._revenue)

    @property
    def lost_sales(self) -> np.ndarray:
        return self._past(self._lost)

    def _by_segment(self, what: int, kind: type) -> Mapping[str, np.ndarray]:
        return MappingProxyType(
            {name: self._past(self._segment[what, g].astype(kind)) for g, name in enumerate(self._segments)}
        )

    @property
    def segment_views(self) -> Mapping[str, np.ndarray]:
        return self._by_segment(0, np.int64)

    @property
    def segment_units(self) -> Mapping[str, np.ndarray]:
        return self._by_segment(1, np.int64)

    @property
    def segment_revenue(self) -> Mapping[str, np.ndarray]:
        return self._by_segment(2, float)

    @property
    def new_views(self) -> np.ndarray:
        return self._past(self._status[0, 0])

    @property
    def returning_views(self) -> np.ndarray:
        return self._past(self._status[0, 1])

    @property
    def new_units(self) -> np.ndarray:
        return self._past(self._status[1, 0])

    @property
    def returning_units(self) -> np.ndarray:
        return self._past(self._status[1, 1])


@dataclass(frozen=True)
class Effect:
    """An estimated difference of profit per shopper, arm minus control."""

    estimate: float
    std_error: float
    ci_low: float
    ci_high: float
    p_value: float


def welch(treated: np.ndarray, control: np.ndarray) -> Effect:
    """Difference of means with Welch's t interval and p-value (units: days)."""
    if len(treated) < 2 or len(control) < 2:
        return Effect(np.nan, np.nan, np.nan, np.nan, np.nan)
    se = math.sqrt(treated.var(ddof=1) / len(treated) + control.var(ddof=1) / len(control))
    estimate = float(treated.mean() - control.mean())
    if se <= 1e-12 * max(1.0, abs(estimate)):  # no spread at all (e.g. days with no sales)
        return Effect(estimate, 0.0, estimate, estimate, 1.0 if estimate == 0 else 0.0)
    test = stats.ttest_ind(treated, control, equal_var=False)
    interval = test.confidence_interval(1 - ALPHA)
    return Effect(estimate, se, float(interval.low), float(interval.high), float(test.pvalue))


def assignment(experiment: Experiment, scenario: Scenario, replication: int, units: int) -> np.ndarray:
    """Arm of each unit: equal numbers per arm (up to one), in random order from the
    experiment's own stream, so every strategy's shoppers and shocks stay as they are."""
    rng = stream(scenario.seed, replication, Purpose.EXPERIMENT)
    return rng.permutation(np.resize(np.arange(len(experiment.arms)), units))


def _arm_specs(scenario: Scenario) -> list[StrategySpec]:
    named = {spec.name: spec for spec in scenario.strategies}
    return [named[arm.strategy] for arm in scenario.experiment.arms]


def _horizon(scenario: Scenario) -> Scenario:
    """The scenario cut (or stretched) to the experiment's days."""
    return dataclasses.replace(scenario, days=scenario.experiment.days)


def _run(scenario: Scenario, spec: StrategySpec, replication: int, per_shopper: bool = False) -> MarketModel:
    """The market with `spec` in the focal seat; a shopper-level test keeps the offers shown."""
    model = MarketModel(scenario, spec, replication, log_offers=per_shopper)
    model.run_for(scenario.days)
    return model


def _shopper_outcomes(model: MarketModel, focal: int) -> tuple[np.ndarray, np.ndarray]:
    """(days × shoppers, by pseudonymous id) from the offer log: the focal seller's margin on
    each shopper (the price they paid less the unit cost, if they bought from it) and whether
    they shopped."""
    ledger, shape = model.ledger, (model.days, len(model.population))
    margin, visits = np.zeros(shape), np.zeros(shape)
    day, shopper = ledger.offers_day, ledger.offers_shopper
    visits[day, shopper] = 1
    bought = ledger.offers_choice == focal
    margin[day[bought], shopper[bought]] = ledger.offers_price[bought, focal] - model.sellers[focal].unit_cost
    return margin, visits


def _margin_per_visit(model: MarketModel, focal: int) -> tuple[np.ndarray, np.ndarray]:
    """Per day: the focal seller's revenue less the unit cost of the units it sold (stock
    bought in advance is not charged to the day), and the shopping visits."""
    ledger, cost = model.ledger, model.sellers[focal].unit_cost
    return ledger.revenue[:, focal] - cost * ledger.units[:, focal], ledger.shoppers.astype(float)


def _outcomes(model: MarketModel, unit: str, focal: int) -> tuple[np.ndarray, np.ndarray]:
    """(days × units) margin and visits of every unit on every day: a unit is a day (its own
    diagonal) or a consumer."""
    if unit == "shopper":
        return _shopper_outcomes(model, focal)
    margin, visits = _margin_per_visit(model, focal)
    return np.diag(margin), np.diag(visits)


def estimate_effect(
    margin: np.ndarray, visits: np.ndarray, arms: np.ndarray, k: int, control: int, unit: str
) -> Effect:
    """Arm k minus the control on profit per shopper from per-unit totals. Days: the mean of
    each day's profit per shopper, Welch's t. Shoppers: each arm's total profit over its total
    visits, with the linearised (delta-method) variance of a ratio, clustered by shopper."""
    seen = visits > 0
    if unit == "day":
        outcome = margin[seen] / visits[seen]
        return welch(outcome[arms[seen] == k], outcome[arms[seen] == control])
    parts = []
    for arm in (k, control):
        m, v = margin[seen & (arms == arm)], visits[seen & (arms == arm)]
        if len(v) < 2:
            return Effect(np.nan, np.nan, np.nan, np.nan, np.nan)
        ratio = m.sum() / v.sum()
        residual = m - ratio * v
        parts.append((ratio, (residual @ residual) / v.sum() ** 2 * len(v) / (len(v) - 1)))
    (treated, var_treated), (base, var_base) = parts
    estimate, se = treated - base, math.sqrt(var_treated + var_base)
    if se == 0:
        return Effect(estimate, 0.0, estimate, estimate, 1.0 if estimate == 0 else 0.0)
    return Effect(
        estimate, se, estimate - Z * se, estimate + Z * se, float(2 * stats.norm.sf(abs(estimate) / se))
    )


def run_replication(scenario: Scenario, replication: int) -> dict[str, Any]:
    """One replication: the experiment, each arm alone, the estimates, the truth, the peeks."""
    experiment = scenario.experiment
    market, specs, focal = _horizon(scenario), _arm_specs(scenario), scenario.focal_index
    per_shopper = experiment.unit == "shopper"
    alone = [_run(market, spec, replication, per_shopper) for spec in specs]
    truth = [margin.sum() / visits.sum() for margin, visits in (_margin_per_visit(m, focal) for m in alone)]
    units = scenario.consumers.population if per_shopper else experiment.days
    arms = assignment(experiment, scenario, replication, units)
    built = [{"kind": s.builds, "params": dict(s.params)} for s in specs]
    if per_shopper:  # each shopper (by pseudonym) is shown their arm's price
        observable = all(segment.observable for segment in scenario.consumers.segments)
        params = {"arms": built, "arm_of": arms.tolist(), "every_segment_observable": observable}
        spec = StrategySpec("market_sim.experiment:ArmsByShopper", params, "experiment")
        mixed = _run(market, spec, replication, per_shopper)
    else:
        spec = StrategySpec(
            "market_sim.experiment:ArmsByDay", {"arms": built, "assignment": arms.tolist()}, "experiment"
        )
        mixed = _run(market, spec, replication)
    daily_margin, daily_visits = _outcomes(mixed, experiment.unit, focal)
    margin, visits = np.cumsum(daily_margin, axis=0), np.cumsum(daily_visits, axis=0)  # totals after each day
    rows = []
    for k, arm in enumerate(experiment.arms):
        own = arms == k
        effect = (
            estimate_effect(margin[-1], visits[-1], arms, k, 0, experiment.unit)
            if k
            else Effect(0.0, np.nan, np.nan, np.nan, np.nan)
        )
        rows.append(
            {
                "arm": arm.name,
                "strategy": arm.strategy,
                "units": int(np.count_nonzero(own & (visits[-1] > 0))),
                "profit_per_shopper": float(margin[-1][own].sum() / max(visits[-1][own].sum(), 1)),
                "effect": effect.estimate,
                "std_error": effect.std_error,
                "ci_low": effect.ci_low,
                "ci_high": effect.ci_high,
                "p_value": effect.p_value,
                "true_effect": truth[k] - truth[0],
                "peeking_stop_day": _first_significant_day(margin, visits, arms, k, 0, experiment.unit)
                if k
                else None,
            }
        )
    halves = _split_control(arms, scenario, replication)
    final = estimate_effect(margin[-1], visits[-1], halves, 1, 0, experiment.unit)
    aa = {
        "aa_p_value": final.p_value,
        "aa_stop_day": _first_significant_day(margin, visits, halves, 1, 0, experiment.unit),
    }
    pilot = _outcomes(alone[0], experiment.unit, focal)
    return {
        "replication": replication,
        "rows": rows,
        "aa": aa,
        "pilot": (pilot[0].sum(axis=0), pilot[1].sum(axis=0)),
    }


def _first_significant_day(
    margin: np.ndarray, visits: np.ndarray, arms: np.ndarray, k: int, control: int, unit: str
) -> int | None:
    """The first day at whose end a test on the data so far gives p < 0.05 (daily peeking);
    `margin` and `visits` are running totals per unit, one row per day."""
    for day in range(1, len(margin)):
        if estimate_effect(margin[day], visits[day], arms, k, control, unit).p_value < ALPHA:
            return day
    return None


def _split_control(arms: np.ndarray, scenario: Scenario, replication: int) -> np.ndarray:
    """An A/A test: the control's units split at random in two halves (0 and 1; others −1)."""
    control = np.flatnonzero(arms == 0)
    rng = stream(scenario.seed, replication, Purpose.EXPERIMENT, 1)
    halves = np.full(len(arms), -1)
    halves[control] = rng.permutation(np.resize([0, 1], len(control)))
    return halves


@dataclass
class ExperimentResult:
    table: pd.DataFrame  # experiment.csv: replication × arm
    summary: pd.DataFrame  # per arm against the control, and the A/A row
    preview: dict[str, Any]  # power / sample size before the run


def preview(scenario: Scenario) -> dict[str, Any]:
    """Power and sample size from a pilot: the control arm alone on replication 0. The
    smallest effect the design detects with 80% power in a two-sided 5% test, and, for
    `experiment.detect`, the units per arm it needs."""
    experiment = scenario.experiment
    model = _run(_horizon(scenario), _arm_specs(scenario)[0], 0, experiment.unit == "shopper")
    margin, visits = _outcomes(model, experiment.unit, scenario.focal_index)
    return _power(experiment, margin.sum(axis=0), visits.sum(axis=0))


def _power(experiment: Experiment, margin: np.ndarray, visits: np.ndarray) -> dict[str, Any]:
    """From one run's per-unit totals: the outcome's standard deviation per unit, in profit per
    shopper (days: of each day's profit per shopper; shoppers: of the linearised ratio)."""
    seen = visits > 0
    margin, visits = margin[seen], visits[seen]
    arms = len(experiment.arms)
    per_arm = len(visits) / arms
    if experiment.unit == "day":
        sigma = float(np.std(margin / visits, ddof=1))
    else:
        ratio = margin.sum() / visits.sum()
        sigma = float(np.std(margin - ratio * visits, ddof=1) / visits.mean())
    result = {
        "unit": experiment.unit,
        "units_per_arm": per_arm,
        "outcome_sd": sigma,
        "minimum_detectable_effect": (Z + Z_POWER) * sigma * math.sqrt(2 / per_arm),
        "detect": experiment.detect,
    }
    if experiment.detect is not None:
        needed = math.ceil(2 * ((Z + Z_POWER) * sigma / experiment.detect) ** 2)
        result["units_per_arm_needed"] = needed
        if experiment.unit == "day":
            result["days_needed"] = needed * arms
    return result


def preview_text(power: dict[str, Any]) -> str:
    """One paragraph for the console and the report."""
    unit = "days" if power["unit"] == "day" else "shoppers"
    text = (
        f"Power preview (pilot: the control alone): {power['units_per_arm']:g} {unit} per arm, outcome sd "
        f"{power['outcome_sd']:.4g} per shopper; the smallest effect detected with 80% power at the 5% "
        f"level is {power['minimum_detectable_effect']:.4g} profit per shopper."
    )
    if power.get("detect") is not None:
        text += f" Detecting {power['detect']:g} needs {power['units_per_arm_needed']:,} {unit} per arm" + (
            f" ({power['days_needed']:,} days)." if power["unit"] == "day" else "."
        )
    return text


def run_experiment(scenario: Scenario, replications: int | None = None, workers: int = 1) -> ExperimentResult:
    """The experiment on every replication (on `workers` processes: the same numbers), with its
    truth, and the summary across them."""
    replications = scenario.replications if replications is None else replications
    if workers > 1 and replications > 1:
        from concurrent.futures import ProcessPoolExecutor

        from market_sim.runner import start_method

        with ProcessPoolExecutor(min(workers, replications), mp_context=start_method()) as pool:
            results = list(pool.map(run_replication, [scenario] * replications, range(replications)))
    else:
        results = [run_replication(scenario, r) for r in range(replications)]
    table = pd.DataFrame(
        [{"replication": result["replication"], **row} for result in results for row in result["rows"]]
    )
    aa = pd.DataFrame([result["aa"] for result in results])
    return ExperimentResult(table, summarise(table, aa), _power(scenario.experiment, *results[0]["pilot"]))


def summarise(table: pd.DataFrame, aa: pd.DataFrame) -> pd.DataFrame:
    """Per treatment arm: mean estimate and truth, bias with its standard error, coverage of
    the 95% intervals with its Monte-Carlo error, power tested once and with daily peeking;
    and the A/A split's false-positive rates."""
    rows = []
    for arm, group in table[table["effect"].notna() & table["p_value"].notna()].groupby("arm", sort=False):
        n = len(group)
        error = group["effect"] - group["true_effect"]
        covered = (group["ci_low"] <= group["true_effect"]) & (group["true_effect"] <= group["ci_high"])
        coverage = float(covered.mean())
        mc_error = math.sqrt(0.95 * 0.05 / n)
        rows.append(
            {
                "arm": arm,
                "strategy": group["strategy"].iloc[0],
                "replications": n,
                "mean_effect": float(group["effect"].mean()),
                "mean_true_effect": float(group["true_effect"].mean()),
                "bias": float(error.mean()),
                "bias_std_error": float(error.std(ddof=1) / math.sqrt(n)) if n > 1 else np.nan,
                "coverage": coverage,
                "coverage_mc_error": mc_error,
                "coverage_ok": bool(abs(coverage - 0.95) <= 2 * mc_error),
                "significant_once": float((group["p_value"] < ALPHA).mean()),
                "significant_peeking": float(group["peeking_stop_day"].notna().mean()),
            }
        )
    rows.append(
        {
            "arm": "A/A (control split in two)",
            "strategy": table["strategy"].iloc[0],
            "replications": len(aa),
            "significant_once": float((aa["aa_p_value"] < ALPHA).mean()),
            "significant_peeking": float(aa["aa_stop_day"].notna().mean()),
        }
    )
    return pd.DataFrame(rows)
