"""CLI commands for the brief and the claims (registered on the main app in cli.py)."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Any

import typer
from rich.markup import escape
from rich.table import Table

from resurgence.core.errors import ArgumentError


def _consoles():
    from resurgence.cli.console import console, err

    return console, err


def progress_bar():
    from resurgence.cli.console import progress_bar as bar

    return bar()



def brief_cmd(
    case: Annotated[str, typer.Option(help="Case to brief on.")] = "iraq-2020",
    runs: Annotated[int, typer.Option("--runs", "-n", help="Paired runs per scenario.")] = 300,
    seed: Annotated[int, typer.Option("--seed", "-s", help="Root random seed.")] = 1,
    out: Annotated[Path, typer.Option("--out", "-o", help="Output directory (brief, figures, bundle).")] = Path("brief"),
    fmt: Annotated[str, typer.Option("--format", help="Comma-separated: html, pdf.")] = "html,pdf",
    workers: Annotated[int, typer.Option("--workers", "-w", help="Local worker processes.")] = 1,
    posterior: Annotated[str, typer.Option(help="'shipped', 'none' or a posterior file.")] = "shipped",
    sensitivity: Annotated[int, typer.Option(help="Sobol base sample size for the lever sensitivity (power of 2; 0 = skip).")] = 128,
) -> None:
    """The main job: run the shipped scenarios on the shipped posterior with common random
    numbers, check the source's claims, and write the analytic brief (HTML and PDF)."""
    from resurgence.analysis.brief import compute_brief
    from resurgence.analysis.claims import scenarios_needed
    from resurgence.report.render import figures, pathway_table, render_html, render_pdf

    formats = {f.strip() for f in fmt.split(",") if f.strip()}
    bad = formats - {"html", "pdf"}
    if bad or not formats:
        raise ArgumentError(f"option '--format' = {fmt!r}: expected html, pdf or both")
    if runs < 10:
        raise ArgumentError(f"option '--runs' = {runs}: the brief needs at least 10 runs")
    console, err = _consoles()
    from resurgence.analysis.brief import ENABLERS, SHIPPED

    n_sc = len(set(SHIPPED) | set(scenarios_needed()) | set(ENABLERS.values()))
    with progress_bar() as prog:
        task = prog.add_task(f"simulating {n_sc} scenarios", total=n_sc * runs)
        stage_task = None

        def stage(msg: str) -> None:
            nonlocal stage_task
            if stage_task is not None:
                prog.update(stage_task, completed=1)
            stage_task = prog.add_task(msg, total=1) if msg else None

        data = compute_brief(case, runs=runs, seed=seed, out=out, workers=workers,
                             posterior=posterior, sensitivity_n=sensitivity, progress=lambda k: prog.advance(task, k),
                             stage=lambda s: stage(s) if not s.startswith("simulating") else None)
        stage("figures and documents")
        figures(data, out / "figures")
        written = []
        if "html" in formats:
            written.append(render_html(data, out))
        if "pdf" in formats:
            written.append(render_pdf(data, out))
        stage("")
    t = Table(title="How could the US drawdown in Iraq aid IS and Iran? Effects against the "
              "announced plan (median [80% interval], paired runs; probabilities: differences "
              "in percentage points)")
    pt = pathway_table(data)
    for c in pt.columns:
        t.add_column(escape(str(c)), overflow="fold")
    for row in pt.itertuples(index=False):
        t.add_row(*(escape(str(v)) for v in row))
    console.print(t)
    from resurgence.report.content import bottom_line, verdict_headline

    console.print(escape(f"Bottom line: {bottom_line(data)}"))
    console.print(escape(f"claims: {verdict_headline(data)} (`resurgence claims` for the table)"))
    for p in written:
        console.print(f"brief: [bold]{escape(str(p))}[/]")
    console.print(f"results bundle: {escape(str(data.bundle))}; figures: {escape(str(out / 'figures'))} "
                  f"({data.meta['wall_time_s']} s)")


