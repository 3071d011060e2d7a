"""``resurgence data``: import UCDP GED / ACLED exports and inspect the packaged observations.

Registered by :mod:`resurgence.cli` as ``app.add_typer(data_app, name="data")``.  Bad input
(missing file, missing required column, empty file, bad option, an existing output without
``--overwrite``) exits with status 2 and one line on stderr, writes nothing and never prints a
traceback; the output is written whole or not at all.
"""

from __future__ import annotations

import datetime as dt
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Annotated, Any, TypeVar

import typer
from rich.console import Console
from rich.table import Table

from resurgence.calibration.importers import (
    ImportReport,
    import_acled,
    import_ged,
)
from resurgence.calibration.observations import (
    load_observations,
    write_observations,
)
from resurgence.cli.console import user_errors
from resurgence.core.errors import ArgumentError
from resurgence.theatre.theatre import load_theatre

__all__ = ["data_app"]

data_app = typer.Typer(help="Observation data: import event exports, show the packaged table.",
                       no_args_is_help=True)
import_app = typer.Typer(help="Import a UCDP GED or ACLED CSV export into observation rows.",
                         no_args_is_help=True)
data_app.add_typer(import_app, name="import")

MAX_ISSUES_SHOWN = 25
F = TypeVar("F", bound=Callable[..., Any])


def _console() -> Console:
    return Console(width=None if sys.stdout.isatty() else 120)


def _date(value: str | None) -> dt.date | None:
    if value is None:
        return None
    try:
        return dt.date.fromisoformat(value)
    except ValueError:
        raise ArgumentError(f"--until: not an ISO date (YYYY-MM-DD): {value!r}") from None


def _print_report(report: ImportReport, n_rows: int, out: Path | None) -> None:
    con = _console()
    t = Table(title=f"{report.source}: {report.path}")
    t.add_column("item")
    t.add_column("value", justify="right")
    t.add_row("rows read", str(report.rows_read))
    t.add_row("rows used", str(report.rows_used))
    t.add_row("malformed rows (reported below)", str(report.malformed_rows))
    until = report.until.isoformat() if report.until else "-"
    t.add_row(f"refused: dated after {until}", str(report.refused_after_until))
    if report.snapped:
        t.add_row("placed in the nearest region (snap)", str(report.snapped))
    t.add_row("event dates", f"{report.first_date or '-'} .. {report.last_date or '-'}")
    t.add_row("observation rows", str(n_rows))
    con.print(t)
    if report.by_region:
        r = Table(title="events by region")
        r.add_column("region")
        r.add_column("events", justify="right")
        for code, n in report.by_region.items():
            r.add_row(code, str(n))
        con.print(r)
    if report.issues:
        c = Table(title="malformed rows by reason")
        c.add_column("reason")
        c.add_column("count", justify="right")
        for reason, n in report.counts().items():
            c.add_row(reason, str(n))
        con.print(c)
        i = Table(title=f"malformed rows (first {min(MAX_ISSUES_SHOWN, len(report.issues))} "
                        f"of {len(report.issues)})")
        for col in ("line", "column", "value", "reason"):
            i.add_column(col, justify="right" if col == "line" else "left")
        for issue in report.issues[:MAX_ISSUES_SHOWN]:
            i.add_row(str(issue.line), issue.column, repr(issue.value), issue.reason)
        con.print(i)
    if out is not None:
        con.print(f"wrote [bold]{out}[/] ({n_rows} rows)", highlight=False)


FileArg = Annotated[Path, typer.Argument(help="CSV export to read.")]
Out = Annotated[Path, typer.Option("--out", "-o", help="Observation CSV to write.")]
Until = Annotated[str | None, typer.Option(
    "--until", help="Refuse events dated after this ISO date (and periods ending after it).")]
TheatreOpt = Annotated[str, typer.Option("--theatre", help="Packaged theatre name or directory.")]
Snap = Annotated[float, typer.Option(
    "--snap-km", help="Place points outside every polygon but within this distance in the "
    "nearest region (0 = report them as malformed).")]


