"""Calibrate, run forward and score the 2011 case (see :mod:`resurgence.analysis.case2011`)."""

from __future__ import annotations

import datetime as dt
import time
from collections.abc import Callable
from functools import partial
from typing import Any

import numpy as np
import pandas as pd

from resurgence.analysis.case2011.result import (
    COLLAPSE_REGIONS,
    DEATH_YEARS,
    DRAWS,
    DRIVERS,
    FALLUJAH,
    GENERATIONS,
    HOLD_DATES,
    MOSUL,
    ORIGIN,
    RUNS,
    SEED,
    WORKERS,
    Case2011Result,
)
from resurgence.calibration import obsmodel
from resurgence.calibration.cases import IRAQ_2011, Case
from resurgence.calibration.observations import load_observations
from resurgence.calibration.posterior import Posterior, full_specs
from resurgence.core.errors import ArgumentError
from resurgence.core.timegrid import WeekGrid
from resurgence.runs.ensemble import map_runs, resolve, scenario_params, spun_up
from resurgence.scenario.schema import Scenario, Schedules
from resurgence.theatre.theatre import load_theatre

D = dt.date


def ex_ante(sc: Scenario, origin: dt.date = ORIGIN) -> Scenario:
    """``sc`` as known on ``origin``: each lever keeps its history and then holds its value
    on the origin (a point at the origin replaces the later ones, so the weeks before it are
    unchanged; the posture levers' last points are the withdrawal itself); later shocks are
    dropped; base changes are kept (the closures came with the announced withdrawal)."""
    sched: dict[str, list | None] = {}
    for k, pts in sc.schedules.model_dump().items():
        pts = list(pts or [])
        if pts and pts[-1][0] > origin:
            xs = [d.toordinal() for d, _ in pts]
            v = float(np.interp(origin.toordinal(), xs, [y for _, y in pts]))
            pts = [q for q in pts if q[0] < origin] + [(origin, v)]
        sched[k] = pts or None
    return sc.model_copy(update={
        "name": f"{sc.name}-ex-ante", "schedules": Schedules(**sched),
        "shocks": [s for s in sc.shocks if s.date <= origin]})


def _scores(x: np.ndarray, y: float) -> dict[str, float]:
    """CRPS of the predictive draws ``x`` at the observation ``y`` (same units), the
    observed value's mid-rank predictive quantile (PIT) and central-interval hits."""
    import scoringrules as sr

    pit = _quantile_of(x, y)
    return {"crps": float(sr.crps_ensemble(y, x)), "observed_quantile": pit,
            **{f"in{int(100 * c)}": float(abs(pit - 0.5) <= c / 2) for c in (0.5, 0.8, 0.9)}}


# --- observed history ---------------------------------------------------------------------

def _observed() -> pd.DataFrame:
    """IBC yearly civilian deaths 2009-2014 and Musings 2014 incidents from the packaged table."""
    obs = load_observations("iraq-2011", until=D(2014, 12, 31))
    ibc = obs[(obs["source"] == "ibc") & (obs["metric"] == "civilian_deaths")
              & (obs["region"] == "IQ") & obs["period_start"].dt.year.isin(DEATH_YEARS)
              & (obs["granularity"] == "year")]
    mus = obs[(obs["source"] == "musings") & (obs["metric"] == "incidents") & (obs["region"] == "IQ")
              & (obs["period_start"] == pd.Timestamp(2014, 1, 1))
              & obs["granularity"].isin(["year", "multi-month"])]
    return pd.concat([ibc, mus], ignore_index=True)


# --- forward runs ----------------------------------------------------------------------------

def _collect(arrays, params, run_ids, *, design, off, seed):
    """Per chunk, in the worker: predictive draws of the observation rows, the weekly
    'holds ground' series from the origin, and each region's first collapse week."""
    mu = obsmodel.expected(design, arrays, params.values)
    u = np.empty(mu.shape, dtype=np.float32)
    for i, r in enumerate(run_ids):
        g = np.random.Generator(np.random.PCG64(np.random.SeedSequence(seed, spawn_key=(int(r), 2011))))
        g.random(out=u[i], dtype=np.float32)
    draws = obsmodel.draw(mu, design.dispersion[None, :], u)
    hold = arrays["is_holds_ground"][:, off:] > 0
    col = arrays["collapsed"][:, off:, :] > 0  # (n, W, R)
    ever = col.any(axis=1)
    first_col = np.where(ever, col.argmax(axis=1), -1)
    return {"draws": draws, "mu": mu, "hold": hold, "first_collapse": first_col,
            "hold_before": arrays["is_holds_ground"][:, :off].max(axis=1) > 0,
            "fighters": arrays["is_fighters"].sum(axis=2, dtype=np.float64),
            "villages": arrays["is_villages"].sum(axis=2, dtype=np.float64)}