def claims_cmd(
    runs: Annotated[int, typer.Option("--runs", "-n", help="Paired runs per scenario.")] = 200,
    seed: Annotated[int, typer.Option("--seed", "-s", help="Root random seed.")] = 1,
    workers: Annotated[int, typer.Option("--workers", "-w", help="Local worker processes.")] = 1,
    posterior: Annotated[str, typer.Option(help="'shipped', 'none' or a posterior file.")] = "shipped",
    case2011: Annotated[Path | None, typer.Option(
        "--case2011", help="A saved 2011 case (case2011.json of `resurgence case2011 --out DIR`, "
        "or DIR): tests C7 out of sample.")] = None,
    oat_runs: Annotated[int, typer.Option(
        "--oat-runs", help="Runs per setting of a one-at-a-time check of the fixed drivers "
        "(0 = skip). A fixed driver found not to move its check no longer counts as fixed.")] = 0,
    as_json: Annotated[bool, typer.Option("--json", help="Print the verdicts as JSON.")] = False,
) -> None:
    """Run the executable check of every claim of the source (C1-C26). Each verdict says how
    it was reached (tested out of sample / consistent with the fit / model-implied /
    definition) and what came out (as claimed, as built, held, failed, uncertain,
    contradicted), with the effect, its 80% interval and unit, the parameters that drive it
    and how much the data narrowed them."""
    import json

    from resurgence.analysis.brief import all_scenarios
    from resurgence.analysis.claim_oat import oat_map, one_at_a_time
    from resurgence.analysis.claims import (
        CATEGORIES,
        case2011_evidence,
        evaluate,
        headline_counts,
        learning_ratios,
        run_params,
    )
    from resurgence.calibration.cases import get_case
    from resurgence.calibration.posterior import full_specs, resolve_posterior
    from resurgence.report.content import claims_table, verdict_headline
    from resurgence.runs.ensemble import run_ensemble

    if runs < 10:
        raise ArgumentError(f"field 'runs' = {runs}: the claims need at least 10 runs")
    if oat_runs < 0:
        raise ArgumentError(f"field 'oat_runs' = {oat_runs}: expected 0 (skip) or more")
    oos: dict[str, Any] = {}
    if case2011 is not None:
        path = case2011 / "case2011.json" if case2011.is_dir() else case2011
        try:
            doc = json.loads(path.read_text())
        except ValueError:
            raise ArgumentError(f"field 'case2011' = '{path}': not JSON") from None
        oos = case2011_evidence(doc)
    console, err = _consoles()
    post = resolve_posterior(posterior)
    scs = all_scenarios()
    with progress_bar() as prog:
        task = prog.add_task(f"simulating {len(scs)} scenarios", total=len(scs) * runs)
        res = run_ensemble(scs, runs, seed, posterior=post, workers=workers,
                           progress=lambda k: prog.advance(task, k))
        oat = None
        if oat_runs:
            oat_task = prog.add_task("one-at-a-time check of the fixed drivers", total=None)
            oat = oat_map(one_at_a_time(runs=oat_runs, seed=seed, posterior=post,
                                        workers=workers))
            prog.update(oat_task, total=1, completed=1)
    learning = (learning_ratios(post, {p.name: p for p in full_specs()},
                                get_case(post.case).prior_overrides) if post else {})
    df = evaluate(res.outcomes, learning, run_params(post, runs), oos, oat)
    if as_json:
        print(json.dumps({"runs": runs, "seed": seed, "oat_runs": oat_runs,
                          "headline": verdict_headline(df),
                          "counts": headline_counts(df), "claims": json.loads(
                              df.to_json(orient="records"))}, indent=1))
        return
    t = Table(title=f"claims of the source, checked ({runs} paired runs, seed {seed})")
    for c in ("id", "check", "result: median [80% interval], unit", "share of paired runs as "
              "expected", "verdict (category: finding)", "how it was reached"):
        t.add_column(c, overflow="fold")
    colour = {"as claimed": "green", "held": "green", "as built": "cyan",
              "by definition": "default", "uncertain": "yellow", "contradicted": "red",
              "failed": "red"}
    for r, f in zip(claims_table(df).itertuples(index=False), df["finding"], strict=True):
        t.add_row(r[0], escape(r[2]), escape(r[3]), r[4],
                  f"[{colour.get(f, 'default')}]{escape(r[5])}[/]", escape(r[6]))
    console.print(t)
    console.print(escape(verdict_headline(df)))
    for k, v in CATEGORIES.items():
        console.print(escape(f"{k}: {v}."))
