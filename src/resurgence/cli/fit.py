"""CLI commands for calibration and forecasting (registered on the main app in cli.py)."""

from __future__ import annotations

import datetime as dt
import json
from pathlib import Path
from typing import Annotated

import typer
from rich.table import Table

from resurgence.core.atomic import atomic_write_text
from resurgence.core.errors import ArgumentError
from resurgence.report import fmt


def _console():
    from resurgence.cli.console import console

    return console


def case_with_observations(case: str, path: Path, until: dt.date | None = None):
    """The case with the rows of ``path`` added to its observations. Every row must be of a
    series the observation model knows, and none may repeat a row the case already holds
    (the same source, metric, region and period would be counted twice)."""
    import dataclasses

    from resurgence.calibration.cases import case_observations, get_case
    from resurgence.calibration.observations import load_observations
    from resurgence.calibration.obsmodel import MAPPING

    c = get_case(case)
    rows = load_observations(c.name, path=path, until=until or c.until)
    if rows.empty:
        raise ArgumentError(f"{path}: no observation rows on or before {until or c.until}")
    unknown = sorted({f"{s}/{m}" for s, m in zip(rows["source"], rows["metric"], strict=True)
                      if (s, m) not in MAPPING})
    if unknown:
        raise ArgumentError(f"{path}: field 'source/metric' = {', '.join(unknown)}: the "
                            f"observation model knows {', '.join(f'{s}/{m}' for s, m in MAPPING)}")
    key = ["source", "metric", "region", "period_start", "period_end"]
    own = case_observations(c, until or c.until)
    dup = rows.merge(own[key], on=key)
    if not dup.empty:
        r = dup.iloc[0]
        raise ArgumentError(f"{path}: {len(dup)} rows repeat the case's own observations (e.g. "
                            f"{r['source']}/{r['metric']} {r['region']} from "
                            f"{r['period_start']:%Y-%m-%d}); they would be counted twice")
    extra = tuple({**r, "period_start": r["period_start"].date().isoformat(),
                   "period_end": r["period_end"].date().isoformat()}
                  for r in rows.to_dict("records"))
    return dataclasses.replace(c, extra_observations=c.extra_observations + extra)


def calibrate_cmd(
    case: Annotated[str, typer.Option(help="Case to fit.")] = "iraq-2020",
    until: Annotated[str | None, typer.Option(help="Last date of data to use (YYYY-MM-DD); default: the case's.")] = None,
    draws: Annotated[int, typer.Option(help="Posterior draws (= ABC particles).")] = 1000,
    generations: Annotated[int, typer.Option(help="Maximum ABC-SMC generations (it stops earlier once the tolerance falls by under 2% a generation or the move acceptance falls below 3%).")] = 20,
    seed: Annotated[int, typer.Option("--seed", "-s", help="Root random seed.")] = 1,
    workers: Annotated[int, typer.Option("--workers", "-w", help="Local worker processes.")] = 1,
    out: Annotated[Path, typer.Option("--out", "-o", help="Directory for posterior.csv, diagnostics and the fit figure.")] = Path("calibration"),
    check_runs: Annotated[int, typer.Option(help="Posterior predictive runs for the fit check.")] = 500,
    observations: Annotated[Path | None, typer.Option(
        "--observations", help="Also fit these observation rows (a CSV as written by "
        "'resurgence data import'), beside the case's own.")] = None,
    particles: Annotated[int, typer.Option(
        help="Particles per draw of the filter that carries each draw's state on the origin "
        "(posterior.origin.npz); 0: no states (runs then re-simulate the history).")] = 8,
) -> None:
    """Fit the case's uncertain parameters and initial state to every observation series
    up to --until by vectorised ABC-SMC, filter each draw's state to the day after the data
    end (a particle filter on the same reports); write the posterior and its diagnostics."""
    from resurgence.calibration.inference import calibrate
    from resurgence.calibration.predictive import coverage_table, predictive
    from resurgence.report.diagnostics import fit_figure

    if particles < 0:
        raise ArgumentError(f"option '--particles' = {particles}: expected 0 or more")
    con = _console()
    until_d = dt.date.fromisoformat(until) if until else None

    def show(g):
        con.print(f"generation {g.index}: tolerance {g.epsilon:.3f}, {g.simulations} simulations, "
                  f"move acceptance {g.acceptance:.2f}, distinct particles {g.ess:.0f} "
                  f"({g.seconds:.1f} s)")

    fitted = case_with_observations(case, observations, until_d) if observations else case
    res = calibrate(fitted, until=until_d, particles=draws, generations=generations, seed=seed,
                    workers=workers, progress=show)
    if particles:
        from resurgence.calibration.cases import get_case
        from resurgence.calibration.origin import filter_origin

        res.posterior.states = filter_origin(res.posterior, get_case(case), particles=particles,
                                             seed=seed + 2)
        con.print(f"origin states: {res.posterior.states.date} ({particles} particles a draw, "
                  f"{res.posterior.states.meta['reports']} reports)")
    out.mkdir(parents=True, exist_ok=True)
    res.posterior.save(out / "posterior.csv")
    diag = res.diagnostics()
    atomic_write_text(out / "diagnostics.csv", diag.to_csv(index=False))
    rows, pred = predictive(res.posterior, runs=min(check_runs, res.posterior.size), seed=seed + 1,
                            workers=workers)
    cov = coverage_table(rows, pred)
    atomic_write_text(out / "fit_coverage.csv", cov.to_csv(index=False))
    fit_figure(rows, pred, out / "fit.png")
    summary = res.posterior.draws.describe(percentiles=[0.1, 0.5, 0.9]).T
    atomic_write_text(out / "posterior_summary.csv", summary.to_csv())
    t = Table(title=f"posterior predictive coverage ({case}, data to {res.posterior.until})")
    for c in cov.columns:
        t.add_column(c)
    for _, r in cov.iterrows():
        t.add_row(*(f"{v:.2f}" if isinstance(v, float) else str(v) for v in r))
    con.print(t)
    con.print(f"posterior: [bold]{out / 'posterior.csv'}[/] ({res.posterior.size} draws, "
              f"{res.posterior.meta['wall_time_s']} s); fit figure: {out / 'fit.png'}")


