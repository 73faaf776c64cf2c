"""Tournaments: students' strategy files take seats in the same market, each in its own process.

`run_tournament(folder, scenario, out)` plays every `*.py` in `folder` (its first
PricingStrategy subclass) against the others in a round robin over the scenario's sellers
(`schedule`), each entrant in its own clean process that sees only its own seller's
observations (`entrant`, `host`), and writes `leaderboard.csv`, `matches.csv` and
`report.html` (`leaderboard`).
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import pandas as pd

from market_sim.result_folder import write_folder
from market_sim.scenario import Scenario, StrategySpec
from market_sim.tournament.entrant import Limits
from market_sim.tournament.leaderboard import write_results
from market_sim.tournament.play import HouseFailure, Results, play_tournament

__all__ = ["HouseFailure", "Limits", "Results", "run_tournament"]


def run_tournament(
    folder: Path,
    scenario: Scenario,
    out: Path,
    house: StrategySpec | None = None,
    limits: Limits | None = None,
    overwrite: bool = False,
    progress: Callable[[int, int], None] | None = None,
) -> pd.DataFrame:
    """Play the tournament and write its folder (all at once); return the leaderboard.
    `house` defaults to the scenario's first strategy."""
    results = play_tournament(folder, scenario, house or scenario.strategies[0], limits, progress)
    board: list[pd.DataFrame] = []
    write_folder(out, lambda staging: board.append(write_results(results, staging)), overwrite)
    return board[0]
