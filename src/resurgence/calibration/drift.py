"""Reporting drift: each source's log reporting ratio moves across its reports and goes on
moving after the last one (issue #9, item 1).

A source's ratio (reports per simulated attack) is not a constant: Musings' media count
fell from 1.61 reports per CTC-counted IS attack in 2018 to 0.68 in 2019; UCDP's state-based
deaths per attack follow the attacks' lethality (hit-and-run attacks kill fewer than the
2014-17 offensives), and its events follow how many attacks its news sources pick up. For a
source in :data:`DRIFTS` the ratio in week ``t`` is

``rate x exp(drift x tau(t))``,  ``tau`` = years from the middle of the source's reports
(clipped to their span, so it is held before the first and after the last),

with ``drift`` fitted with the other parameters (the linear summary of a random walk over
the span the data show). In forecasts the log ratio then goes on, ``s`` years after the
last report, by ``drift x persist x (1 - exp(-s / persist))`` (a damped trend) plus a random
walk of ``walk`` per sqrt(year) (:func:`ratio_path`). ``persist`` and ``walk`` are
forecast-only: the data before the origin cannot inform them.

The priors are hierarchical in the sense the data can bear: one drift per series, each
centred on zero, with a scale per source type — a blog's count of media reports (Musings)
can halve in a year, a coded dataset with a fixed codebook (UCDP) changes more slowly —
and UCDP's deaths and events share one forecast walk (their coverage moves together).
CTC Sentinel's count is the scale of the model's ``is_attacks`` (``rate_ctc``), so it has
no drift of its own: a drift there is a drift of the attacks.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

import numpy as np
import pandas as pd

from resurgence.model.params import Param, Prior, lognormal

Window = tuple[np.datetime64, np.datetime64]


@dataclass(frozen=True)
class Drift:
    """How one series' reporting ratio drifts: the rate parameter it multiplies, the
    national reports that span it and the names of its parameters."""

    rate: str
    source: str
    metric: str
    drift: str
    walk: str
    persist: str
    stream: int  # spawn-key tail of the forecast walk's normal stream (shared = one walk)


DRIFTS: tuple[Drift, ...] = (
    Drift("rate_musings", "musings", "incidents", "musings_drift", "musings_walk",
          "musings_persist", 2),
    Drift("sb_deaths_per_attack", "ged_cm", "sb_deaths", "ucdp_deaths_drift", "ucdp_walk",
          "ucdp_persist", 3),
    Drift("sb_events_per_attack", "ged_cm", "sb_events", "ucdp_events_drift", "ucdp_walk",
          "ucdp_persist", 3),
)
BY_RATE = {d.rate: d for d in DRIFTS}


def _p(name, default, units, description, prior, source) -> Param:
    return Param(name, default, units, description, prior, ("C20",), source, "observation")


_PERSIST_SOURCE = ("judgement: a damped trend (Gardner & McKenzie 1985), as in the statistical "
                   "baseline, whose monthly slope damping has prior median 0.95 (e-folding "
                   "1.6 years); 80% prior interval 0.4-2.5 years")

DRIFT_PARAMS: tuple[Param, ...] = (
    _p("musings_drift", 0.0, "1/year",
       "drift of Musings' log reporting ratio per year across its data (after its last "
       "report it goes on, damped by musings_persist, and wanders by musings_walk)",
       Prior("normal", 0.0, 0.6),
       "Musings/CTC ratio 1.61 in 2018 and 0.68 in 2019 (issue #9): a source's reporting drifts"),
    _p("musings_walk", 0.3, "1/sqrt(year)",
       "random walk of Musings' log reporting ratio after its last report (sd per sqrt(year))",
       lognormal(0.3, 0.5), "judgement: of the size of the 2018-2019 change over two years"),
    _p("musings_persist", 1.0, "years",
       "e-folding time of Musings' reporting drift after its last report: the drift goes on, "
       "decaying, so the log ratio moves a further musings_drift x musings_persist at most",
       lognormal(1.0, 0.7), _PERSIST_SOURCE),
    _p("ucdp_deaths_drift", 0.0, "1/year",
       "drift of UCDP's state-based deaths per IS attack (log, per year) across its months: "
       "lethality and coverage (after the last report: damped by ucdp_persist, walk ucdp_walk)",
       Prior("normal", 0.0, 0.3),
       "judgement: a coded dataset with a fixed codebook (Sundberg & Melander 2013) drifts "
       "more slowly than a media count; half Musings' prior scale, ±0.5 a year at 90%"),
    _p("ucdp_events_drift", 0.0, "1/year",
       "drift of UCDP's state-based events per IS attack (log, per year) across its months "
       "(after the last report: damped by ucdp_persist, walk ucdp_walk)",
       Prior("normal", 0.0, 0.3),
       "judgement: as ucdp_deaths_drift (the events counted per attack follow what the news "
       "sources UCDP codes pick up)"),
    _p("ucdp_walk", 0.15, "1/sqrt(year)",
       "random walk of UCDP's log reporting ratios after the last report (sd per sqrt(year)), "
       "one walk for deaths and events",
       lognormal(0.15, 0.5), "judgement: half Musings' walk, as the drift prior"),
    _p("ucdp_persist", 1.0, "years",
       "e-folding time of UCDP's reporting drifts after the last report (as musings_persist)",
       lognormal(1.0, 0.7), _PERSIST_SOURCE),
)

#: the forecast-only parameters (no data before an origin informs them)
FORECAST_ONLY = tuple(dict.fromkeys(n for d in DRIFTS for n in (d.walk, d.persist)))


def drift_window(obs: pd.DataFrame, national: str = "IQ", start: dt.date | None = None, *,
                 source: str = "musings", metric: str = "incidents") -> Window | None:
    """The span of a series' national reports (weeks aside) from ``start`` on: its log
    reporting ratio drifts across it and is held after it; None without such rows.

    ``start`` is the first simulated day of the fit (the posterior's start): the fit reads
    only the rows inside its simulated weeks, so the forecast and the filter of origin
    states must read the same span. Counting Musings' 2014-2017 rows as well put the
    window's middle in 2016 and multiplied the drift by about two more years than it was
    fitted over (issue #9: the backtest's Musings forecasts 3-5x the reports)."""
    m = obs[(obs["source"] == source) & (obs["metric"] == metric) & (obs["region"] == national)
            & (obs["granularity"] != "week")]
    if start is not None:
        m = m[pd.to_datetime(m["period_start"]) >= pd.Timestamp(start)]
    if m.empty:
        return None
    return (np.datetime64(pd.Timestamp(m["period_start"].min()).date(), "D"),
            np.datetime64(pd.Timestamp(m["period_end"].max()).date(), "D"))


def windows(obs: pd.DataFrame, national: str = "IQ", start: dt.date | None = None,
            ) -> dict[str, Window | None]:
    """:func:`drift_window` of every drifting series, by its rate parameter."""
    return {d.rate: drift_window(obs, national, start, source=d.source, metric=d.metric)
            for d in DRIFTS}


def ratio(week_starts: np.ndarray, window: Window | None, drift: np.ndarray) -> np.ndarray:
    """``(n, W)`` multiplier of a rate in each week: ``exp(drift * tau)``, ``tau`` the week's
    mid-point in years from the window's middle, clipped to the window (so the ratio is
    constant before the first report and held after the last)."""
    if window is None:
        return np.ones((len(drift), len(week_starts)))
    a, b = (w.astype("datetime64[D]").astype(float) for w in window)
    t = np.clip(np.asarray(week_starts, dtype="datetime64[D]").astype(float) + 3.5, a, b)
    tau = (t - 0.5 * (a + b)) / 365.25
    return np.exp(np.asarray(drift, float)[:, None] * tau[None, :])


def weekly_ratios(week_starts: np.ndarray | None, wins: dict[str, Window | None],
                  params: dict[str, np.ndarray], rates) -> dict[str, np.ndarray]:
    """``(n, W)`` ratio of each drifting rate among ``rates`` whose drift is in ``params``."""
    if week_starts is None:
        return {}
    return {r: ratio(week_starts, wins.get(r), params[BY_RATE[r].drift])
            for r in dict.fromkeys(rates) if r in BY_RATE and BY_RATE[r].drift in params}


def ratio_paths(values: dict[str, np.ndarray], rates, run_ids, wins: dict[str, Window | None],
                ps: np.ndarray, pe: np.ndarray, seed: int) -> dict[str, np.ndarray]:
    """``(n, M)`` multiplier of each of ``rates`` in each forecast month: the ratio reached
    at the series' last report (its drift across its reports, :func:`ratio`), then the drift
    going on, damped, with e-folding time ``persist`` (years): ``drift * p * (1 - exp(-s /
    p))`` more on the log scale ``s`` years after the last report (0 where ``persist`` is
    absent or 0), and a random walk of ``walk`` per sqrt(year) from that date (each run's
    own stream ``SeedSequence(seed, spawn_key=(run, stream))``, drawn once for the series
    that share it, which share the walk's path)."""
    n, M = len(run_ids), len(ps)
    mid = (ps.astype("datetime64[D]").astype(float) + pe.astype("datetime64[D]").astype(float)) / 2
    normals: dict[int, np.ndarray] = {}

    def get(name):
        return np.asarray(values[name], float) if name in values else np.zeros(n)

    out = {}
    for rate in dict.fromkeys(rates):
        d, window = BY_RATE[rate], wins.get(rate)
        if window is None:
            out[rate] = np.ones((n, M))
            continue
        drift, walk, persist = get(d.drift), get(d.walk), get(d.persist)
        held = ratio(np.array([window[1] - 3]), window, drift)  # (n, 1)
        since = np.maximum(mid - window[1].astype("datetime64[D]").astype(float), 0.0) / 365.25
        p = np.maximum(persist, 0.0)[:, None]
        damped = p * -np.expm1(-since[None, :] / np.where(p > 0, p, 1.0))  # 0 where p = 0
        if d.stream not in normals:
            normals[d.stream] = np.stack([np.random.Generator(np.random.PCG64(
                np.random.SeedSequence(seed, spawn_key=(int(r), d.stream)))).standard_normal(M)
                for r in run_ids])
        dt_ = np.diff(np.concatenate([[0.0], since]))
        bm = np.cumsum(np.sqrt(dt_)[None, :] * normals[d.stream], axis=1)
        out[rate] = held * np.exp(drift[:, None] * damped + walk[:, None] * bm)
    return out


def ratio_path(values: dict[str, np.ndarray], rate: str, run_ids, window: Window | None,
               ps: np.ndarray, pe: np.ndarray, seed: int) -> np.ndarray:
    """:func:`ratio_paths` of one rate."""
    return ratio_paths(values, [rate], run_ids, {rate: window}, ps, pe, seed)[rate]
