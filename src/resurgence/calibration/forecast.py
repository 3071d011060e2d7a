"""Forecasts in the stable contract of DESIGN section 7.

One row per run, calendar month and region (``IQ`` = the nation): columns ``run,
period_start, period_end, region, series, value``. Observation-scale series
(``incidents``, ``is_attacks_ctc``, ``ged_sb_deaths``, ``ged_sb_events``) carry each
source's reporting noise, drawn from a separate per-run stream
``SeedSequence(seed, spawn_key=(run, 1))``; model-scale series (``is_attacks``,
``is_fighters``, ``militia_attacks_us``, ``iran_influence``) are the simulated truth.
Only data before ``start`` may inform a forecast: the posterior must have been fitted to
data ending before it, or the command refuses.

``method`` chooses the levels: ``blend`` (the default: :mod:`resurgence.calibration.blend`,
levels pooled from the baseline and the simulator by their backtest, scenario effects from
the simulator's paired contrasts), ``simulator`` (the calibrated simulation model alone) or
``baseline`` (the per-source statistical model of :mod:`resurgence.calibration.baseline`,
national rows of the observed series and ``is_attacks`` only, the same for every scenario).
The baseline sees only rows published before ``start``.
"""

from __future__ import annotations

import datetime as dt
from functools import partial
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from resurgence.calibration import drift, obsmodel
from resurgence.calibration.cases import case_observations, get_case
from resurgence.calibration.posterior import Posterior, shipped
from resurgence.core.atomic import atomic_output_path
from resurgence.core.errors import ArgumentError
from resurgence.core.rng import observation_uniforms
from resurgence.core.timegrid import period_weights
from resurgence.model.params import ParamSet
from resurgence.runs.ensemble import map_runs, resolve
from resurgence.scenario.schema import Scenario
from resurgence.theatre.theatre import load_theatre

SERIES = ("incidents", "is_attacks_ctc", "is_attacks", "is_fighters", "militia_attacks_us",
          "iran_influence", "ged_sb_deaths", "ged_sb_events")


def month_bounds(start: dt.date, months: int) -> tuple[np.ndarray, np.ndarray]:
    first = np.datetime64(start.replace(day=1), "M")
    ms = first + np.arange(months)
    s = ms.astype("datetime64[D]")
    e = (ms + 1).astype("datetime64[D]") - 1
    s[0] = np.datetime64(start, "D")  # a mid-month start covers the rest of that month
    return s, e


def _monthly(arrays, params: ParamSet, run_ids, *, weeks0: np.datetime64, ps, pe, pop, seed,
             windows=None):
    """Per chunk: (n, M, R+1, S) monthly values of every series (last region = national)."""
    n, W, R = arrays["is_attacks"].shape
    wk = weeks0 + 7 * np.arange(W)
    A = period_weights(wk, ps, pe)  # (W, M)
    Am = A / np.maximum(A.sum(axis=0, keepdims=True), 1e-12)
    M = len(ps)

    def flow(x):  # (n, W, R) -> (n, M, R)
        return np.einsum("nwr,wm->nmr", x.astype(np.float64), A)

    def stock(x):
        return np.einsum("nwr,wm->nmr", x.astype(np.float64), Am)

    isa, mil = flow(arrays["is_attacks"]), flow(arrays["militia_attacks_us"])
    fighters, infl = stock(arrays["is_fighters"]), stock(arrays["iran_influence"])
    months = ((pe - ps).astype(float) + 1) / obsmodel.DAYS_PER_MONTH
    u = observation_uniforms(seed, run_ids, (M, R + 2, 3))
    p = {k: v[:, None, None] for k, v in params.values.items()}
    ctc = obsmodel.draw(p["rate_ctc"] * isa, obsmodel.DISPERSION["ctc"], u[:, :, :R, 0])
    # (n, M) each drifting rate's reporting drift, continued (calibration.drift)
    path = drift.ratio_paths(params.values, ("rate_musings", "sb_deaths_per_attack",
                                             "sb_events_per_attack"),
                             run_ids, windows or {}, ps, pe, seed)
    ratio = path["rate_musings"][:, :, None]
    inc = obsmodel.draw(p["rate_musings"] * ratio * (isa + mil), obsmodel.DISPERSION["musings"],
                        u[:, :, :R, 1])
    nat_is = isa.sum(axis=2)
    pp = {k: v[:, None] for k, v in params.values.items()}
    deaths = obsmodel.draw(pp["sb_deaths_per_attack"] * path["sb_deaths_per_attack"] * nat_is
                           + pp["sb_deaths_background"] * months,
                           obsmodel.dispersion("ged_cm", "sb_deaths"), u[:, :, R, 2])
    events = obsmodel.draw(pp["sb_events_per_attack"] * path["sb_events_per_attack"] * nat_is
                           + pp["sb_events_background"] * months,
                           obsmodel.dispersion("ged_cm", "sb_events"), u[:, :, R + 1, 2])
    out = np.full((n, M, R + 1, len(SERIES)), np.nan)
    w = pop / pop.sum()
    for j, (reg, nat) in enumerate([
            (inc, inc.sum(axis=2)), (ctc, ctc.sum(axis=2)), (isa, isa.sum(axis=2)),
            (fighters, fighters.sum(axis=2)), (mil, mil.sum(axis=2)), (infl, infl @ w),
            (None, deaths), (None, events)]):
        if reg is not None:
            out[:, :, :R, j] = reg
        out[:, :, R, j] = nat
    return out


