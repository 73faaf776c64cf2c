"""Q-learning sellers and algorithmic collusion (Calvano et al. 2020; theory.md §3, §10)."""

from __future__ import annotations

import dataclasses
from pathlib import Path
from types import MappingProxyType

import numpy as np
import pytest

from market_sim import batched, metrics, runner, tables
from market_sim.expected import expected_day
from market_sim.loader import ScenarioError, parse_scenario, scenario_to_yaml
from market_sim.model import MarketModel
from market_sim.population import Population
from market_sim.streams import Purpose, stream
from strategies import build
from strategies.base import MarketInfo

ROOT = Path(__file__).resolve().parents[1]
NASH, JOINT = 1.472927, 1.924981  # theory.md §3
NASH_PROFIT, JOINT_PROFIT = 0.222927, 0.337490

CALVANO = """
name: calvano
days: {days}
replications: {replications}
seed: 11
stop_when_stable: {stable}
market: {{choice: logit, demand: expected}}
consumers:
  population: 1
  segments: [{{name: everyone, share: 1, wtp: 0, price_sensitivity: 4}}]
sellers:
  - {{name: firm_1, focal: true, unit_cost: 1, quality: 2}}
  - {{name: firm_2, unit_cost: 1, quality: 2, strategy: {rival}}}
strategies:
  - {focal}
"""


def calvano(days=3_000_000, replications=2, stable=100_000, focal="{kind: q_learning}", rival=None):
    text = CALVANO.format(
        days=days, replications=replications, stable=stable, focal=focal, rival=rival or focal
    )
    return parse_scenario(text)


def info(rivals=("firm_2",), seed=0) -> MarketInfo:
    return MarketInfo("firm_1", 1.0, 10, None, rivals, MappingProxyType({}), (), np.random.default_rng(seed))


def test_grid_nash_joint_and_initial_q_are_the_papers():
    learner = build("q_learning", {})
    learner.reset(info())
    assert learner.nash == pytest.approx(NASH, abs=1e-6)
    assert learner.joint == pytest.approx(JOINT, abs=1e-6)
    spread = JOINT - NASH
    assert learner.prices == pytest.approx(
        np.linspace(NASH - 0.1 * spread, JOINT + 0.1 * spread, 15), abs=1e-6
    )
    assert learner.prices[[0, -1]] == pytest.approx([1.427721, 1.970186], abs=1e-6)
    # Q₀(s, a): the profit of a against a rival drawn uniformly from the grid, discounted at δ = 0.95
    p = learner.prices
    share = np.exp((2 - p[:, None]) / 0.25) / (
        np.exp((2 - p[:, None]) / 0.25) + np.exp((2 - p[None, :]) / 0.25) + 1
    )
    expected = ((p[:, None] - 1) * share).mean(axis=1) / (1 - 0.95)
    assert learner.q.shape == (225, 15)
    np.testing.assert_allclose(learner.q, np.tile(expected, (225, 1)), rtol=1e-12)
    assert (learner.alpha, learner.beta, learner.discount, learner.memory) == (0.15, 4e-6, 0.95, 1)


def test_expected_demand_sells_the_logit_shares():
    scenario = calvano(days=10)
    population = Population.draw(scenario.consumers, 2, stream(0, 0, Purpose.POPULATION))
    tables_ = np.array([NASH, JOINT])[:, None, None] * np.ones((2, 1, 2))
    trade = expected_day(population, np.array([2.0, 2.0]), tables_, 1.0, 1.0, 0.0)
    utility = np.array([(2 - NASH) / 0.25, (2 - JOINT) / 0.25, 0.0])
    shares = np.exp(utility) / np.exp(utility).sum()
    np.testing.assert_allclose(trade.units[:, 0], shares[:2], rtol=1e-12)
    assert trade.shoppers == 1.0
    np.testing.assert_allclose(trade.revenue[:, 0], shares[:2] * [NASH, JOINT], rtol=1e-12)
    # the logit expected consumer surplus: μ ln(1 + Σ exp((a − p)/μ))
    np.testing.assert_allclose(trade.consumer_surplus, [0.25 * np.log(np.exp(utility).sum())], rtol=1e-12)


def plain_prices(scenario, replication):
    model = MarketModel(scenario, scenario.strategies[0], replication)
    while model.running:
        model.step()
    return model.ledger.price[: model.ledger.days_recorded]