Overwrite = Annotated[bool, typer.Option(
    "--overwrite", help="Replace the output file if it exists (it is replaced whole, never "
    "half-written).")]


def _check_out(out: Path, overwrite: bool) -> None:
    if not out.parent.is_dir():
        raise ArgumentError(f"{out}: output directory {out.parent} does not exist")
    if out.is_dir():
        raise ArgumentError(f"{out}: a directory, not an output file")
    if out.exists() and not overwrite:
        raise ArgumentError(f"{out}: exists; pass --overwrite to replace it")


def _run_import(kind: str, file: Path, out: Path, until: str | None, theatre: str,
                snap_km: float, overwrite: bool = False) -> None:
    cutoff = _date(until)
    _check_out(out, overwrite)
    if snap_km < 0:
        raise ArgumentError(f"--snap-km must be >= 0: {snap_km}")
    th = load_theatre(theatre)
    importer = import_ged if kind == "ged" else import_acled
    rows, report = importer(file, th, until=cutoff, snap_km=snap_km)
    if rows.empty:
        _print_report(report, 0, None)
        raise ArgumentError(f"{file}: no usable rows ({report.malformed_rows} malformed, "
                         f"{report.refused_after_until} after --until); nothing written")
    _check_out(out, overwrite)  # again: the import may have taken a while
    try:
        write_observations(rows, out)  # atomically: a temp file renamed over the target
    except OSError as exc:  # name the target, not the temp file beside it
        raise OSError(exc.errno, exc.strerror or str(exc), str(out)) from None
    _print_report(report, len(rows), out)


@import_app.command("ged")
@user_errors
def import_ged_cmd(file: FileArg, out: Out, until: Until = None, theatre: TheatreOpt = "iraq",
                   snap_km: Snap = 0.0, overwrite: Overwrite = False) -> None:
    """UCDP GED CSV (HDX or official layout) -> weekly and monthly observation rows."""
    _run_import("ged", file, out, until, theatre, snap_km, overwrite)


@import_app.command("acled")
@user_errors
def import_acled_cmd(file: FileArg, out: Out, until: Until = None, theatre: TheatreOpt = "iraq",
                     snap_km: Snap = 0.0, overwrite: Overwrite = False) -> None:
    """ACLED CSV export -> weekly and monthly observation rows."""
    _run_import("acled", file, out, until, theatre, snap_km, overwrite)


@data_app.command("show")
@user_errors
def show(source: Annotated[str | None, typer.Option("--source", help="Only this source.")] = None,
         metric: Annotated[str | None, typer.Option("--metric", help="Only this metric.")] = None,
         case: Annotated[str, typer.Option("--case", help="Case whose table to show.")] = "iraq-2020",
         file: Annotated[Path | None, typer.Option(
             "--file", help="Summarise this observation CSV instead.")] = None) -> None:
    """Summary of the observation table: one line per source and metric."""
    df = load_observations(case, path=file)
    if source is not None:
        df = df[df["source"] == source]
    if metric is not None:
        df = df[df["metric"] == metric]
    if df.empty:
        raise ArgumentError(f"no observations match source={source!r} metric={metric!r}")
    t = Table(title=f"observations: {df.attrs.get('path', '')} (until {df.attrs.get('until')})")
    for col in ("source", "metric", "regions", "granularities", "first", "last", "rows"):
        t.add_column(col, justify="right" if col in ("regions", "rows") else "left")
    for (s, m), g in df.groupby(["source", "metric"], sort=True):
        t.add_row(s, m, str(g["region"].nunique()), ", ".join(sorted(set(g["granularity"]))),
                  g["period_start"].min().date().isoformat(),
                  g["period_end"].max().date().isoformat(), str(len(g)))
    con = _console()
    con.print(t)
    dropped = df.attrs.get("dropped_straddling", 0) + df.attrs.get("dropped_after", 0)
    if dropped:
        con.print(f"{dropped} row(s) after the cutoff not shown")
