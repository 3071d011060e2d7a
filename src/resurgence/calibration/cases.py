"""Cases: a theatre, a history scenario, a calibration window and the priors to fit."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field

import pandas as pd

from resurgence.core.errors import ArgumentError
from resurgence.model.params import Prior, lognormal


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
    #: every other mechanism parameter with an uncertain prior is fitted too, as a nuisance
    #: parameter: where the data say nothing its posterior stays its prior, instead of being
    #: fixed at its default (which gave zero-width intervals on outcomes it drives)
    propagate_priors: bool = True
    #: observation parameters sampled beside them that the history cannot inform (they act
    #: only in forecasts, e.g. the random walk of a reporting ratio after its last report)
    forecast_only: tuple[str, ...] = ()

    def nuisance(self) -> tuple[str, ...]:
        """The parameters fitted beside ``calibrated`` (see ``propagate_priors``)."""
        if not self.propagate_priors:
            return ()
        from resurgence.model.sim import all_params

        return tuple(p.name for p in all_params()
                     if p.name not in self.calibrated and p.prior.kind != "fixed"
                     ) + tuple(n for n in self.forecast_only if n not in self.calibrated)


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
        "rate_ctc", "rate_musings", "musings_drift", "rate_militia", "sb_deaths_per_attack",
        "sb_deaths_background", "sb_events_per_attack", "sb_events_background",
        "is_events_per_attack", "ucdp_deaths_drift", "ucdp_events_drift",
    ),
    forecast_only=("musings_walk", "musings_persist", "ucdp_walk", "ucdp_persist"),
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

IRAQ_2011 = Case(
    name="iraq-2011",
    scenario="iraq-2011",
    history_start=dt.date(2009, 1, 1),
    # the day before the last US troops left: nothing after the withdrawal informs the fit,
    # so of the case's data only the Iraq Body Count years 2009 and 2010 are used (2011
    # straddles the cut-off). A qualitative test of the collapse mechanism (docs/case-2011.md).
    until=dt.date(2011, 12, 17),
    calibrated=(
        "is_fighters_0", "attack_rate", "recruit_rate", "is_capacity", "remove_ground",
        "detect_isr", "syria_inflow", "collapse_density", "collapse_rate",
        "ibc_deaths_per_attack",
    ),
    prior_overrides={
        # Islamic State of Iraq in January 2009: Panetta told Congress of ~1,000 fighters
        # left in 2011 (ISW: 700-1,000 at the withdrawal), after two years of leadership
        # losses; a few thousand in 2009, widely uncertain
        "is_fighters_0": lognormal(2500, 0.6),
        # recruitment capacity at 2009 grievance: ISI had recruited tens of thousands in
        # 2006-07 and had a wider pool than the 2020 remnant; wide
        "is_capacity": lognormal(8000, 0.6),
        # a 2009 Syria was a transit route, not a sanctuary (the lever carries the change);
        # wider than the 2020 prior
        "syria_inflow": lognormal(2.5, 0.8),
    },
)

CASES: dict[str, Case] = {IRAQ_2020.name: IRAQ_2020, IRAQ_2011.name: IRAQ_2011}


def get_case(name: str) -> Case:
    if name not in CASES:
        raise ArgumentError(f"field 'case' = {name!r}: expected one of {', '.join(CASES)}")
    return CASES[name]


#: case_observations of shipped cases, by (case, until, published_before, file stamp): the
#: brief asks for the same table four times (fit, forecast, baseline, figure)
_OBS_CACHE: dict[tuple, pd.DataFrame] = {}


def case_observations(case: Case, until: dt.date,
                      published_before: dt.date | None = None) -> pd.DataFrame:
    """The case's observation table up to ``until`` (inclusive), extra rows included; with
    ``published_before``, only rows published before that date (the vintage of that day).
    A fresh copy each call (of a shipped case's table, kept for the process while its
    file is unchanged)."""
    from resurgence.calibration.observations import observations_path

    key = None
    if CASES.get(case.name) == case:
        st = observations_path(case.name).stat()
        key = (case.name, until, published_before, st.st_mtime_ns, st.st_size)
        if key in _OBS_CACHE:
            return _OBS_CACHE[key].copy(deep=True)
    obs = _case_observations(case, until, published_before)
    if key is not None:
        if len(_OBS_CACHE) >= 8:  # a few tables (a backtest asks for many vintages)
            _OBS_CACHE.pop(next(iter(_OBS_CACHE)))
        _OBS_CACHE[key] = obs.copy(deep=True)
    return obs


def _case_observations(case: Case, until: dt.date,
                       published_before: dt.date | None) -> pd.DataFrame:
    from resurgence.calibration.observations import load_observations, published_rule

    obs = load_observations(case.name, until=until, published_before=published_before)
    obs = obs[_rate_fitted(case, obs)].reset_index(drop=True)
    extra = pd.DataFrame(list(case.extra_observations))
    if not extra.empty:
        extra["published"] = published_rule(extra)
        keep = pd.to_datetime(extra["period_end"]).dt.date <= until
        if published_before:
            keep &= extra["published"] < pd.Timestamp(published_before)
        obs = pd.concat([obs, extra[keep]], ignore_index=True)
    for c in ("period_start", "period_end", "published"):
        obs[c] = pd.to_datetime(obs[c])
    return obs


def _rate_fitted(case: Case, obs: pd.DataFrame) -> pd.Series:
    """Rows the observation model maps through a reporting rate the case does not fit are
    left out: that rate's default belongs to another era (e.g. Iraq Body Count 2019 for
    iraq-2020, UCDP 2010-11 for iraq-2011). Rows the model does not map pass through."""
    from resurgence.calibration.obsmodel import MAPPING

    keys = list(zip(obs["source"], obs["metric"], strict=True))
    return pd.Series([k not in MAPPING or MAPPING[k][1] in case.calibrated for k in keys],
                     index=obs.index, dtype=bool)
