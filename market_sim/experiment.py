"""A/B tests inside a simulated market, checked against the truth the simulator knows.

In an experiment the focal seller runs the arms side by side for `days` days: each day (unit
`day`) or each shopper (unit `shopper`) is randomised to one arm, from the experiment's own
random stream, in equal numbers. The outcome is profit per shopper: the focal seller's revenue
less the unit cost of what it sold, per shopping visit. Per replication and arm against the
first arm (the control) we report the estimated effect, its 95% interval and p-value, and the
true effect: the same replication (the same shoppers and shocks) run with that arm alone minus
the control alone. Across replications: the coverage of the intervals, the bias, and the
false-positive rate of an A/A split of the control's units tested once at the end against
testing every day and stopping at the first p < 0.05 ("peeking").
"""

from __future__ import annotations

import dataclasses
import math
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd
from scipy import stats

from market_sim.model import MarketModel
from market_sim.scenario import Experiment, Scenario, StrategySpec
from market_sim.streams import Purpose, stream
from strategies.base import DayResult, MarketInfo, Observation, Prices, PricingStrategy

ALPHA = 0.05
POWER = 0.8
Z = float(stats.norm.ppf(1 - ALPHA / 2))
Z_POWER = float(stats.norm.ppf(POWER))


class ArmsByDay(PricingStrategy):
    """The focal seat of a day-randomised experiment: on day d the arm `assignment[d]` sets the
    price (after the experiment, the first arm). Every arm observes every day, as it would
    read the seller's shared history."""

    kind = "experiment_arms_by_day"
    arms: list = []  # the arms' strategies as scenario entries, {kind: ..., **params}
    assignment: list = []  # arm per day

    def reset(self, info: MarketInfo) -> None:
        import strategies

        self._arms = [strategies.build(spec["kind"], spec["params"]) for spec in self.arms]
        for arm in self._arms:
            arm.reset(info)
        self._today = 0

    def price(self, obs: Observation) -> float | Prices:
        self._today = self.assignment[obs.day] if obs.day < len(self.assignment) else 0
        decision = self._arms[self._today].price(obs)
        if isinstance(decision, Prices):
            return dataclasses.replace(decision, reason=f"arm {self._today}: {decision.reason}".strip(": "))
        return Prices(float(decision), reason=f"arm {self._today}")

    def posted(self, prices: Prices) -> None:
        self._arms[self._today].posted(prices)

    def observe(self, result: DayResult) -> None:
        for arm in self._arms:
            arm.observe(result)


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
    test = stats.ttest_ind(treated, control, equal_var=False)
    se = math.sqrt(treated.var(ddof=1) / len(treated) + control.var(ddof=1) / len(control))
    estimate = float(treated.mean() - control.mean())
    if se == 0:
        return Effect(estimate, 0.0, estimate, estimate, 1.0 if estimate == 0 else 0.0)
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


def _run(scenario: Scenario, spec: StrategySpec, replication: int) -> MarketModel:
    model = MarketModel(scenario, spec, replication)
    model.run_for(scenario.days)
    return model


def _margin_per_visit(model: MarketModel, focal: int) -> tuple[np.ndarray, np.ndarray]:
    """Per day: the focal seller's revenue less cost of goods, and the shopping visits."""
    ledger = model.ledger
    return ledger.revenue[:, focal] - ledger.cost_of_goods[:, focal], ledger.shoppers.astype(float)


def run_replication(scenario: Scenario, replication: int) -> dict[str, Any]:
    """One replication: the experiment, each arm alone, the estimates, the truth, the peeks."""
    experiment = scenario.experiment
    market = _horizon(scenario)
    specs = _arm_specs(scenario)
    focal = scenario.focal_index
    alone = [_margin_per_visit(_run(market, spec, replication), focal) for spec in specs]
    truth = [margin.sum() / visits.sum() for margin, visits in alone]
    if experiment.unit == "day":
        arms = assignment(experiment, scenario, replication, experiment.days)
        spec = StrategySpec(
            "market_sim.experiment:ArmsByDay",
            {
                "arms": [{"kind": s.kind, "params": dict(s.params)} for s in specs],
                "assignment": arms.tolist(),
            },
            "experiment",
        )
        margin, visits = _margin_per_visit(_run(market, spec, replication), focal)
        outcome = margin / np.maximum(visits, 1)
        rows = _day_rows(experiment, outcome, arms, truth)
        peeks = _day_peeks(outcome, arms, scenario, replication)
    else:
        raise ValueError("unit: shopper needs personal prices")
    return {"replication": replication, "rows": rows, "aa": peeks, "pilot": alone[0]}


