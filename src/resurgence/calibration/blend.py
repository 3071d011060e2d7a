"""The blend: levels pooled from the statistical baseline and the simulator, scenario
effects from the simulator's paired (common-random-number) contrasts.

Each run ``i`` takes its level for series ``s`` from the simulator with probability
``w_s`` (one uniform per run, so a run is coherent across series) and otherwise from the
baseline. ``w_s`` is the simulator weight of the linear pool that minimised the mean CRPS of
the pool over the rolling-origin backtest's targets of the series, shrunk towards 0.5
(:func:`optimal_weight`; ``data/blend/<case>.json``, written by ``resurgence backtest`` and
copied into the package). A baseline level has no scenario in it, so the scenario's effect
is applied as the simulator's paired multiplier: run ``i``'s simulated truth in the scenario
over the same run in the reference scenario (what was announced at the origin), month by
month. Regional rows of a baseline-levelled run keep the simulator's spatial shares. The
latent ``is_attacks`` (the CTC Sentinel scale) takes the CTC weight.

:func:`bundle_levels` does the same for the weekly national IS attacks of a results bundle
(the brief's fan chart, the web app's fan of a job that ran the reference scenario).
"""

from __future__ import annotations

import datetime as dt
import json
from importlib import resources
from typing import Any

import numpy as np
import pandas as pd

REFERENCE = "announced-2500"  # the posture known at the 2020-12-01 origin
#: blended series and the simulated truth whose paired ratio carries the scenario effect
BLENDED = {"incidents": ("is_attacks", "militia_attacks_us"), "is_attacks_ctc": ("is_attacks",),
           "ged_sb_deaths": ("is_attacks",), "ged_sb_events": ("is_attacks",),
           "is_attacks": ("is_attacks",)}


def pool(sim: np.ndarray, base: np.ndarray, w: float, rng: np.random.Generator,
         n: int | None = None) -> np.ndarray:
    """A linear pool of two ensembles: ``round(w n)`` draws from ``sim``, the rest from ``base``."""
    n = n or max(sim.size, base.size)
    k = int(round(w * n))
    parts = []
    if k and sim.size:
        parts.append(rng.choice(sim, k))
    if n - k and base.size:
        parts.append(rng.choice(base, n - k))
    return np.concatenate(parts) if parts else np.array([])


#: pseudo-targets at an equal share that the pool weight is shrunk towards (few targets)
PRIOR_TARGETS = 10


def mixture_terms(y: float, a: np.ndarray, b: np.ndarray) -> dict[str, float]:
    """The terms of the CRPS of a two-component pool of ensembles ``a`` and ``b`` at ``y``:
    ``CRPS(w) = w ea + (1-w) eb - (w^2 daa + (1-w)^2 dbb + 2 w (1-w) dab) / 2`` with
    ``ea = E|A-y|``, ``daa = E|A-A'|``, ``dab = E|A-B|`` (and the same for ``b``)."""
    a, b = np.sort(np.asarray(a, float)), np.sort(np.asarray(b, float))

    def spread(x):  # E|X - X'| over all ordered pairs, from the order statistics
        n = x.size
        return float(2.0 * np.sum((2 * np.arange(1, n + 1) - n - 1) * x) / n ** 2)

    # E|A - B| = E max - E min: from the pooled order, without an n x m matrix
    cb = np.concatenate([[0.0], np.cumsum(b)])
    k = np.searchsorted(b, a)  # b[:k] < a
    dab = float(np.mean(k * a - cb[k] + (cb[-1] - cb[k]) - (b.size - k) * a) / b.size)
    return {"ea": float(np.mean(np.abs(a - y))), "eb": float(np.mean(np.abs(b - y))),
            "daa": spread(a), "dbb": spread(b), "dab": dab}


def pool_crps(t: dict[str, float] | pd.DataFrame, w: float) -> float | pd.Series:
    """CRPS of the pool with weight ``w`` on ``a``, from :func:`mixture_terms`."""
    return (w * t["ea"] + (1 - w) * t["eb"]
            - 0.5 * (w * w * t["daa"] + (1 - w) ** 2 * t["dbb"] + 2 * w * (1 - w) * t["dab"]))