def forecast_cmd(
    case: Annotated[str, typer.Option(help="Case whose posterior drives the forecast.")] = "iraq-2020",
    scenario: Annotated[str, typer.Option(help="Scenario name or file.")] = "announced-2500",
    start: Annotated[str, typer.Option(help="First day forecast (YYYY-MM-DD); only data before it is used.")] = "2020-12-01",
    months: Annotated[int, typer.Option(help="Months to forecast.")] = 36,
    runs: Annotated[int, typer.Option("--runs", "-n", help="Runs (posterior draw i mod D for run i).")] = 1000,
    seed: Annotated[int, typer.Option("--seed", "-s", help="Root random seed.")] = 7,
    out: Annotated[Path, typer.Option("--out", "-o", help="Output file: .csv or .parquet.")] = Path("forecast.csv"),
    posterior: Annotated[Path | None, typer.Option(help="Posterior file (default: the shipped one).")] = None,
    workers: Annotated[int, typer.Option("--workers", "-w", help="Local worker processes.")] = 1,
    method: Annotated[str, typer.Option(help="Levels from 'blend' (baseline and simulator pooled by backtest CRPS; scenario effects from the simulator), 'simulator' or 'baseline' (statistical model, national observed series only).")] = "blend",
) -> None:
    """Forecast monthly series per run and governorate (IQ = nation) in the stable contract:
    run, period_start, period_end, region, series, value."""
    from resurgence.calibration.forecast import forecast, write_forecast

    if out.suffix not in (".csv", ".parquet"):
        raise ArgumentError(f"option '--out' = {str(out)!r}: expected a file ending in .csv or .parquet")
    df = forecast(case, scenario, start=dt.date.fromisoformat(start), months=months, runs=runs,
                  seed=seed, posterior=posterior, workers=workers, method=method)
    write_forecast(df, out)
    nat = df[(df["region"] == "IQ")].groupby(["series", "period_start"], observed=True)["value"]
    q = nat.quantile([0.1, 0.5, 0.9]).unstack()
    con = _console()
    t = Table(title=f"{scenario} ({method}): national monthly forecast, first and last month (P10 / median / P90)")
    for col in ("series", "first month", "last month"):
        t.add_column(col)
    for s in q.index.get_level_values(0).unique():
        sub = q.loc[s]
        t.add_row(str(s), *(" / ".join(fmt.num(v) for v in sub.iloc[i]) for i in (0, -1)))
    con.print(t)
    con.print(f"forecast: [bold]{out}[/] ({len(df):,} rows)")


