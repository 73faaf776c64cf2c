"""Runs: one (focal strategy, replication) replay of the market, and comparisons of many.

Every strategy replays the same replications: replication r draws the same population,
visits, arrival orders and taste shocks whichever strategy sits in the focal seat (common
random numbers), so differences between strategies are differences of strategy alone.
"""

from __future__ import annotations

import multiprocessing
import os
import sys
import time
from collections.abc import Callable, Iterator
from concurrent.futures import ProcessPoolExecutor, as_completed
from dataclasses import dataclass

from market_sim.agents import StrategyFailure
from market_sim.ledger import Ledger
from market_sim.model import MarketModel
from market_sim.scenario import Scenario


@dataclass(frozen=True)
class Run:
    """The record of one replay: the ledger, and the failure that stopped it, if any."""

    strategy: str
    replication: int
    ledger: Ledger
    seconds: float
    failure: str | None = None


def run_once(scenario: Scenario, strategy: int, replication: int) -> Run:
    """Replay the market with `scenario.strategies[strategy]` in the focal seat."""
    spec = scenario.strategies[strategy]
    started = time.perf_counter()
    model = MarketModel(scenario, spec, replication)
    failure = None
    try:
        while model.running:
            model.step()
    except StrategyFailure as error:
        failure = str(error)
    return Run(spec.name, replication, model.ledger, time.perf_counter() - started, failure)


def default_workers() -> int:
    return os.cpu_count() or 1


def compare(
    scenario: Scenario,
    workers: int | None = None,
    on_done: Callable[[Run], None] | None = None,
) -> list[Run]:
    """Every strategy on every replication, in a stable order (strategy, then replication).

    Runs go to `workers` processes (default: all cores); the results do not depend on how
    many. `on_done` is called as each run finishes, e.g. to move a progress bar.
    """
    tasks = [(s, r) for s in range(len(scenario.strategies)) for r in range(scenario.replications)]
    workers = min(workers or default_workers(), len(tasks))
    runs = []
    for run in _execute(scenario, tasks, workers):
        if on_done:
            on_done(run)
        runs.append(run)
    order = {spec.name: i for i, spec in enumerate(scenario.strategies)}
    return sorted(runs, key=lambda run: (order[run.strategy], run.replication))


def _execute(scenario: Scenario, tasks: list[tuple[int, int]], workers: int) -> Iterator[Run]:
    if workers <= 1:
        for strategy, replication in tasks:
            yield run_once(scenario, strategy, replication)
        return
    # forkserver: safe with threads; workers start from a server that has imported the engine
    context = multiprocessing.get_context("forkserver")
    context.set_forkserver_preload(["market_sim.runner"])
    setup = (scenario, sys.path)  # plug-in modules may live in the scenario's folder
    with ProcessPoolExecutor(workers, mp_context=context, initializer=_adopt, initargs=setup) as pool:
        futures = [pool.submit(_run_task, strategy, replication) for strategy, replication in tasks]
        for future in as_completed(futures):
            yield future.result()


_scenario: Scenario | None = None


def _adopt(scenario: Scenario, path: list[str]) -> None:
    global _scenario
    _scenario = scenario
    sys.path[:] = path


def _run_task(strategy: int, replication: int) -> Run:
    assert _scenario is not None
    return run_once(_scenario, strategy, replication)
