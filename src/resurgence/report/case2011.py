"""Figure of the 2011 case (:mod:`resurgence.analysis.case2011`)."""

from __future__ import annotations

from pathlib import Path

import pandas as pd

from resurgence.analysis.case2011 import FALLUJAH, MOSUL, Case2011Result
from resurgence.core.atomic import atomic_output_path


def make_figure(res: Case2011Result):
    """Predicted vs observed yearly IBC deaths, and the cumulative probability that IS has
    come to hold ground (and that some region's forces have collapsed) since the withdrawal."""
    import matplotlib

    matplotlib.use("Agg")
    from matplotlib.figure import Figure

    fig = Figure(figsize=(9, 8), layout="constrained")
    ax1, ax2 = fig.subplots(2, 1)
    d = res.deaths
    colours = {"fitted": "#2171b5", "forecast": "#cb181d"}
    for _, r in d.iterrows():
        c = colours.get(r["role"], "#737373")
        ax1.plot([r["year"], r["year"]], [r["p10"], r["p90"]], color=c, lw=6, alpha=0.35,
                 solid_capstyle="butt")
        ax1.plot(r["year"], r["median"], "_", color=c, ms=18, mew=2)
    ax1.plot(d["year"], d["observed"], "o", color="black", ms=6, label="observed (Iraq Body Count)")
    for role, c in (("fitted", colours["fitted"]), ("forecast", colours["forecast"]),
                    ("not used (straddles the cut-off)", "#737373")):
        if (d["role"] == role).any():
            ax1.plot([], [], color=c, lw=6, alpha=0.35, label=f"model 80% and median: {role}")
    ax1.axvline(2011.96, color="k", ls=":", lw=1)
    ax1.text(2011.99, 0.97, "US withdrawal\n18 Dec 2011", fontsize=8, va="top",
             transform=ax1.get_xaxis_transform())
    ax1.set_yscale("log")
    ax1.set_xticks(list(d["year"]))
    ax1.set_ylabel("civilian deaths per year")
    ax1.set_title("Civilian deaths: model (fitted to 2009-10 only) vs Iraq Body Count", fontsize=10)
    ax1.legend(fontsize=7, loc="upper left")
    cv = res.curve
    x = pd.to_datetime(cv["week_start"])
    ax2.plot(x, cv["p_held_by"], color="#cb181d", lw=2, label="IS has held ground (by date)")
    ax2.plot(x, cv["p_holding"], color="#cb181d", lw=1, ls="--", label="IS holds ground (that week)")
    ax2.plot(x, cv["p_collapse_any_by"], color="#6a51a3", lw=1.5, label="forces collapsed in some governorate (by date)")
    ax2.plot(x, cv["p_collapse_nineveh_by"], color="#6a51a3", lw=1, ls=":", label="... in Nineveh (by date)")
    for day, lab in ((FALLUJAH, "Fallujah falls"), (MOSUL, "Mosul falls")):
        ax2.axvline(pd.Timestamp(day), color="k", ls=":", lw=1)
        ax2.text(pd.Timestamp(day), 1.02, lab, fontsize=8, ha="center")
    ax2.set_ylim(0, 1.08)
    ax2.set_ylabel("probability across runs")
    ax2.set_title("After the withdrawal: does IS come to hold ground, and when?", fontsize=10)
    ax2.legend(fontsize=7, loc="upper left")
    return fig


def save_figure(res: Case2011Result, path: str | Path) -> Path:
    """Draw the figure of ``res`` and write it atomically to ``path``."""
    path = Path(path)
    fig = make_figure(res)
    with atomic_output_path(path) as tmp:
        fig.savefig(tmp, dpi=110, format=path.suffix.lstrip(".") or "png")
    return path
