"""Compile a scenario onto a theatre's weekly grid: the exogenous drivers of a run.

Everything here is deterministic and identical for every run of a scenario; stochastic
and state-dependent responses (endogenous base closures, responsive withdrawal) live in
the mechanism modules.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

import numpy as np

from resurgence.core.timegrid import WeekGrid, evaluate_schedule
from resurgence.scenario.schema import SCHEDULES, Scenario, ScenarioError
from resurgence.theatre.theatre import Theatre

# How each shock kind moves the drivers (documented in docs/model.md §Shocks).
STRIKE_TENSION = 0.5  # added US-Iran tension per unit magnitude while it lasts
SURGE_FIGHTERS = 100.0  # IS fighters added per unit magnitude (e.g. a prison break)


@dataclass(frozen=True)
class PolicyDrivers:
    """The responsive-policy mode (C24), compiled: the government orders US forces out
    when pressure reaches ``expel_threshold``; presence then winds down over ``exit_weeks``."""

    responsive: bool
    expel_threshold: float
    exit_weeks: int


@dataclass(frozen=True)
class Drivers:
    grid: WeekGrid
    levers: dict[str, np.ndarray]  # lever -> (weeks,)
    base_open: np.ndarray  # (weeks, B) bool, scheduled status
    pressure_jump: np.ndarray  # (weeks,) political pressure added at onset
    campaign_force: np.ndarray  # (weeks,) +1 forces militia campaign on, -1 forces truce
    is_surge: np.ndarray  # (weeks, R) fighters added at onset
    season_doy: np.ndarray  # (weeks,) day of year of each week's start
    policy: PolicyDrivers
    #: (weeks,) bool: the attack-driven base-closure hazard acts this week (only after the
    #: record, i.e. after the forecast origin when a run is spun up through known history)
    closure_hazard: np.ndarray | None = None


def _window(grid: WeekGrid, start: dt.date, weeks: int) -> np.ndarray:
    i0 = grid.index_of(start)
    mask = np.zeros(grid.weeks, dtype=bool)
    mask[max(i0, 0):max(min(i0 + weeks, grid.weeks), 0)] = True
    return mask


def compile_drivers(sc: Scenario, theatre: Theatre, grid: WeekGrid | None = None, *,
                    known_until: dt.date | None = None) -> Drivers:
    """Compile a scenario onto its weekly grid. Weeks starting on or before ``known_until``
    are known history: bases follow the record there (no attack-driven closures)."""
    grid = grid or WeekGrid(sc.start, sc.weeks)
    levers = {k: evaluate_schedule(sc.schedule(k), grid, default)
              for k, (default, *_rest) in SCHEDULES.items()}
    pressure_jump = np.zeros(grid.weeks)
    campaign = np.zeros(grid.weeks)
    surge = np.zeros((grid.weeks, theatre.n_regions))
    for i, sh in enumerate(sc.shocks):
        win = _window(grid, sh.date, sh.weeks)
        onset = grid.index_of(sh.date)
        at_onset = 0 <= onset < grid.weeks
        m = sh.magnitude
        if sh.region != theatre.national_code and sh.region not in theatre.codes:
            raise ScenarioError(f"{sc.where(sh, 'shocks', i, 'region')} = {sh.region!r}: expected "
                                f"{theatre.national_code} or a region code of theatre "
                                f"{theatre.name!r}")
        if sh.kind == "strike":
            levers["us_iran_tension"] = levers["us_iran_tension"] + STRIKE_TENSION * m * win
            campaign[win] = 1.0
            if at_onset:
                pressure_jump[onset] += 0.25 * m
        elif sh.kind == "expulsion_vote":
            if at_onset:
                pressure_jump[onset] += 0.3 * m
        elif sh.kind == "pandemic_wave":
            levers["pandemic"] = levers["pandemic"] + m * win
        elif sh.kind == "protest_wave":
            levers["protests"] = levers["protests"] + m * win
        elif sh.kind == "political_crisis":
            levers["political_division"] = levers["political_division"] + 0.3 * m * win
        elif sh.kind == "militia_truce":
            campaign[win] = -1.0
        elif sh.kind == "syria_chaos":
            levers["syria_instability"] = levers["syria_instability"] + m * win
        elif sh.kind == "is_surge" and at_onset:
            if sh.region == theatre.national_code:
                surge[onset] += SURGE_FIGHTERS * m * theatre.attrs["is_presence"]
            else:
                surge[onset, theatre.index(sh.region)] += SURGE_FIGHTERS * m
    for k, (_d, lo, hi, _m) in SCHEDULES.items():
        levers[k] = np.clip(levers[k], lo, hi)
    base_open = _base_schedule(sc, theatre, grid)
    pol = sc.policy
    policy = PolicyDrivers(bool(pol.responsive), float(pol.expel_threshold), int(pol.exit_weeks))
    hazard = (np.ones(grid.weeks, dtype=bool) if known_until is None
              else np.asarray(grid.dates, dtype="datetime64[D]") > np.datetime64(known_until, "D"))
    return Drivers(grid, levers, base_open, pressure_jump, campaign, surge, grid.day_of_year,
                   policy, hazard)


def _base_schedule(sc: Scenario, theatre: Theatre, grid: WeekGrid) -> np.ndarray:
    ords = grid.mid_ordinals
    names = [b.name for b in theatre.bases]
    mask = np.ones((grid.weeks, len(names)), dtype=bool)
    for j, b in enumerate(theatre.bases):
        if b.opened is not None:
            mask[ords < b.opened.toordinal(), j] = False
        if b.closed is not None:
            mask[ords >= b.closed.toordinal(), j] = False
    for i, ch in enumerate(sc.bases):
        if ch.name != "*" and ch.name not in names:
            raise ScenarioError(f"{sc.where(ch, 'bases', i, 'name')} = {ch.name!r}: expected '*' "
                                f"or one of {', '.join(names)}")
        cols = np.arange(len(names)) if ch.name == "*" else np.array([names.index(ch.name)])
        if ch.close is not None:
            mask[np.ix_(ords >= ch.close.toordinal(), cols)] = False
        if ch.reopen is not None:
            mask[np.ix_(ords >= ch.reopen.toordinal(), cols)] = True
    return mask
