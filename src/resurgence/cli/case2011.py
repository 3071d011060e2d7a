"""Command line of the 2011 case (:mod:`resurgence.analysis.case2011`)."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from resurgence.analysis.case2011 import (
    DRAWS,
    FALLUJAH,
    GENERATIONS,
    MOSUL,
    RUNS,
    SEED,
    WORKERS,
    run_case_2011,
)
from resurgence.report.case2011 import save_figure

# --- command line ------------------------------------------------------------------------------

def case2011_cmd(
    draws: Annotated[int, typer.Option(help="Posterior draws (= ABC particles).")] = DRAWS,
    runs: Annotated[int, typer.Option("--runs", "-n", help="Forward runs (run i uses draw i mod D).")] = RUNS,
    seed: Annotated[int, typer.Option("--seed", "-s", help="Root random seed.")] = SEED,
    out: Annotated[Path, typer.Option("--out", "-o", help="Directory for case2011.csv, .json and .png.")] = Path("case2011"),
    workers: Annotated[int, typer.Option("--workers", "-w", help="Local worker processes.")] = WORKERS,
    generations: Annotated[int, typer.Option(help="Maximum ABC-SMC generations.")] = GENERATIONS,
    drivers: Annotated[str, typer.Option(help="ex-ante: levers after the withdrawal held at their "
                                         "values on the day (the posture as announced); "
                                         "conditional: levers follow what happened.")] = "ex-ante",
) -> None:
    """The 2011 case: fit to 2009-10, run on from the US withdrawal (18 Dec 2011) and compare
    with the 2012-14 escalation and the fall of Mosul (a qualitative test of C7)."""
    from rich.table import Table

    from resurgence.cli.console import console

    def show(g):
        console.print(f"generation {g.index}: tolerance {g.epsilon:.3f}, {g.simulations} "
                      f"simulations, move acceptance {g.acceptance:.2f} ({g.seconds:.1f} s)")

    # a live status line, so that the stretches between generations (and the forward runs
    # after the fit) are never silent
    with console.status("the 2011 case: fitting to 2009-10 (ABC-SMC), then running on from "
                        "18 Dec 2011 …"):
        res = run_case_2011(draws=draws, runs=runs, seed=seed, workers=workers,
                            generations=generations, drivers=drivers, progress=show)
    paths = res.save(out)
    paths["png"] = save_figure(res, Path(out) / "case2011.png")
    t = Table(title=f"iraq-2011: fitted to IBC 2009-10, {runs} runs from 18 Dec 2011, {drivers} "
              f"(seed {seed}, {draws} draws)")
    for c in ("outcome", "observed", "model median [80%]", "obs. quantile", "CRPS"):
        t.add_column(c, justify="left" if c == "outcome" else "right")
    for _, r in res.deaths.iterrows():
        t.add_row(f"IBC deaths {r['year']} ({r['role']})", f"{r['observed']:,.0f}",
                  f"{r['median']:,.0f} [{r['p10']:,.0f}-{r['p90']:,.0f}]", f"{r['observed_quantile']:.2f}",
                  f"{r['crps']:,.0f}")
    for _, r in res.incidents.iterrows():
        t.add_row(f"Musings incidents/day {r['period']}", f"{r['observed_per_day']:.1f}",
                  f"{r['median_per_day']:.1f} [{r['p10_per_day']:.1f}-{r['p90_per_day']:.1f}]",
                  f"{r['observed_quantile']:.2f}", f"{r['crps']:.2f}")
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
