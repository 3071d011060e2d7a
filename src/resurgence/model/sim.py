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
from collections.abc import Mapping, Sequence
from types import SimpleNamespace
from typing import Any

import numpy as np

from resurgence.core.rng import run_generator
from resurgence.model.mechanisms.coalition import Coalition
from resurgence.model.mechanisms.grievance import Grievance
from resurgence.model.mechanisms.host import Host
from resurgence.model.mechanisms.insurgency import Insurgency
from resurgence.model.mechanisms.militia import Militia
from resurgence.model.mechanisms.politics import Politics
from resurgence.model.mechanisms.territory import Territory
from resurgence.model.module import (
    MetricSpec,
    ModelError,
    Module,
    State,
    check_declarations,
    dataclass_fields,
)
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


class _ReadView:
    """Strict mode: another module's states as ``module`` may see them (declared reads
    only, read-only); every access is recorded."""

    __slots__ = ("_ns", "_owner", "_reader", "_allowed", "_used")

    def __init__(self, ns, owner: str, reader: str, allowed: frozenset[str], used: set):
        for k, v in (("_ns", ns), ("_owner", owner), ("_reader", reader),
                     ("_allowed", allowed), ("_used", used)):
            object.__setattr__(self, k, v)

    def __getattr__(self, name: str):
        if name.startswith("__"):
            raise AttributeError(name)
        if name not in self._allowed:
            raise ModelError(f"{self._reader} reads '{self._owner}.{name}' without declaring it")
        self._used.add((self._reader, f"{self._owner}.{name}"))
        return getattr(self._ns, name)

    def __setattr__(self, name: str, value) -> None:
        raise ModelError(f"{self._reader} writes '{self._owner}.{name}', a state it does not own")


class _Scope:
    """Strict mode: the ``state``/``params``/``drivers``/levers a module sees during its
    own ``init`` and ``step``."""

    def __init__(self, sim: Sim, module: Module):
        self.module = module
        me = module.name
        reads: dict[str, set[str]] = {}
        for r in module.reads:
            owner, _, name = r.partition(".")
            reads.setdefault(owner, set()).add(name)
        used = sim.used_reads
        self.state = SimpleNamespace(**{
            m: (sim.real_state[m] if m == me else
                _ReadView(sim.real_state[m], m, me, frozenset(reads.get(m, ())), used))
            for m in sim.real_state.modules()})
        self.params = _Params({me: sim.real_params[me]}, me)
        self.drivers = _ReadView(sim.real_drivers, "driver", me,
                                 frozenset(reads.get("driver", ())) | {"grid"}, used)
        allowed = frozenset(reads.get("lever", ()))
        self.lever_rows = [_LeverRow(row, me, allowed, used) for row in sim.lever_rows]


class _LeverRow(dict):
    """Strict mode: one week's levers, only the declared ones."""

    def __init__(self, row, reader, allowed, used):
        super().__init__(row)
        self._reader, self._allowed, self._used = reader, allowed, used

    def __getitem__(self, k):
        if k not in self._allowed:
            raise ModelError(f"{self._reader} reads 'lever.{k}' without declaring it")
        self._used.add((self._reader, f"lever.{k}"))
        return super().__getitem__(k)


class _Params:
    """Parameters by owning module: ``params.coalition.troops_ref`` (``(n, 1)`` columns)."""

    def __init__(self, by_module: dict[str, SimpleNamespace], scope: str | None = None):
        self._by, self._scope = by_module, scope

    def __getitem__(self, module: str) -> SimpleNamespace:
        if module not in self._by:
            raise ModelError(f"{self._scope} reads parameters of {module}, which it does not own")
        return self._by[module]

    def __getattr__(self, module: str) -> SimpleNamespace:
        if module.startswith("__"):  # copy/pickle protocols look for dunders: not parameters
            raise AttributeError(module)
        return self[module]


