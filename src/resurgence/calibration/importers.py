"""Import event exports (UCDP GED, ACLED) into the observation table format.

Each importer reads a CSV export in the provider's real column layout, places every event in a
theatre region by point-in-polygon on its coordinates, and counts events (and deaths) per
region and nationally in ISO weeks (Monday start) and calendar months.  The result has the
columns of ``observations.csv`` (see :mod:`resurgence.observations`) and carries explicit zeros
for region-periods without events.

Nothing is dropped silently: each malformed row (wrong number of fields, unparseable or missing
date, a date outside 1989-01-01..2030-12-31, missing/invalid coordinates, coordinates outside
every polygon, non-numeric, non-finite or negative deaths) is
listed in the :class:`ImportReport` with its line number, column, value and reason; rows
dated after ``until`` are refused and counted.  ``rows_read == rows_used + malformed_rows +
refused_after_until`` always holds.
"""

from __future__ import annotations

import codecs
import csv
import datetime as dt
from collections import Counter
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pandas as pd

from resurgence.calibration.observations import COLUMNS
from resurgence.core.errors import ImportFormatError
from resurgence.theatre.theatre import Theatre, load_theatre

__all__ = [
    "ACLED_REQUIRED",
    "GED_REQUIRED",
    "ImportFormatError",
    "ImportReport",
    "Issue",
    "aggregate_events",
    "import_acled",
    "import_ged",
    "place_points",
]

GED_REQUIRED = ("date_start", "date_end", "latitude", "longitude", "type_of_violence",
                "side_a", "side_b", "best")
ACLED_REQUIRED = ("event_date", "event_type", "actor1", "actor2", "latitude", "longitude",
                  "fatalities")
KM_PER_DEG = 111.32
_ISO = r"\d{4}-\d{2}-\d{2}(?:[ T][0-9:.]*)?"  # GED official exports append " 00:00:00.000"
_MAX_VALUE_CHARS = 60
DATE_WINDOW = (dt.date(1989, 1, 1), dt.date(2030, 12, 31))  # UCDP GED starts in 1989


@dataclass(frozen=True)
class Issue:
    line: int  # 1-based physical line where the record starts (the header is line 1)
    column: str
    value: str
    reason: str


@dataclass
class ImportReport:
    source: str
    path: Path
    rows_read: int = 0
    rows_used: int = 0
    refused_after_until: int = 0
    snapped: int = 0  # placed in the nearest region within snap_km (outside every polygon)
    until: dt.date | None = None
    first_date: dt.date | None = None
    last_date: dt.date | None = None
    issues: list[Issue] = field(default_factory=list)
    by_region: dict[str, int] = field(default_factory=dict)

    @property
    def malformed_rows(self) -> int:
        return len({i.line for i in self.issues})

    def counts(self) -> dict[str, int]:
        """Issues per reason (one row may have several issues)."""
        return dict(sorted(Counter(i.reason for i in self.issues).items()))


def _read_records(path: Path, required: Sequence[str], source: str
                  ) -> tuple[pd.DataFrame, list[Issue]]:
    """The required columns as strings plus ``_line``; rows of the wrong width become issues."""
    if not path.is_file():
        raise ImportFormatError(f"{path}: {'a directory' if path.is_dir() else 'no such file'}")
    encoding = _encoding(path)
    try:
        with open(path, newline="", encoding=encoding) as fh:
            reader = csv.reader(fh)
            header = next(reader, None)
            if header is None or not any(h.strip() for h in header):
                raise ImportFormatError(f"{path}: empty file (no header row)")
            header = [h.strip() for h in header]
            missing = [c for c in required if c not in header]
            if missing:
                raise ImportFormatError(
                    f"{path}: not a {source} export: missing required column(s) "
                    f"{', '.join(missing)}")
            idx = [header.index(c) for c in required]
            lines, rows, issues = [], [], []
            prev = reader.line_num
            for rec in reader:
                start, prev = prev + 1, reader.line_num
                if not rec or (len(rec) == 1 and not rec[0].strip()):
                    continue  # blank line
                if len(rec) != len(header):
                    issues.append(Issue(start, "", f"{len(rec)} fields",
                                        f"expected {len(header)} fields"))
                    continue
                lines.append(start)
                rows.append([rec[i].strip() for i in idx])
    except UnicodeDecodeError as e:
        line, col = _bad_byte(path, encoding)
        raise ImportFormatError(f"{path}: not {encoding.upper().removesuffix('-SIG')} text "
                                f"({e.reason} at line {line}, column {col}); save it as "
                                "UTF-8") from None
    except csv.Error as e:
        raise ImportFormatError(f"{path}: cannot parse CSV: {e}") from None
    if not rows and not issues:
        raise ImportFormatError(f"{path}: empty file (header only, no data rows)")
    df = pd.DataFrame(rows, columns=list(required), dtype=object)
    df["_line"] = np.asarray(lines, dtype=np.int64)
    return df, issues


