"""Preparing runs: scenarios resolved, parameters per run, chunks, the history (simulated
from a spin-up date, or a carried state)."""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from resurgence.model.params import ParamSet, check_overrides
from resurgence.model.sim import Sim
from resurgence.scenario.drivers import Drivers, compile_drivers
from resurgence.scenario.schema import Scenario, ScenarioError, load_scenario
from resurgence.theatre.theatre import Theatre


def resolve(scenario: Scenario | str | Path, weeks: int | None = None) -> Scenario:
    sc = scenario if isinstance(scenario, Scenario) else load_scenario(scenario)
    if weeks is not None:
        if not 1 <= weeks <= 1040:
            raise ScenarioError(f"field 'weeks' = {weeks}: expected 1 to 1040")
        sc = sc.model_copy(update={"weeks": weeks})
    return sc


def scenario_params(sc: Scenario, base: ParamSet) -> ParamSet:
    """Apply a scenario's parameter overrides, checked by ``check_overrides`` (names known,
    values finite and inside each parameter's support)."""
    if not sc.params:
        return base
    return base.with_overrides(check_overrides(base.specs, sc.params, sc.name))


def chunks(runs: int, chunk_size: int) -> list[np.ndarray]:
    return [np.arange(i, min(i + chunk_size, runs)) for i in range(0, runs, chunk_size)]


@dataclass(frozen=True)
class Carried:
    """A state runs start from instead of simulating their history: every declared state
    (``module.state`` -> one row per run) as it stood at the start of ``date``, reached after
    ``history_weeks`` weeks of simulated history (e.g. the state on the forecast origin,
    filtered on the data, that a posterior carries per draw)."""

    date: dt.date
    history_weeks: int
    state: Mapping[str, np.ndarray]

    def take(self, idx: np.ndarray | slice) -> Carried:
        return Carried(self.date, self.history_weeks, {k: v[idx] for k, v in self.state.items()})


def spun_up(sc: Scenario, spinup: dt.date | None) -> tuple[Scenario, int]:
    """The scenario extended back to ``spinup`` on its own weekly grid, and the number of
    weeks of spin-up to drop from the outputs."""
    if spinup is None or spinup >= sc.start:
        return sc, 0
    off = -(-(sc.start - spinup).days // 7)
    start = sc.start - dt.timedelta(days=7 * off)
    return sc.model_copy(update={"start": start, "weeks": sc.weeks + off}), off


def history(sc: Scenario, theatre: Theatre, spinup: dt.date | None,
            carried: Carried | None = None, known_until: dt.date | None = None,
            ) -> tuple[Scenario, int, Drivers]:
    """The scenario on the grid its runs simulate, the weeks to drop, and its drivers.

    Runs start at ``spinup`` (or at the carried state's date) and report from the scenario's
    start. The history is known: up to what was known, bases follow the record and
    attack-driven closures do not act — up to the scenario's start when history is
    simulated from ``spinup``, up to the carried state's date when runs start from it (the
    weeks between that date and the scenario's start are already the future). ``known_until``
    says it outright (a case that reports its history too: the 2011 case)."""
    if known_until is not None:
        full, off = spun_up(sc, carried.date if carried is not None else spinup)
        return full, off, compile_drivers(full, theatre, known_until=known_until)
    if carried is not None:
        full, off = spun_up(sc, carried.date)
        return full, off, compile_drivers(full, theatre, known_until=carried.date)
    full, off = spun_up(sc, spinup)
    return full, off, compile_drivers(full, theatre, known_until=sc.start if off else None)


def simulate_spun(sc: Scenario, theatre: Theatre, params: ParamSet, run_ids: np.ndarray,
                  seed: int, spinup: dt.date | None = None,
                  carried: Carried | None = None,
                  known_until: dt.date | None = None) -> dict[str, np.ndarray]:
    """Runs ``run_ids`` of ``sc`` from ``spinup`` (or from the carried state), outputs from the
    scenario's start."""
    full, off, drivers = history(sc, theatre, spinup, carried, known_until)
    sim = Sim(full, theatre, params, run_ids, seed, drivers)
    out = (sim.run(seed) if carried is None
           else sim.run(seed, carried.state, carried.history_weeks))
    return {k: v[:, off:] for k, v in out.items()} if off else out