class Sim:
    """One chunk of runs of one scenario. ``params`` holds one value per run.

    ``lever_series`` (optional) gives levers that differ by run, ``name -> (weeks, runs)``,
    handed to the modules as ``(runs, 1)`` columns in place of the scenario's scalar lever
    (used by the Sobol' design of :mod:`resurgence.analysis.sensitivity`). ``strict``
    checks at run time that every module touches only what it owns or declared."""

    def __init__(self, scenario: Scenario, theatre: Theatre, params: ParamSet,
                 run_ids: Sequence[int] | np.ndarray, root_seed: int, drivers: Drivers | None = None,
                 *, lever_series: Mapping[str, np.ndarray] | None = None, strict: bool = False):
        self.scenario, self.theatre = scenario, theatre
        self.drivers: Any = drivers or compile_drivers(scenario, theatre)
        check_declarations(PLAN, self.drivers.levers, dataclass_fields(self.drivers))
        self.weeks = self.drivers.grid.weeks
        self.run_ids = np.asarray(run_ids, dtype=np.int64)
        self.n, self.n_regions, self.n_bases = len(self.run_ids), theatre.n_regions, len(theatre.bases)
        if params.runs != self.n:
            raise ValueError(f"params hold {params.runs} runs but the chunk has {self.n}")
        owner = {p.name: m.name for m in PLAN for p in m.params}
        by_module: dict[str, dict[str, np.ndarray]] = {m.name: {} for m in PLAN}
        for k, v in params.values.items():
            if k in owner:  # observation-model parameters travel along but no module owns them
                by_module[owner[k]][k] = v[:, None]
        self.params = _Params({m: SimpleNamespace(**d) for m, d in by_module.items()})
        self.state: Any = State(PLAN)
        self.modules = [cls() for cls in PLAN]
        self._layout: dict[str, tuple[int, int, int]] = {}
        col = 0
        for m in self.modules:
            kr, kn = m.n_draws(theatre)
            self._layout[m.name] = (col, kr, kn)
            col += self.n_regions * kr + kn
        self.columns = col
        self.lever_rows: list[Any] = [
            {k: float(v[t]) for k, v in self.drivers.levers.items()} for t in range(self.weeks)]
        if lever_series:
            unknown = sorted(set(lever_series) - set(self.drivers.levers))
            if unknown:
                raise ValueError(f"lever_series: unknown lever {unknown[0]!r}")
            self.lever_rows = [{**row, **{k: v[t][:, None] for k, v in lever_series.items()}}
                               for t, row in enumerate(self.lever_rows)]
        self.strict = strict
        #: weeks simulated before week 0 (non-zero when the run starts from a carried state)
        self.history_weeks = 0
        self.used_reads: set[tuple[str, str]] = set()
        R, W = self.n_regions, self.weeks
        self.metric_specs = all_metrics()
        # recorded week-major (contiguous writes); returned as (runs, weeks[, regions]) views;
        # not zeroed: every week is written before it is read (a fresh page costs a fault)
        self._rec = {m.name: np.empty((W, self.n, R) if m.level == "region" else (W, self.n),
                                      dtype=np.float32) for m in self.metric_specs}
        self._recorder: dict[str, str] = {x.name: m.name for m in PLAN for x in m.metrics}

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

    def elapsed(self, t: int) -> int:
        """Weeks of the run's history before week ``t``: ``t`` itself, plus the weeks behind
        a carried starting state (see :meth:`load_state`)."""
        return self.history_weeks + t

    # --- drivers and recording ----------------------------------------------------------
    def levers(self, t: int) -> dict[str, float]:
        return self.lever_rows[t]

    def record(self, metric: str, t: int, value: np.ndarray) -> None:
        arr = self._rec[metric]
        arr[t] = value[:, 0] if arr.ndim == 2 else value

    def out(self, metric: str, t: int) -> np.ndarray:
        """Where week ``t`` of ``metric`` is recorded, for a kernel to write into: ``(runs,
        regions)`` or, for a national metric, ``(runs, 1)`` (float32; values are rounded as
        :meth:`record` rounds them)."""
        arr = self._rec[metric]
        return arr[t] if arr.ndim == 3 else arr[t][:, None]

    def run(self, root_seed: int, state: Mapping[str, np.ndarray] | None = None,
            history_weeks: int = 0) -> dict[str, np.ndarray]:
        """Simulate every week; with ``state``, from that carried state (see :meth:`load_state`)."""
        if state is not None:
            self.begin(root_seed, state=state, history_weeks=history_weeks)
            self.advance(0, self.weeks)
            return self.outputs()
        self._seed = root_seed
        self.draw_uniforms()
        if self.strict:
            self._run_strict()
        else:
            for m in self.modules:
                m.init(self)
            for t in range(self.weeks):
                for m in self.modules:
                    m.step(self, t)
        del self.U
        return {k: np.swapaxes(v, 0, 1) for k, v in self._rec.items()}

    def _run_strict(self) -> None:
        self.real_state, self.real_params, self.real_drivers = self.state, self.params, self.drivers
        real_rows, real_record, real_out = self.lever_rows, self.record, self.out
        scopes = [_Scope(self, m) for m in self.modules]

        def enter(sc: _Scope) -> None:
            self.state, self.params, self.drivers = sc.state, sc.params, sc.drivers
            self.lever_rows = sc.lever_rows
            me = sc.module.name

            def record(metric: str, t: int, value: np.ndarray) -> None:
                if self._recorder.get(metric) != me:
                    raise ModelError(f"{me} records {metric!r}, a metric it does not declare")
                real_record(metric, t, value)

            def out(metric: str, t: int) -> np.ndarray:
                if self._recorder.get(metric) != me:
                    raise ModelError(f"{me} records {metric!r}, a metric it does not declare")
                return real_out(metric, t)
            self.record = record  # type: ignore[method-assign]
            self.out = out  # type: ignore[method-assign]

        try:
            for m, sc in zip(self.modules, scopes, strict=True):
                enter(sc)
                m.init(self)
            for t in range(self.weeks):
                for m, sc in zip(self.modules, scopes, strict=True):
                    enter(sc)
                    m.step(self, t)
        finally:
            self.state, self.params, self.drivers = self.real_state, self.real_params, self.real_drivers
            self.lever_rows = real_rows
            del self.record, self.out

    # --- branching (used by resurgence.runs.branch) ------------------------------------------
    # Scenarios whose drivers, parameters and policy agree before week t share the state at t:
    # simulate weeks [0, t) once, snapshot, and continue each scenario from a restored copy.
    def begin(self, root_seed: int, uniforms: np.ndarray | None = None,
              state: Mapping[str, np.ndarray] | None = None, history_weeks: int = 0) -> None:
        """Draw this chunk's uniforms (or share ``uniforms``, the same runs' block) and
        initialise the modules; with ``state`` (see :meth:`load_state`) the runs continue from
        a carried state instead. Then :meth:`advance` and :meth:`outputs`."""
        self._seed = root_seed
        if uniforms is None:
            self.draw_uniforms()
        else:
            self.U = uniforms
        for m in self.modules:
            m.init(self)
        if state is not None:
            self.load_state(state, history_weeks)

    # --- carried states (used by resurgence.calibration.origin) ----------------------------
    # A run can start from the state another simulation reached (e.g. the state on the
    # forecast origin filtered on the data, carried by a posterior): every declared state,
    # one row per run. Modules keep no other dynamic state (caches derived from states are
    # dropped by Module.invalidate), which tests/test_origin.py checks by continuing a run.
    def export_state(self) -> dict[str, np.ndarray]:
        """Every declared state that is set, by qualified name ``module.state``: ``(n, ...)``."""
        out = {}
        for m in self.state.modules():
            ns = self.state[m]
            for k in ns.__slots__:
                if hasattr(ns, k):
                    v = np.asarray(getattr(ns, k))
                    if v.ndim == 0 or v.shape[0] != self.n:
                        raise ModelError(f"{m}: state {k!r} has shape {v.shape}, "
                                         f"expected one row per run ({self.n})")
                    out[f"{m}.{k}"] = v.copy()
        return out

    def load_state(self, state: Mapping[str, np.ndarray], history_weeks: int) -> None:
        """Replace the modules' states by ``state`` (as :meth:`export_state` gives, one row per
        run of this chunk), after ``history_weeks`` weeks of history."""
        for key, v in state.items():
            mod, _, name = key.partition(".")
            if mod not in self.state.modules() or name not in self.state[mod].__slots__:
                raise ModelError(f"carried state {key!r}: no such state in the plan")
            arr = np.array(v, copy=True)
            if arr.shape[0] != self.n:
                raise ModelError(f"carried state {key!r} has {arr.shape[0]} rows, expected {self.n}")
            setattr(self.state[mod], name, arr)
        self.history_weeks = int(history_weeks)
        for m in self.modules:
            m.invalidate()

    def reorder(self, idx: np.ndarray) -> None:
        """Particle resampling: run ``j`` continues from the state (and records so far) of
        run ``idx[j]``, with its own future uniforms. Runs ``j`` and ``idx[j]`` must share
        their parameters (resampling within a parameter draw)."""
        idx = np.asarray(idx, dtype=np.int64)
        for m in self.state.modules():
            ns = self.state[m]
            for k in ns.__slots__:
                if hasattr(ns, k):
                    setattr(ns, k, np.asarray(getattr(ns, k))[idx])
        for k, v in self._rec.items():
            self._rec[k] = v[:, idx]
        for m in self.modules:
            m.invalidate()

    def advance(self, t0: int, t1: int) -> None:
        for t in range(t0, t1):
            for m in self.modules:
                m.step(self, t)

    def snapshot(self, t: int) -> dict:
        """A deep copy of the state after weeks [0, t): state variables, module attributes
        (one copy, so aliases between them survive) and the records so far."""
        state = copy.deepcopy((self.state, [vars(m) for m in self.modules]))
        return {"t": t, "state": state, "history_weeks": self.history_weeks,
                "rec": {k: v[:t].copy() for k, v in self._rec.items()}}

    def restore(self, snap: dict) -> None:
        """Continue from ``snap``, taken from a Sim of the same runs, theatre, parameters and
        policy whose drivers agree with this one's before week ``snap["t"]``."""
        self.state, mods = copy.deepcopy(snap["state"])
        self.history_weeks = snap["history_weeks"]
        for m, d in zip(self.modules, mods, strict=True):
            m.__dict__.update(d)
        for k, v in snap["rec"].items():
            self._rec[k][:snap["t"]] = v

    def records(self) -> dict[str, np.ndarray]:
        """The recording buffers, week-major ``(weeks, runs[, regions])`` (weeks not yet
        simulated hold no values yet: read only the weeks simulated so far)."""
        return self._rec

    def outputs(self) -> dict[str, np.ndarray]:
        self.__dict__.pop("U", None)
        return {k: np.swapaxes(v, 0, 1) for k, v in self._rec.items()}


def simulate_chunk(scenario: Scenario, theatre: Theatre, params: ParamSet,
                   run_ids: Sequence[int] | np.ndarray, root_seed: int,
                   drivers: Drivers | None = None, *, strict: bool = False) -> dict[str, np.ndarray]:
    """Simulate runs ``run_ids`` (params hold one value per run); returns metric arrays."""
    return Sim(scenario, theatre, params, run_ids, root_seed, drivers,
               strict=strict).run(root_seed)


def plan_table() -> list[dict[str, str]]:
    """The weekly step plan, for ``resurgence model plan`` and the docs."""
    rows = []
    for i, m in enumerate(PLAN, 1):
        rows.append({"step": str(i), "module": m.name, "title": m.title,
                     "reads": ", ".join(m.reads), "writes": ", ".join(s.name for s in m.states),
                     "records": ", ".join(x.name for x in m.metrics),
                     "claims": " ".join(m.claims), "params": str(len(m.params))})
    return rows