def _quantile_of(draws: np.ndarray, y: float) -> float:
    """Mid-rank predictive quantile of an observed value among the draws."""
    return float((np.mean(draws < y) + np.mean(draws <= y)) / 2.0)


def _first_hold(hold: np.ndarray, grid: WeekGrid, off: int) -> dict[str, Any]:
    W = hold.shape[1]
    ever = hold.any(axis=1)
    first = np.where(ever, hold.argmax(axis=1), W + 10**6)  # never: beyond the horizon
    dates = grid.dates[off:]

    def q(p: float) -> tuple[int | None, str | None]:
        k = int(np.quantile(first, p, method="inverted_cdf"))
        return (k, str(dates[k])) if k < W else (None, None)

    (m, md), (lo, lod), (hi, hid) = q(0.5), q(0.1), q(0.9)
    i_fal, i_mos = grid.index_of(FALLUJAH) - off, grid.index_of(MOSUL) - off
    return {"median": md, "p10": lod, "p90": hid, "median_weeks": m, "p10_weeks": lo,
            "p90_weeks": hi, "share_never": float(np.mean(~ever)),
            "p_by_fallujah": float(np.mean(first <= i_fal)),
            "p_by_mosul": float(np.mean(first <= i_mos)),
            "observed": {"fallujah": str(FALLUJAH), "mosul": str(MOSUL)},
            "note": "first week (from the 2011-12-18 origin) in which IS holds ground; None = "
                    "after the 2014-12-31 horizon"}


def _prob_rows(flags_by_date: dict[dt.date, np.ndarray], **extra) -> list[dict]:
    out = []
    for d, x in flags_by_date.items():
        p = float(np.mean(x))
        out.append({**extra, "date": d, "probability": p,
                    "mc_se": float(np.sqrt(p * (1 - p) / max(len(x), 1)))})
    return out


# --- the case ----------------------------------------------------------------------------------

def run_case_2011(draws: int = DRAWS, runs: int = RUNS, seed: int = SEED, workers: int = WORKERS,
                  *, generations: int = GENERATIONS, case: Case = IRAQ_2011,
                  drivers: str = "ex-ante", progress: Callable | None = None) -> Case2011Result:
    """Calibrate the 2011 case, run it forward from the withdrawal (``drivers``: see the
    module docstring) and score it."""
    from resurgence.calibration.inference import calibrate

    if drivers not in DRIVERS:
        raise ArgumentError(f"field 'drivers' = {drivers!r}: expected one of {', '.join(DRIVERS)}")
    if runs < 1 or draws < 10:
        raise ArgumentError(f"field 'runs' = {runs} / 'draws' = {draws}: expected runs >= 1 "
                         "and draws >= 10")
    t0 = time.perf_counter()
    cal = calibrate(case, particles=draws, generations=generations, seed=seed, workers=workers,
                    progress=progress)
    post = cal.posterior
    th = load_theatre(case.theatre)
    sc = resolve(case.scenario)
    if drivers == "ex-ante":
        sc = ex_ante(sc, ORIGIN)
    full, off = spun_up(sc, post.start)
    grid = WeekGrid(full.start, full.weeks)
    obs = _observed()
    design = obsmodel.design(obs, grid.dates, th.codes, th.national_code)
    ids = np.arange(runs)
    params = scenario_params(full, post.paramset(ids))
    fn = partial(_collect, design=design, off=off, seed=seed)
    # the history up to the withdrawal is known, as in every ensemble: bases as recorded,
    # no attack-driven closures before it (the same runs as run_ensemble's, tested)
    parts = map_runs(full, params, ids, seed, fn, theatre=case.theatre, workers=workers,
                     known_until=sc.start)
    res = {k: np.concatenate([p[k] for p in parts]) for k in parts[0]}

    rows = design.rows
    deaths, incidents = _deaths_table(rows, res, case), _incidents_table(rows, res)
    ground, collapse, curve = _ground_tables(res, grid, off, th)
    settings = {"draws": draws, "generations": generations, "runs": runs, "seed": seed,
                "workers": workers, "history_start": str(case.history_start),
                "until": str(case.until), "origin": str(ORIGIN), "horizon_end": str(grid.end),
                "observations": int(len(cal.design.rows)) if cal.design is not None else None,
                "observations_used": [f"{r.source} {r.metric} {r.period_start.date()}..{r.period_end.date()}"
                                      for r in cal.design.rows.itertuples()] if cal.design else [],
                "calibrated": list(case.calibrated), "scenario": sc.name, "drivers": drivers,
                "scenario_digest": sc.digest(),
                "share_holding_ground_before_origin": float(res["hold_before"].mean())}
    out = Case2011Result(post, cal.diagnostics(), deaths, incidents, ground,
                         _first_hold(res["hold"], grid, off), collapse, curve,
                         _posterior_table(post, case), settings)
    out.wall_time_s = time.perf_counter() - t0
    return out


