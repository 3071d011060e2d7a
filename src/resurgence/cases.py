"""Cases: a theatre, a history scenario, a calibration window and the priors to fit."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field

import pandas as pd

from .params import Prior, lognormal


@dataclass(frozen=True)
class Case:
    name: str
    scenario: str  # the history scenario every shipped scenario overlays
    history_start: dt.date  # simulations fitted to data start here
    until: dt.date  # last date of data the shipped posterior may use
    calibrated: tuple[str, ...]  # parameters fitted (the rest keep defaults)
    prior_overrides: dict[str, Prior] = field(default_factory=dict)
    extra_observations: tuple[dict, ...] = ()
    theatre: str = "iraq"


IRAQ_2020 = Case(
    name="iraq-2020",
    scenario="iraq-2020",
    history_start=dt.date(2018, 1, 1),
    until=dt.date(2020, 11, 30),
    calibrated=(
        # initial state in January 2018 and IS dynamics
        "is_fighters_0", "villages_0", "attack_rate", "recruit_rate", "is_capacity",
        "remove_ground", "remove_air", "detect_isr", "isr_deterrence", "attack_space",
        "season_amp", "season_peak_doy", "syria_inflow", "pandemic_presence_cut",
        "attack_dispersion",
        # militias
        "attack_rate_base", "attack_rate_convoy", "campaign_on", "campaign_off",
        # observation model
        "rate_ctc", "rate_musings", "rate_militia", "sb_deaths_per_attack",
        "sb_deaths_background", "sb_events_per_attack", "sb_events_background",
        "is_events_per_attack",
    ),
    prior_overrides={
        # January 2018: estimates swing from ~1,000 (coalition, Dec 2017) to 15,500-17,100
        # (Lead IG, mid-2018, incl. supporters): a wide prior centred on a few thousand
        "is_fighters_0": lognormal(4000, 0.6),
        "villages_0": lognormal(250, 0.7),
    },
    extra_observations=(
        {"source": "literature", "metric": "militia_attacks_us", "region": "IQ",
         "period_start": "2020-01-01", "period_end": "2020-07-27", "granularity": "multi-month",
         "value": 78.0,
         "note": "27 rocket attacks + 51 convoy attacks, Knights (Washington Institute) 2020"},
    ),
)

CASES: dict[str, Case] = {IRAQ_2020.name: IRAQ_2020}


def get_case(name: str) -> Case:
    if name not in CASES:
        raise ValueError(f"option '--case' = {name!r}: expected one of {', '.join(CASES)}")
    return CASES[name]


def case_observations(case: Case, until: dt.date) -> pd.DataFrame:
    """The case's observation table up to ``until`` (inclusive), extra rows included."""
    from .observations import load_observations

    obs = load_observations(case.name, until=until)
    extra = pd.DataFrame(list(case.extra_observations))
    if not extra.empty:
        extra = extra[pd.to_datetime(extra["period_end"]).dt.date <= until]
        obs = pd.concat([obs, extra], ignore_index=True)
    for c in ("period_start", "period_end"):
        obs[c] = pd.to_datetime(obs[c])
    return obs
