"""Posterior predictive checks: the fit of a posterior to every observation series."""

from __future__ import annotations

from functools import partial
from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
import pandas as pd  # noqa: E402

from resurgence.calibration import obsmodel  # noqa: E402
from resurgence.calibration.cases import get_case  # noqa: E402
from resurgence.calibration.inference import history_setup  # noqa: E402
from resurgence.calibration.posterior import Posterior  # noqa: E402
from resurgence.core.atomic import atomic_output_path  # noqa: E402
from resurgence.model.sim import observation_uniforms  # noqa: E402
from resurgence.run.ensemble import map_runs  # noqa: E402

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
    parts = map_runs(sc, post.paramset(np.arange(runs)), np.arange(runs), seed, fn,
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


def fit_figure(rows: pd.DataFrame, draws: np.ndarray, path: str | Path) -> Path:
    panels = [("ged_cm", "sb_deaths", "UCDP state-based deaths per month (national)"),
              ("ctc", "is_attacks", "CTC Sentinel IS attacks per week (period mean)"),
              ("musings", "incidents", "Musings on Iraq incidents per week (national)")]
    fig, axes = plt.subplots(len(panels), 1, figsize=(9, 9), constrained_layout=True)
    for ax, (src, met, title) in zip(axes, panels, strict=True):
        sel = rows[(rows["source"] == src) & (rows["metric"] == met) & (rows["region"] == "IQ")]
        if sel.empty:
            ax.set_visible(False)
            continue
        days = (sel["period_end"] - sel["period_start"]).dt.days.to_numpy() + 1
        scale = 7.0 / days if src != "ged_cm" else np.ones(len(sel))
        mid = sel["period_start"] + (sel["period_end"] - sel["period_start"]) / 2
        d = draws[:, sel.index] * scale
        q = np.quantile(d, [0.05, 0.1, 0.5, 0.9, 0.95], axis=0)
        order = np.argsort(mid.to_numpy())
        x = mid.to_numpy()[order]
        ax.fill_between(x, q[0][order], q[4][order], color="#9ecae1", label="90% predictive")
        ax.fill_between(x, q[1][order], q[3][order], color="#4292c6", label="80% predictive")
        ax.plot(x, q[2][order], color="#08306b", lw=1, label="median")
        ax.plot(x, (sel["value"].to_numpy() * scale)[order], "o", color="#d95f02", ms=3,
                label="observed")
        ax.set_title(title, fontsize=10)
        ax.set_ylabel("count")
        ax.legend(fontsize=7, loc="upper right")
    axes[-1].set_xlabel("date")
    path = Path(path)
    with atomic_output_path(path) as tmp:
        fig.savefig(tmp, dpi=110, format=path.suffix.lstrip(".") or "png")
    plt.close(fig)
    return path