def _deaths_table(rows: pd.DataFrame, res: dict[str, np.ndarray], case: Case) -> pd.DataFrame:
    """IBC deaths per year: observed against the predictive distribution, with each year's
    role (fitted, forecast, or straddling the cut-off and so not used)."""
    recs = []
    for k, r in rows.iterrows():
        if r["source"] != "ibc":
            continue
        y = int(r["period_start"].year)
        x = res["draws"][:, k]
        end = r["period_end"].date()
        role = "fitted" if end <= case.until else (
            "not used (straddles the cut-off)" if r["period_start"].date() <= case.until
            else "forecast")
        recs.append({"year": y, "role": role, "observed": float(r["value"]),
                     "median": float(np.median(x)), "p10": float(np.quantile(x, 0.1)),
                     "p90": float(np.quantile(x, 0.9)), "mean_expected": float(res["mu"][:, k].mean()),
                     **_scores(x, float(r["value"]))})
    return pd.DataFrame(recs).sort_values("year").reset_index(drop=True)


def _incidents_table(rows: pd.DataFrame, res: dict[str, np.ndarray]) -> pd.DataFrame:
    """Musings on Iraq incidents per day in 2014 against the predictive distribution."""
    recs = []
    for k, r in rows.iterrows():
        if r["source"] != "musings":
            continue
        days = (r["period_end"] - r["period_start"]).days + 1
        x = res["draws"][:, k] / days
        period = "2014" if r["granularity"] == "year" else "Jan-Apr 2014"
        recs.append({"period": period, "period_start": r["period_start"].date(),
                     "period_end": r["period_end"].date(), "observed_per_day": r["value"] / days,
                     "median_per_day": float(np.median(x)), "p10_per_day": float(np.quantile(x, 0.1)),
                     "p90_per_day": float(np.quantile(x, 0.9)),
                     **_scores(x, r["value"] / days)})
    return pd.DataFrame(recs)


def _ground_tables(res: dict[str, np.ndarray], grid: WeekGrid, off: int,
                   th) -> tuple[pd.DataFrame, pd.DataFrame, pd.DataFrame]:
    """P(IS has held ground by each date), P(collapse) by region and date, and the weekly
    curves of the figure."""
    hold = res["hold"]
    week_idx = {d: grid.index_of(d) - off for d in HOLD_DATES}
    by_date: dict[dt.date, np.ndarray] = {d: np.asarray(hold[:, : i + 1].any(axis=1))
                                          for d, i in week_idx.items()}
    ground = pd.DataFrame(_prob_rows(by_date))
    # ISI held no ground in 2009-11: the same probabilities among the runs that agree
    clean = ~res["hold_before"]
    ground["probability_given_no_ground_before"] = [
        float(np.mean(x[clean])) if clean.any() else np.nan for x in by_date.values()]
    ground["runs_no_ground_before"] = int(clean.sum())
    fc = res["first_collapse"]  # (runs, R): first collapse week from the origin, -1 = none
    anyc = np.where((fc >= 0).any(axis=1), np.where(fc >= 0, fc, 10**6).min(axis=1), -1)
    crow = []
    for reg in (*COLLAPSE_REGIONS, "any"):
        f = anyc if reg == "any" else fc[:, th.index(reg)]
        crow += _prob_rows({d: (f >= 0) & (f <= week_idx[d]) for d in HOLD_DATES[2:]}, region=reg)
    collapse = pd.DataFrame(crow)
    fwd = grid.dates[off:]
    cum = np.maximum.accumulate(hold, axis=1)
    widx = np.arange(hold.shape[1])
    curve = pd.DataFrame({
        "week_start": fwd, "p_held_by": cum.mean(axis=0), "p_holding": hold.mean(axis=0),
        "p_collapse_any_by": ((anyc[:, None] >= 0) & (anyc[:, None] <= widx[None, :])).mean(axis=0),
        "p_collapse_nineveh_by": ((fc[:, [th.index("IQ-NI")]] >= 0)
                                  & (fc[:, [th.index("IQ-NI")]] <= widx[None, :])).mean(axis=0),
        "fighters_median": np.median(res["fighters"][:, off:], axis=0),
        "villages_median": np.median(res["villages"][:, off:], axis=0)})
    return ground, collapse, curve


def _posterior_table(post: Posterior, case: Case) -> pd.DataFrame:
    """Posterior against prior of each calibrated parameter."""
    specs = {p.name: p for p in full_specs()}
    prec = []
    for name in post.draws.columns:
        pr = case.prior_overrides.get(name, specs[name].prior)
        v = post.draws[name].to_numpy(float)
        prec.append({"parameter": name, "median": float(np.median(v)),
                     "p10": float(np.quantile(v, 0.1)), "p90": float(np.quantile(v, 0.9)),
                     "prior_median": float(pr.dist().median()), "prior": pr.describe(),
                     "prior_p10": float(pr.dist().ppf(0.1)), "prior_p90": float(pr.dist().ppf(0.9))})
    return pd.DataFrame(prec)
