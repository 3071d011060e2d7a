"""Preparing runs: scenarios resolved, parameters per run, chunks, the spun-up history."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import numpy as np

from resurgence.model.params import ParamSet, check_overrides
from resurgence.model.sim import simulate_chunk
from resurgence.scenario.drivers import compile_drivers
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


def spun_up(sc: Scenario, spinup: dt.date | None) -> tuple[Scenario, int]:
    """The scenario extended back to ``spinup`` on its own weekly grid, and the number of
    weeks of spin-up to drop from the outputs."""
    if spinup is None or spinup >= sc.start:
        return sc, 0
    off = -(-(sc.start - spinup).days // 7)
    start = sc.start - dt.timedelta(days=7 * off)
    return sc.model_copy(update={"start": start, "weeks": sc.weeks + off}), off


def simulate_spun(sc: Scenario, theatre: Theatre, params: ParamSet, run_ids: np.ndarray,
                  seed: int, spinup: dt.date | None = None) -> dict[str, np.ndarray]:
    full, off = spun_up(sc, spinup)
    # the spin-up is known history: bases follow the record up to the origin (sc.start)
    drivers = compile_drivers(full, theatre, known_until=sc.start) if off else None
    out = simulate_chunk(full, theatre, params, run_ids, seed, drivers)
    return {k: v[:, off:] for k, v in out.items()} if off else out
