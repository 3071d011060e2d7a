"""Shared history once: the scenarios of an ensemble branch where their drivers first differ.

Every scenario of an ensemble runs the same run indices on the same weekly grid, and run ``i``
draws the same uniforms in every scenario (common random numbers). Scenarios with the same
per-run parameters and policy whose drivers (levers, base schedule, shocks) agree before week
``t`` are therefore in the same state at ``t``: the shared prefix (for a posterior, the
spin-up from 2018) is simulated once per chunk, and each scenario continues from a copy of
that state (:meth:`resurgence.model.sim.Sim.snapshot` / ``restore``). The result is
bit-identical to simulating each scenario alone (``tests/test_branch.py``).
"""

from __future__ import annotations

import datetime as dt
import json
from collections.abc import Iterator, Sequence

import numpy as np

from resurgence.model.params import ParamSet
from resurgence.model.sim import Sim
from resurgence.runs.prepare import Carried, history
from resurgence.scenario.drivers import Drivers
from resurgence.scenario.schema import Scenario
from resurgence.theatre.theatre import Theatre


def divergence(a: Drivers, b: Drivers) -> int:
    """The first week at which two scenarios' drivers differ (``weeks`` if never)."""
    w = a.grid.weeks
    if b.grid.weeks != w or a.grid.start != b.grid.start or set(a.levers) != set(b.levers):
        return 0
    diff = np.zeros(w, dtype=bool)
    for k, v in a.levers.items():
        diff |= v != b.levers[k]
    for f in ("base_open", "is_surge", "pressure_jump", "campaign_force", "season_doy",
              "closure_hazard"):
        x, y = getattr(a, f), getattr(b, f)
        if x is None or y is None:
            if (x is None) != (y is None):
                return 0
            continue
        if x.shape != y.shape:
            return 0
        diff |= (x != y).reshape(w, -1).any(axis=1)
    return int(np.argmax(diff)) if diff.any() else w


def _key(sc: Scenario, params: ParamSet) -> str:
    return params.digest() + json.dumps(sc.policy.model_dump(mode="json"), sort_keys=True)


def simulate_branched(items: Sequence[tuple[int, Scenario, ParamSet]], theatre: Theatre,
                      run_ids: np.ndarray, seed: int, spinup: dt.date | None = None,
                      carried: Carried | None = None,
                      ) -> Iterator[tuple[int, dict[str, np.ndarray]]]:
    """Simulate runs ``run_ids`` of each ``(index, scenario, params)``, yielding ``(index,
    arrays)`` one scenario at a time (spin-up weeks dropped), sharing the common prefix.
    With ``carried``, every scenario's runs start from that state (see
    :func:`resurgence.runs.prepare.history`)."""
    groups: dict[str, list[tuple[int, Scenario, int, ParamSet, Drivers]]] = {}
    for si, sc, p in items:
        full, off, drv = history(sc, theatre, spinup, carried)
        groups.setdefault(_key(full, p), []).append((si, full, off, p, drv))
    for members in groups.values():
        _, ref, off, p, ref_drv = members[0]
        t_branch = min((divergence(ref_drv, m[4]) for m in members[1:]), default=0)
        state, hw = (carried.state, carried.history_weeks) if carried is not None else (None, 0)
        sim = Sim(ref, theatre, p, run_ids, seed, ref_drv)
        if t_branch == 0:  # nothing shared: each scenario alone
            sim.begin(seed, state=state, history_weeks=hw)
            sim.advance(0, sim.weeks)
            yield members[0][0], _trim(sim.outputs(), off)
            for si, full, off_i, p_i, drv in members[1:]:
                one = Sim(full, theatre, p_i, run_ids, seed, drv)
                one.begin(seed, state=state, history_weeks=hw)
                one.advance(0, one.weeks)
                yield si, _trim(one.outputs(), off_i)
            continue
        sim.begin(seed, state=state, history_weeks=hw)
        sim.advance(0, t_branch)
        snap = sim.snapshot(t_branch)
        for si, full, off_i, p_i, drv in members[1:]:
            branch = Sim(full, theatre, p_i, run_ids, seed, drv)
            branch.begin(seed, uniforms=sim.U)
            branch.restore(snap)  # the snapshot holds the carried state as it evolved
            branch.advance(t_branch, branch.weeks)
            yield si, _trim(branch.outputs(), off_i)
        del snap
        sim.advance(t_branch, sim.weeks)
        yield members[0][0], _trim(sim.outputs(), off)


def _trim(out: dict[str, np.ndarray], off: int) -> dict[str, np.ndarray]:
    return {k: v[:, off:] for k, v in out.items()} if off else out
