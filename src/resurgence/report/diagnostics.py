"""Diagnostic figures: the fit to history, the backtest and the Sobol' indices."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
import pandas as pd  # noqa: E402

from resurgence.analysis.sensitivity import BASE_SCENARIO, OUTPUTS, top_factors  # noqa: E402
from resurgence.core.atomic import atomic_output_path  # noqa: E402

if TYPE_CHECKING:  # the backtest stack (statsmodels) is not loaded to draw other figures
    from resurgence.calibration.backtest import BacktestResult


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


def backtest_figure(res: BacktestResult, path) -> None:
    """CRPS by horizon for each method, and interval coverage of the model."""
    s = res.scores
    series = [x for x in ("ged_sb_deaths", "ged_sb_events") if x in set(s["series"])]
    fig, axes = plt.subplots(1, len(series) + 1, figsize=(4.2 * (len(series) + 1), 3.6),
                             constrained_layout=True)
    colours = {"resurgence": "#0072B2", "no-change": "#E69F00", "log-linear trend": "#009E73",
               "seasonal climatology": "#CC79A7"}
    for ax, ser in zip(axes, series, strict=False):
        sub = s[s["series"] == ser]
        for m, g in sub.groupby("method"):
            h = g.groupby("horizon")["crps"].mean()
            ax.plot(h.index, h.values, marker="o", ms=3, label=m, color=colours.get(m))
        ax.set_title(f"{ser}: mean CRPS", fontsize=10)
        ax.set_xlabel("horizon (months ahead)")
        ax.set_ylabel("CRPS (count units; lower is better)")
        ax.legend(fontsize=7)
    ax = axes[-1]
    model = s[s["method"] == ("blend" if "blend" in set(s["method"]) else "baseline")]
    lv = [50, 80, 90]
    cov = [model[f"in{v}"].mean() for v in lv]
    ax.bar([str(v) for v in lv], cov, color="#0072B2", label="observed coverage")
    ax.plot([str(v) for v in lv], [v / 100 for v in lv], "k_", ms=30, mew=2, label="nominal")
    ax.set_ylim(0, 1)
    ax.set_xlabel("central interval (%)")
    ax.set_ylabel("share of targets inside")
    ax.set_title(f"{model['method'].iat[0] if len(model) else ''} interval coverage (all targets)", fontsize=10)
    ax.legend(fontsize=7)
    with atomic_output_path(path) as tmp:
        fig.savefig(tmp, dpi=110, format="png")
    plt.close(fig)


def sobol_figure(df: pd.DataFrame, path: str | Path, k: int = 15) -> Path:
    """Horizontal bars of ST and S1 (with confidence intervals) of the top ``k`` factors
    per output; written atomically."""
    path = Path(path)
    outs = [o for o in OUTPUTS if o in set(df["output"])]
    cols = min(2, len(outs))
    rows = -(-len(outs) // cols)
    fig, axes = plt.subplots(rows, cols, figsize=(6.5 * cols, 1.2 + (0.9 + 0.3 * k) * rows),
                             squeeze=False, layout="constrained")
    top = top_factors(df, k)
    err = {"elinewidth": 0.8, "ecolor": "#333333"}
    for ax, out in zip(axes.flat, outs, strict=False):
        t = top[top["output"] == out].iloc[::-1]
        y = np.arange(len(t))
        labels = [f"{f} (lever)" if kd == "lever" else f
                  for f, kd in zip(t["factor"], t["kind"], strict=True)]
        ax.barh(y + 0.2, t["ST"], 0.4, xerr=t["ST_conf"], color="#0072B2", label="total (ST)",
                error_kw=err)
        ax.barh(y - 0.2, t["S1"], 0.4, xerr=t["S1_conf"], color="#E69F00",
                label="first order (S1)", error_kw=err)
        ax.set_yticks(y, labels, fontsize=8)
        ax.set_xlabel("Sobol' index (share of output variance)")
        ax.set_ylabel("factor")
        ax.set_title(OUTPUTS[out], fontsize=10)
        ax.axvline(0, color="black", lw=0.6)
        ax.legend(fontsize=8, loc="lower right")
    for ax in axes.flat[len(outs):]:
        ax.set_visible(False)
    a = df.attrs
    fig.suptitle(f"Sobol' indices, {BASE_SCENARIO} from 2020-12-01: N={a.get('n')}, "
                 f"{a.get('runs')} runs, seed {a.get('seed')}; top {k} factors by ST, "
                 "whiskers: 95% bootstrap intervals", fontsize=10)
    with atomic_output_path(path) as tmp:
        fig.savefig(tmp, dpi=110, format=path.suffix.lstrip(".") or "png")
    plt.close(fig)
    return path
