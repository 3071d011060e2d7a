"""A small stand-in simulation for testing one mechanism alone.

:class:`MockSim` gives a module what a :class:`~resurgence.model.sim.Sim` would, and
nothing more: its own states and parameters (defaults, with overrides), the states it
declares it reads (set by the test), the levers and drivers it declares (scalars or arrays
set by the test), and fixed uniforms. So a mechanism can be tested against hand-made
inputs, e.g. "militia attacks scale with strength"::

    sim = MockSim(Militia, theatre, runs=2, reads={"coalition.troops": 3000.0, ...})
    sim.init(); sim.step(); sim.recorded["militia_attacks_us"]
"""

from __future__ import annotations

from collections.abc import Mapping
from types import SimpleNamespace
from typing import Any

import numpy as np

from resurgence.model.module import ModelError, Module, state_class
from resurgence.model.sim import _Params
from resurgence.theatre.theatre import Theatre


class MockSim:
    def __init__(self, module: type[Module], theatre: Theatre, *, runs: int = 2,
                 reads: Mapping[str, Any] | None = None, params: Mapping[str, float] | None = None,
                 uniform: float = 0.5):
        self.module = module()
        self.theatre = theatre
        self.n, self.n_regions, self.n_bases = runs, theatre.n_regions, len(theatre.bases)
        own = {p.name: p for p in module.params}
        unknown = sorted(set(params or {}) - set(own))
        if unknown:
            raise ModelError(f"{module.name} has no parameter {unknown[0]!r}")
        vals = {k: np.full((runs, 1), float((params or {}).get(k, p.default)))
                for k, p in own.items()}
        self.params = _Params({module.name: SimpleNamespace(**vals)})
        reads = dict(reads or {})
        missing = [r for r in module.reads if r not in reads]
        if missing:
            raise ModelError(f"MockSim({module.name}): give a value for {missing[0]!r}")
        extra = sorted(set(reads) - set(module.reads))
        if extra:
            raise ModelError(f"MockSim({module.name}): {extra[0]!r} is not a declared read")
        states: dict[str, SimpleNamespace] = {}
        self._levers: dict[str, Any] = {}
        drivers: dict[str, Any] = {}
        for name, v in reads.items():
            owner, _, key = name.partition(".")
            if owner == "lever":
                self._levers[key] = v
            elif owner == "driver":
                drivers[key] = v
            else:
                states.setdefault(owner, SimpleNamespace())
                setattr(states[owner], key, np.asarray(v, dtype=float) * np.ones((runs, 1))
                        if np.ndim(v) == 0 else np.asarray(v))
        self.state = SimpleNamespace(**states, **{module.name: state_class(module)()})
        self.drivers = SimpleNamespace(**drivers)
        kr, kn = self.module.n_draws(theatre)
        self._u_region = np.full((runs, self.n_regions, kr), uniform, dtype=np.float32)
        self._u_national = np.full((runs, kn), uniform, dtype=np.float32)
        self.recorded: dict[str, np.ndarray] = {}
        self.t = 0
        self.history_weeks = 0  # as Sim: weeks before week 0 when starting from a carried state

    # what a module calls on its simulation
    def elapsed(self, t: int) -> int:
        return self.history_weeks + t

    def levers(self, t: int) -> dict[str, Any]:
        return self._levers

    def u_region(self, module: str, t: int) -> np.ndarray:
        return self._u_region

    def u_national(self, module: str, t: int) -> np.ndarray:
        return self._u_national

    def record(self, metric: str, t: int, value: np.ndarray) -> None:
        self.recorded[metric] = np.array(value)

    def out(self, metric: str, t: int) -> np.ndarray:
        level = {m.name: m.level for m in self.module.metrics}[metric]
        self.recorded[metric] = np.empty((self.n, self.n_regions if level == "region" else 1))
        return self.recorded[metric]

    # driving the module
    def init(self) -> None:
        self.module.init(self)  # type: ignore[arg-type]

    def step(self) -> None:
        self.module.step(self, self.t)  # type: ignore[arg-type]
        self.t += 1

    @property
    def own(self) -> Any:
        """The module's own state namespace."""
        return getattr(self.state, self.module.name)
