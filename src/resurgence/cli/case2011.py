"""Figure and command line of the 2011 case (:mod:`resurgence.case2011`)."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import pandas as pd
import typer

from resurgence.analysis.case2011 import (
    DRAWS,
    FALLUJAH,
    GENERATIONS,
    MOSUL,
    RUNS,
    SEED,
    WORKERS,
    Case2011Result,
    run_case_2011,
)
from resurgence.core.atomic import atomic_output_path

# --- figure ---------------------------------------------------------------------------------------

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


def save_figure(fig, path: str | Path) -> Path:
    path = Path(path)
    with atomic_output_path(path) as tmp:
        fig.savefig(tmp, dpi=110, format=path.suffix.lstrip(".") or "png")
    return path


# --- command line ------------------------------------------------------------------------------

def case2011_cmd(
    draws: Annotated[int, typer.Option(help="Posterior draws (= ABC particles).")] = DRAWS,
    runs: Annotated[int, typer.Option("--runs", "-n", help="Forward runs (run i uses draw i mod D).")] = RUNS,
    seed: Annotated[int, typer.Option("--seed", "-s", help="Root random seed.")] = SEED,
    out: Annotated[Path, typer.Option("--out", "-o", help="Directory for case2011.csv, .json and .png.")] = Path("case2011"),
    workers: Annotated[int, typer.Option("--workers", "-w", help="Local worker processes.")] = WORKERS,
    generations: Annotated[int, typer.Option(help="Maximum ABC-SMC generations.")] = GENERATIONS,
) -> None:
    """The 2011 case: fit to 2009-10, run on from the US withdrawal (18 Dec 2011) and compare
    with the 2012-14 escalation and the fall of Mosul (a qualitative test of C7)."""
    from rich.table import Table

    from resurgence.cli.app import console

    def show(g):
        console.print(f"generation {g.index}: tolerance {g.epsilon:.3f}, {g.simulations} "
                      f"simulations, move acceptance {g.acceptance:.2f} ({g.seconds:.1f} s)")

    res = run_case_2011(draws=draws, runs=runs, seed=seed, workers=workers,
                        generations=generations, progress=show)
    paths = res.save(out)
    t = Table(title=f"iraq-2011: fitted to IBC 2009-10, {runs} runs from 18 Dec 2011 "
              f"(seed {seed}, {draws} draws)")
    for c in ("outcome", "observed", "model median [80%]", "obs. quantile"):
        t.add_column(c, justify="left" if c == "outcome" else "right")
    for _, r in res.deaths.iterrows():
        t.add_row(f"IBC deaths {r['year']} ({r['role']})", f"{r['observed']:,.0f}",
                  f"{r['median']:,.0f} [{r['p10']:,.0f}-{r['p90']:,.0f}]", f"{r['observed_quantile']:.2f}")
    for _, r in res.incidents.iterrows():
        t.add_row(f"Musings incidents/day {r['period']}", f"{r['observed_per_day']:.1f}",
                  f"{r['median_per_day']:.1f} [{r['p10_per_day']:.1f}-{r['p90_per_day']:.1f}]",
                  f"{r['observed_quantile']:.2f}")
    for _, r in res.ground.iterrows():
        t.add_row(f"P(IS has held ground by {r['date']})", "",
                  f"{r['probability']:.2f} ({r['probability_given_no_ground_before']:.2f}*)", "")
    f = res.first_hold
    t.add_row("first week IS holds ground", f"{FALLUJAH} / {MOSUL}",
              f"{f['median'] or 'after horizon'} [{f['p10'] or '-'} to {f['p90'] or 'after 2014'}]", "")
    for _, r in res.collapse.iterrows():
        t.add_row(f"P(collapse {r['region']} by {r['date']})", "", f"{r['probability']:.2f}", "")
    console.print(t)
    console.print("* among runs in which IS held no ground before the withdrawal (as in reality).")
    console.print(res.text().split("\n")[-1])
    console.print(f"written: {', '.join(str(p) for p in paths.values())} ({res.wall_time_s:.0f} s)")
