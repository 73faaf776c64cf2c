"""The five distributions a scenario may give for a consumer trait, plus plain constants, and
`Bernoulli`, which only shopper features may use."""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np


@dataclass(frozen=True)
class Constant:
    """Everyone has the same value."""

    value: float

    def sample(self, rng: np.random.Generator, n: int) -> np.ndarray:
        return np.full(n, float(self.value))

    @property
    def lowest(self) -> float:
        return self.value

    def to_yaml(self) -> float:
        return self.value


@dataclass(frozen=True)
class Uniform:
    """Uniform on [low, high]."""

    low: float
    high: float

    def sample(self, rng: np.random.Generator, n: int) -> np.ndarray:
        return rng.uniform(self.low, self.high, n)

    @property
    def lowest(self) -> float:
        return self.low

    def to_yaml(self) -> dict:
        return {"dist": "uniform", "low": self.low, "high": self.high}


@dataclass(frozen=True)
class Normal:
    """Normal, truncated to [min, max] when bounds are given."""

    mean: float
    sd: float
    min: float | None = None
    max: float | None = None

    def sample(self, rng: np.random.Generator, n: int) -> np.ndarray:
        if self.min is None and self.max is None:
            return rng.normal(self.mean, self.sd, n)
        if self.sd == 0:
            return np.full(n, float(np.clip(self.mean, self.min, self.max)))
        low = -math.inf if self.min is None else (self.min - self.mean) / self.sd
        high = math.inf if self.max is None else (self.max - self.mean) / self.sd
        return truncated_normal(low, high, self.mean, self.sd, n, rng)

    @property
    def lowest(self) -> float:
        return -math.inf if self.min is None else self.min

    def to_yaml(self) -> dict:
        bounds = {k: v for k, v in (("min", self.min), ("max", self.max)) if v is not None}
        return {"dist": "normal", "mean": self.mean, "sd": self.sd, **bounds}


@dataclass(frozen=True)
class LogNormal:
    """Lognormal whose own mean and standard deviation are `mean` and `sd`."""

    mean: float
    sd: float

    def sample(self, rng: np.random.Generator, n: int) -> np.ndarray:
        sigma2 = math.log1p((self.sd / self.mean) ** 2)
        return rng.lognormal(math.log(self.mean) - sigma2 / 2, math.sqrt(sigma2), n)

    @property
    def lowest(self) -> float:
        return 0.0

    def to_yaml(self) -> dict:
        return {"dist": "lognormal", "mean": self.mean, "sd": self.sd}


@dataclass(frozen=True)
class Exponential:
    """Exponential with the given mean."""

    mean: float

    def sample(self, rng: np.random.Generator, n: int) -> np.ndarray:
        return rng.exponential(self.mean, n)

    @property
    def lowest(self) -> float:
        return 0.0

    def to_yaml(self) -> dict:
        return {"dist": "exponential", "mean": self.mean}


@dataclass(frozen=True)
class Triangular:
    """Triangular on [low, high] with its peak at `mode`."""

    low: float
    mode: float
    high: float

    def sample(self, rng: np.random.Generator, n: int) -> np.ndarray:
        if self.low == self.high:
            return np.full(n, float(self.low))
        return rng.triangular(self.low, self.mode, self.high, n)

    @property
    def lowest(self) -> float:
        return self.low

    def to_yaml(self) -> dict:
        return {
            "dist": "triangular",
            "low": self.low,
            "mode": self.mode,
            "high": self.high,
        }


@dataclass(frozen=True)
class Bernoulli:
    """1 with probability `p`, else 0 (shopper features only: a yes/no trait such as a device)."""

    p: float

    def sample(self, rng: np.random.Generator, n: int) -> np.ndarray:
        return (rng.random(n) < self.p).astype(float)

    @property
    def lowest(self) -> float:
        return 0.0 if self.p < 1 else 1.0

    def to_yaml(self) -> dict:
        return {"dist": "bernoulli", "p": self.p}


def truncated_normal(
    low: float, high: float, loc: float, scale: float, n: int, rng: np.random.Generator
) -> np.ndarray:
    """`scipy.stats.truncnorm.rvs(low, high, loc=loc, scale=scale, size=n, random_state=rng)`,
    the same numbers to the bit, without importing scipy.stats (about a second in every worker
    process; scipy.special, which the engine imports anyway, has every function it uses).

    It is scipy's own inversion, step by step on arrays of the same shapes: a uniform per value,
    then truncnorm's `_ppf` (log-space sums of normal masses, `ndtri_exp`), scaled and shifted.
    tests/test_distributions.py compares it with scipy.stats over many windows and seeds."""
    from scipy import special

    if not low < high:  # scipy's own message for an empty window
        from scipy import stats

        return stats.truncnorm.rvs(low, high, loc=loc, scale=scale, size=n, random_state=rng)
    q, a, b = np.broadcast_arrays(rng.uniform(size=(n,)), np.asarray(low), np.asarray(high))
    left = a < 0  # work in the tail where the normal's logarithms are accurate
    out = np.empty_like(q)
    if left.any():
        ql, al, bl = q[left], a[left], b[left]
        log_phi = _log_sum(special.log_ndtr(al), np.log(ql) + _log_gauss_mass(al, bl))
        out[left] = special.ndtri_exp(log_phi)
    right = ~left
    if right.any():
        qr, ar, br = q[right], a[right], b[right]
        log_phi = _log_sum(special.log_ndtr(-br), np.log1p(-qr) + _log_gauss_mass(ar, br))
        out[right] = -special.ndtri_exp(log_phi)
    return out * np.asarray(scale) + np.asarray(loc)


def _log_sum(log_p: np.ndarray, log_q: np.ndarray) -> np.ndarray:
    from scipy import special

    return special.logsumexp([log_p, log_q], axis=0)


def _log_gauss_mass(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """Log of the standard normal's mass within [a, b] (scipy.stats' `_log_gauss_mass`)."""
    from scipy import special

    a, b = np.broadcast_arrays(a, b)
    case_left = b <= 0
    case_right = a > 0
    case_central = ~(case_left | case_right)

    def mass_left(a: np.ndarray, b: np.ndarray) -> np.ndarray:  # log(Φ(b) − Φ(a)), in the left tail
        return special.logsumexp([special.log_ndtr(b), special.log_ndtr(a) + np.pi * 1j], axis=0)

    out = np.full_like(a, fill_value=np.nan, dtype=np.complex128)
    if a[case_left].size:
        out[case_left] = mass_left(a[case_left], b[case_left])
    if a[case_right].size:
        out[case_right] = mass_left(-b[case_right], -a[case_right])
    if a[case_central].size:
        central_a, central_b = a[case_central], b[case_central]
        out[case_central] = special.log1p(-special.ndtr(central_a) - special.ndtr(-central_b))
    return np.real(out)


Distribution = Constant | Uniform | Normal | LogNormal | Exponential | Triangular
FeatureDistribution = Distribution | Bernoulli
