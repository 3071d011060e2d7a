"""The 2011 case (DESIGN §4, claim C7): from the US withdrawal of 18 December 2011 to 2014.

:func:`run_case_2011` calibrates :data:`resurgence.cases.IRAQ_2011` by ABC-SMC on the only
observations of its history window that the observation model can use (Iraq Body Count
civilian deaths in 2009 and 2010; nothing after 17 December 2011), runs the ``iraq-2011``
scenario forward from a 2009 spin-up on the posterior, and scores what the model said at
the withdrawal against what followed:

* Iraq Body Count yearly civilian deaths 2012, 2013 (and 2014) against the posterior
  predictive (``ibc_deaths_per_attack`` x simulated IS attacks, with the source's negative-
  binomial noise): median, 80% interval and the observed value's predictive quantile;
* Musings on Iraq average incidents per day in 2014 (``rate_musings`` x (IS + militia
  attacks); the rate keeps its 2018-era default because no 2009-11 Musings data exist);
* whether and when IS comes to hold ground (the model's ``is_holds_ground``: a region's
  forces collapsed or contested villages above ``hold_villages``): the probability by
  2012-12-31, 2013-12-31, 2014-06-30 (the fall of Mosul was on 10 June 2014) and
  2014-12-31, the distribution of the first week, and collapse in Nineveh and Anbar.

Two data points cannot pin down ten parameters: the posterior is mostly the prior. This is a
qualitative test of the collapse mechanism, not a validated forecast (docs/case-2011.md).

The forward runs are those of ``run_ensemble(["iraq-2011"], runs, seed, posterior=post)``
(run ``i`` takes draw ``i mod D`` and spins up from the posterior's start with the same
random streams); they go through :func:`resurgence.ensemble.map_runs` so that the weekly
series needed here are reduced in the workers instead of being written to a bundle.
"""

from __future__ import annotations

import datetime as dt
import json
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from functools import partial
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from resurgence.calibration import obsmodel
from resurgence.calibration.cases import IRAQ_2011, Case
from resurgence.calibration.observations import load_observations
from resurgence.calibration.posterior import Posterior, full_specs
from resurgence.core.atomic import atomic_write_text
from resurgence.core.errors import ArgumentError
from resurgence.core.timegrid import WeekGrid
from resurgence.core.version import __version__
from resurgence.run.ensemble import map_runs, resolve, scenario_params, spun_up
from resurgence.theatre.theatre import load_theatre

D = dt.date
ORIGIN = D(2011, 12, 18)  # the last US troops crossed into Kuwait
#: dates at which the probability that IS has come to hold ground is reported
HOLD_DATES = (D(2012, 12, 31), D(2013, 12, 31), D(2014, 6, 30), D(2014, 12, 31))
#: what happened: IS took Fallujah and parts of Ramadi on 1-4 January 2014 and Mosul on
#: 10 June 2014 (the Iraqi army's collapse in Nineveh)
FALLUJAH = D(2014, 1, 3)
MOSUL = D(2014, 6, 10)
COLLAPSE_REGIONS = ("IQ-NI", "IQ-AN")
DEATH_YEARS = tuple(range(2009, 2015))
#: default settings: ~2 minutes on two cores
DRAWS, GENERATIONS, RUNS, SEED, WORKERS = 1000, 6, 2000, 1, 2


