"""Parameters: declared by the mechanism modules, each with units, default, prior and sources.

A :class:`Param` is metadata; a :class:`ParamSet` holds values, one per run (so posterior
draws flow through an ensemble), broadcast as ``(runs, 1)`` arrays against ``(runs, regions)``
states. Default values are versioned by :data:`DEFAULTS_VERSION`: changing any default
bumps it, and every results manifest records it with a hash of the values.
"""

from __future__ import annotations

import hashlib
import json
import math
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field

import numpy as np

from resurgence.core.errors import ScenarioError, field_error

DEFAULTS_VERSION = "2020.2"  # 2020.2: decline mechanisms and countervailing channels (issue #9)


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
    lo: float | None = None  # declared bounds (inclusive); else inferred, see support()
    hi: float | None = None

    @property
    def uncertain(self) -> bool:
        return self.prior.kind != "fixed"

    def support(self) -> tuple[float, float, bool, str]:
        """``(lo, hi, lo_open, why)``: the values this parameter may take.

        Declared ``lo``/``hi`` win; otherwise a ceiling (``*_capacity``, ``*_max``,
        ``*_ceiling``) needs at least a tenth of its default, a negative-binomial
        ``*_dispersion`` needs ``> 0``, a log-normal prior ``>= 0`` (0 switches a mechanism
        off), a beta prior
        ``[0, 1]``, a truncated normal its ``[lo, hi]``, and a parameter whose default is
        >= 0 (a rate, a share, a capacity) needs ``>= 0``. Above, every parameter is bounded
        by :data:`MAGNITUDE` times the largest of its default, its prior's bounds and 1, and a
        rate in 1/week by 1 (1/yr by 52): beyond that the weekly steps blow up to inf/NaN,
        which an override must not reach."""
        pr, k = self.prior, self.prior.kind
        scale = max(abs(self.default), 1.0,
                    *(abs(x) for x in (pr.a, pr.b) if k in ("uniform", "lognormal")))
        lo, hi, lo_open, why = -MAGNITUDE * scale, MAGNITUDE * scale, False, "magnitude bound"
        if self.name.endswith(CEILINGS) and self.default > 0:
            lo, why = self.default * CEILING_FLOOR, "a ceiling: at least a tenth of its default"
        elif self.name.endswith(DIVISORS):
            lo, lo_open, why = 0.0, True, "a divisor"
        elif k == "lognormal":  # 0 is allowed: it switches a mechanism off
            lo, why = 0.0, "log-normal prior"
        elif k == "beta":
            lo, hi, why = 0.0, 1.0, "beta prior"
        elif k == "truncnormal":
            lo, hi, why = pr.lo, pr.hi, "truncated-normal prior"
        elif self.default >= 0:
            lo, why = 0.0, "a non-negative quantity"
        if self.units in RATE_CAPS and hi > RATE_CAPS[self.units]:
            hi, why = RATE_CAPS[self.units], f"{why}; a rate in {self.units}"
        if self.lo is not None:
            lo, lo_open, why = self.lo, False, "declared bounds"
        if self.hi is not None:
            hi, why = self.hi, "declared bounds"
        return lo, hi, lo_open, why

    def problem(self, value: float) -> str | None:
        """Why ``value`` cannot be this parameter's value (None when it can)."""
        try:
            v = float(value)
        except (TypeError, ValueError, OverflowError):
            return "expected a number"
        if not math.isfinite(v):
            return "expected a finite number"
        lo, hi, lo_open, why = self.support()
        if (v <= lo if lo_open else v < lo) or v > hi:
            left = "(" if lo_open else "["
            return f"expected a value in {left}{lo:g}, {hi:g}] ({why}; units: {self.units})"
        return None

    def check(self, value: float, where: str | None = None) -> float:
        """``value`` as a float, or a one-line ScenarioError naming ``params.<name>``."""
        bad = self.problem(value)
        if bad:
            raise field_error(f"params.{self.name}", value, bad, ScenarioError, where)
        return float(value)


MAGNITUDE = 100.0
RATE_CAPS = {"1/week": 1.0, "1/yr": 52.0}  # a weekly step cannot move more than all of it
DIVISORS = ("_dispersion",)  # negative-binomial sizes divide: > 0
CEILINGS = ("_capacity", "_max", "_ceiling")  # logistic ceilings: far below the state, it blows up
CEILING_FLOOR = 0.1


def check_overrides(specs: Mapping[str, Param], overrides: Mapping[str, float],
                    where: str | None = None) -> dict[str, float]:
    """The one check of parameter overrides (CLI, Python API and web): every name known and
    every value inside its parameter's :meth:`Param.support`; ScenarioError otherwise."""
    unknown = sorted(set(overrides) - set(specs))
    if unknown:
        msg = (f"field 'params.{unknown[0][:60]}': unknown parameter (see `resurgence model "
               "params`)")
        raise ScenarioError(f"{where}: {msg}" if where else msg)
    return {name: specs[name].check(v, where) for name, v in overrides.items()}


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