def _encoding(path: Path) -> str:
    """UTF-8 (with or without a byte-order mark) or UTF-16 with a byte-order mark; anything
    else is refused when it fails to decode as UTF-8."""
    with open(path, "rb") as fh:
        head = fh.read(4)
    if head.startswith((codecs.BOM_UTF16_LE, codecs.BOM_UTF16_BE)) and not head.startswith(
            codecs.BOM_UTF32_LE):
        return "utf-16"
    if head.startswith((codecs.BOM_UTF32_LE, codecs.BOM_UTF32_BE)):
        raise ImportFormatError(f"{path}: UTF-32 text is not supported; save it as UTF-8")
    return "utf-8-sig"


def _bad_byte(path: Path, encoding: str) -> tuple[int, int]:
    """Line and column (1-based, in bytes) of the first byte that does not decode."""
    dec = codecs.getincrementaldecoder(encoding)()
    line, col = 1, 1
    with open(path, "rb") as fh:
        while chunk := fh.read(1 << 16):
            try:
                dec.decode(chunk)
            except UnicodeDecodeError as e:
                head = chunk[:e.start]
                nl = head.rfind(b"\n")
                return line + head.count(b"\n"), (e.start - nl if nl >= 0 else col + e.start)
            nl = chunk.rfind(b"\n")
            line += chunk.count(b"\n")
            col = len(chunk) - nl if nl >= 0 else col + len(chunk)
    return line, col


def _flag(issues: list[Issue], df: pd.DataFrame, bad: np.ndarray, col: str, reason: str,
          ok: np.ndarray) -> None:
    """Record an issue for rows that are ``bad`` and still ``ok``; clear their ``ok``."""
    sel = bad & ok
    for line, v in zip(df["_line"].to_numpy()[sel], df[col].to_numpy()[sel], strict=True):
        issues.append(Issue(int(line), col, str(v)[:_MAX_VALUE_CHARS], reason))
    ok &= ~bad


def _window(df: pd.DataFrame, dates: np.ndarray, col: str, issues: list[Issue],
            ok: np.ndarray) -> None:
    """Flag dates outside :data:`DATE_WINDOW` (an event export of Iraq since 1989)."""
    lo, hi = (np.datetime64(d, "D") for d in DATE_WINDOW)
    _flag(issues, df, ~np.isnat(dates) & ((dates < lo) | (dates > hi)), col,
          f"date outside {DATE_WINDOW[0]}..{DATE_WINDOW[1]}", ok)


def _parse_dates(s: pd.Series, *, dmy: bool = False) -> np.ndarray:
    """datetime64[D] (NaT where unparseable); ISO dates, and '15 January 2020' if ``dmy``."""
    s = s.astype(str)
    iso = s.str.fullmatch(_ISO)
    out = pd.to_datetime(s.where(iso, "").str[:10], format="%Y-%m-%d", errors="coerce")
    if dmy:
        alt = pd.to_datetime(s.where(~iso, ""), format="%d %B %Y", errors="coerce")
        out = out.fillna(alt)
    return out.to_numpy().astype("datetime64[D]")


