"""The ``resurgence`` command line."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Annotated, Any

import typer
from rich.markup import escape
from rich.table import Table

from resurgence.cli.console import console, err, progress_bar, user_errors
from resurgence.cli.lazy import LazyGroup, lazy_command
from resurgence.core.errors import ArgumentError
from resurgence.core.version import __version__

# Start-up: NumPy, pandas, Numba, DuckDB and the model are imported by the commands that need
# them, not here (`resurgence --help` and `scenarios list` import none of them).

app = typer.Typer(help="resurgence: how a foreign-troop drawdown changes an insurgency and a "
                  "rival power's influence (Iraq, 2020).", no_args_is_help=True,
                  add_completion=False, pretty_exceptions_enable=False, cls=LazyGroup)
scen_app = typer.Typer(help="List and show scenarios.", no_args_is_help=True)
model_app = typer.Typer(help="Inspect the model: step plan and parameters.", no_args_is_help=True)
app.add_typer(scen_app, name="scenarios", rich_help_panel="Scenarios")
app.add_typer(model_app, name="model", rich_help_panel="Inspect")
bundle_app = typer.Typer(help="Check results bundles.", no_args_is_help=True)
app.add_typer(bundle_app, name="bundle", rich_help_panel="Inspect")


def _version(value: bool) -> None:
    if value:
        from resurgence.model.params import DEFAULTS_VERSION

        print(f"resurgence {__version__} (default parameters {DEFAULTS_VERSION})")
        raise typer.Exit()


@app.callback()
def _main(version: Annotated[bool, typer.Option("--version", callback=_version, is_eager=True,
                                                help="Print the version and exit.")] = False) -> None:
    """resurgence: how a foreign-troop drawdown changes an insurgency and a rival power's
    influence (Iraq, 2020)."""


Runs = Annotated[int, typer.Option("--runs", "-n", help="Monte Carlo runs per scenario.")]
Seed = Annotated[int, typer.Option("--seed", "-s", help="Root random seed.")]
Workers = Annotated[int, typer.Option("--workers", "-w", help="Local worker processes.")]
Weeks = Annotated[int | None, typer.Option("--weeks", help="Override the scenario horizon (weeks).")]
Chunk = Annotated[int, typer.Option("--chunk-size", help="Runs per work unit (results do not depend on it).")]
Backend = Annotated[str, typer.Option("--backend", help="'local' (process pool) or 'ray' (scale-out; "
                                      "pip install 'resurgence\\[ray]'; RAY_ADDRESS selects a cluster).")]
Post = Annotated[str, typer.Option("--posterior", help="'shipped' (calibrated iraq-2020 draws; runs start "
                                   "from each draw's filtered state on 2020-12-01), 'none' (versioned defaults from the scenario start) or a posterior file.")]
Metrics = Annotated[str, typer.Option("--metrics", help="Metrics written to the bundle: 'default' (17 that the "
                                      "brief, the web app and docs/results.md read), 'all' (30) or a comma-separated "
                                      "list (`resurgence model metrics`).")]
Overwrite = Annotated[bool, typer.Option(help="Replace an existing results bundle (never any other directory).")]


@app.command(rich_help_panel="Scenarios")
@user_errors
def run(scenario: Annotated[str, typer.Argument(help="Shipped scenario name or path to a TOML file.")],
        out: Annotated[Path | None, typer.Option(
            "--out", "-o", help="Results bundle directory to create; omitted: reducers only (the "
            "per-run outcomes are printed, no series kept; memory does not grow with --runs).")] = None,
        runs: Runs = 200, seed: Seed = 1, workers: Workers = 1, weeks: Weeks = None,
        chunk_size: Chunk = 250, posterior: Post = "shipped", backend: Backend = "local",
        metrics: Metrics = "default", overwrite: Overwrite = False,
        resume: Annotated[bool, typer.Option(help="Continue a killed run of the same command from its "
                                             "committed chunks (the bundle is identical to an uninterrupted run's).")] = False) -> None:
    """Run one scenario as a Monte Carlo ensemble and write a results bundle."""
    if out is None and resume:
        raise ArgumentError("option '--resume' needs '--out': only a bundle can be resumed")
    from resurgence.analysis.contrasts import describe
    from resurgence.calibration.posterior import resolve_posterior
    from resurgence.runs.ensemble import resolve, run_ensemble

    sc = resolve(scenario, weeks)
    post = _usable(resolve_posterior(posterior), sc)
    with progress_bar() as prog:
        task = prog.add_task(f"run {sc.name}", total=runs)
        res = run_ensemble([sc], runs, seed, out=out, workers=workers, chunk_size=chunk_size,
                           overwrite=overwrite, progress=lambda k: prog.advance(task, k),
                           posterior=post, backend=backend, metrics=_metrics(metrics),
                           resume=resume)
    s = res.outcomes[sc.name]
    table = Table(title=f"{sc.name}: {runs} runs, seed {seed}, {sc.weeks} weeks from {sc.start}")
    for col in ("outcome", "P10", "median (mean for probabilities)", "P90"):
        table.add_column(col, justify="right" if col != "outcome" else "left")
    for c in describe(s):
        lo, mid, hi = c.a
        table.add_row(c.summary, *(_num(v, c.kind) for v in (lo, mid, hi)))
    console.print(table)
    if res.bundle is None:
        console.print(f"no results bundle (reducers only; {res.wall_time_s:.1f} s)")
    else:
        console.print(f"results bundle: [bold]{res.bundle}[/] ({res.wall_time_s:.1f} s)")


def _metrics(choice: str) -> list[str] | None:
    from resurgence.runs.ensemble import DEFAULT_METRICS

    if choice.strip() == "all":
        return None
    if choice.strip() == "default":
        return list(DEFAULT_METRICS)
    return [m.strip() for m in choice.split(",") if m.strip()]


def _usable(post, sc):
    """A posterior informs a run only if its data end before the scenario starts."""
    from resurgence.calibration.posterior import usable_for

    if post is not None and usable_for(post, sc.start) is None:
        err.print(f"note: the {post.case} posterior uses data up to {post.until}, not before "
                  f"{sc.name}'s start {sc.start}: running on default parameters", highlight=False)
        return None
    return post


def _num(v: float, kind: str = "quantiles") -> str:
    from resurgence.report import fmt

    return fmt.value(v, kind)


def _cell(t: tuple[float, float, float], kind: str, diff: bool = False) -> str:
    from resurgence.report import fmt

    return fmt.interval(t[1], t[0], t[2], kind, diff=diff)


@app.command(rich_help_panel="Scenarios")
@user_errors
def compare(a: Annotated[str, typer.Argument(help="Reference scenario (name or path).")],
            b: Annotated[str, typer.Argument(help="Alternative scenario (name or path).")],
            runs: Runs = 200, seed: Seed = 1, workers: Workers = 1, weeks: Weeks = None,
            chunk_size: Chunk = 250, posterior: Post = "shipped", backend: Backend = "local",
            out: Annotated[Path | None, typer.Option("--out", "-o", help="Also write a results bundle.")] = None,
            overwrite: Overwrite = False, metrics: Metrics = "default",
            as_json: Annotated[bool, typer.Option("--json", help="Print the contrasts as JSON.")] = False) -> None:
    """Compare two scenarios run with common random numbers: paired differences B - A."""
    from resurgence.analysis.contrasts import contrast
    from resurgence.calibration.posterior import resolve_posterior
    from resurgence.runs.ensemble import resolve, run_ensemble
    from resurgence.scenario.schema import distinct_pair

    sa, sb = distinct_pair(resolve(a, weeks), resolve(b, weeks))  # as the web does
    post = _usable(resolve_posterior(posterior), sa)
    with progress_bar() as prog:
        task = prog.add_task(f"compare {sa.name} vs {sb.name}", total=2 * runs)
        res = run_ensemble([sa, sb], runs, seed, out=out, workers=workers, chunk_size=chunk_size,
                           overwrite=overwrite, progress=lambda k: prog.advance(task, k),
                           posterior=post, backend=backend, metrics=_metrics(metrics))
    rows = contrast(res.outcomes[sa.name], res.outcomes[sb.name])
    if as_json:
        print(json.dumps({"a": sa.name, "b": sb.name, "runs": runs, "seed": seed,
                          "contrasts": [r.as_dict() for r in rows]}, indent=1))
        return
    basis = (f"posterior {post.case} (data to {post.until})" if post else "default parameters")
    table = Table(title=f"{sb.name} vs {sa.name}: {runs} paired runs (common random numbers), "
                  f"seed {seed}, {sa.weeks} weeks from {sa.start}, {basis}")
    for col in ("outcome", sa.name, sb.name, "effect B-A", "runs with B>A"):
        table.add_column(col, justify="left" if col == "outcome" else "right", no_wrap=True)
    for r in rows:
        table.add_row(r.summary, _cell(r.a, r.kind), _cell(r.b, r.kind),
                      _cell(r.diff, r.kind, diff=True), f"{r.p_increase:.0%}")
    console.print(table)
    console.print("Cells: median [P10, P90] across runs; holds_ground_*, collapse_any and "
                  "exit_ordered: probability [80% bootstrap interval], their effects in "
                  "percentage points (pp); 'runs with B>A': the share of paired runs in which B "
                  "exceeds A (not a probability that B is worse). Effects are paired per run "
                  "(common random numbers), so they show policy, not noise. Outcomes: "
                  "`resurgence model outcomes`.")
    if res.bundle:
        console.print(f"results bundle: [bold]{res.bundle}[/]")


@scen_app.command("list")
@user_errors
def scenarios_list(as_json: Annotated[bool, typer.Option(
        "--json", help="Print name, base, title, description and claims as JSON.")] = False) -> None:
    """List the shipped scenarios."""
    from resurgence.scenario.schema import load_scenario, shipped_names

    if as_json:
        rows = []
        for name in shipped_names():
            sc = load_scenario(name)
            rows.append({"name": name, "base": sc.base, "title": sc.title,
                         "description": sc.description, "claims": list(sc.claims),
                         "start": sc.start.isoformat(), "weeks": sc.weeks})
        print(json.dumps(rows, indent=1))
        return
    table = Table(title="shipped scenarios")
    for col in ("name", "base", "title", "claims"):
        table.add_column(col)
    for name in shipped_names():
        sc = load_scenario(name)
        raw_base = load_scenario(name).base
        table.add_row(name, raw_base or "", sc.title, " ".join(sc.claims))
    console.print(table)


@scen_app.command("show")
@user_errors
def scenarios_show(name: Annotated[str, typer.Argument(help="Shipped scenario name or path.")],
                   as_json: Annotated[bool, typer.Option("--json", help="Print the resolved scenario as JSON.")] = False) -> None:
    """Show a scenario with its base resolved: schedules, bases, shocks, policy."""
    from resurgence.scenario.schema import SCHEDULES, load_scenario

    sc = load_scenario(name)
    if as_json:
        print(json.dumps(sc.model_dump(mode="json"), indent=1))
        return
    console.print(f"[bold]{sc.name}[/]: {sc.title}\n{sc.description}\n"
                  f"start {sc.start}, {sc.weeks} weeks; base: {sc.base or '-'}; claims: {' '.join(sc.claims)}")
    table = Table(title="schedules (dated points; linear between, flat outside)")
    table.add_column("lever")
    table.add_column("points")
    table.add_column("meaning")
    for lever, (default, _lo, _hi, meaning) in SCHEDULES.items():
        pts = sc.schedule(lever)
        txt = ", ".join(f"{d}: {v:g}" for d, v in pts) if pts else f"default {default:g}"
        table.add_row(lever, txt, meaning)
    console.print(table)
    for b in sc.bases:
        console.print(f"base {b.name}: close {b.close or '-'} reopen {b.reopen or '-'}")
    for s in sc.shocks:
        console.print(f"shock {s.date} {s.kind} region={s.region} magnitude={s.magnitude:g} "
                      f"weeks={s.weeks} {s.note}")
    console.print(f"policy: responsive={sc.policy.responsive} threshold={sc.policy.expel_threshold} "
                  f"exit_weeks={sc.policy.exit_weeks}")
    if sc.params:
        console.print(f"parameter overrides: {sc.params}")


@model_app.command("plan")
def model_plan() -> None:
    """Print the weekly step plan: modules in order, what each reads, writes and records."""
    from resurgence.model.params import DEFAULTS_VERSION
    from resurgence.model.sim import PLAN, all_params, plan_table

    table = Table(title=f"weekly step plan (resurgence {__version__}, defaults {DEFAULTS_VERSION})")
    for col in ("step", "module", "title", "reads", "writes", "records", "claims"):
        table.add_column(col, overflow="fold")
    for row in plan_table():
        table.add_row(*(escape(row[k]) for k in ("step", "module", "title", "reads", "writes",
                                                  "records", "claims")))
    console.print(table)
    console.print(f"{len(PLAN)} modules, {len(all_params())} parameters. Each week every module "
                  "steps once, in this order.")


@model_app.command("params")
def model_params(module: Annotated[str | None, typer.Option(help="Only this module.")] = None) -> None:
    """List the parameters: default, units, prior, claims and source."""
    from resurgence.model.params import DEFAULTS_VERSION
    from resurgence.model.sim import all_params

    table = Table(title=f"parameters (defaults {DEFAULTS_VERSION})")
    for col in ("name", "module", "default", "units", "prior", "claims", "source"):
        table.add_column(col, overflow="fold")
    for p in all_params():
        if module and p.module != module:
            continue
        table.add_row(p.name, p.module, f"{p.default:g}", p.units, p.prior.describe(),
                      " ".join(p.claims), p.source)
    console.print(table)


@model_app.command("outcomes")
def model_outcomes() -> None:
    """List the per-run outcomes that run/compare report."""
    from resurgence.results.outcomes import OUTCOMES

    table = Table(title="per-run outcomes")
    for col in ("name", "unit", "description"):
        table.add_column(col)
    for s in OUTCOMES:
        table.add_row(s.name, s.unit, s.description)
    console.print(table)


@model_app.command("metrics")
def model_metrics() -> None:
    """List the per-week metrics a results bundle can hold (`run --metrics`)."""
    from resurgence.model.sim import all_metrics
    from resurgence.runs.ensemble import DEFAULT_METRICS

    table = Table(title="bundle metrics (* = written by default)")
    for col in ("name", "level", "unit", "description"):
        table.add_column(col)
    for m in all_metrics():
        table.add_row(m.name + (" *" if m.name in DEFAULT_METRICS else ""), m.level, m.unit,
                      m.description)
    console.print(table)


@bundle_app.command("verify")
@user_errors
def bundle_verify(path: Annotated[Path, typer.Argument(help="Results bundle directory.")]) -> None:
    """Check a results bundle: manifest complete, every file present and matching its sha256.
    Exit 0 if intact, 2 otherwise (one line either way)."""
    from resurgence.results.bundle import Bundle

    n = Bundle.open(path).verify()
    print(f"{path}: ok, {n} files match their sha256")


@app.command(rich_help_panel="Inspect")
def version() -> None:
    """Print the package version and the default-parameter version."""
    from resurgence.model.params import DEFAULTS_VERSION

    print(f"resurgence {__version__} (defaults {DEFAULTS_VERSION})")


def _load_case2011() -> Any:
    from resurgence.cli.case2011 import case2011_cmd

    sub = typer.Typer(add_completion=False, pretty_exceptions_enable=False)
    sub.command("case2011")(user_errors(case2011_cmd))
    return typer.main.get_command(sub)


def _load_data() -> Any:
    from resurgence.cli.data import data_app

    return typer.main.get_command(data_app)


def _register() -> None:
    from resurgence.cli.brief import brief_cmd, claims_cmd
    from resurgence.cli.fit import backtest_cmd, calibrate_cmd, forecast_cmd
    from resurgence.cli.sensitivity import sensitivity_cmd
    from resurgence.cli.serve import serve_cmd

    main, fit = "Main job", "Calibration and forecasting"
    app.command("brief", rich_help_panel=main)(user_errors(brief_cmd))
    app.command("claims", rich_help_panel=main)(user_errors(claims_cmd))
    app.command("serve", rich_help_panel=main)(user_errors(serve_cmd))
    app.command("calibrate", rich_help_panel=fit)(user_errors(calibrate_cmd))
    app.command("forecast", rich_help_panel=fit)(user_errors(forecast_cmd))
    app.command("backtest", rich_help_panel=fit)(user_errors(backtest_cmd))
    app.command("sensitivity", rich_help_panel=fit)(user_errors(sensitivity_cmd))
    # these two import the 2011 case and the importers (pandas, SciPy): loaded when invoked
    lazy_command("case2011", "The 2011 case: fit to 2009-10, run on from the US withdrawal (18 "
                 "Dec 2011) and compare with the 2012-14 escalation and the fall of Mosul.", fit,
                 _load_case2011)
    lazy_command("data", "Observation data: import event exports, show the packaged table.",
                 fit, _load_data)
    order = {main: 0, "Scenarios": 1, fit: 2, "Inspect": 3}
    app.registered_commands.sort(key=lambda c: order.get(c.rich_help_panel or "", 9))
    app.registered_groups.sort(key=lambda g: order.get(g.rich_help_panel or "", 9))


_register()


def main() -> None:  # pragma: no cover
    app()
