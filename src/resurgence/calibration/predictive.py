"""Posterior predictive checks: the fit of a posterior to every observation series."""

from __future__ import annotations

from functools import partial

import numpy as np
import pandas as pd

from resurgence.calibration import obsmodel
from resurgence.calibration.cases import get_case
from resurgence.calibration.inference import history_runs, history_setup
from resurgence.calibration.posterior import Posterior
from resurgence.core.rng import observation_uniforms

LEVELS = (0.5, 0.8, 0.9)


def _predict(arrays, params, run_ids, *, design, seed):
    mu = obsmodel.expected(design, arrays, params.values)
    u = observation_uniforms(seed, run_ids, mu.shape[1:])
    return obsmodel.draw(mu, design.dispersion[None, :], u)


def predictive(post: Posterior, *, runs: int | None = None, seed: int = 11,
               workers: int = 1) -> tuple[pd.DataFrame, np.ndarray]:
    """Posterior predictive draws of every observation row: (rows table, draws (runs, K))."""
    case = get_case(post.case)
    sc, design = history_setup(case, post.until)
    runs = runs or post.size
    fn = partial(_predict, design=design, seed=seed)
    parts = history_runs(sc, post.paramset(np.arange(runs)), np.arange(runs), seed, fn,
                         theatre=case.theatre, workers=workers)
    return design.rows, np.concatenate(parts)


def coverage_table(rows: pd.DataFrame, draws: np.ndarray) -> pd.DataFrame:
    """Share of observations inside the central 50/80/90% predictive intervals, by group."""
    y = rows["value"].to_numpy(float)
    recs = []
    for lv in LEVELS:
        lo, hi = np.quantile(draws, [(1 - lv) / 2, (1 + lv) / 2], axis=0)
        rows[f"in{int(lv * 100)}"] = (y >= lo) & (y <= hi)
    for g, sub in rows.groupby("group", sort=True):
        rec = {"series": g, "observations": len(sub)}
        for lv in LEVELS:
            rec[f"cover{int(lv * 100)}"] = float(sub[f"in{int(lv * 100)}"].mean())
        rec["median_abs_log_err"] = float(np.median(np.abs(
            np.log1p(sub["value"]) - np.log1p(np.median(draws[:, sub.index], axis=0)))))
        recs.append(rec)
    return pd.DataFrame(recs)
