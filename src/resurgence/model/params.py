"""Parameters: declared by the mechanism modules, each with units, default, prior and sources.

A :class:`Param` is metadata; a :class:`ParamSet` holds values, one per run (so posterior
draws flow through an ensemble), broadcast as ``(runs, 1)`` arrays against ``(runs, regions)``
states. Default values are versioned by :data:`DEFAULTS_VERSION`: changing any default
bumps it, and every results manifest records it with a hash of the values.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field

import numpy as np

DEFAULTS_VERSION = "2020.1"


@dataclass(frozen=True)
class Prior:
    """A prior over one parameter: ``lognormal(median, sigma)``, ``beta(a, b)``,
    ``uniform(lo, hi)``, ``normal(mu, sd)``, ``truncnormal(mu, sd, lo, hi)`` or ``fixed``."""

    kind: str
    a: float = 0.0
    b: float = 0.0
    lo: float = -np.inf
    hi: float = np.inf

    def dist(self):  # scipy frozen distribution (scipy.stats imported lazily: CLI start-up)
        from scipy import stats

        if self.kind == "lognormal":
            return stats.lognorm(s=self.b, scale=self.a)
        if self.kind == "beta":
            return stats.beta(self.a, self.b)
        if self.kind == "uniform":
            return stats.uniform(self.a, self.b - self.a)
        if self.kind == "normal":
            return stats.norm(self.a, self.b)
        if self.kind == "truncnormal":
            return stats.truncnorm((self.lo - self.a) / self.b, (self.hi - self.a) / self.b,
                                   loc=self.a, scale=self.b)
        raise ValueError(f"prior kind {self.kind!r} has no distribution")

    def ppf(self, u: np.ndarray, default: float) -> np.ndarray:
        if self.kind == "fixed":
            return np.full(np.shape(u), default, dtype=float)
        return self.dist().ppf(u)

    def describe(self) -> str:
        k = self.kind
        if k == "fixed":
            return "fixed"
        if k == "lognormal":
            return f"LogNormal(median={self.a:g}, σ={self.b:g})"
        if k == "truncnormal":
            return f"TruncNormal({self.a:g}, {self.b:g}; [{self.lo:g}, {self.hi:g}])"
        return f"{k.capitalize()}({self.a:g}, {self.b:g})"


def lognormal(median: float, sigma: float) -> Prior:
    return Prior("lognormal", median, sigma)


def beta(a: float, b: float) -> Prior:
    return Prior("beta", a, b)


def uniform(lo: float, hi: float) -> Prior:
    return Prior("uniform", lo, hi)


def truncnormal(mu: float, sd: float, lo: float, hi: float) -> Prior:
    return Prior("truncnormal", mu, sd, lo, hi)


FIXED = Prior("fixed")


@dataclass(frozen=True)
class Param:
    name: str
    default: float
    units: str
    description: str
    prior: Prior = FIXED
    claims: tuple[str, ...] = ()
    source: str = "judgement"
    module: str = ""

    @property
    def uncertain(self) -> bool:
        return self.prior.kind != "fixed"


@dataclass
class ParamSet:
    """Values for ``runs`` runs: ``values[name]`` has shape ``(runs,)``."""

    specs: Mapping[str, Param]
    values: dict[str, np.ndarray] = field(default_factory=dict)

    @classmethod
    def defaults(cls, specs: Iterable[Param], runs: int = 1,
                 overrides: Mapping[str, float] | None = None) -> ParamSet:
        spec_map = {p.name: p for p in specs}
        vals = {n: np.full(runs, p.default, dtype=float) for n, p in spec_map.items()}
        ps = cls(spec_map, vals)
        if overrides:
            ps = ps.with_overrides(overrides)
        return ps

    @property
    def runs(self) -> int:
        return len(next(iter(self.values.values())))

    def with_overrides(self, overrides: Mapping[str, float | np.ndarray]) -> ParamSet:
        vals = dict(self.values)
        for name, v in overrides.items():
            if name not in self.specs:
                raise KeyError(f"unknown parameter {name!r}")
            vals[name] = np.full(self.runs, float(v)) if np.ndim(v) == 0 else np.asarray(v, float)
        return ParamSet(self.specs, vals)

    def take(self, idx: np.ndarray) -> ParamSet:
        return ParamSet(self.specs, {k: v[idx] for k, v in self.values.items()})

    def column(self, name: str) -> np.ndarray:
        """Values as a ``(runs, 1)`` column for broadcasting against regional states."""
        return self.values[name][:, None]

    def digest(self) -> str:
        h = hashlib.sha256()
        for k in sorted(self.values):
            h.update(k.encode())
            h.update(np.ascontiguousarray(self.values[k], dtype=np.float64).tobytes())
        return h.hexdigest()[:16]

    def summary(self) -> dict[str, float]:
        return {k: float(np.mean(v)) for k, v in sorted(self.values.items())}


def defaults_digest(specs: Iterable[Param]) -> str:
    payload = json.dumps({p.name: p.default for p in specs}, sort_keys=True)
    return hashlib.sha256(payload.encode()).hexdigest()[:16]