def _numbers(df: pd.DataFrame, col: str, issues: list[Issue], ok: np.ndarray,
             lo: float, hi: float, what: str) -> np.ndarray:
    raw = df[col].astype(str)
    x = pd.to_numeric(raw, errors="coerce").to_numpy(dtype=float)
    _flag(issues, df, (raw == "").to_numpy(), col, f"missing {what}", ok)
    _flag(issues, df, np.isnan(x), col, f"{what} is not a number", ok)
    _flag(issues, df, np.isinf(x), col, f"{what} is not finite", ok)
    _flag(issues, df, ~((x >= lo) & (x <= hi)), col, f"{what} below {lo:g}" if hi == np.inf
          else f"{what} outside [{lo:g}, {hi:g}]", ok)
    return x


def place_points(theatre: Theatre, lon: np.ndarray, lat: np.ndarray, *, snap_km: float = 0.0
                 ) -> tuple[np.ndarray, np.ndarray]:
    """Region code of each point (``""`` where outside every polygon) and a mask of points that
    were outside every polygon but within ``snap_km`` of one (placed in the nearest).

    Vectorised with ``shapely.contains_xy`` per region; a point on a shared boundary goes to the
    first region in theatre order.  Distances for snapping are approximate (degrees x 111.32 km,
    longitude scaled by cos(latitude)).
    """
    import shapely

    geoms = theatre.geometry()
    codes = [c for c in theatre.codes if c in geoms]
    lon, lat = np.asarray(lon, dtype=float), np.asarray(lat, dtype=float)
    out = np.full(lon.shape, "", dtype=object)
    for c in reversed(codes):  # earlier codes win on shared boundaries
        shapely.prepare(geoms[c])
        out[shapely.contains_xy(geoms[c], lon, lat)] = c
    snapped = np.zeros(lon.shape, dtype=bool)
    todo = np.flatnonzero((out == "") & np.isfinite(lon) & np.isfinite(lat))
    if snap_km > 0 and todo.size and codes:
        pts = shapely.points(lon[todo], lat[todo])
        dist = np.stack([shapely.distance(geoms[c], pts) for c in codes])  # (R, n) degrees
        best = dist.argmin(axis=0)
        km = dist[best, np.arange(todo.size)] * KM_PER_DEG * np.sqrt(
            0.5 * (1 + np.cos(np.radians(lat[todo])) ** 2))
        near = km <= snap_km
        out[todo[near]] = np.asarray(codes, dtype=object)[best[near]]
        snapped[todo[near]] = True
    return out, snapped


def _period_starts(days: np.ndarray, granularity: str) -> np.ndarray:
    if granularity == "week":  # 1970-01-01 was a Thursday: Monday-based weekday = (d + 3) % 7
        d = days.astype("datetime64[D]")
        return d - ((d.astype(np.int64) + 3) % 7).astype("timedelta64[D]")
    if granularity == "month":
        return days.astype("datetime64[M]").astype("datetime64[D]")
    raise ValueError(f"unsupported granularity {granularity!r} (week or month)")


def _period_end(starts: np.ndarray, granularity: str) -> np.ndarray:
    if granularity == "week":
        return starts + np.timedelta64(6, "D")
    return (starts.astype("datetime64[M]") + 1).astype("datetime64[D]") - np.timedelta64(1, "D")


