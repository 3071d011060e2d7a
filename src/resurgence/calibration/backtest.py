"""Rolling-origin backtest on every source, with naive baselines and vintage discipline.

At each origin (2018-07, 2019-01, 2019-07, 2020-01 and 2020-06 by default) every method
sees only the rows published before the origin (``published`` column; rules in
OBSERVATIONS.md) and forecasts up to ``horizon`` months ahead. Targets are every later
national row up to the end of the data, on each source's own periods: UCDP state-based
deaths and events per month, Musings incidents per month and year, CTC IS attacks per
quarter and year (the observed value is the one known today, whenever it was published).

Methods: the simulator (``simulator``: ABC refit at each origin, drivers as known at the
origin unless ``drivers = "actual"``), the statistical baseline (``baseline``,
:mod:`resurgence.calibration.baseline`), their ``blend`` (a linear pool whose simulator
weight per series minimises the mean CRPS of the pool on the targets that ended before the
origin, shrunk towards 0.5: :func:`resurgence.calibration.blend.optimal_weight`; equal
weights at the first origin, so the blend's own backtest has no look-ahead), and the naive
rules of :mod:`resurgence.calibration.naive` (on their own random stream). Scores: CRPS
(``scoringrules``), log score (kernel density of the ensemble), PIT and 50/80/90% central
interval coverage; :meth:`BacktestResult.verdict` checks issue #9's done-when per series.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field

import numpy as np
import pandas as pd

from resurgence.calibration import baseline as bl
from resurgence.calibration import naive
from resurgence.calibration.blend import mixture_terms, optimal_weight, pool
from resurgence.calibration.cases import Case, case_observations, get_case
from resurgence.core.errors import ArgumentError
from resurgence.scenario.schema import BaseChange, Scenario, Schedules
from resurgence.theatre.theatre import load_theatre

#: (source, metric, granularity) scored -> forecast series
TARGETS = {("ged_cm", "sb_deaths", "month"): "ged_sb_deaths",
           ("ged_cm", "sb_events", "month"): "ged_sb_events",
           ("musings", "incidents", "month"): "incidents",
           ("musings", "incidents", "year"): "incidents",
           ("ctc", "is_attacks", "quarter"): "is_attacks_ctc",
           ("ctc", "is_attacks", "year"): "is_attacks_ctc"}
LEVELS = (0.5, 0.8, 0.9)
FIRST = dt.date(2010, 1, 1)  # month index 0 of the naive histories (a January)
MODEL_METHODS = ("simulator", "baseline", "blend")
#: the done-when of issue #9: 80% coverage in this range, and at least this many common
#: targets for a series to be scored at all
COVERAGE = (0.7, 0.9)
MIN_TARGETS = 5
LABELS = {"ged_sb_deaths": "UCDP deaths / month", "ged_sb_events": "UCDP events / month",
          "incidents": "Musings incidents (months, years)",
          "is_attacks_ctc": "CTC IS attacks (quarters, years)"}
#: at least this many baseline paths per origin (cheap; keeps Monte Carlo noise out of the scores)
BASELINE_RUNS = 1000


def default_origins() -> list[dt.date]:
    return [dt.date(2018, 7, 1), dt.date(2019, 1, 1), dt.date(2019, 7, 1), dt.date(2020, 1, 1),
            dt.date(2020, 6, 1)]


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


def vintage(case: Case, origin: dt.date) -> pd.DataFrame:
    """What a forecaster could know on ``origin``: rows ending and published before it."""
    return case_observations(case, origin - dt.timedelta(days=1), published_before=origin)


def _mi(d) -> int:
    return (d.year - FIRST.year) * 12 + d.month - FIRST.month


def targets(obs: pd.DataFrame, origin: dt.date, horizon: int, last: dt.date) -> pd.DataFrame:
    end = (pd.Timestamp(origin) + pd.DateOffset(months=horizon)).date() - dt.timedelta(days=1)
    key = list(zip(obs["source"], obs["metric"], obs["granularity"], strict=True))
    sel = obs[np.array([k in TARGETS for k in key]) & (obs["region"] == "IQ")
              & (obs["period_start"].dt.date >= origin)
              & (obs["period_end"].dt.date <= min(end, last))
              & (obs["period_start"].dt.day == 1) & obs["period_end"].dt.is_month_end]
    sel = sel.assign(series=[TARGETS[(s, m, g)] for s, m, g in
                             zip(sel["source"], sel["metric"], sel["granularity"], strict=True)])
    return sel.reset_index(drop=True)


def monthly_history(obs: pd.DataFrame, origin: dt.date) -> dict[str, tuple[np.ndarray, np.ndarray]]:
    """Per series, (month index from FIRST, monthly level) from the source's partition."""
    part = bl.partition(obs, FIRST, origin - dt.timedelta(days=1))
    out = {}
    for col, g in part.groupby("column"):
        t = np.concatenate([np.array(m) for m in g["months"]])
        y = np.concatenate([np.full(len(m), v / len(m)) for m, v in zip(g["months"], g["value"],
                                                                       strict=True)])
        o = np.argsort(t)
        out[str(col)] = (t[o], y[o])
    return out