def optimal_weight(terms: pd.DataFrame, prior: int = PRIOR_TARGETS) -> float:
    """The weight on ``a`` that minimises the mean CRPS of the pool over the rows of
    ``terms`` (the mean CRPS is a convex quadratic in the weight), shrunk towards 0.5 by
    ``prior`` pseudo-targets; 0.5 where there are none."""
    n = len(terms)
    if n == 0:
        return 0.5
    m = terms[["ea", "eb", "daa", "dbb", "dab"]].mean()
    curv = 2 * m["dab"] - m["daa"] - m["dbb"]  # 2 x energy distance >= 0
    if curv <= 1e-12:
        w = 0.5
    else:
        w = float(np.clip((m["eb"] - m["ea"] + m["dab"] - m["dbb"]) / curv, 0.0, 1.0))
    return (n * w + prior * 0.5) / (n + prior)


def packaged_weights(case: str) -> dict:
    """The blend weights stored with the package (simulator share per series)."""
    f = resources.files("resurgence") / "data" / "blend" / f"{case}.json"
    if not f.is_file():
        return {"weights": {s: 0.5 for s in BLENDED}, "source": "default (no backtest stored)"}
    return json.loads(f.read_text(encoding="utf-8"))


def series_weight(weights: dict[str, float], series: str) -> float:
    """The simulator weight of a series; the latent ``is_attacks`` is on the CTC scale."""
    if series == "is_attacks" and series not in weights:
        series = "is_attacks_ctc"
    return float(weights.get(series, 0.5))


def run_uniforms(seed: int, runs: int) -> np.ndarray:
    """One uniform per run: run ``i`` takes the simulator's level where it is below the weight."""
    return np.random.default_rng(np.random.SeedSequence(seed, spawn_key=(2**31 + 9,))).random(runs)


def weekly_blend(sim: dict[str, np.ndarray], start: dt.date, base: np.ndarray, w: float,
                 seed: int, reference: str = REFERENCE) -> dict[str, np.ndarray]:
    """Blended weekly counts ``(runs, weeks)`` per scenario from the simulator's weekly
    national counts ``sim`` (the same runs in every scenario, the reference among them) and
    the baseline's monthly intensities ``base`` ``(runs_b, months)`` from the month of
    ``start``: a run below the weight keeps the simulator's weeks; the others get Poisson
    weeks around the baseline's level of the week's month (per day) times the run's paired
    multiplier of that month, scenario over reference."""
    ref = sim[reference]
    runs, weeks = ref.shape
    dates = pd.Timestamp(start) + pd.to_timedelta(7 * np.arange(weeks), unit="D")
    m = (dates.year - start.year) * 12 + dates.month - start.month
    m = np.asarray(m)
    nm = int(m.max()) + 1
    if base.shape[1] < nm:
        raise ValueError(f"baseline has {base.shape[1]} months, the bundle needs {nm}")

    def monthly(x: np.ndarray) -> np.ndarray:
        out = np.zeros((runs, nm))
        np.add.at(out.T, m, x.T)
        return out

    per_day = 7.0 / np.asarray(dates.days_in_month, float)
    level = base[np.arange(runs) % base.shape[0]][:, m] * per_day  # (runs, weeks)
    use_base = run_uniforms(seed, runs) >= w
    rng = np.random.default_rng(np.random.SeedSequence(seed, spawn_key=(2**31 + 11,)))
    den = monthly(ref)
    out = {}
    for sc, x in sim.items():
        mult = ((monthly(x) + 0.5) / (den + 0.5))[:, m]
        lam = np.minimum(level * mult, 1e7)
        b = rng.poisson(lam).astype(float)
        out[sc] = np.where(use_base[:, None], b, x)
    return out


QUANTILE_COLS = {"q05": 0.05, "q10": 0.1, "q25": 0.25, "q50": 0.5, "q75": 0.75, "q90": 0.9,
                 "q95": 0.95}


