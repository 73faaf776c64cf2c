"""Playing a tournament: start the entrants, play every match and its house twins, in order.

Matches are played one after another in the schedule's order, so the same folder, scenario
and seed give the same results. An entrant that fails is disqualified at once, its process
stopped, and every match it sat in is left out of the results, so the others are ranked on
the same matches as if it had never entered.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from market_sim.agents import StrategyFailure
from market_sim.model import MarketModel
from market_sim.scenario import Scenario, StrategySpec
from market_sim.streams import Purpose
from market_sim.tournament.entrant import Disqualified, Entrant, Limits, Seat
from market_sim.tournament.schedule import HOUSE, Match, round_robin
from strategies import build


class HouseFailure(RuntimeError):
    """The house strategy itself failed: the tournament cannot compare against it."""


@dataclass
class Results:
    """What a tournament played: the entrants and each finished match's profit per seat."""

    scenario: Scenario
    house: StrategySpec
    limits: Limits
    entrants: list[Entrant]
    matches: list[Match] = field(default_factory=list)  # entrants' matches, in order
    profits: dict[Match, np.ndarray] = field(default_factory=dict)  # matches and twins that finished

    def counted(self, match: Match) -> bool:
        """Whether a match counts: every entrant in it and in its twins is still in, and all
        of them finished."""
        if any(i != HOUSE and self.entrants[i].failure for i in match.seating):
            return False
        needed = [match, *(match.twin(s) for s, i in enumerate(match.seating) if i != HOUSE)]
        return all(m in self.profits for m in needed)


def play_tournament(
    folder: Path,
    scenario: Scenario,
    house: StrategySpec,
    limits: Limits | None = None,
    progress: Callable[[int, int], None] | None = None,
) -> Results:
    """Start every `*.py` in `folder` as an entrant and play the round robin."""
    limits = limits or Limits()
    entrants = [Entrant(path, limits, i) for i, path in enumerate(sorted(folder.glob("*.py")))]
    results = Results(scenario, house, limits, entrants)
    try:
        for entrant in entrants:  # all start at once, then each is checked
            entrant.start()
        for entrant in entrants:
            entrant.ready()
        players = [e.index for e in entrants if e.failure is None]
        while True:
            results.matches = round_robin(players, len(scenario.sellers), scenario.replications)
            for done, match in enumerate(results.matches):
                if progress:
                    progress(done, len(results.matches))
                _play_with_twins(match, results)
            survivors = [i for i in players if entrants[i].failure is None]
            if survivors == players:
                break
            # the survivors' round robin is part of this one, unless too few are left to fill
            # the seats without the house: then they play again, against the house
            players = survivors
        if progress:
            progress(len(results.matches), len(results.matches))
    finally:
        for entrant in entrants:
            entrant.stop()
    return results


def _play_with_twins(match: Match, results: Results) -> None:
    """Play a match and, for each entrant in it, its twin with the house in that place; each
    game is played once (twins recur, and a second pass over a schedule finds its games played)."""
    if match not in results.profits and _still_in(match, results.entrants):
        _play(match, results)
    if match not in results.profits:
        return  # someone in it failed: it does not count, nor do its twins
    for seat, player in enumerate(match.seating):
        twin = match.twin(seat)
        if player != HOUSE and twin not in results.profits and _still_in(twin, results.entrants):
            _play(twin, results)


def _still_in(match: Match, entrants: list[Entrant]) -> bool:
    return all(i == HOUSE or entrants[i].failure is None for i in match.seating)


def _play(match: Match, results: Results) -> None:
    """Replay the market with the match's seating; record each seat's profit, or disqualify the
    entrant that failed."""
    scenario = results.scenario
    seats = [
        build(results.house.builds, results.house.params)
        if i == HOUSE
        else Seat(results.entrants[i], [scenario.seed, match.replication, int(Purpose.STRATEGY), j])
        for j, i in enumerate(match.seating)
    ]
    try:
        model = MarketModel(scenario, replication=match.replication, seats=seats)
        while model.running:
            model.step()
    except StrategyFailure as failure:
        seat = next(j for j, s in enumerate(scenario.sellers) if s.name == failure.seller)
        who = match.seating[seat]
        if who == HOUSE:
            raise HouseFailure(f"the house strategy {results.house.name} failed: {failure}") from failure
        if not isinstance(failure.__cause__, Disqualified):  # the engine refused its answer
            entrant = results.entrants[who]
            detail = str(failure).split(": ", 1)[-1]
            entrant.disqualify(f"answered nonsense on day {failure.day}: {detail}")
        return
    results.profits[match] = model.ledger.profit.sum(axis=0)
