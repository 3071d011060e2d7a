"""What a mechanism module is: parameters, states, results, random draws and one step.

Modules follow Starsim's pattern: each declares what it owns (parameters with units,
priors and source claims; states; recorded metrics; how many uniforms it consumes per
region-week and per run-week) and what it reads from others, and implements ``init`` and
``step``. The simulation runs the modules in the explicit order of
:data:`resurgence.model.sim.PLAN`.

Ownership. Each module's states live in its own typed namespace, reached through the owner:
``sim.state.coalition.troops``. The namespace has one slot per declared state, so setting
an undeclared name fails at once. What a module reads from elsewhere is declared in
``reads`` as qualified names — ``"coalition.troops"`` (another module's state),
``"lever.isr"`` (a compiled scenario lever), ``"driver.base_open"`` (another compiled
driver) — and checked against the plan when a simulation is built
(:func:`check_declarations`), with a one-line :class:`ModelError` naming the module and the
missing name. In strict mode (``Sim(..., strict=True)``, used by the tests) every access is
checked at run time too: a module can touch only its own states and parameters and what
it declared.

Shapes: regional arrays are ``(n, R)`` (runs x regions); national arrays are ``(n, 1)`` so
that they broadcast against regional ones. Parameters are ``(n, 1)`` columns.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, fields
from typing import TYPE_CHECKING, Any, ClassVar, Literal

from resurgence.model.params import Param

if TYPE_CHECKING:
    from resurgence.model.sim import Sim


class ModelError(Exception):
    """The declarations of the mechanism modules do not fit together (a programming
    error in a module, not bad user input); the message names the module and the name."""


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
    """Base class of a mechanism. Subclasses declare the class variables and implement
    ``step`` (and ``init`` where states start from anything but zero)."""

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

    @classmethod
    def state_names(cls) -> tuple[str, ...]:
        return tuple(s.name for s in cls.states)

    def init(self, sim: Sim) -> None:  # pragma: no cover - overridden where needed
        """Set initial states at week 0."""

    def step(self, sim: Sim, t: int) -> None:
        raise NotImplementedError

    def invalidate(self) -> None:
        """Forget caches derived from states (called when the states are replaced: a carried
        starting state, particle resampling). Modules keep no other dynamic state."""


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


# --- owned state ---------------------------------------------------------------------------

class ModuleState:
    """Base of the per-module state namespaces (one slot per declared state)."""

    __slots__: tuple[str, ...] = ()
    owner: ClassVar[str] = ""

    def __repr__(self) -> str:
        have = [k for k in self.__slots__ if hasattr(self, k)]
        return f"<{self.owner} state: {', '.join(have)}>"


_STATE_CLASSES: dict[type[Module], type[ModuleState]] = {}


def state_class(module: type[Module]) -> type[ModuleState]:
    """The slotted state namespace of ``module`` (built once per module class)."""
    cls = _STATE_CLASSES.get(module)
    if cls is None:
        names = module.state_names()
        if len(set(names)) != len(names):
            dup = next(n for n in names if names.count(n) > 1)
            raise ModelError(f"{module.name}: state {dup!r} is declared twice")
        cls = type(f"{module.__name__}State", (ModuleState,),
                   {"__slots__": names, "owner": module.name})
        _STATE_CLASSES[module] = cls
    return cls


class State:
    """All states of a simulation, one namespace per module: ``state.coalition.troops``."""

    def __init__(self, modules: Iterable[type[Module]]):
        self._names: list[str] = []
        for m in modules:
            setattr(self, m.name, state_class(m)())
            self._names.append(m.name)

    def __getitem__(self, module: str) -> Any:
        return getattr(self, module)

    def modules(self) -> list[str]:
        return list(self._names)


# --- declarations ----------------------------------------------------------------------------

READ_KINDS = ("lever", "driver")


def check_declarations(plan: Iterable[type[Module]], levers: Iterable[str],
                       driver_fields: Iterable[str]) -> None:
    """Every read names an existing state of another module of the plan, a lever or a
    driver; states and parameters have one owner; metric names are unique. Raises
    :class:`ModelError` naming the module and the name."""
    plan = list(plan)
    owners = {m.name: m for m in plan}
    if len(owners) != len(plan):
        raise ModelError("two modules of the plan share a name")
    levers, driver_fields = set(levers), set(driver_fields)
    seen_params: dict[str, str] = {}
    seen_metrics: dict[str, str] = {}
    for m in plan:
        state_class(m)
        for p in m.params:
            if p.name in seen_params:
                raise ModelError(f"{m.name}: parameter {p.name!r} is already declared by "
                                 f"{seen_params[p.name]}")
            seen_params[p.name] = m.name
        for x in m.metrics:
            if x.name in seen_metrics:
                raise ModelError(f"{m.name}: metric {x.name!r} is already recorded by "
                                 f"{seen_metrics[x.name]}")
            seen_metrics[x.name] = m.name
        for r in m.reads:
            owner, _, name = r.partition(".")
            if not name:
                raise ModelError(f"{m.name}: read {r!r} is not qualified "
                                 f"(expected 'module.state', 'lever.name' or 'driver.name')")
            if owner == "lever":
                if name not in levers:
                    raise ModelError(f"{m.name} reads lever {name!r}, which no scenario "
                                     f"schedule defines")
            elif owner == "driver":
                if name not in driver_fields:
                    raise ModelError(f"{m.name} reads driver {name!r}, which the compiled "
                                     f"drivers do not have")
            elif owner == m.name:
                raise ModelError(f"{m.name} declares a read of its own state {name!r}")
            elif owner not in owners:
                raise ModelError(f"{m.name} reads {r!r}, but no module {owner!r} is in the plan")
            elif name not in owners[owner].state_names():
                raise ModelError(f"{m.name} reads {r!r}, which {owner} does not declare as a state")


def dataclass_fields(obj: Any) -> list[str]:
    return [f.name for f in fields(obj)]
