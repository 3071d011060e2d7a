"""Long-run equilibrium of each draw: run it forward with every lever frozen until it settles.

:func:`long_run` takes a scenario's levers, bases and seasonality at one week (by default the
last, i.e. after any drawdown), freezes them (no shocks, no responsive exit, no attack-driven
closures) and simulates ``years`` more years from the scenario's start. It reports, per run,
the mean national IS attacks per week over the last year and the year before, the fighters at
the end, whether the draw has settled (the last two years within ``settle_tol`` of each
other) and whether it decays (last-year attacks below ``decay_share`` of the first year's).
"""

from __future__ import annotations

import dataclasses
from collections.abc import Sequence

import numpy as np

from resurgence.core.timegrid import WeekGrid
from resurgence.model.params import ParamSet
from resurgence.model.sim import simulate_chunk
from resurgence.scenario.drivers import Drivers, PolicyDrivers, compile_drivers
from resurgence.scenario.schema import Scenario
from resurgence.theatre.theatre import Theatre


def frozen_drivers(sc: Scenario, theatre: Theatre, weeks: int, at: int = -1) -> Drivers:
    """The scenario's drivers at week ``at`` (of its own grid), held for ``weeks`` weeks."""
    own = compile_drivers(sc, theatre)
    row = at % own.grid.weeks
    grid = WeekGrid(sc.start, weeks)
    levers = {k: np.full(weeks, float(v[row])) for k, v in own.levers.items()}
    return dataclasses.replace(
        own, grid=grid, levers=levers,
        base_open=np.repeat(own.base_open[row][None, :], weeks, axis=0),
        pressure_jump=np.zeros(weeks), campaign_force=np.zeros(weeks),
        is_surge=np.zeros((weeks, theatre.n_regions)), season_doy=grid.day_of_year,
        policy=PolicyDrivers(False, own.policy.expel_threshold, own.policy.exit_weeks),
        closure_hazard=np.zeros(weeks, dtype=bool))


def long_run(sc: Scenario, theatre: Theatre, params: ParamSet, run_ids: Sequence[int] | np.ndarray,
             root_seed: int, *, years: int = 15, at: int = -1, settle_tol: float = 0.1,
             decay_share: float = 0.1) -> dict[str, np.ndarray]:
    """Per-run long-run IS level under the levers of week ``at`` frozen (see module doc)."""
    if years < 3:
        raise ValueError(f"years = {years}: expected at least 3")
    weeks = 52 * years
    out = simulate_chunk(sc, theatre, params, run_ids, root_seed,
                         frozen_drivers(sc, theatre, weeks, at))
    att = out["is_attacks"].sum(axis=2, dtype=np.float64)
    first, prev, last = att[:, :52].mean(1), att[:, -104:-52].mean(1), att[:, -52:].mean(1)
    fighters = out["is_fighters"][:, -1].sum(axis=1, dtype=np.float64)
    return {"attacks_first_year": first, "attacks_prev_year": prev, "attacks_last_year": last,
            "fighters_end": fighters,
            "settled": np.abs(last - prev) <= settle_tol * np.maximum(prev, 1.0),
            "decays": last < decay_share * np.maximum(first, 1e-9)}
