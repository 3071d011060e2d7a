"""CLI command for global sensitivity analysis (registered on the main app in cli.py)."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer
from rich.table import Table

from resurgence.core.atomic import atomic_write_text
from resurgence.core.errors import ArgumentError


def sensitivity_cmd(
    n: Annotated[int, typer.Option("--n", "-n", help="Saltelli base sample size N (a power of 2); "
                                   "runs = N x (factors + 2).")] = 128,
    seed: Annotated[int, typer.Option("--seed", "-s", help="Root seed: Sobol' scrambling, runs and bootstrap.")] = 1,
    out: Annotated[Path, typer.Option("--out", "-o", help="Directory for indices.csv and sobol.png.")] = Path("sensitivity"),
    workers: Annotated[int, typer.Option("--workers", "-w", help="Local worker processes.")] = 1,
    group: Annotated[list[str] | None, typer.Option("--group", "-g", help="Only the uncertain parameters of this "
                     "module ('levers' for the policy levers); repeatable. Default: all parameters and levers.")] = None,
    posterior: Annotated[str, typer.Option("--posterior", help="'none' (priors around the versioned defaults, runs "
                         "from 2020-12-01), 'shipped' or a posterior file (calibrated parameters from its "
                         "marginals; runs spin up from its start).")] = "none",
    top: Annotated[int, typer.Option(help="Factors shown per outcome in the table (the figure shows 15).")] = 10,
    chunk_size: Annotated[int, typer.Option("--chunk-size", help="Runs per work unit (results do not depend on it).")] = 500,
) -> None:
    """Sobol' first- and total-order indices of IS attacks (2021-H2), IS holding ground,
    Iranian influence and militia attacks on US sites to the uncertain parameters and the
    policy levers (multipliers from 2021-01-15 on announced-2500)."""
    from resurgence.analysis.sensitivity import (
        OUTPUTS,
        design_runs,
        sobol_indices,
        top_factors,
    )
    from resurgence.calibration.posterior import resolve_posterior
    from resurgence.cli.console import console, progress_bar
    from resurgence.report.diagnostics import sobol_figure

    if top < 1:
        raise ArgumentError(f"option '--top' = {top}: expected at least 1")
    if chunk_size < 1:
        raise ArgumentError(f"option '--chunk-size' = {chunk_size}: expected at least 1")
    runs = design_runs(n, group or None)
    post = resolve_posterior(posterior)
    with progress_bar() as prog:
        task = prog.add_task(f"sensitivity N={n}", total=runs)
        df = sobol_indices(n, seed, groups=group or None, workers=workers, chunk_size=chunk_size,
                           posterior=post, progress=lambda k: prog.advance(task, k))
    out.mkdir(parents=True, exist_ok=True)
    atomic_write_text(out / "indices.csv", df.to_csv(index=False, float_format="%.6g"))
    sobol_figure(df, out / "sobol.png", k=15)
    basis = f"posterior {post.case}" if post else "priors around the defaults"
    table = Table(title=f"Sobol' indices: N={n}, {runs} runs, {df.attrs['factors']} factors, "
                  f"seed {seed}, {basis}")
    for col in ("outcome", "factor", "kind", "ST", "S1"):
        table.add_column(col, justify="right" if col in ("ST", "S1") else "left", no_wrap=True)
    best = top_factors(df, top)
    for o in OUTPUTS:
        sel = best[best["output"] == o]
        if sel["ST"].isna().all():
            table.add_row(o, "(no variance across runs: indices undefined)", "", "", "",
                          end_section=True)
            continue
        for i, r in enumerate(sel.itertuples()):
            table.add_row(o if i == 0 else "", r.factor, r.kind, f"{r.ST:.2f} ± {r.ST_conf:.2f}",
                          f"{r.S1:.2f} ± {r.S1_conf:.2f}", end_section=i == len(sel) - 1)
    console.print(table)
    console.print("ST: total index (share of variance involving the factor); S1: first order; "
                  "± 95% bootstrap half-width. Runs of one Saltelli block share their random "
                  "stream, so noise is a factor of its own (inert factors get exactly 0). "
                  f"Files: [bold]{out / 'indices.csv'}[/], [bold]{out / 'sobol.png'}[/]")
