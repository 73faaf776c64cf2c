"""The one place where randomness is created: streams keyed by (seed, replication, purpose, ...).

Every draw comes from a stream named by its purpose and keyed by the day, sized by the
population and the number of sellers, never by anything a strategy did. So two strategies
replayed on the same seed and replication meet the same shoppers with the same shocks
(common random numbers), and paired differences between them have small variance.
"""

from __future__ import annotations

from enum import IntEnum

import numpy as np


class Purpose(IntEnum):
    POPULATION = 0  # who the consumers are
    VISITS = 1  # who shops on a day
    ARRIVALS = 2  # in which order they arrive
    TASTE = 3  # taste shocks (logit) or tie-breakers (max_surplus)
    STRATEGY = 4  # a strategy's own stream, per seller
    MESA = 5  # the Mesa model's own generator (unused by the market itself)


def stream(seed: int, replication: int, purpose: Purpose, *key: int) -> np.random.Generator:
    """A generator for one purpose, e.g. `stream(seed, rep, Purpose.TASTE, day)`."""
    return np.random.default_rng([seed, replication, int(purpose), *key])
