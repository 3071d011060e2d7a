"""Shared fixtures for the simulator-core tests.

Simulations are cached for the whole session: an ensemble of the 2020 case's shipped scenarios
(``shipped``) and a memoised ``simulate`` that returns the full per-run metric arrays of a
scenario variant. Keep ensembles small (60-200 runs) so the suite stays fast.

Scenario variants are built with ``variant``: the resolved scenario dumped to a dict, the
given schedules replaced, shocks appended, parameters merged, and validated again with
``parse_scenario`` (so every variant is checked like a scenario file).
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable, Mapping, Sequence
from typing import Any

import numpy as np
import pytest

from resurgence.model.sim import default_params, simulate_chunk
from resurgence.runs.ensemble import EnsembleResult, resolve, run_ensemble, scenario_params
from resurgence.scenario.schema import Scenario, load_scenario, parse_scenario
from resurgence.theatre.theatre import Theatre, load_theatre

SEED = 2020
#: runs of the cached shipped-scenario ensemble (also the golden ensemble)
SHIPPED_RUNS = 200
#: the shipped scenarios of the 2020 case (forecasts from 2020-12-01, 104 weeks); other
#: shipped cases (e.g. iraq-2011) have their own grid and cannot join this ensemble
CASE_2020 = ["announced-2500", "enablers-over-horizon", "escalation", "full-withdrawal",
             "iraq-2020", "no-mediation", "pandemic-protests-worse", "stay-3000"]

Arrays = dict[str, np.ndarray]


@pytest.fixture(scope="session")
def theatre() -> Theatre:
    return load_theatre("iraq")


@pytest.fixture(scope="session")
def shipped() -> EnsembleResult:
    """The shipped scenarios of the 2020 case, 200 runs, seed 2020, 104 weeks: per-run summaries."""
    return run_ensemble(CASE_2020, SHIPPED_RUNS, SEED)


def _variant(base: str | Scenario, name: str, *, schedules: Mapping[str, Any] | None = None,
             shocks: Sequence[Mapping[str, Any]] = (), params: Mapping[str, float] | None = None,
             policy: Mapping[str, Any] | None = None, bases: Sequence[Mapping[str, Any]] = (),
             **fields: Any) -> Scenario:
    sc = base if isinstance(base, Scenario) else load_scenario(base)
    d = sc.model_dump()
    d.update(name=name, base=None, **fields)
    for lever, points in (schedules or {}).items():
        d["schedules"][lever] = [(dt.date.fromisoformat(str(day)), float(v)) for day, v in points]
    d["shocks"] = [*d["shocks"], *shocks]
    d["bases"] = [*d["bases"], *bases]
    d["params"] = {**d["params"], **(params or {})}
    if policy:
        d["policy"] = {**d["policy"], **policy}
    return parse_scenario(d, f"<variant {name}>")


@pytest.fixture(scope="session")
def variant() -> Callable[..., Scenario]:
    """``variant(base, name, schedules={lever: [(date, value), ...]}, shocks=[...],
    params={...}, policy={...}, bases=[...], **top_level_fields)``."""
    return _variant


@pytest.fixture(scope="session")
def simulate(theatre: Theatre) -> Callable[..., Arrays]:
    """``simulate(scenario, runs=100, weeks=None, overrides=None, seed=SEED)``: metric arrays
    ``(runs, weeks[, regions])`` for runs ``0..runs-1`` (memoised for the session)."""
    cache: dict[tuple, Arrays] = {}

    def run(sc: Scenario | str, runs: int = 100, weeks: int | None = None,
            overrides: Mapping[str, float] | None = None, seed: int = SEED) -> Arrays:
        sc = resolve(sc, weeks)
        key = (sc.digest(), runs, seed, tuple(sorted((overrides or {}).items())))
        if key not in cache:
            params = scenario_params(sc, default_params(runs, dict(overrides or {})))
            cache[key] = simulate_chunk(sc, theatre, params, np.arange(runs), seed)
        return cache[key]

    return run
