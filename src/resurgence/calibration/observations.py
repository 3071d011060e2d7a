"""Observed history: the packaged observation table and the model-to-data period aggregation.

The table (``data/<theatre>/observations.csv``, built by ``scripts/build_observations.py``) is
tidy and long, one row per source, metric, region and period::

    source, metric, region, period_start, period_end, granularity, value, note, published

``region`` is the national code (``IQ``) or a region code of the theatre; dates are ISO and
``period_end`` is inclusive; ``granularity`` is one of :data:`GRANULARITIES`.  Sources,
licences and processing are described in ``data/iraq/OBSERVATIONS.md``.

:func:`aggregate_weekly` is how the calibration compares weekly model output with an
observation series: it sums the weeks over each observed period, pro-rating a week that
straddles a period boundary by the share of its seven days inside the period.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd

from resurgence.core.atomic import atomic_write_text
from resurgence.core.errors import ObservationError
from resurgence.core.timegrid import period_weights

__all__ = [
    "CASES",
    "COLUMNS",
    "GRANULARITIES",
    "ObsSeries",
    "ObservationError",
    "aggregate_weekly",
    "format_observations",
    "load_observations",
    "published_rule",
    "observations_path",
    "to_series",
    "write_observations",
]

COLUMNS = ("source", "metric", "region", "period_start", "period_end", "granularity", "value",
           "note")
OPTIONAL = ("published",)
GRANULARITIES = ("week", "month", "quarter", "year", "multi-month")
KEY = ("source", "metric", "region", "period_start", "period_end")
#: case -> (packaged theatre directory, end of the case's history = default ``until``)
CASES: dict[str, tuple[str, dt.date]] = {
    "iraq-2020": ("iraq", dt.date(2020, 11, 30)),
    "iraq-2011": ("iraq", dt.date(2014, 6, 30)),
}


@dataclass(frozen=True, eq=False)
class ObsSeries:
    """One source + metric + region series, periods sorted by (start, end).

    Periods may overlap (e.g. a year total next to monthly counts of the same source).
    """

    source: str
    metric: str
    region: str
    start: np.ndarray  # datetime64[D], first day of each period
    end: np.ndarray  # datetime64[D], last day of each period (inclusive)
    value: np.ndarray  # float64
    granularity: tuple[str, ...] = ()

    @property
    def key(self) -> tuple[str, str, str]:
        return (self.source, self.metric, self.region)

    def __len__(self) -> int:
        return int(self.value.size)


#: days from the end of a period to its publication, per source and granularity
#: (``None`` = any granularity); see OBSERVATIONS.md for the reasons.
PUBLICATION_LAG: dict[tuple[str, str | None], int] = {
    ("musings", "week"): 3,  # weekly security posts appear a few days after the week
    ("musings", "month"): 7,  # monthly summaries in the first week of the next month
    ("musings", "quarter"): 10,
    ("musings", None): 14,  # yearly reviews and multi-month totals: mid-January
    ("ged_cm", None): 31,  # UCDP Candidate Events: monthly release about a month after
    ("views", None): 31,  # ViEWS features: built from the UCDP candidate release
    ("ged_import", None): 31,
    ("acled_import", None): 7,  # ACLED weekly updates
    ("ibc", None): 31,  # Iraq Body Count year reviews in early January
    ("constellis", None): 15,
    ("literature", None): 35,
}
#: sources whose rows were published on fixed dates (a release, an article), by note marker
PUBLICATION_DATES: dict[str, list[tuple[str, dt.date]]] = {
    # GED 19.1 event file: released June 2019
    "ged": [("", dt.date(2019, 6, 30))],
    # CTC Sentinel 13(5), May 2020 (2018, 2019, 2020 Q1); "The Islamic State at Low Ebb in
    # Iraq", CTC Sentinel, January 2022 (2020 Q2, Q3)
    "ctc": [("p=48025", dt.date(2020, 5, 31)), ("", dt.date(2022, 1, 31))],
}


def published_rule(df: pd.DataFrame) -> pd.Series:
    """The publication date of each row by its source's documented rule (datetime64)."""
    end = pd.to_datetime(df["period_end"])
    note = df["note"].astype(str) if "note" in df else pd.Series([""] * len(df), index=df.index)
    out = []
    for src, gran, e, n in zip(df["source"], df["granularity"], end, note, strict=True):
        fixed = PUBLICATION_DATES.get(src)
        if fixed:
            out.append(next(pd.Timestamp(d) for marker, d in fixed if marker in n))
            continue
        lag = PUBLICATION_LAG.get((src, gran), PUBLICATION_LAG.get((src, None), 31))
        out.append(e + pd.Timedelta(days=lag))
    return pd.Series(pd.to_datetime(out), index=df.index, name="published")


def _data_root() -> Path:
    return Path(__file__).resolve().parent.parent / "data"