@pytest.mark.parametrize(
    ("focal", "rival"),
    [
        ("{kind: q_learning, beta: 1.0e-3}", None),
        ("{kind: ucb, explore: 0.05}", "{kind: q_learning, beta: 1.0e-3, memory: 2, grid: 5}"),
        ("{kind: fixed, price: 1.6}", "{kind: ucb}"),
    ],
)
def test_batched_engine_gives_market_models_prices_exactly(focal, rival):
    scenario = calvano(days=1500, stable=300, focal=focal, rival=rival)
    assert batched.qualifies(scenario, scenario.strategies[0])
    plain = {r: plain_prices(scenario, r) for r in (0, 1)}
    for compiled in (False, True) if batched.numba_available() else (False,):
        outcomes = batched.run_batch(scenario, scenario.strategies[0], [0, 1], record=True, compiled=compiled)
        for outcome in outcomes:
            assert outcome.days == len(plain[outcome.replication]) <= 1500
            np.testing.assert_array_equal(outcome.prices, plain[outcome.replication])
    if rival is None:
        assert any(len(prices) < 1500 for prices in plain.values())  # stop_when_stable ended one early


def test_results_do_not_depend_on_the_batch():
    scenario = calvano(days=20_000, stable=2000, focal="{kind: q_learning, beta: 5.0e-4}")
    spec = scenario.strategies[0]
    together = batched.run_batch(scenario, spec, [3, 4, 5, 6], record=True)
    alone = [batched.run_batch(scenario, spec, [r], record=True)[0] for r in (6, 4)]
    for one in alone:
        same = next(o for o in together if o.replication == one.replication)
        assert one.days == same.days
        np.testing.assert_array_equal(one.prices, same.prices)
        np.testing.assert_array_equal(one.impulse, same.impulse)
        np.testing.assert_array_equal(one.ledger.price, same.ledger.price)
    if batched.numba_available():  # the numpy loop agrees with the compiled one
        slow = batched.run_batch(scenario, spec, [4], record=True, compiled=False)[0]
        np.testing.assert_array_equal(slow.prices, alone[1].prices)


def deltas(scenario):
    jobs = runner.comparison_jobs(scenario)
    runs = [run for _, run in runner.run_jobs(jobs, workers=2)]
    return tables.scores_table(scenario, runs)


def test_baseline_learners_collude_and_myopic_ones_do_not():
    pytest.importorskip("numba")  # the `fast` extra: 100 replications of ~1.8 million days
    scores = deltas(calvano(replications=100))
    assert len(scores) == 100
    assert 0.75 <= scores["delta"].mean() <= 0.92  # Calvano et al.: about 0.85
    assert scores["converged"].mean() >= 0.9
    assert (scores["limit_price"] > NASH).mean() > 0.9
    # δ = 0: over 100 replications mean Δ 0.21 (sd 0.10), every one converged; 40 here
    myopic = deltas(calvano(replications=40, focal="{kind: q_learning, discount: 0}"))
    assert myopic["converged"].mean() >= 0.9
    assert myopic["delta"].mean() < 0.35


def test_impulse_response_punishes_the_deviation():
    pytest.importorskip("numba")
    outcomes = batched.run_batch(calvano(), calvano().strategies[0], list(range(20)))
    responses = np.stack([o.impulse for o in outcomes])  # (replications, days, sellers)
    before, deviation, after = responses[:, 0], responses[:, 1], responses[:, 2]
    assert (deviation[:, 0] < before[:, 0]).mean() > 0.5  # the deviation undercuts
    # the rival answers the undercut by cutting its own price the day after (punishment)
    punished = after[:, 1] < before[:, 1]
    assert punished.mean() > 0.5


def test_stop_when_stable_ends_the_plain_run_early():
    scenario = calvano(days=2500, stable=400, focal="{kind: q_learning, beta: 1.0e-3}")
    stopped = []
    for replication in range(3):
        model = MarketModel(scenario, scenario.strategies[0], replication)
        while model.running:
            model.step()
        if model.ledger.days_recorded < 2500:
            stopped.append(min(s.strategy.stable_for() for s in model.sellers))
    assert stopped and all(days == 400 for days in stopped)


def test_ucb_against_a_fixed_rival_learns_the_best_grid_reply():
    scenario = calvano(
        days=20_000, stable=10**6, focal="{kind: ucb, explore: 0.05}", rival="{kind: fixed, price: 1.924981}"
    )
    model = MarketModel(scenario, scenario.strategies[0], 0)
    while model.running:
        model.step()
    bandit = model.sellers[0].strategy
    p = bandit.prices
    share = np.exp((2 - p) / 0.25) / (np.exp((2 - p) / 0.25) + np.exp((2 - JOINT) / 0.25) + 1)
    best = int(np.argmax((p - 1) * share))  # the grid price nearest the best reply 1.661695
    assert int(np.argmax(bandit.pulls)) == best
    assert bandit.pulls[best] > 0.5 * 20_000