def aggregate_events(dates: np.ndarray, regions: np.ndarray, weights: Mapping[str, np.ndarray],
                     *, source: str, codes: Sequence[str], national: str,
                     granularities: Sequence[str] = ("week", "month"),
                     until: dt.date | None = None, first: dt.date | None = None,
                     last: dt.date | None = None) -> pd.DataFrame:
    """Sum ``weights`` (metric -> per-event value) per region and nationally per period.

    Periods run from the one holding ``first`` (default: earliest date) to the one holding
    ``last`` (default: latest date); periods ending after ``until`` are not emitted.  Every
    region-period gets a row (zeros included); a period reaching outside ``first..last`` says
    so in its note (the source may not cover all of it).  Events whose region is not in ``codes`` count
    in the national series only.
    """
    dates = np.asarray(dates, dtype="datetime64[D]")
    regions = np.asarray(regions, dtype=object)
    lo = np.datetime64(first, "D") if first else dates.min() if dates.size else None
    hi = np.datetime64(last, "D") if last else dates.max() if dates.size else None
    frames = []
    if lo is None or hi is None:
        return pd.DataFrame(columns=list(COLUMNS))
    keys = [*codes, national]
    for gran in granularities:
        p0, p1 = _period_starts(np.array([lo, hi]), gran)
        grid = np.unique(_period_starts(np.arange(p0, p1 + np.timedelta64(1, "D")), gran))
        ends = _period_end(grid, gran)
        if until is not None:
            keep = ends <= np.datetime64(until, "D")
            grid, ends = grid[keep], ends[keep]
        partial = (grid < lo) | (ends > hi)
        notes = np.where(partial, f"period not wholly inside the events' date range {lo}..{hi}; "
                         "may be incomplete", "").astype(object)
        pidx = np.searchsorted(grid, _period_starts(dates, gran))
        inside = (pidx < grid.size) & (grid[np.minimum(pidx, grid.size - 1)]
                                       == _period_starts(dates, gran))
        ridx = np.array([keys.index(r) if r in codes else -1 for r in regions], dtype=np.int64)
        for metric, w in weights.items():
            acc = np.zeros((len(keys), grid.size))
            w = np.asarray(w, dtype=float)
            sel = inside & (ridx >= 0)
            np.add.at(acc, (ridx[sel], pidx[sel]), w[sel])
            acc[-1] = np.bincount(pidx[inside], weights=w[inside], minlength=grid.size)
            frames.append(pd.DataFrame({
                "source": source, "metric": metric,
                "region": np.repeat(np.asarray(keys, dtype=object), grid.size),
                "period_start": np.tile(grid, len(keys)).astype("datetime64[s]"),
                "period_end": np.tile(ends, len(keys)).astype("datetime64[s]"),
                "granularity": gran, "value": acc.ravel(), "note": np.tile(notes, len(keys))}))
    out = pd.concat(frames, ignore_index=True) if frames else pd.DataFrame(columns=list(COLUMNS))
    return out.sort_values(["metric", "region", "granularity", "period_start"],
                           kind="stable").reset_index(drop=True)[list(COLUMNS)]


def _finish(df: pd.DataFrame, dates: np.ndarray, last: np.ndarray, lon: np.ndarray,
            lat: np.ndarray, ok: np.ndarray, issues: list[Issue], theatre: Theatre,
            report: ImportReport, until: dt.date | None, snap_km: float) -> np.ndarray:
    """Place rows (outside every polygon -> issue), refuse rows whose ``last`` date is after
    ``until``, fill the report; returns the region code per row."""
    regions, snapped = place_points(theatre, np.where(ok, lon, np.nan),
                                    np.where(ok, lat, np.nan), snap_km=snap_km)
    for k in np.flatnonzero(ok & (regions == "")):
        issues.append(Issue(int(df["_line"].iat[k]), "latitude,longitude",
                            f"{df['latitude'].iat[k]},{df['longitude'].iat[k]}",
                            "coordinates outside every region polygon"))
    ok &= regions != ""
    if until is not None:
        after = ok & (last > np.datetime64(until, "D"))
        report.refused_after_until = int(after.sum())
        ok &= ~after
    report.snapped = int((snapped & ok).sum())
    report.rows_used = int(ok.sum())
    report.issues = sorted(issues, key=lambda i: (i.line, i.column))
    if ok.any():
        report.first_date = pd.Timestamp(dates[ok].min()).date()
        report.last_date = pd.Timestamp(dates[ok].max()).date()
    report.by_region = dict(sorted(Counter(regions[ok]).items()))
    return regions


def _theatre(theatre: Theatre | str) -> Theatre:
    return theatre if isinstance(theatre, Theatre) else load_theatre(theatre)


