"""The consumers as arrays (one row per consumer): the truth behind the Consumer agents."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from market_sim.distributions import Constant
from market_sim.scenario import Consumers

NO_LOYALTY = Constant(0.0)


@dataclass
class Population:
    """Fixed traits drawn once per replication, and the little state that changes: whom each
    consumer last bought from and which sellers they have bought from before."""

    segment: np.ndarray  # int, index into segment_names
    wtp: np.ndarray
    price_sensitivity: np.ndarray
    loyalty: np.ndarray  # money bonus for the seller last bought from
    visit_rate: np.ndarray
    segment_names: tuple[str, ...]
    observable: np.ndarray  # bool per segment
    last_seller: np.ndarray  # int, -1 before the first purchase
    bought_from: np.ndarray  # bool (consumers, sellers)

    @classmethod
    def draw(cls, consumers: Consumers, sellers: int, rng: np.random.Generator) -> Population:
        """Sample every consumer's traits segment by segment, in the order of the scenario."""
        sizes = consumers.segment_sizes()
        segments = consumers.segments
        n = consumers.population

        def trait(pick) -> np.ndarray:
            return np.concatenate(
                [pick(s).sample(rng, size) for s, size in zip(segments, sizes, strict=True)]
            )

        return cls(
            segment=np.repeat(np.arange(len(segments)), sizes),
            wtp=trait(lambda s: s.wtp),
            price_sensitivity=trait(lambda s: s.price_sensitivity),
            loyalty=trait(lambda s: s.loyalty or NO_LOYALTY),
            visit_rate=np.repeat([s.visit_rate for s in segments], sizes),
            segment_names=tuple(s.name for s in segments),
            observable=np.array([s.observable for s in segments]),
            last_seller=np.full(n, -1),
            bought_from=np.zeros((n, sellers), dtype=bool),
        )

    def __len__(self) -> int:
        return len(self.segment)

    @property
    def segment_sizes(self) -> np.ndarray:
        return np.bincount(self.segment, minlength=len(self.segment_names))

    def record_purchases(self, shoppers: np.ndarray, choice: np.ndarray) -> None:
        """Remember today's purchases (choice -1 means no purchase)."""
        bought = choice >= 0
        buyers, sellers = shoppers[bought], choice[bought]
        self.last_seller[buyers] = sellers
        self.bought_from[buyers, sellers] = True