def observations_path(case: str = "iraq-2020") -> Path:
    """The packaged observation table for ``case``."""
    if case not in CASES:
        raise ObservationError(f"unknown case {case!r}; known cases: {', '.join(CASES)}")
    return _data_root() / CASES[case][0] / "observations.csv"


def _where(path: Path | str, i: int, col: str) -> str:
    return f"{path}: line {i + 2}, column '{col}'"  # +1 header, +1 one-based


def _validate(raw: pd.DataFrame, path: Path | str) -> pd.DataFrame:
    missing = [c for c in COLUMNS if c not in raw.columns]
    if missing:
        raise ObservationError(f"{path}: missing required column(s) {', '.join(missing)} "
                               f"(has: {', '.join(map(str, raw.columns))})")
    cols = [*COLUMNS, *(c for c in OPTIONAL if c in raw.columns)]
    df = raw[cols].apply(lambda s: s.astype(str).str.strip())
    for col in ("source", "metric", "region"):
        empty = np.flatnonzero((df[col] == "").to_numpy())
        if empty.size:
            raise ObservationError(f"{_where(path, int(empty[0]), col)}: empty value: ''")
    for col in ("period_start", "period_end"):
        parsed = pd.to_datetime(df[col], format="%Y-%m-%d", errors="coerce")
        bad = np.flatnonzero(parsed.isna().to_numpy())
        if bad.size:
            i = int(bad[0])
            raise ObservationError(
                f"{_where(path, i, col)}: not an ISO date (YYYY-MM-DD): {df[col].iat[i]!r}")
        df[col] = parsed
    bad = np.flatnonzero((df["period_end"] < df["period_start"]).to_numpy())
    if bad.size:
        i = int(bad[0])
        raise ObservationError(f"{_where(path, i, 'period_end')}: ends before period_start "
                               f"{df['period_start'].iat[i].date()}: {df['period_end'].iat[i].date()}")
    bad = np.flatnonzero(~df["granularity"].isin(GRANULARITIES).to_numpy())
    if bad.size:
        i = int(bad[0])
        raise ObservationError(f"{_where(path, i, 'granularity')}: not one of "
                               f"{', '.join(GRANULARITIES)}: {df['granularity'].iat[i]!r}")
    value = pd.to_numeric(df["value"], errors="coerce").to_numpy(dtype=float)
    bad = np.flatnonzero(~np.isfinite(value))
    if bad.size:
        i = int(bad[0])
        raise ObservationError(f"{_where(path, i, 'value')}: not a finite number: "
                               f"{df['value'].iat[i]!r}")
    df["value"] = value
    rule = published_rule(df)
    if "published" in df:
        given = pd.to_datetime(df["published"], format="%Y-%m-%d", errors="coerce")
        bad = np.flatnonzero((given.isna() & (df["published"] != "")).to_numpy())
        if bad.size:
            i = int(bad[0])
            raise ObservationError(f"{_where(path, i, 'published')}: not an ISO date "
                                   f"(YYYY-MM-DD): {df['published'].iat[i]!r}")
        df["published"] = given.fillna(rule)
    else:
        df["published"] = rule
    early = np.flatnonzero((df["published"] <= df["period_end"]).to_numpy())
    if early.size:
        i = int(early[0])
        raise ObservationError(f"{_where(path, i, 'published')}: on or before the period's end "
                               f"{df['period_end'].iat[i].date()}: {df['published'].iat[i].date()}")
    dup = df.duplicated(list(KEY), keep=False).to_numpy()
    if dup.any():
        i, j = (int(k) for k in np.flatnonzero(dup)[:2])
        raise ObservationError(f"{_where(path, j, 'period_start')}: duplicate of line {i + 2} "
                               f"(same source, metric, region and period): "
                               f"{df['period_start'].iat[j].date()!s}")
    return df


