"""What a mechanism module is: parameters, states, results, random draws and one step.

Modules follow Starsim's pattern: each declares what it owns (parameters with units,
priors and source claims; states; recorded metrics; how many uniforms it consumes per
region-week and per run-week) and implements ``init`` and ``step``. The engine runs the
modules in the explicit order of :data:`resurgence.engine.PLAN`.

Shapes: regional arrays are ``(n, R)`` (runs x regions); national arrays are ``(n, 1)`` so
that they broadcast against regional ones. Parameters are ``(n, 1)`` columns.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, ClassVar, Literal

from resurgence.model.params import Param

if TYPE_CHECKING:
    from resurgence.model.sim import Sim


@dataclass(frozen=True)
class MetricSpec:
    name: str
    unit: str
    description: str
    level: Literal["region", "national"]
    agg: Literal["sum", "mean", "popmean", "max"] = "sum"  # how the national row is derived


@dataclass(frozen=True)
class StateSpec:
    name: str
    level: Literal["region", "national"]
    unit: str
    description: str


class Module:
    name: ClassVar[str]
    title: ClassVar[str]
    claims: ClassVar[tuple[str, ...]] = ()
    params: ClassVar[tuple[Param, ...]] = ()
    states: ClassVar[tuple[StateSpec, ...]] = ()
    metrics: ClassVar[tuple[MetricSpec, ...]] = ()
    reads: ClassVar[tuple[str, ...]] = ()
    draws_region: ClassVar[int] = 0
    draws_national: ClassVar[int] = 0

    def n_draws(self, theatre) -> tuple[int, int]:
        """Uniforms consumed per (run, week): per region, and per run (national)."""
        return self.draws_region, self.draws_national

    def init(self, sim: Sim) -> None:  # pragma: no cover - overridden where needed
        """Set initial states at week 0."""

    def step(self, sim: Sim, t: int) -> None:
        raise NotImplementedError


def P(module: str, name: str, default: float, units: str, description: str, prior=None,
      claims: tuple[str, ...] = (), source: str = "judgement") -> Param:
    """Shorthand for a module's parameter declaration."""
    from resurgence.model.params import FIXED

    return Param(name, default, units, description, prior or FIXED, claims, source, module)


def M(name: str, unit: str, description: str, level: Literal["region", "national"] = "region",
      agg: Literal["sum", "mean", "popmean", "max"] = "sum") -> MetricSpec:
    return MetricSpec(name, unit, description, level, agg)


def S(name: str, level: Literal["region", "national"], unit: str, description: str) -> StateSpec:
    return StateSpec(name, level, unit, description)