METHODS = ("blend", "simulator", "baseline")


def forecast(case: str = "iraq-2020", scenario: str | Path = "announced-2500", *,
             start: dt.date = dt.date(2020, 12, 1), months: int = 36, runs: int = 1000,
             seed: int = 7, posterior: Posterior | str | Path | None = None,
             workers: int = 1, chunk_size: int = 250, method: str = "blend") -> pd.DataFrame:
    """Monthly forecasts per run and region in the DESIGN section 7 contract, with levels
    from ``method``: ``blend`` (the default: the baseline and the simulator pooled by their
    backtest, scenario effects from the simulator's paired runs), ``simulator`` or
    ``baseline``."""
    if method not in METHODS:
        raise ArgumentError(f"field 'method' = {method!r}: expected one of {', '.join(METHODS)}")
    kw: dict[str, Any] = dict(start=start, months=months, runs=runs, seed=seed,
                              posterior=posterior, workers=workers, chunk_size=chunk_size)
    if method == "simulator":
        return simulate_forecast(case, scenario, **kw)
    from resurgence.calibration.baseline import forecast_paths
    from resurgence.calibration.blend import REFERENCE, blend, packaged_weights

    c = get_case(case)
    paths = forecast_paths(c.name, start, months, runs, seed)
    if method == "baseline":
        return baseline_frame(paths, start, months, c.name, seed)
    sim = simulate_forecast(case, scenario, **kw)
    ref = None
    if sim.attrs.get("scenario") != REFERENCE:
        ref = simulate_forecast(case, REFERENCE, **kw)
    w = packaged_weights(c.name)
    out = blend(sim, ref, paths, w["weights"], seed)
    out.attrs["blend_weights_source"] = str(w.get("source", ""))
    return out


def baseline_frame(paths: dict[str, np.ndarray], start: dt.date, months: int, case: str,
                   seed: int) -> pd.DataFrame:
    """The baseline's monthly paths as national rows of the forecast contract."""
    ps, pe = month_bounds(start, months)
    series = [s for s in SERIES if s in paths]
    runs = next(iter(paths.values())).shape[0]
    r, m, k = np.meshgrid(np.arange(runs), np.arange(months), np.arange(len(series)),
                          indexing="ij")
    vals = np.stack([paths[s][:, :months] for s in series], axis=-1)
    out = pd.DataFrame({
        "run": r.reshape(-1).astype(np.int32),
        "period_start": pd.to_datetime(ps[m.reshape(-1)]).date,
        "period_end": pd.to_datetime(pe[m.reshape(-1)]).date,
        "region": pd.Categorical(["IQ"] * r.size),
        "series": pd.Categorical.from_codes(k.reshape(-1), series),
        "value": vals.reshape(-1).astype(np.float64)})
    out.attrs.update(case=case, scenario="(any: the baseline has no scenario)",
                     start=start.isoformat(), months=months, runs=runs, seed=seed,
                     method="baseline")
    return out


