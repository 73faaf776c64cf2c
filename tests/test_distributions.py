"""The truncated normal is drawn without scipy.stats (market_sim.distributions.truncated_normal):
it must give scipy.stats.truncnorm's numbers to the bit, whatever the window, so that every
scenario's numbers stay what they were."""

from __future__ import annotations

import math

import numpy as np
import pytest
from scipy import stats

from market_sim.distributions import Normal, truncated_normal

INF = math.inf

# (low, high) in standard deviations from the mean: one-sided and two-sided, around the mean,
# wholly in either tail (near and far), narrow and wide, a left tail below −37 (Φ underflows)
WINDOWS = [
    (-4.5, INF),  # the holiday market's shoppers: min 0, mean 45, sd 10
    (-INF, 1.2),
    (-INF, -3.0),
    (0.0, INF),
    (2.5, INF),
    (8.0, INF),
    (40.0, INF),
    (-INF, -40.0),
    (-1.0, 1.0),
    (-0.01, 0.02),
    (1e-12, 2e-12),
    (0.5, 0.6),
    (3.0, 9.0),
    (-9.0, -3.0),
    (-30.0, 30.0),
    (-2.0, 0.0),
    (0.0, 2.0),
    (-1e-9, 5.0),
    (-38.0, -37.5),
]


def _bits(values: np.ndarray) -> np.ndarray:
    return np.ascontiguousarray(values, dtype=np.float64).view(np.uint64)


@pytest.mark.parametrize(("low", "high"), WINDOWS)
@pytest.mark.parametrize(("loc", "scale"), [(0.0, 1.0), (45.0, 10.0), (-3.25, 0.07), (1e6, 1234.5)])
def test_the_same_numbers_as_scipy_truncnorm(low: float, high: float, loc: float, scale: float) -> None:
    for seed, n in ((0, 1), (1, 7), (2, 2000)):
        expected = stats.truncnorm.rvs(
            low, high, loc=loc, scale=scale, size=n, random_state=np.random.default_rng(seed)
        )
        rng = np.random.default_rng(seed)
        drawn = truncated_normal(low, high, loc, scale, n, rng)
        assert drawn.shape == (n,)
        np.testing.assert_array_equal(_bits(drawn), _bits(expected))
        # the generator moved on exactly as scipy moves it: the next number is the same
        assert rng.random() == np.random.default_rng(seed).uniform(size=n + 1)[-1]


def test_random_windows_give_scipys_numbers() -> None:
    """Windows drawn at random over many scales (a few thousand values each)."""
    pick = np.random.default_rng(20261130)
    for _ in range(200):
        mean, sd = pick.normal(0, 50), 10 ** pick.uniform(-3, 3)
        ends = np.sort(pick.normal(mean, sd * 10 ** pick.uniform(-1, 1), size=2))
        low = None if pick.random() < 0.2 else float(ends[0])
        high = None if (pick.random() < 0.2 and low is not None) else float(ends[1])
        seed = int(pick.integers(2**32))
        drawn = Normal(mean, sd, low, high).sample(np.random.default_rng(seed), 500)
        a = -INF if low is None else (low - mean) / sd
        b = INF if high is None else (high - mean) / sd
        expected = stats.truncnorm.rvs(
            a, b, loc=mean, scale=sd, size=500, random_state=np.random.default_rng(seed)
        )
        np.testing.assert_array_equal(_bits(drawn), _bits(expected))


def test_values_stay_in_the_window_and_have_the_truncated_mean() -> None:
    drawn = Normal(45.0, 10.0, min=0.0, max=50.0).sample(np.random.default_rng(3), 200_000)
    assert drawn.min() >= 0.0 and drawn.max() <= 50.0
    assert drawn.mean() == pytest.approx(stats.truncnorm.mean(-4.5, 0.5, loc=45.0, scale=10.0), abs=0.03)


def test_an_empty_window_is_refused_as_scipy_refuses_it() -> None:
    with pytest.raises(ValueError, match="Domain error"):
        truncated_normal(1.0, 1.0, 0.0, 1.0, 3, np.random.default_rng(0))


def test_sampling_does_not_import_scipy_stats() -> None:
    import subprocess
    import sys

    code = (
        "import sys, numpy as np\n"
        "from market_sim.distributions import Normal\n"
        "Normal(45.0, 10.0, min=0.0).sample(np.random.default_rng(0), 10)\n"
        "print('scipy.stats' in sys.modules)\n"
    )
    found = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert found.stdout.strip() == "False"