def import_ged(path: str | Path, theatre: Theatre | str = "iraq", *,
               until: dt.date | None = None, snap_km: float = 0.0
               ) -> tuple[pd.DataFrame, ImportReport]:
    """UCDP GED CSV (HDX or official layout) -> observation rows, source ``ged_import``.

    Metrics: ``events``, ``deaths`` (``best``), ``is_events``/``is_deaths`` (``IS`` or
    "Islamic State" as side_a or side_b), ``sb_events``/``sb_deaths`` (``type_of_violence`` 1).
    An event counts in the week/month of ``date_start``; ``until`` refuses events whose
    ``date_end`` is later.
    """
    path, th = Path(path), _theatre(theatre)
    df, issues = _read_records(path, GED_REQUIRED, "UCDP GED")
    report = ImportReport("ged_import", path, rows_read=len(df) + len(issues), until=until)
    ok = np.ones(len(df), dtype=bool)
    start, end = _parse_dates(df["date_start"]), _parse_dates(df["date_end"])
    _flag(issues, df, np.isnat(start), "date_start", "unparseable date (want YYYY-MM-DD)", ok)
    _flag(issues, df, np.isnat(end), "date_end", "unparseable date (want YYYY-MM-DD)", ok)
    _window(df, start, "date_start", issues, ok)
    _window(df, end, "date_end", issues, ok)
    _flag(issues, df, end < start, "date_end", "date_end before date_start", ok)
    lat = _numbers(df, "latitude", issues, ok, -90, 90, "latitude")
    lon = _numbers(df, "longitude", issues, ok, -180, 180, "longitude")
    best = _numbers(df, "best", issues, ok, 0, np.inf, "deaths")
    tov = pd.to_numeric(df["type_of_violence"], errors="coerce").to_numpy(dtype=float)
    _flag(issues, df, ~np.isin(tov, (1, 2, 3)), "type_of_violence", "not 1, 2 or 3", ok)
    regions = _finish(df, start, end, lon, lat, ok, issues, th, report, until, snap_km)
    sides = df["side_a"].astype(str) + "|" + df["side_b"].astype(str)
    is_ = sides.str.contains(r"(?:^|\|)IS(?:$|\|)|Islamic State", case=False).to_numpy()
    sb = tov == 1
    weights = {"events": np.ones(ok.sum()), "deaths": best[ok],
               "is_events": is_[ok] * 1.0, "is_deaths": (best * is_)[ok],
               "sb_events": sb[ok] * 1.0, "sb_deaths": (best * sb)[ok]}
    rows = aggregate_events(start[ok], regions[ok], weights, source="ged_import",
                            codes=th.codes, national=th.national_code, until=until)
    return rows, report


def import_acled(path: str | Path, theatre: Theatre | str = "iraq", *,
                 until: dt.date | None = None, snap_km: float = 0.0
                 ) -> tuple[pd.DataFrame, ImportReport]:
    """ACLED CSV export -> observation rows, source ``acled_import``.

    Metrics: ``events``, ``fatalities``, ``is_events`` (actor1 or actor2 contains "Islamic
    State"), ``battles``, ``explosions`` (Explosions/Remote violence) and
    ``violence_against_civilians`` (by ``event_type``).  ``event_date`` may be ISO or
    "15 January 2020".
    """
    path, th = Path(path), _theatre(theatre)
    df, issues = _read_records(path, ACLED_REQUIRED, "ACLED")
    report = ImportReport("acled_import", path, rows_read=len(df) + len(issues), until=until)
    ok = np.ones(len(df), dtype=bool)
    date = _parse_dates(df["event_date"], dmy=True)
    _flag(issues, df, np.isnat(date), "event_date",
          "unparseable date (want YYYY-MM-DD or '15 January 2020')", ok)
    _window(df, date, "event_date", issues, ok)
    lat = _numbers(df, "latitude", issues, ok, -90, 90, "latitude")
    lon = _numbers(df, "longitude", issues, ok, -180, 180, "longitude")
    fat = _numbers(df, "fatalities", issues, ok, 0, np.inf, "fatalities")
    regions = _finish(df, date, date, lon, lat, ok, issues, th, report, until, snap_km)
    actors = df["actor1"].astype(str) + "|" + df["actor2"].astype(str)
    is_ = actors.str.contains("Islamic State", case=False).to_numpy()
    etype = df["event_type"].astype(str).str.strip().str.lower().to_numpy()
    weights = {"events": np.ones(ok.sum()), "fatalities": fat[ok], "is_events": is_[ok] * 1.0,
               "battles": (etype == "battles")[ok] * 1.0,
               "explosions": (etype == "explosions/remote violence")[ok] * 1.0,
               "violence_against_civilians": (etype == "violence against civilians")[ok] * 1.0}
    rows = aggregate_events(date[ok], regions[ok], weights, source="acled_import",
                            codes=th.codes, national=th.national_code, until=until)
    return rows, report