@dataclass
class Case2011Result:
    """What :func:`run_case_2011` found; every table is a DataFrame."""

    posterior: Posterior
    diagnostics: pd.DataFrame  # ABC-SMC generations
    deaths: pd.DataFrame  # IBC yearly civilian deaths: observed vs predictive
    incidents: pd.DataFrame  # Musings 2014 incidents per day: observed vs predictive
    ground: pd.DataFrame  # P(IS has held ground by date)
    first_hold: dict[str, Any]  # distribution of the first week IS holds ground
    collapse: pd.DataFrame  # P(collapse) by region and date
    curve: pd.DataFrame  # weekly cumulative probabilities (for the figure)
    params: pd.DataFrame  # posterior vs prior of the calibrated parameters
    settings: dict[str, Any] = field(default_factory=dict)
    wall_time_s: float = 0.0

    def text(self) -> str:
        """The result in words, with its limits."""
        d = self.deaths.set_index("year")
        g = self.ground.set_index("date")["probability"]
        f = self.first_hold
        lines = [
            f"iraq-2011: ABC-SMC on {self.settings['observations']} observations (Iraq Body "
            f"Count 2009 and 2010 only; {self.settings['draws']} draws), {self.settings['runs']} "
            "runs forward from the withdrawal of 18 Dec 2011.",
        ]
        for y in (2012, 2013, 2014):
            if y in d.index:
                r = d.loc[y]
                lines.append(
                    f"IBC {y}: observed {r['observed']:,.0f}, predicted median {r['median']:,.0f} "
                    f"(80% {r['p10']:,.0f}-{r['p90']:,.0f}); observed at predictive quantile "
                    f"{r['observed_quantile']:.2f}.")
        for _, r in self.incidents.iterrows():
            lines.append(f"Musings {r['period']}: observed {r['observed_per_day']:.1f}/day, predicted "
                         f"{r['median_per_day']:.1f}/day (80% {r['p10_per_day']:.1f}-"
                         f"{r['p90_per_day']:.1f}); quantile {r['observed_quantile']:.2f}.")
        gc = self.ground.set_index("date")["probability_given_no_ground_before"]
        lines.append("P(IS has held ground by): " + ", ".join(
            f"{k}: {v:.2f}" for k, v in g.items()) + f" (among the {self.ground['runs_no_ground_before'].iat[0]}"
            " runs in which IS held no ground before the withdrawal, as in reality: " + ", ".join(
            f"{v:.2f}" for v in gc) + ").")
        when = (f"median {f['median']}, 80% interval {f['p10']} to {f['p90']}"
                if f["median"] else "not within the horizon in most runs")
        lines.append(f"First week IS holds ground: {when} (share of runs never by 2014-12-31: "
                     f"{f['share_never']:.2f}); in reality Fallujah fell on {FALLUJAH} and Mosul on "
                     f"{MOSUL} (P(first <= Fallujah) = {f['p_by_fallujah']:.2f}, P(first <= "
                     f"Mosul) = {f['p_by_mosul']:.2f}).")
        c = self.collapse
        for reg in COLLAPSE_REGIONS:
            r = c[c["region"] == reg].set_index("date")["probability"]
            lines.append(f"Collapse of the forces in {reg}: " + ", ".join(
                f"by {k}: {v:.2f}" for k, v in r.items()) + ".")
        lines.append(
            "Limits: two yearly data points cannot identify ten parameters, so the posterior is "
            "largely the prior and these numbers test the mechanism qualitatively (does losing "
            "US enablers with Syria in chaos let IS grow into holding ground, and when?), not a "
            "validated forecast. Exogenous levers after the withdrawal follow what happened "
            "(Syria, sectarian politics, protest camps), so the run is conditional on them; "
            "the US return of mid-2014 is not scheduled.")
        return "\n".join(lines)

    def table(self) -> pd.DataFrame:
        """One tidy table of every result (the CSV)."""
        recs: list[dict[str, Any]] = []
        for _, r in self.deaths.iterrows():
            recs.append({"section": "ibc_civilian_deaths", "item": str(r["year"]),
                         "role": r["role"], "observed": r["observed"], "median": r["median"],
                         "p10": r["p10"], "p90": r["p90"],
                         "observed_quantile": r["observed_quantile"]})
        for _, r in self.incidents.iterrows():
            recs.append({"section": "musings_incidents_per_day", "item": r["period"],
                         "role": "forecast", "observed": r["observed_per_day"],
                         "median": r["median_per_day"], "p10": r["p10_per_day"],
                         "p90": r["p90_per_day"], "observed_quantile": r["observed_quantile"]})
        for _, r in self.ground.iterrows():
            recs.append({"section": "holds_ground_by", "item": str(r["date"]), "role": "forecast",
                         "probability": r["probability"], "mc_se": r["mc_se"]})
            recs.append({"section": "holds_ground_by_given_no_ground_before",
                         "item": str(r["date"]), "role": "forecast",
                         "probability": r["probability_given_no_ground_before"]})
        f = self.first_hold
        recs.append({"section": "first_hold_date", "item": "weeks from 2011-12-18",
                     "role": "forecast", "median": f["median_weeks"], "p10": f["p10_weeks"],
                     "p90": f["p90_weeks"], "probability": 1.0 - f["share_never"]})
        for _, r in self.collapse.iterrows():
            recs.append({"section": "collapse_by", "item": f"{r['region']} {r['date']}",
                         "role": "forecast", "probability": r["probability"], "mc_se": r["mc_se"]})
        for _, r in self.params.iterrows():
            recs.append({"section": "posterior", "item": r["parameter"], "role": "fitted",
                         "median": r["median"], "p10": r["p10"], "p90": r["p90"],
                         "prior_median": r["prior_median"]})
        cols = ["section", "item", "role", "observed", "median", "p10", "p90",
                "observed_quantile", "probability", "mc_se", "prior_median"]
        return pd.DataFrame(recs).reindex(columns=cols)

    def to_json(self) -> dict[str, Any]:
        def recs(df: pd.DataFrame) -> list[dict]:
            return json.loads(df.to_json(orient="records", date_format="iso"))

        return {"case": "iraq-2011", "version": __version__, "settings": self.settings,
                "wall_time_s": round(self.wall_time_s, 1), "text": self.text(),
                "deaths": recs(self.deaths), "incidents": recs(self.incidents),
                "holds_ground_by": recs(self.ground), "first_hold": self.first_hold,
                "collapse": recs(self.collapse), "posterior": recs(self.params),
                "calibration": recs(self.diagnostics)}

    def save(self, out: str | Path) -> dict[str, Path]:
        """Write ``case2011.csv`` and ``case2011.json`` into ``out`` (the figure is
        :func:`resurgence.report.case2011.save_figure`)."""
        out = Path(out)
        out.mkdir(parents=True, exist_ok=True)
        paths = {k: out / f"case2011.{k}" for k in ("csv", "json")}
        atomic_write_text(paths["csv"], self.table().to_csv(index=False, float_format="%.6g"))
        atomic_write_text(paths["json"], json.dumps(self.to_json(), indent=1, default=str))
        return paths


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
                  progress: Callable | None = None) -> Case2011Result:
    """Calibrate the 2011 case, run it forward from the withdrawal and score it."""
    from resurgence.calibration.inference import calibrate

    if runs < 1 or draws < 10:
        raise ArgumentError(f"field 'runs' = {runs} / 'draws' = {draws}: expected runs >= 1 "
                         "and draws >= 10")
    t0 = time.perf_counter()
    cal = calibrate(case, particles=draws, generations=generations, seed=seed, workers=workers,
                    progress=progress)
    post = cal.posterior
    th = load_theatre(case.theatre)
    sc = resolve(case.scenario)
    full, off = spun_up(sc, post.start)
    grid = WeekGrid(full.start, full.weeks)
    obs = _observed()
    design = obsmodel.design(obs, grid.dates, th.codes, th.national_code)
    ids = np.arange(runs)
    params = scenario_params(full, post.paramset(ids))
    fn = partial(_collect, design=design, off=off, seed=seed)
    parts = map_runs(full, params, ids, seed, fn, theatre=case.theatre, workers=workers)
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
                "calibrated": list(case.calibrated), "scenario": sc.name,
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
                     "observed_quantile": _quantile_of(x, float(r["value"]))})
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
                     "observed_quantile": _quantile_of(x, r["value"] / days)})
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
