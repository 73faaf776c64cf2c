"""The consumers as arrays (one row per consumer): the truth behind the Consumer agents."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from functools import cached_property

import numpy as np

from market_sim import fast
from market_sim.distributions import Constant
from market_sim.scenario import Consumers

NO_LOYALTY = Constant(0.0)
_NO_FLAGS = np.zeros(0, dtype=bool)
fast.kernels()  # the compiled kernels, if any, loaded now: before any run's time limit starts


@dataclass
class Population:
    """Fixed traits drawn once per replication, and the little state that changes: whom each
    consumer last bought from and which sellers they have bought from before.

    Consumers are stored segment by segment, in the scenario's order, so any ascending list of
    consumers (such as a day's shoppers) is grouped by segment too.
    """

    segment: np.ndarray  # int, index into segment_names
    wtp: np.ndarray
    price_sensitivity: np.ndarray
    loyalty: np.ndarray  # money bonus for the seller last bought from
    visit_rate: np.ndarray
    segment_names: tuple[str, ...]
    observable: np.ndarray  # bool per segment
    last_seller: np.ndarray  # int, -1 before the first purchase
    bought_from: np.ndarray  # bool (consumers, sellers)
    # shopper features (consumers, features), their names and whether sellers may see each
    features: np.ndarray = field(default_factory=lambda: np.zeros((0, 0)))
    feature_names: tuple[str, ...] = ()
    feature_observable: np.ndarray = field(default_factory=lambda: np.zeros(0, dtype=bool))
    # each seller's own history with each consumer, (sellers, consumers): a seller's row is
    # contiguous. Every shopper sees every seller's offer, so a consumer's visits to any seller
    # are their shopping days: one count per consumer.
    visits: np.ndarray = field(default_factory=lambda: np.zeros(0, dtype=np.int32))
    purchases: np.ndarray = field(default_factory=lambda: np.zeros((0, 0), dtype=np.int32))
    last_purchase: np.ndarray = field(default_factory=lambda: np.zeros((0, 0), dtype=np.int32))  # day, -1
    spend: np.ndarray = field(default_factory=lambda: np.zeros((0, 0)))  # money paid to each seller
    surplus: np.ndarray = field(default_factory=lambda: np.zeros((0, 0)))  # consumer surplus, by seller

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

        wtp = trait(lambda s: s.wtp)
        price_sensitivity = trait(lambda s: s.price_sensitivity)
        loyalty = trait(lambda s: s.loyalty or NO_LOYALTY)
        # features after every other trait, so a scenario without features draws as before
        names = tuple(consumers.features)
        columns = [
            trait(lambda s, name=name: s.features.get(name, consumers.features[name].dist)) for name in names
        ]
        # one contiguous column per feature (tables read them feature by feature)
        features = np.asfortranarray(np.column_stack(columns)) if columns else np.zeros((n, 0))
        weights = np.array([[s.wtp_per_feature.get(name, 0.0) for name in names] for s in segments])
        if weights.any():  # wtp = drawn wtp + Σ weight × feature, per segment
            wtp = wtp + (features * np.repeat(weights, sizes, axis=0)).sum(axis=1)
        return cls(
            segment=np.repeat(np.arange(len(segments)), sizes),
            wtp=wtp,
            price_sensitivity=price_sensitivity,
            loyalty=loyalty,
            visit_rate=np.repeat([s.visit_rate for s in segments], sizes),
            segment_names=tuple(s.name for s in segments),
            observable=np.array([s.observable for s in segments]),
            last_seller=np.full(n, -1),
            bought_from=np.zeros((n, sellers), dtype=bool),
            features=features,
            feature_names=names,
            feature_observable=np.array([consumers.features[name].observable for name in names], dtype=bool),
            visits=np.zeros(n, dtype=np.int32),
            purchases=np.zeros((sellers, n), dtype=np.int32),
            last_purchase=np.full((sellers, n), -1, dtype=np.int32),
            spend=np.zeros((sellers, n)),
            surplus=np.zeros((sellers, n)),
        )

    def __len__(self) -> int:
        return len(self.segment)

    @cached_property
    def segment_sizes(self) -> np.ndarray:
        return np.bincount(self.segment, minlength=len(self.segment_names))

    @cached_property
    def _segment_rates(self) -> list[tuple[int, int, float]]:
        """(first consumer, number of consumers, visit rate) of every segment."""
        starts = np.concatenate([[0], np.cumsum(self.segment_sizes)[:-1]])
        return [
            (int(start), int(size), float(self.visit_rate[start]) if size else 0.0)
            for start, size in zip(starts, self.segment_sizes, strict=True)
        ]

    def shoppers(
        self, traffic: float, rng: np.random.Generator | Callable[[], np.random.Generator]
    ) -> np.ndarray:
        """Today's shoppers, ascending: each consumer shops with chance visit_rate × traffic
        (at most 1), independently of the others. `rng` may be a function giving the generator,
        called only when some segment's chance is between 0 and 1 (a day when everyone or
        nobody shops draws nothing).

        Drawn segment by segment as geometric gaps between one shopper and the next: one draw
        per shopper instead of one per consumer, the same distribution.
        """
        chosen = []
        everyone_from = None  # the first consumer of a stretch of segments where everyone shops
        for start, size, rate in self._segment_rates:
            chance = min(rate * traffic, 1.0)
            if size and chance >= 1.0:
                everyone_from = start if everyone_from is None else everyone_from
                continue
            if everyone_from is not None:  # one range for the stretch
                chosen.append(np.arange(everyone_from, start))
                everyone_from = None
            if size and chance > 0.0:
                if not isinstance(rng, np.random.Generator):
                    rng = rng()
                positions = _bernoulli_positions(rng, chance, size)
                chosen.append(positions + start if start else positions)
        if everyone_from is not None:
            chosen.append(np.arange(everyone_from, len(self.segment)))
        if len(chosen) == 1:
            return chosen[0]
        return np.concatenate(chosen) if chosen else np.zeros(0, dtype=np.intp)

    def record_visits(self, shoppers: np.ndarray) -> None:
        """Today's shoppers (distinct) saw every seller's offer."""
        kernels = fast.kernels()
        if kernels is not None:
            kernels.count_visits(self.visits, shoppers)
        else:
            self.visits[shoppers] += 1

    def record_purchases(
        self,
        buyers: np.ndarray,
        sellers: np.ndarray,
        returning: np.ndarray | None = None,
        paid: np.ndarray | None = None,
        day: int = -1,
        surplus: np.ndarray | None = None,
    ) -> None:
        """Remember today's purchases: consumer `buyers[k]` bought from seller `sellers[k]` at
        price `paid[k]` (if given) on `day`; `returning[k]`, if given, says the buyer had bought
        from that seller before."""
        kernels = fast.kernels()
        if kernels is not None:  # one pass over the buyers
            nothing = self.spend[0, :0]
            kernels.record_purchases(
                buyers, sellers, _NO_FLAGS if returning is None else returning, returning is not None,
                nothing if paid is None else paid, paid is not None, day,
                nothing if surplus is None else surplus, surplus is not None,
                self.purchases, self.last_purchase, self.spend, self.surplus, self.last_seller,
                self.bought_from,
            )  # fmt: skip
            return
        cell = sellers * len(self.segment) + buyers  # each buyer buys once a day: distinct
        self.purchases.ravel()[cell] += 1
        self.last_purchase.ravel()[cell] = day
        if paid is not None:
            self.spend.ravel()[cell] += paid
        if surplus is not None:
            self.surplus.ravel()[cell] += surplus
        self.last_seller[buyers] = sellers
        if returning is not None:  # only first purchases from a seller change `bought_from`
            first = ~returning
            buyers, sellers = buyers[first], sellers[first]
        # flat indices into the C-contiguous array (a view): twice as fast as [buyers, sellers]
        self.bought_from.ravel()[buyers * self.bought_from.shape[1] + sellers] = True


def _bernoulli_positions(rng: np.random.Generator, chance: float, size: int) -> np.ndarray:
    """Positions in range(size) of independent successes with probability `chance`: cumulated
    geometric gaps, drawn in batches a little larger than expected until one passes the end."""
    kernels = fast.kernels()
    found, last = [], -1
    while True:
        expected = (size - 1 - last) * chance
        positions = rng.geometric(chance, int(expected + 4 * expected**0.5 + 16))
        if kernels is not None:  # (the three steps below in one call)
            inside = kernels.cumulate_until(positions, last, size)
        else:
            positions[0] += last  # last + the cumulated gaps, in place
            np.add.accumulate(positions, out=positions)  # (half the cost of .cumsum(out=))
            inside = positions.searchsorted(size)
        if inside < len(positions):
            if not found:
                return positions[:inside]
            found.append(positions[:inside])
            return np.concatenate(found)
        found.append(positions)
        last = int(positions[-1])
