"""Rolling-origin backtest: refit before each origin, forecast, score like a forecaster.

For each origin (every quarter of 2019-2020 by default) the case is recalibrated on data
before the origin only, and forecast 1-12 months ahead. Drivers after the origin are held
at what was known at the origin ("as known": the pandemic, the Soleimani strike and the
2020 base handovers are not foreseen), which is the honest real-time test; ``drivers =
"actual"`` instead feeds the history as it happened (a scenario-conditional test).
Forecasts are scored against every later observation up to the end of the data with the
continuous ranked probability score (``scoringrules``) and central-interval coverage, and
compared with three naive baselines on the monthly UCDP series: no-change (persistence
with empirical log changes), a log-linear trend, and seasonal climatology.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

import numpy as np
import pandas as pd
import scoringrules as sr

from resurgence.calibration.cases import case_observations, get_case
from resurgence.calibration.forecast import forecast
from resurgence.calibration.inference import calibrate
from resurgence.runs.ensemble import resolve
from resurgence.scenario.schema import BaseChange, Scenario, Schedules
from resurgence.theatre.theatre import load_theatre

# observation (source, metric) -> forecast series (national)
TARGETS = {("ged_cm", "sb_deaths"): "ged_sb_deaths", ("ged_cm", "sb_events"): "ged_sb_events",
           ("ctc", "is_attacks"): "is_attacks_ctc", ("musings", "incidents"): "incidents"}
LEVELS = (0.5, 0.8, 0.9)


def default_origins() -> list[dt.date]:
    return [dt.date(y, m, 1) for y in (2019, 2020) for m in (1, 4, 7, 10)]


def as_known(sc: Scenario, origin: dt.date, theatre_name: str = "iraq") -> Scenario:
    """The scenario as a forecaster knew it at ``origin``: later schedule points, shocks and
    base handovers dropped (levers held at their last known values)."""
    sched = {k: [p for p in (v or []) if p[0] < origin] or None
             for k, v in sc.schedules.model_dump().items()}
    th = load_theatre(theatre_name)
    reopen = [BaseChange(name=b.name, reopen=b.closed) for b in th.bases
              if b.closed is not None and b.closed >= origin]
    return sc.model_copy(update={
        "schedules": Schedules(**sched), "shocks": [s for s in sc.shocks if s.date < origin],
        "bases": [b for b in sc.bases if (b.close or dt.date.min) < origin] + reopen})


def _targets(obs: pd.DataFrame, origin: dt.date, horizon: int, last: dt.date) -> pd.DataFrame:
    end = (pd.Timestamp(origin) + pd.DateOffset(months=horizon)).date() - dt.timedelta(days=1)
    sel = obs[[(s, m) in TARGETS for s, m in zip(obs["source"], obs["metric"], strict=True)]]
    sel = sel[(sel["region"] == "IQ") & (sel["period_start"].dt.date >= origin)
              & (sel["period_end"].dt.date <= min(end, last))]
    # only targets that are whole months or quarters/years aligned to months
    sel = sel[(sel["period_start"].dt.day == 1) & sel["period_end"].dt.is_month_end]
    return sel.reset_index(drop=True)


def _ensemble_for(fc: pd.DataFrame, series: str, ps: pd.Timestamp, pe: pd.Timestamp) -> np.ndarray:
    sub = fc[(fc["region"] == "IQ") & (fc["series"] == series)
             & (pd.to_datetime(fc["period_start"]) >= ps) & (pd.to_datetime(fc["period_end"]) <= pe)]
    return sub.groupby("run", observed=True)["value"].sum().to_numpy()


def _baselines(hist: pd.DataFrame, ps: pd.Timestamp, h: int, rng: np.random.Generator,
               n: int = 500) -> dict[str, np.ndarray]:
    """Naive predictive ensembles for one monthly target ``h`` months after the last month."""
    y = hist["value"].to_numpy(float)
    months = hist["period_start"]
    ly = np.log1p(y)
    recent = ly[-24:]
    out: dict[str, np.ndarray] = {}
    changes = recent[h:] - recent[:-h] if len(recent) > h else np.array([0.0])
    out["no-change"] = np.expm1(ly[-1] + rng.choice(changes, n))
    t = np.arange(len(recent))
    b, a = np.polyfit(t, recent, 1)
    resid = recent - (a + b * t)
    out["log-linear trend"] = np.expm1(a + b * (len(recent) - 1 + h) + rng.choice(resid, n))
    cal = months.dt.month.to_numpy()
    mm = ps.month
    near = (np.abs(((cal - mm) + 6) % 12 - 6) <= 1) & (months >= ps - pd.DateOffset(years=3)).to_numpy()
    out["seasonal climatology"] = rng.choice(y[near] if near.any() else y[-12:], n).astype(float)
    return {k: np.maximum(v, 0.0) for k, v in out.items()}


def _score(obs: float, ens: np.ndarray) -> dict[str, float]:
    rec = {"crps": float(sr.crps_ensemble(obs, ens))}
    for lv in LEVELS:
        lo, hi = np.quantile(ens, [(1 - lv) / 2, (1 + lv) / 2])
        rec[f"in{int(lv * 100)}"] = float(lo <= obs <= hi)
    rec["median"] = float(np.median(ens))
    return rec


@dataclass
class BacktestResult:
    scores: pd.DataFrame  # one row per origin, target and method

    def summary(self) -> pd.DataFrame:
        s = self.scores.copy()
        s["horizon_band"] = pd.cut(s["horizon"], [0, 3, 6, 12], labels=["1-3", "4-6", "7-12"])
        g = s.groupby(["series", "horizon_band", "method"], observed=True)
        out = g.agg(crps=("crps", "mean"), n=("crps", "size"), cover50=("in50", "mean"),
                    cover80=("in80", "mean"), cover90=("in90", "mean")).reset_index()
        ref = out[out["method"] == "no-change"].set_index(["series", "horizon_band"])["crps"]
        key = list(zip(out["series"], out["horizon_band"], strict=True))
        out["skill_vs_no_change"] = [1 - c / ref.get(k, np.nan) for c, k in
                                     zip(out["crps"], key, strict=True)]
        return out


def backtest(case: str = "iraq-2020", *, origins: list[dt.date] | None = None, horizon: int = 12,
             particles: int = 300, generations: int = 6, runs: int = 300, seed: int = 1,
             drivers: str = "as-known", workers: int = 1, progress=None) -> BacktestResult:
    c = get_case(case)
    obs = case_observations(c, c.until)
    monthly = obs[(obs["source"] == "ged_cm") & (obs["region"] == "IQ")]
    rng = np.random.default_rng(np.random.SeedSequence(seed, spawn_key=(2**31 + 1,)))
    recs = []
    for o in origins or default_origins():
        post = calibrate(c, until=o - dt.timedelta(days=1), particles=particles,
                         generations=generations, seed=seed, workers=workers).posterior
        sc = resolve(c.scenario)
        sc = as_known(sc, o, c.theatre) if drivers == "as-known" else sc
        fc = forecast(c.name, sc, start=o, months=horizon, runs=runs, seed=seed,
                      posterior=post, workers=workers)
        for _, t in _targets(obs, o, horizon, c.until).iterrows():
            series = TARGETS[(t["source"], t["metric"])]
            ps, pe = t["period_start"], t["period_end"]
            h = (pe.year - o.year) * 12 + pe.month - o.month + 1
            base = {"origin": o, "series": series, "granularity": t["granularity"],
                    "target_start": ps.date(), "target_end": pe.date(), "horizon": h,
                    "observed": float(t["value"])}
            ens = _ensemble_for(fc, series, ps, pe)
            if ens.size == 0:
                continue
            recs.append({**base, "method": "resurgence", **_score(float(t["value"]), ens)})
            if t["source"] == "ged_cm":
                hist = monthly[(monthly["metric"] == t["metric"])
                               & (monthly["period_end"].dt.date < o)].sort_values("period_start")
                for name, ens in _baselines(hist, ps, h, rng).items():
                    recs.append({**base, "method": name, **_score(float(t["value"]), ens)})
        if progress:
            progress(o)
    return BacktestResult(pd.DataFrame(recs))