def score(obs: float, ens: np.ndarray) -> dict[str, float]:
    # scoringrules compiles Numba kernels when imported (~5 CPU-s): only where scores are made
    import scoringrules as sr

    ens = np.asarray(ens, float)
    rec = {"crps": float(sr.crps_ensemble(obs, ens)),
           "logs": float(sr.logs_ensemble(np.log1p(obs), np.log1p(ens)) + np.log1p(obs)),
           "pit": float((np.sum(ens < obs) + 0.5 * np.sum(ens == obs)) / ens.size),
           "median": float(np.median(ens))}
    for lv in LEVELS:
        lo, hi = np.quantile(ens, [(1 - lv) / 2, (1 + lv) / 2])
        rec[f"in{int(lv * 100)}"] = float(lo <= obs <= hi)
    return rec


def blend_weights(terms: pd.DataFrame, before: dt.date | None = None) -> dict[str, float]:
    """Simulator weight per series: the pool weight that minimises the mean CRPS of the
    blend (:func:`resurgence.calibration.blend.optimal_weight`) over the targets that both
    the simulator and the baseline scored (and, with ``before``, that ended before a date);
    0.5 where none."""
    t = terms
    if before is not None and not t.empty:
        t = t[pd.to_datetime(t["target_end"]).dt.date < before]
    return {ser: optimal_weight(t[t["series"] == ser] if not t.empty else t)
            for ser in sorted(set(TARGETS.values()))}


@dataclass
class BacktestResult:
    scores: pd.DataFrame  # one row per origin, target and method
    #: per origin and target scored by both: the terms of the CRPS of their pool
    pool_terms: pd.DataFrame = field(default_factory=pd.DataFrame)
    #: the simulator weight per series the blend used at each origin
    weights: dict[str, dict[str, float]] = field(default_factory=dict)

    def blend_weights(self) -> dict[str, float]:
        """Simulator weight per series from every target: the weights to forecast with."""
        return blend_weights(self.pool_terms)

    def summary(self) -> pd.DataFrame:
        """Mean scores per series, target granularity and method."""
        g = self.scores.groupby(["series", "granularity", "method"], observed=True)
        return g.agg(n=("crps", "size"), crps=("crps", "mean"), logs=("logs", "mean"),
                     pit=("pit", "mean"), cover50=("in50", "mean"), cover80=("in80", "mean"),
                     cover90=("in90", "mean")).reset_index()

    def by_source(self) -> pd.DataFrame:
        """Per series and method: mean CRPS, log score and 80% coverage on the targets every
        method scored (``n``; a naive rule needs a history of the source, so CTC targets
        before its first publication are left out), and on all of a method's targets
        (``n_all``, ``crps_all``, ``cover80_all``); skill against the best naive rule."""
        s = self.scores
        key = ["origin", "target_start", "target_end"]
        rows = []
        for ser, g in s.groupby("series"):
            methods = set(g["method"])
            k = g.groupby(key)["method"].transform("nunique") == len(methods)
            for m, gm in g.groupby("method"):
                c = gm[k[gm.index]]
                rows.append({"series": ser, "method": m, "n": len(c), "crps": c["crps"].mean(),
                             "logs": c["logs"].mean(), "cover80": c["in80"].mean(),
                             "n_all": len(gm), "crps_all": gm["crps"].mean(),
                             "cover80_all": gm["in80"].mean()})
        out = pd.DataFrame(rows)
        nv = out[out["method"].isin(naive.METHODS)]
        if nv.empty:
            out["best_naive"], out["skill_vs_best_naive"] = None, np.nan
            return out
        best = nv.loc[nv.groupby("series")["crps"].idxmin()].set_index("series")
        out["best_naive"] = out["series"].map(best["method"])
        out["skill_vs_best_naive"] = 1 - out["crps"] / out["series"].map(best["crps"])
        return out

    def verdict(self, method: str = "blend") -> pd.DataFrame:
        """Issue #9's done-when per series: ``method``'s mean CRPS at or below the best naive
        rule's on the targets every method scored, and its 80% coverage between 0.7 and 0.9.
        A series with fewer than :data:`MIN_TARGETS` common targets is not scored."""
        by = self.by_source()
        rows = []
        for ser, g in by.groupby("series"):
            m = g[g["method"] == method]
            nv = g[g["method"].isin(naive.METHODS)]
            if m.empty or nv.empty:
                continue
            r, best = m.iloc[0], nv.loc[nv["crps"].idxmin()]
            scored = int(r["n"]) >= MIN_TARGETS
            crps_ok = bool(r["crps"] <= best["crps"]) if scored else None
            cov_ok = bool(COVERAGE[0] <= r["cover80"] <= COVERAGE[1]) if scored else None
            rows.append({"series": ser, "label": LABELS.get(str(ser), str(ser)), "n": int(r["n"]),
                         "method": method, "crps": float(r["crps"]),
                         "best_naive": best["method"], "best_naive_crps": float(best["crps"]),
                         "cover80": float(r["cover80"]), "crps_met": crps_ok,
                         "coverage_met": cov_ok,
                         "met": (crps_ok and cov_ok) if scored else None})
        return pd.DataFrame(rows)

    def pit_histogram(self, bins: int = 5) -> dict[str, list[int]]:
        return {m: np.histogram(g["pit"], bins=bins, range=(0, 1))[0].tolist()
                for m, g in self.scores.groupby("method")}


