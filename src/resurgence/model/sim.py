"""The engine: runs the mechanism modules in an explicit weekly plan, vectorised over runs.

Randomness. One root seed. Run ``i`` draws from ``SeedSequence(root, spawn_key=(i,))`` —
exactly ``SeedSequence(root).spawn(n)[i]`` — one block of uniforms of shape
``(weeks, columns)``, where each module owns fixed columns (one per region-week draw
slot and per national draw slot). A run's numbers therefore depend on its index only,
never on the chunk or worker that simulates it, and the same run index feeds the same
uniform to the same mechanism in every scenario (common random numbers). Rows are drawn
week by week, so a longer horizon extends a run without changing its earlier weeks.
"""

from __future__ import annotations

import copy
from collections.abc import Sequence
from types import SimpleNamespace

import numpy as np

from resurgence.model.mechanisms.coalition import Coalition
from resurgence.model.mechanisms.grievance import Grievance
from resurgence.model.mechanisms.host import Host
from resurgence.model.mechanisms.insurgency import Insurgency
from resurgence.model.mechanisms.militia import Militia
from resurgence.model.mechanisms.politics import Politics
from resurgence.model.mechanisms.territory import Territory
from resurgence.model.module import MetricSpec, Module
from resurgence.model.params import Param, ParamSet
from resurgence.scenario.drivers import Drivers, compile_drivers
from resurgence.scenario.schema import Scenario
from resurgence.theatre.theatre import Theatre

#: The weekly step plan: modules run in this order every week.
PLAN: tuple[type[Module], ...] = (Coalition, Host, Militia, Insurgency, Territory, Grievance,
                                  Politics)


def all_params() -> list[Param]:
    return [p for m in PLAN for p in m.params]


def all_metrics() -> list[MetricSpec]:
    return [x for m in PLAN for x in m.metrics]


def default_params(runs: int = 1, overrides: dict[str, float] | None = None) -> ParamSet:
    return ParamSet.defaults(all_params(), runs, overrides)


def run_generator(root_seed: int, run: int) -> np.random.Generator:
    """The random stream of run ``run``: the run-th child of ``SeedSequence(root_seed)``."""
    return np.random.Generator(np.random.PCG64(np.random.SeedSequence(root_seed, spawn_key=(int(run),))))


def observation_uniforms(root_seed: int, run_ids, shape: tuple[int, ...]) -> np.ndarray:
    """Uniforms for reporting noise, ``(len(run_ids), *shape)`` float32: each run's own
    stream ``SeedSequence(root, spawn_key=(run, 1))``, apart from its dynamics stream."""
    u = np.empty((len(run_ids), *shape), dtype=np.float32)
    for i, r in enumerate(run_ids):
        g = np.random.Generator(np.random.PCG64(np.random.SeedSequence(root_seed, spawn_key=(int(r), 1))))
        g.random(out=u[i], dtype=np.float32)
    return u