def backtest_cmd(
    case: Annotated[str, typer.Option(help="Case to backtest.")] = "iraq-2020",
    origins: Annotated[str, typer.Option(help="Comma-separated origins (YYYY-MM-01); default 2018-07, 2019-01, 2019-07, 2020-01, 2020-06.")] = "",
    horizon: Annotated[int, typer.Option(help="Months ahead (1..horizon).")] = 18,
    particles: Annotated[int, typer.Option(help="ABC particles per simulator refit.")] = 300,
    generations: Annotated[int, typer.Option(help="ABC generations per simulator refit.")] = 6,
    runs: Annotated[int, typer.Option("--runs", "-n", help="Forecast runs per origin and method.")] = 300,
    seed: Annotated[int, typer.Option("--seed", "-s", help="Root random seed.")] = 1,
    drivers: Annotated[str, typer.Option(help="'as-known' (levers held at the origin) or 'actual' (history as it happened).")] = "as-known",
    simulator: Annotated[bool, typer.Option(help="Refit and score the simulator and the blend (slow); --no-simulator scores the baseline and the naive rules only.")] = True,
    out: Annotated[Path, typer.Option("--out", "-o", help="Directory for scores.csv, summary.csv, by_source.csv, verdict.csv, backtest.json, blend_weights.json and backtest.png.")] = Path("backtest"),
    workers: Annotated[int, typer.Option("--workers", "-w", help="Local worker processes.")] = 1,
) -> None:
    """Rolling-origin backtest on every source with vintage discipline: at each origin every
    method sees only rows published before it; scores (CRPS, log score, PIT, 50/80/90%
    coverage) of the simulator, the statistical baseline, their blend and five naive rules."""
    from resurgence.calibration.backtest import backtest
    from resurgence.report.diagnostics import backtest_figure

    try:
        ods = [dt.date.fromisoformat(x.strip()) for x in origins.split(",") if x.strip()] or None
    except ValueError:
        raise ArgumentError(f"option '--origins' = {origins!r}: expected YYYY-MM-01 dates, comma-separated") from None
    con = _console()
    res = backtest(case, origins=ods, horizon=horizon, particles=particles,
                   generations=generations, runs=runs, seed=seed, drivers=drivers,
                   workers=workers, simulator=simulator,
                   progress=lambda o: con.print(f"origin {o} done"))
    out.mkdir(parents=True, exist_ok=True)
    atomic_write_text(out / "scores.csv", res.scores.to_csv(index=False))
    summ = res.summary()
    atomic_write_text(out / "summary.csv", summ.to_csv(index=False))
    by = res.by_source()
    atomic_write_text(out / "by_source.csv", by.to_csv(index=False))
    verdict = res.verdict() if simulator else res.verdict("baseline")
    atomic_write_text(out / "verdict.csv", verdict.to_csv(index=False))
    weights = res.blend_weights() if simulator else {}
    atomic_write_text(out / "blend_weights.json", json.dumps({
        "case": case, "weights": weights,
        "rule": "simulator share per series: the weight of the linear pool (simulator, "
                "baseline) that minimises the mean CRPS over every backtest target of the "
                "series, shrunk towards 0.5 by 10 pseudo-targets",
        "source": f"resurgence backtest --case {case} --horizon {horizon} --particles {particles} --generations {generations} --runs {runs} --seed {seed}",
        "origins": sorted({str(o) for o in res.scores["origin"]}),
        "weights_used_at_each_origin": res.weights,
        "verdict": verdict.to_dict(orient="records") if simulator else []},
        indent=2, default=str) + "\n")
    atomic_write_text(out / "backtest.json", json.dumps({
        "by_source": by.to_dict(orient="records"), "summary": summ.to_dict(orient="records"),
        "verdict": verdict.to_dict(orient="records"),
        "blend_weights_by_origin": res.weights,
        "pit_histogram_5_bins": res.pit_histogram()}, indent=2, default=str) + "\n")
    backtest_figure(res, out / "backtest.png")
    t = Table(title=f"backtest {case}: mean CRPS per source on the targets all methods scored "
                    "(lower is better; skill = 1 - CRPS / best naive CRPS), and on all targets")
    for col in ("series", "method", "n", "crps", "log score", "cover80", "skill", "n all",
                "crps all", "cover80 all"):
        t.add_column(col)
    for _, r in by.iterrows():
        t.add_row(str(r["series"]), str(r["method"]), str(r["n"]), f"{r['crps']:.1f}",
                  _plain(r["logs"]), _plain(r["cover80"]), _signed(r["skill_vs_best_naive"]),
                  str(r["n_all"]), f"{r['crps_all']:.1f}", _plain(r["cover80_all"]))
    con.print(t)
    method = "blend" if simulator else "baseline"
    v = Table(title=f"done-when (issue #9): {method} mean CRPS at or below the best naive rule "
                    "and 80% coverage in 0.7-0.9, on the common targets")
    for col in ("source", "n", method, "best naive", "cover80", "CRPS met", "coverage met"):
        v.add_column(col)

    def yes(x) -> str:
        return "n/a (too few targets)" if x is None or x != x else ("yes" if x else "NO")

    for _, r in verdict.iterrows():
        v.add_row(r["label"], str(r["n"]), f"{r['crps']:.1f}",
                  f"{r['best_naive']} {r['best_naive_crps']:.1f}", f"{r['cover80']:.2f}",
                  yes(r["crps_met"]), yes(r["coverage_met"]))
    con.print(v)
    if weights:
        con.print("blend weights (simulator share) used at each origin: " + "; ".join(
            f"{o}: " + ", ".join(f"{k} {x:.2f}" for k, x in w.items())
            for o, w in res.weights.items()))
    con.print(f"backtest: [bold]{out}[/] (scores.csv, summary.csv, by_source.csv, verdict.csv, "
              "backtest.json, blend_weights.json, backtest.png)")


def _signed(v: float) -> str:
    """+0.12, or 'n/a' where a score is undefined (never '+nan')."""
    return f"{v:+.2f}" if v == v and abs(v) != float("inf") else "n/a"


def _plain(v: float) -> str:
    return f"{v:.2f}" if v == v and abs(v) != float("inf") else "n/a"