def test_thompson_grid_learns_the_best_grid_reply():
    scenario = calvano(
        days=5000,
        stable=10**6,
        focal="{kind: thompson_grid, noise: 0.05}",
        rival="{kind: fixed, price: 1.472927}",
    )
    model = MarketModel(scenario, scenario.strategies[0], 0)
    while model.running:
        model.step()
    bandit = model.sellers[0].strategy
    p = bandit.prices
    share = np.exp((2 - p) / 0.25) / (np.exp((2 - p) / 0.25) + np.exp((2 - NASH) / 0.25) + 1)
    # profit is flat near its top: the most played price is the best one or a neighbour
    assert abs(int(np.argmax(bandit.pulls)) - int(np.argmax((p - 1) * share))) <= 1
    assert bandit.pulls[[0, -1]].sum() < 0.05 * 5000  # the far ends of the grid are dropped


@pytest.mark.parametrize(
    ("change", "field", "message"),
    [
        ("market: {choice: max_surplus, demand: expected}", "market.demand", "needs choice: logit"),
        ("market: {demand: guessed}", "market.demand", "must be one of sampled, expected"),
        ("stop_when_stable: 0", "stop_when_stable", "must be a whole number >= 1"),
    ],
)
def test_bad_learning_fields_are_named(change, field, message):
    text = CALVANO.format(
        days=10, replications=1, stable=5, focal="{kind: q_learning}", rival="{kind: q_learning}"
    )
    lines = [line for line in text.splitlines() if not line.startswith(change.split(":")[0] + ":")]
    with pytest.raises(ScenarioError) as error:
        parse_scenario("\n".join([*lines, change]))
    assert error.value.path == field
    assert message in error.value.message


def test_long_runs_need_expected_demand_and_the_fields_round_trip():
    text = CALVANO.format(
        days=1_000_000,
        replications=1,
        stable=5,
        focal="{kind: q_learning}",
        rival="{kind: fixed, price: 1.5}",
    )
    scenario = parse_scenario(text)
    assert scenario.market.demand == "expected" and scenario.stop_when_stable == 5
    assert parse_scenario(scenario_to_yaml(scenario)) == dataclasses.replace(scenario, source="<scenario>")
    with pytest.raises(ScenarioError) as error:
        parse_scenario(text.replace("demand: expected", "demand: sampled"))
    assert error.value.path == "days"


def test_lesson_9_says_what_the_runs_show():
    scenario = parse_scenario(
        (ROOT / "scenarios" / "lessons" / "09_algorithmic_collusion.yaml").read_text(encoding="utf-8")
    )
    scenario = dataclasses.replace(scenario, replications=4)
    assert all(batched.qualifies(scenario, spec) for spec in scenario.strategies)
    summary = metrics.summarise(deltas(scenario)).set_index("strategy")
    delta, days = summary["delta_mean"], summary["learning_days_mean"]
    pair = "Q-learning (baseline)"
    assert delta[pair] > 0.6 and summary.loc[pair, "converged_mean"] >= 0.75
    assert delta["myopic Q-learning (δ = 0)"] < delta[pair]
    assert days["more exploration (β = 2e-6)"] > days[pair]
    assert delta["UCB bandit (ignores the rival)"] < delta[pair]
    step = (JOINT - NASH) * 1.2 / 14
    assert abs(summary.loc["Bertrand-Nash (1.4729)", "rival_limit_price_mean"] - NASH) <= step
    assert summary.loc["joint optimum (1.9250)", "rival_limit_price_mean"] < 1.8
    assert delta["joint optimum (1.9250)"] < 0


@pytest.mark.parametrize(
    ("old", "new", "field", "message"),
    [
        (
            "price_sensitivity: 4}",
            "price_sensitivity: 4, loyalty: 1}",
            "consumers.segments[0].loyalty",
            "no purchases",
        ),
        (
            "quality: 2}\n",
            "quality: 2, inventory: {initial: 50}}\n",
            "sellers[0].inventory",
            "must be unlimited",
        ),
    ],
)
def test_expected_demand_refuses_what_needs_drawn_purchases(old, new, field, message):
    text = CALVANO.format(
        days=10, replications=1, stable=5, focal="{kind: q_learning}", rival="{kind: q_learning}"
    )
    with pytest.raises(ScenarioError) as error:
        parse_scenario(text.replace(old, new, 1))
    assert error.value.path == field
    assert message in error.value.message