def _simulator(c: Case, o: dt.date, horizon: int, runs: int, seed: int, particles: int,
               generations: int, drivers: str, workers: int) -> pd.DataFrame:
    from resurgence.calibration.forecast import simulate_forecast
    from resurgence.calibration.inference import calibrate
    from resurgence.runs.ensemble import resolve

    post = calibrate(c, until=o - dt.timedelta(days=1), particles=particles,
                     generations=generations, seed=seed, workers=workers,
                     published_before=o).posterior
    sc = resolve(c.scenario)
    sc = as_known(sc, o, c.theatre) if drivers == "as-known" else sc
    return simulate_forecast(c.name, sc, start=o, months=horizon, runs=runs, seed=seed,
                             posterior=post, workers=workers)


def _sim_ensemble(fc: pd.DataFrame, series: str, months: list[int], o: dt.date) -> np.ndarray:
    ps = pd.to_datetime(fc["period_start"])
    mi = (ps.dt.year - o.year) * 12 + ps.dt.month - o.month
    sub = fc[(fc["region"] == "IQ") & (fc["series"] == series) & mi.isin(months)]
    return sub.groupby("run", observed=True)["value"].sum().to_numpy()


def backtest(case: str = "iraq-2020", *, origins: list[dt.date] | None = None, horizon: int = 18,
             particles: int = 300, generations: int = 6, runs: int = 300, seed: int = 1,
             drivers: str = "as-known", workers: int = 1, simulator: bool = True,
             progress=None) -> BacktestResult:
    """Score every method at every origin; ``simulator=False`` skips the (slow) simulator
    and the blend."""
    if drivers not in ("as-known", "actual"):
        raise ArgumentError(f"field 'drivers' = {drivers!r}: expected 'as-known' or 'actual'")
    c = get_case(case)
    obs = case_observations(c, c.until)
    rng = np.random.default_rng(np.random.SeedSequence(seed, spawn_key=(2**31 + 1,)))
    rng_naive = np.random.default_rng(np.random.SeedSequence(seed, spawn_key=(2**31 + 2,)))
    recs: list[dict] = []
    terms: list[dict] = []
    used: dict[str, dict[str, float]] = {}
    for o in sorted(origins or default_origins()):
        vobs = vintage(c, o)
        if (vobs["published"] >= pd.Timestamp(o)).any():  # guard: vintage discipline
            raise AssertionError(f"origin {o}: a row published on or after it was seen")
        hist = monthly_history(vobs, o)
        bf = bl.fit(vobs, o)
        base_paths = bl.simulate(bf, horizon, max(runs, BASELINE_RUNS), seed)
        fc = (_simulator(c, o, horizon, runs, seed, particles, generations, drivers, workers)
              if simulator else None)
        w = blend_weights(pd.DataFrame(terms), before=o) if simulator else {}
        if simulator:
            used[o.isoformat()] = w
        for _, t in targets(obs, o, horizon, c.until).iterrows():
            ser = t["series"]
            a, b = _mi(t["period_start"]), _mi(t["period_end"])
            months = list(range(a - _mi(o), b - _mi(o) + 1))
            y = float(t["value"])
            base = {"origin": o, "series": ser, "granularity": t["granularity"],
                    "target_start": t["period_start"].date(), "target_end": t["period_end"].date(),
                    "horizon": months[-1] + 1, "observed": y}
            ens = {"baseline": base_paths[ser][:, months].sum(axis=1)}
            if fc is not None:
                ens["simulator"] = _sim_ensemble(fc, ser, months, o)
                ens["blend"] = pool(ens["simulator"], ens["baseline"], w.get(ser, 0.5), rng)
                terms.append({**base, **mixture_terms(y, ens["simulator"], ens["baseline"])})
            if ser in hist:
                th, yh = hist[ser]
                for name in naive.METHODS:
                    ens[name] = naive.predictive(name, th, yh, np.arange(a, b + 1), rng_naive)
            for name, e in ens.items():
                if e.size:
                    recs.append({**base, "method": name, **score(y, e)})
        if progress:
            progress(o)
    return BacktestResult(pd.DataFrame(recs), pd.DataFrame(terms), used)