def simulate_forecast(case: str = "iraq-2020", scenario: str | Path | Scenario = "announced-2500", *,
                      start: dt.date = dt.date(2020, 12, 1), months: int = 36, runs: int = 1000,
                      seed: int = 7, posterior: Posterior | str | Path | None = None,
                      workers: int = 1, chunk_size: int = 250) -> pd.DataFrame:
    """The simulator's monthly forecasts per run and region (DESIGN section 7 contract)."""
    c = get_case(case)
    post = (Posterior.load(posterior) if isinstance(posterior, str | Path) else posterior) or shipped(c.name)
    if post is None:
        raise ArgumentError(f"no posterior for case {c.name!r}: run `resurgence calibrate` first")
    if post.until >= start:
        raise ArgumentError(f"field 'start' = {start}: the posterior was fitted to data up to "
                         f"{post.until}; a forecast may only use data before its start "
                         f"(calibrate with --until {start - dt.timedelta(days=1)})")
    if not 1 <= months <= 240:
        raise ArgumentError(f"field 'months' = {months}: expected 1 to 240")
    ps, pe = month_bounds(start, months)
    weeks = -(-(int((pe[-1] - np.datetime64(start, 'D')).astype(int)) + 1) // 7)
    sc = resolve(scenario).model_copy(update={"start": start, "weeks": weeks})
    th = load_theatre(c.theatre)
    known = case_observations(c, post.until, published_before=post.until + dt.timedelta(days=1))
    fn = partial(_monthly, weeks0=np.datetime64(start, "D"), ps=ps, pe=pe, pop=th.population,
                 seed=seed, windows=drift.windows(known, start=post.start))
    params = post.paramset(np.arange(runs), overrides=sc.params or None)
    # runs start from each draw's filtered state on the origin where the posterior carries
    # one (no history to re-simulate), else they simulate the history from its start
    carried = post.carried(np.arange(runs))
    if carried is not None and start < carried.date:
        carried = None
    parts = map_runs(sc, params, np.arange(runs), seed, fn, theatre=c.theatre,
                     spinup=post.start, carried=carried, chunk_size=chunk_size, workers=workers)
    arr = np.concatenate(parts)  # (runs, M, R+1, S)
    regions = [*th.codes, th.national_code]
    idx = pd.MultiIndex.from_product([np.arange(runs), np.arange(months), np.arange(len(regions)),
                                      np.arange(len(SERIES))], names=["run", "m", "r", "s"])
    df = pd.DataFrame({"value": arr.reshape(-1)}, index=idx).reset_index()
    df = df[df["value"].notna()]
    out = pd.DataFrame({
        "run": df["run"].to_numpy(np.int32),
        "period_start": pd.to_datetime(ps[df["m"].to_numpy()]).date,
        "period_end": pd.to_datetime(pe[df["m"].to_numpy()]).date,
        "region": pd.Categorical.from_codes(df["r"].to_numpy(), regions),
        "series": pd.Categorical.from_codes(df["s"].to_numpy(), list(SERIES)),
        "value": df["value"].to_numpy(np.float64)})
    out.attrs.update(case=c.name, scenario=sc.name, start=start.isoformat(), months=months,
                     runs=runs, seed=seed, posterior_until=post.until.isoformat(),
                     method="simulator")
    return out.reset_index(drop=True)


def write_forecast(df: pd.DataFrame, path: str | Path) -> Path:
    path = Path(path)
    if path.suffix not in (".csv", ".parquet"):
        raise ArgumentError(f"field 'out' = {str(path)!r}: expected a file ending in .csv or .parquet")
    with atomic_output_path(path) as tmp:
        if path.suffix == ".csv":
            df.to_csv(tmp, index=False, float_format="%.6g")
        else:
            import pyarrow as pa
            import pyarrow.parquet as pq

            table = pa.Table.from_pandas(df, preserve_index=False)
            meta = {k.encode(): str(v).encode() for k, v in df.attrs.items()}
            table = table.replace_schema_metadata({**(table.schema.metadata or {}), **meta})
            pq.write_table(table, tmp, compression="zstd")
    return path