def bundle_levels(bundle: Any, scenarios: list[str], *, case: str = "iraq-2020",
                  seed: int | None = None) -> tuple[pd.DataFrame | None, str]:
    """Weekly national IS attacks of a results bundle with blended levels: quantile rows in
    the columns of ``Bundle.quantiles`` for ``scenarios`` (and a note), or ``None`` and the
    reason the simulator's levels stay (no run of the reference scenario to pair with, a
    start other than the case's forecast origin, no calibrated posterior)."""
    from resurgence.calibration.baseline import forecast_paths
    from resurgence.calibration.cases import get_case

    man = bundle.manifest
    c = get_case(case)
    start = dt.date.fromisoformat(str(man["start_date"])[:10])
    if REFERENCE not in man["scenarios"]:
        return None, (f"simulator level: this job has no run of {REFERENCE} to pair the "
                      "scenario effect with (compare against it for the blended level)")
    if start != c.until + dt.timedelta(days=1):
        return None, f"simulator level: the blend is fitted for forecasts from {c.until + dt.timedelta(days=1)}"
    if not man.get("posterior"):
        return None, "simulator level: the blend weights are for the calibrated posterior"
    seed = int(man["seed"]) if seed is None else seed
    names = [s for s in dict.fromkeys([*scenarios, REFERENCE]) if s in man["scenarios"]]
    q = bundle.query("SELECT scenario::VARCHAR AS scenario, run, week, is_attacks FROM series "
                     "WHERE region = ? AND scenario IN (SELECT unnest(?)) ORDER BY scenario, run, week",
                     [man["national_code"], names])
    runs, weeks = int(man["runs"]), int(man["weeks"])
    sim = {sc: g["is_attacks"].to_numpy(float).reshape(runs, weeks)
           for sc, g in q.groupby("scenario", sort=False)}
    last = pd.Timestamp(start) + pd.Timedelta(days=7 * (weeks - 1))
    months = (last.year - start.year) * 12 + last.month - start.month + 1
    base = forecast_paths(c.name, start, months, runs, seed)["is_attacks"]
    w = series_weight(packaged_weights(c.name)["weights"], "is_attacks")
    out = weekly_blend(sim, start, np.asarray(base), w, seed)
    dates = pd.Timestamp(start) + pd.to_timedelta(7 * np.arange(weeks), unit="D")
    rows = []
    for sc in scenarios:
        if sc not in out:
            continue
        qs = np.quantile(out[sc], list(QUANTILE_COLS.values()), axis=0)
        df = pd.DataFrame({"scenario": sc, "metric": "is_attacks", "week": np.arange(weeks),
                           "date": dates, "region": man["national_code"],
                           "mean": out[sc].mean(axis=0), "n": runs})
        for k, col in enumerate(QUANTILE_COLS):
            df[col] = qs[k]
        rows.append(df)
    note = (f"blended level: statistical baseline and simulator pooled (simulator share "
            f"{w:.2f}), scenario effects from the simulator's paired runs against {REFERENCE}")
    if not rows:
        return None, note
    df = pd.concat(rows, ignore_index=True)
    # first- and second-year totals per scenario (median and 80% interval across runs)
    df.attrs["years"] = {sc: {f"y{k + 1}": np.quantile(out[sc][:, 52 * k:52 * (k + 1)].sum(axis=1),
                                                        [0.1, 0.5, 0.9]).round(0).tolist()
                              for k in range(weeks // 52)}
                         for sc in scenarios if sc in out}
    return df, note


def _national(df: pd.DataFrame, runs: int, months: int, series: str) -> np.ndarray:
    sub = df[(df["region"] == "IQ") & (df["series"] == series)]
    out = np.zeros((runs, months))
    m = sub.groupby("period_start", observed=True).ngroup().to_numpy()
    out[sub["run"].to_numpy(), m] = sub["value"].to_numpy()
    return out


def blend(sim: pd.DataFrame, ref: pd.DataFrame | None, base: dict[str, np.ndarray],
          weights: dict[str, float], seed: int) -> pd.DataFrame:
    """Blended forecast in the contract of ``sim`` (same rows; levels replaced)."""
    runs, months = int(sim["run"].max()) + 1, sim["period_start"].nunique()
    u = run_uniforms(seed, runs)
    out = sim.copy()
    month_of = out.groupby("period_start", observed=True).ngroup().to_numpy()
    run = out["run"].to_numpy()
    val = out["value"].to_numpy(copy=True)
    for ser, truth in BLENDED.items():
        if ser not in base:
            continue
        use_base = u >= series_weight(weights, ser)
        num = sum(_national(sim, runs, months, t) for t in truth)
        den = num if ref is None else sum(_national(ref, runs, months, t) for t in truth)
        mult = (num + 0.5) / (den + 0.5)
        level = base[ser][np.arange(runs) % base[ser].shape[0]][:, :months] * mult
        sim_nat = _national(sim, runs, months, ser)
        factor = np.where(sim_nat > 0, level / np.maximum(sim_nat, 1e-12), 1.0)
        rows = (out["series"] == ser).to_numpy() & use_base[run]
        nat = rows & (out["region"] == "IQ").to_numpy()
        val[rows] = val[rows] * factor[run[rows], month_of[rows]]
        val[nat] = level[run[nat], month_of[nat]]
    out["value"] = val
    out.attrs.update(sim.attrs)
    out.attrs.update(method="blend", blend_weights=json.dumps(weights))
    return out
