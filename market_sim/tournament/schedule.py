"""Who sits where: a round robin over seats and rival pairings, on every replication.

Every group of entrants as large as the market has seats plays once in each rotation over the
seats, on every replication, so each entrant meets every possible set of rivals, from every
seat, in the same markets (the same shoppers and taste shocks: common random numbers). Luck of
the draw, of the seat and of the rivals cancels. For each entrant's place in a match, a twin
match puts the house strategy in that place against the same rivals on the same replication:
the paired difference between the two is what the entrant did better than the house would have.
"""

from __future__ import annotations

from dataclasses import dataclass
from itertools import combinations

HOUSE = -1  # the house strategy's place in a seating


@dataclass(frozen=True)
class Match:
    """One replay of the market: the replication and who sits in each seat (entrant numbers,
    or HOUSE)."""

    replication: int
    seating: tuple[int, ...]

    def twin(self, seat: int) -> Match:
        """The same match with the house strategy in `seat`."""
        seating = list(self.seating)
        seating[seat] = HOUSE
        return Match(self.replication, tuple(seating))


def round_robin(entrants: list[int], seats: int, replications: int) -> list[Match]:
    """Every group of `seats` entrants (or all of them with the house filling the empty seats,
    when there are fewer) in every rotation over the seats, replication by replication."""
    if not entrants:
        return []
    if len(entrants) < seats:
        groups = [tuple(entrants) + (HOUSE,) * (seats - len(entrants))]
    else:
        groups = list(combinations(entrants, seats))
    return [
        Match(replication, group[turn:] + group[:turn])
        for replication in range(replications)
        for group in groups
        for turn in range(seats)
    ]