def load_observations(case: str = "iraq-2020", *, until: dt.date | None = None,
                      path: Path | str | None = None,
                      published_before: dt.date | None = None) -> pd.DataFrame:
    """The observation table of ``case`` (or the CSV at ``path``), rows ending on/before ``until``.

    With ``published_before`` only rows published before that date are kept (the vintage a
    forecaster had on that day); the others are counted in ``df.attrs["dropped_unpublished"]``.

    ``until`` defaults to the end of the case's history (2020-11-30 for ``iraq-2020``).
    Nothing is refused silently: rows straddling ``until`` (start <= until < end) and rows
    starting after it are dropped and counted in ``df.attrs["dropped_straddling"]`` and
    ``df.attrs["dropped_after"]``.  Dates come back as datetime64 columns, ``value`` as float.
    """
    src = observations_path(case) if path is None else Path(path)
    if until is None:
        if case not in CASES:
            raise ObservationError(f"unknown case {case!r}; known cases: {', '.join(CASES)}")
        until = CASES[case][1]
    if not src.is_file():
        raise ObservationError(f"{src}: no such file")
    try:
        raw = pd.read_csv(src, dtype=str, keep_default_na=False, encoding="utf-8-sig")
    except (pd.errors.ParserError, pd.errors.EmptyDataError, UnicodeDecodeError) as e:
        raise ObservationError(f"{src}: cannot parse CSV: {str(e).splitlines()[0]}") from None
    raw.columns = [str(c).strip() for c in raw.columns]
    df = _validate(raw, src)
    cut = pd.Timestamp(until)
    straddle = (df["period_start"] <= cut) & (df["period_end"] > cut)
    after = df["period_start"] > cut
    late = (df["published"] >= pd.Timestamp(published_before) if published_before
            else pd.Series(False, index=df.index)) & ~(straddle | after)
    out = df[~(straddle | after | late)].reset_index(drop=True)
    out.attrs.update(path=str(src), until=until, dropped_straddling=int(straddle.sum()),
                     dropped_after=int(after.sum()), dropped_unpublished=int(late.sum()),
                     published_before=published_before)
    return out


def to_series(df: pd.DataFrame) -> list[ObsSeries]:
    """Split a table into one :class:`ObsSeries` per (source, metric, region), sorted by key."""
    out = []
    for (source, metric, region), g in df.groupby(["source", "metric", "region"], sort=True):
        g = g.sort_values(["period_start", "period_end"], kind="stable")
        start = pd.to_datetime(g["period_start"]).to_numpy().astype("datetime64[D]")
        end = pd.to_datetime(g["period_end"]).to_numpy().astype("datetime64[D]")
        value = g["value"].to_numpy(dtype=np.float64)
        for a in (start, end, value):
            a.flags.writeable = False
        out.append(ObsSeries(str(source), str(metric), str(region), start, end, value,
                             tuple(g["granularity"].astype(str))))
    return out


def aggregate_weekly(values: np.ndarray, week_starts: np.ndarray, start: np.ndarray,
                     end: np.ndarray, *, allow_partial: bool = False) -> np.ndarray:
    """Sum weekly model output over observation periods.

    ``values`` is ``(..., W)`` with week ``w`` covering the seven days from ``week_starts[w]``;
    ``start``/``end`` are ``(P,)`` inclusive period bounds.  Returns ``(..., P)``: each week
    contributes its value times the share of its seven days inside the period (a week wholly
    inside counts fully).  A period not fully covered by the weeks is NaN unless
    ``allow_partial`` (then it sums what is covered).  Weeks must be increasing and must not
    overlap (gaps are allowed).
    """
    v = np.asarray(values, dtype=np.float64)
    ws = np.asarray(week_starts, dtype="datetime64[D]").astype(np.int64)
    s = np.asarray(start, dtype="datetime64[D]").astype(np.int64)
    e = np.asarray(end, dtype="datetime64[D]").astype(np.int64) + 1  # exclusive
    if ws.ndim != 1 or v.ndim < 1 or v.shape[-1] != ws.size:
        raise ValueError(f"values last axis ({v.shape[-1] if v.ndim else 0}) must match "
                         f"week_starts ({ws.size})")
    if s.shape != e.shape or s.ndim != 1:
        raise ValueError("start and end must be 1-D arrays of the same length")
    if np.any(np.diff(ws) < 7):
        raise ValueError("week_starts must be increasing and at least 7 days apart")
    if np.any(e <= s):
        raise ValueError("every period must end on or after its start")
    share = period_weights(week_starts, start, end)  # (W, P) share of week w inside period p
    out = v @ share
    if not allow_partial:
        out[..., np.rint(7.0 * share.sum(axis=0)) < e - s] = np.nan  # whole days
    return out


def _fmt(v: float) -> str:
    v = round(float(v), 6)
    return str(int(v)) if v.is_integer() else format(v, ".15g")


def format_observations(df: pd.DataFrame) -> str:
    """A table as canonical CSV text (ISO dates, integers without ``.0``, one-line notes)."""
    out = pd.DataFrame({c: df[c] for c in COLUMNS})
    out["published"] = df["published"] if "published" in df else published_rule(out)
    for c in ("period_start", "period_end", "published"):
        out[c] = pd.to_datetime(out[c]).dt.strftime("%Y-%m-%d")
    out["value"] = [_fmt(v) for v in out["value"]]
    out["note"] = out["note"].fillna("").astype(str).str.replace(r"\s*\n\s*", " ", regex=True)
    return out.to_csv(index=False, lineterminator="\n")


def write_observations(df: pd.DataFrame, path: Path | str) -> str:
    """Write a table in the canonical CSV form (atomically); returns the text written."""
    text = format_observations(df)
    atomic_write_text(path, text)
    return text