class Sim:
    """One chunk of runs of one scenario. ``params`` holds one value per run."""

    def __init__(self, scenario: Scenario, theatre: Theatre, params: ParamSet,
                 run_ids: Sequence[int], root_seed: int, drivers: Drivers | None = None):
        self.scenario, self.theatre = scenario, theatre
        self.drivers = drivers or compile_drivers(scenario, theatre)
        self.weeks = self.drivers.grid.weeks
        self.run_ids = np.asarray(run_ids, dtype=np.int64)
        self.n, self.n_regions, self.n_bases = len(self.run_ids), theatre.n_regions, len(theatre.bases)
        if params.runs != self.n:
            raise ValueError(f"params hold {params.runs} runs but the chunk has {self.n}")
        self.p = SimpleNamespace(**{k: v[:, None] for k, v in params.values.items()})
        self.s = SimpleNamespace()
        self.modules = [cls() for cls in PLAN]
        self._layout: dict[str, tuple[int, int, int]] = {}
        col = 0
        for m in self.modules:
            kr, kn = m.n_draws(theatre)
            self._layout[m.name] = (col, kr, kn)
            col += self.n_regions * kr + kn
        self.columns = col
        self._lever_rows = [
            {k: float(v[t]) for k, v in self.drivers.levers.items()} for t in range(self.weeks)]
        R, W = self.n_regions, self.weeks
        self.metric_specs = all_metrics()
        # recorded week-major (contiguous writes); returned as (runs, weeks[, regions]) views
        self._rec = {m.name: np.zeros((W, self.n, R) if m.level == "region" else (W, self.n),
                                      dtype=np.float32) for m in self.metric_specs}

    # --- randomness -----------------------------------------------------------------
    def draw_uniforms(self) -> None:
        self.U = np.empty((self.n, self.weeks, self.columns), dtype=np.float32)
        for i, run in enumerate(self.run_ids):
            run_generator(self._seed, int(run)).random(out=self.U[i], dtype=np.float32)

    def u_region(self, module: str, t: int) -> np.ndarray:
        c, kr, _ = self._layout[module]
        return self.U[:, t, c:c + self.n_regions * kr].reshape(self.n, self.n_regions, kr)

    def u_national(self, module: str, t: int) -> np.ndarray:
        c, kr, kn = self._layout[module]
        c += self.n_regions * kr
        return self.U[:, t, c:c + kn]

    # --- drivers and recording ----------------------------------------------------------
    def levers(self, t: int) -> dict[str, float]:
        return self._lever_rows[t]

    def record(self, metric: str, t: int, value: np.ndarray) -> None:
        arr = self._rec[metric]
        arr[t] = value[:, 0] if arr.ndim == 2 else value

    def run(self, root_seed: int) -> dict[str, np.ndarray]:
        self._seed = root_seed
        self.draw_uniforms()
        for m in self.modules:
            m.init(self)
        for t in range(self.weeks):
            for m in self.modules:
                m.step(self, t)
        del self.U
        return {k: np.swapaxes(v, 0, 1) for k, v in self._rec.items()}

    # --- branching (used by resurgence.run.branch) ------------------------------------------
    # Scenarios whose drivers, parameters and policy agree before week t share the state at t:
    # simulate weeks [0, t) once, snapshot, and continue each scenario from a restored copy.
    def begin(self, root_seed: int, uniforms: np.ndarray | None = None) -> None:
        """Draw this chunk's uniforms (or share ``uniforms``, the same runs' block) and
        initialise the modules; then :meth:`advance` and :meth:`outputs`."""
        self._seed = root_seed
        if uniforms is None:
            self.draw_uniforms()
        else:
            self.U = uniforms
        for m in self.modules:
            m.init(self)

    def advance(self, t0: int, t1: int) -> None:
        for t in range(t0, t1):
            for m in self.modules:
                m.step(self, t)

    def snapshot(self, t: int) -> dict:
        """A deep copy of the state after weeks [0, t): state variables, module attributes
        (one copy, so aliases between them survive) and the records so far."""
        state = copy.deepcopy((vars(self.s), [vars(m) for m in self.modules]))
        return {"t": t, "state": state, "rec": {k: v[:t].copy() for k, v in self._rec.items()}}

    def restore(self, snap: dict) -> None:
        """Continue from ``snap``, taken from a Sim of the same runs, theatre, parameters and
        policy whose drivers agree with this one's before week ``snap["t"]``."""
        s, mods = copy.deepcopy(snap["state"])
        self.s = SimpleNamespace(**s)
        for m, d in zip(self.modules, mods, strict=True):
            m.__dict__.update(d)
        for k, v in snap["rec"].items():
            self._rec[k][:snap["t"]] = v

    def outputs(self) -> dict[str, np.ndarray]:
        self.__dict__.pop("U", None)
        return {k: np.swapaxes(v, 0, 1) for k, v in self._rec.items()}


def simulate_chunk(scenario: Scenario, theatre: Theatre, params: ParamSet,
                   run_ids: Sequence[int], root_seed: int,
                   drivers: Drivers | None = None) -> dict[str, np.ndarray]:
    """Simulate runs ``run_ids`` (params hold one value per run); returns metric arrays."""
    return Sim(scenario, theatre, params, run_ids, root_seed, drivers).run(root_seed)


def plan_table() -> list[dict[str, str]]:
    """The weekly step plan, for ``resurgence model plan`` and the docs."""
    rows = []
    for i, m in enumerate(PLAN, 1):
        rows.append({"step": str(i), "module": m.name, "title": m.title,
                     "reads": ", ".join(m.reads), "writes": ", ".join(s.name for s in m.states),
                     "records": ", ".join(x.name for x in m.metrics),
                     "claims": " ".join(m.claims), "params": str(len(m.params))})
    return rows
