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
        from scipy import stats  # imported when first used: loading a scenario stays fast

        if self.min is None and self.max is None:
            return rng.normal(self.mean, self.sd, n)
        if self.sd == 0:
            return np.full(n, float(np.clip(self.mean, self.min, self.max)))
        low = -math.inf if self.min is None else (self.min - self.mean) / self.sd
        high = math.inf if self.max is None else (self.max - self.mean) / self.sd
        return stats.truncnorm.rvs(low, high, loc=self.mean, scale=self.sd, size=n, random_state=rng)

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


Distribution = Constant | Uniform | Normal | LogNormal | Exponential | Triangular
FeatureDistribution = Distribution | Bernoulli