def _day_rows(
    experiment: Experiment, outcome: np.ndarray, arms: np.ndarray, truth: list[float]
) -> list[dict]:
    control = outcome[arms == 0]
    rows = []
    for k, arm in enumerate(experiment.arms):
        own = outcome[arms == k]
        effect = welch(own, control) if k else Effect(0.0, np.nan, np.nan, np.nan, np.nan)
        peek_day = _first_significant_day(outcome, arms, k) if k else None
        rows.append(
            {
                "arm": arm.name,
                "strategy": arm.strategy,
                "units": int(len(own)),
                "profit_per_shopper": float(own.mean()),
                "effect": effect.estimate,
                "std_error": effect.std_error,
                "ci_low": effect.ci_low,
                "ci_high": effect.ci_high,
                "p_value": effect.p_value,
                "true_effect": truth[k] - truth[0],
                "peeking_stop_day": peek_day,
            }
        )
    return rows


def _first_significant_day(outcome: np.ndarray, arms: np.ndarray, k: int, control: int = 0) -> int | None:
    """The first day at whose end a test on the days so far gives p < 0.05 (daily peeking)."""
    for day in range(1, len(outcome)):
        seen = slice(0, day + 1)
        effect = welch(outcome[seen][arms[seen] == k], outcome[seen][arms[seen] == control])
        if effect.p_value < ALPHA:
            return day
    return None


def _day_peeks(outcome: np.ndarray, arms: np.ndarray, scenario: Scenario, replication: int) -> dict:
    """An A/A test: the control's days split at random in two halves, tested once at the end
    and every day."""
    days = np.flatnonzero(arms == 0)
    rng = stream(scenario.seed, replication, Purpose.EXPERIMENT, 1)
    halves = np.full(len(outcome), -1)
    halves[days] = rng.permutation(np.resize([0, 1], len(days)))
    final = welch(outcome[halves == 1], outcome[halves == 0])
    return {
        "aa_p_value": final.p_value,
        "aa_stop_day": _first_significant_day(outcome, halves, 1, 0),
    }


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
    margin, visits = _margin_per_visit(
        _run(_horizon(scenario), _arm_specs(scenario)[0], 0), scenario.focal_index
    )
    return _power(experiment, margin / np.maximum(visits, 1))


def _power(experiment: Experiment, outcome: np.ndarray) -> dict[str, Any]:
    arms = len(experiment.arms)
    per_arm = experiment.days / arms
    sigma = float(np.std(outcome, ddof=1))
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


def run_experiment(scenario: Scenario, replications: int | None = None) -> ExperimentResult:
    """The experiment on every replication, with its truth, and the summary across them."""
    replications = scenario.replications if replications is None else replications
    results = [run_replication(scenario, r) for r in range(replications)]
    table = pd.DataFrame(
        [{"replication": result["replication"], **row} for result in results for row in result["rows"]]
    )
    aa = pd.DataFrame([result["aa"] for result in results])
    margin, visits = results[0]["pilot"]
    return ExperimentResult(
        table, summarise(table, aa), _power(scenario.experiment, margin / np.maximum(visits, 1))
    )


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


def write_files(folder, result: ExperimentResult) -> None:
    """experiment.csv, experiment_summary.csv and experiment_preview.json in a run folder."""
    from market_sim import output

    output.write_csv(result.table, folder / "experiment.csv")
    output.write_csv(result.summary, folder / "experiment_summary.csv")
    output.write_json(result.preview, folder / "experiment_preview.json")
