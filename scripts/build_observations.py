"""Build the packaged observation table ``src/resurgence/data/iraq/observations.csv``.

Deterministic: reads only ``../shared/data`` (or ``--data DIR``) and the packaged theatre
boundaries; sources, licences and processing are in ``src/resurgence/data/iraq/OBSERVATIONS.md``.
A build log (rows per series, GED placement) goes to stderr.

Usage::

    python scripts/build_observations.py [--data ../shared/data] [--out .../observations.csv]
    python scripts/build_observations.py --check   # exit 1 if the packaged file differs
"""

from __future__ import annotations

import argparse
import sys
import unicodedata
from pathlib import Path

import numpy as np
import pandas as pd

from resurgence.calibration.importers import aggregate_events, place_points
from resurgence.calibration.observations import COLUMNS, format_observations
from resurgence.theatre.theatre import load_theatre

REPO = Path(__file__).resolve().parents[1]
DEFAULT_DATA = REPO.parent / "shared" / "data"
DEFAULT_OUT = REPO / "src" / "resurgence" / "data" / "iraq" / "observations.csv"
CUTOFF = pd.Timestamp("2020-11-30")
NATIONAL = "IQ"

COMPILED = "iraq_incident_counts_compiled_to_2020-11.csv"
GED = "ucdp_ged191_iraq_events_1989-2018_hdx.csv"
GED_CM = "ucdp_ged241_iraq_cm_statebased_1989-01_2020-11_hfrank.csv"
VIEWS = "views_cm_iraq_2018-01_2020-11_kaylanhua.csv"

GED_FIRST, GED_LAST = "2014-01-01", "2018-12-31"
GED_CM_FROM = "2010-01"
SNAP_KM = 50.0  # last-resort placement of GED border points with neither polygon nor adm_1

# compiled-file `source` prefix -> short source name
SOURCES = {"Musings on Iraq": "musings", "CTC Sentinel": "ctc", "Iraq Body Count": "ibc",
           "Constellis": "constellis"}
# Musings governorate spellings -> ISO 3166-2 code; None = not one governorate (national only)
MUSINGS_GOV: dict[str, str | None] = {
    "Anbar": "IQ-AN", "Babil": "IQ-BB", "Baghdad": "IQ-BG", "Basra": "IQ-BA", "Diyala": "IQ-DI",
    "Dohuk": "IQ-DA", "Duhok": "IQ-DA", "Irbil": "IQ-AR", "Erbil": "IQ-AR", "Karbala": "IQ-KA",
    "Kirkuk": "IQ-KI", "Maysan": "IQ-MA", "Muthanna": "IQ-MU", "Najaf": "IQ-NA",
    "Ninewa": "IQ-NI", "Nineveh": "IQ-NI", "Qadisiya": "IQ-QA", "Salahaddin": "IQ-SD",
    "Sulaymaniya": "IQ-SU", "Dhi Qar": "IQ-DQ", "Wasit": "IQ-WA",
    "Kurdistan (unspecified)": None, "KRG": None,
}
# GED adm_1, ASCII-folded, lower case, without " province" -> code (as in build_iraq_theatre.py)
GED_ADM1 = {
    "al anbar": "IQ-AN", "arbil": "IQ-AR", "al basrah": "IQ-BA", "babil": "IQ-BB",
    "baghdad": "IQ-BG", "dahuk": "IQ-DA", "diyala": "IQ-DI", "dhi qar": "IQ-DQ",
    "karbala'": "IQ-KA", "kirkuk": "IQ-KI", "at-ta'mim": "IQ-KI", "maysan": "IQ-MA",
    "al muthanna": "IQ-MU", "an najaf": "IQ-NA", "ninawa": "IQ-NI", "al qadisiyah": "IQ-QA",
    "salah ad din": "IQ-SD", "as sulaymaniyah": "IQ-SU", "wasit": "IQ-WA",
}


def log(msg: str) -> None:
    print(msg, file=sys.stderr)


def fold_adm1(name: str) -> str:
    s = unicodedata.normalize("NFKD", name).encode("ascii", "ignore").decode()
    s = " ".join(s.replace("\u2019", "'").split()).lower()
    return s.removesuffix(" province").strip()


def _rows(**cols: object) -> pd.DataFrame:
    return pd.DataFrame(cols)[list(COLUMNS)]


def _note(*parts: object) -> str:
    return "; ".join(str(p) for p in parts if isinstance(p, str) and p.strip())


def compiled(data: Path) -> pd.DataFrame:
    """Musings, CTC, IBC and Constellis rows of the hand-compiled counts file."""
    d = pd.read_csv(data / COMPILED, dtype=str, keep_default_na=False)
    src = d["source"].map(lambda s: next((v for k, v in SOURCES.items() if s.startswith(k)), ""))
    if (src == "").any():
        raise SystemExit(f"unknown source {d['source'][src == ''].iloc[0]!r} in {COMPILED}")
    unknown = sorted(set(d["governorate"]) - set(MUSINGS_GOV) - {""})
    if unknown:
        raise SystemExit(f"unmapped governorate spelling(s) in {COMPILED}: {unknown}")
    region = d["governorate"].map(lambda g: NATIONAL if g == "" else MUSINGS_GOV[g])
    left_out = d[region.isna()]
    for _, r in left_out.iterrows():
        log(f"musings: {r.governorate!r} {r.metric} {r.period_start}..{r.period_end} = {r.value} "
            "left out of governorate series (counted in the national row as published)")
    metric = d["metric"].where(~((src == "ctc") & (d["metric"] == "attacks")), "is_attacks")
    start, end = pd.to_datetime(d["period_start"]), pd.to_datetime(d["period_end"])
    value = d["value"].astype(float)
    note = [_note(n, s if s.startswith("CTC") and "mirror" in s else "", u)
            for n, s, u in zip(d["note"], d["source"], d["source_url"], strict=True)]
    df = _rows(source=src, metric=metric, region=region, period_start=start, period_end=end,
               granularity=d["granularity"], value=value, note=note)[region.notna()]
    # Musings average incidents/day -> incidents over the period, where no direct count exists
    avg = df[(df.source == "musings") & (df.metric == "avg_incidents_per_day")].copy()
    direct = df[(df.source == "musings") & (df.metric == "incidents")]
    have = set(zip(direct.region, direct.period_start, direct.period_end, strict=True))
    keep = [k not in have for k in zip(avg.region, avg.period_start, avg.period_end, strict=True)]
    log(f"musings: {len(avg)} avg_incidents_per_day rows, {len(avg) - sum(keep)} dropped "
        "(a direct count exists for the same period)")
    avg = avg[keep]
    days = (avg.period_end - avg.period_start).dt.days + 1
    avg["note"] = [_note(f"converted: {v:g} incidents/day x {n} days", old)
                   for v, n, old in zip(avg.value, days, avg.note, strict=True)]
    avg["metric"], avg["value"] = "incidents", avg.value * days
    dup = avg.duplicated(["region", "period_start", "period_end"], keep=False)
    if dup.any():
        raise SystemExit(f"conflicting avg_incidents_per_day rows: {avg[dup].to_dict('records')}")
    df = pd.concat([df[df.metric != "avg_incidents_per_day"], avg], ignore_index=True)
    return df


def ged(data: Path) -> pd.DataFrame:
    """UCDP GED 19.1 events 2014-2018, monthly by governorate and national."""
    th = load_theatre("iraq")
    g = pd.read_csv(data / GED, keep_default_na=False, dtype=str)
    start = pd.to_datetime(g["date_start"], format="%Y-%m-%d")
    g = g[(start >= GED_FIRST) & (start <= GED_LAST)].reset_index(drop=True)
    start = pd.to_datetime(g["date_start"], format="%Y-%m-%d").to_numpy().astype("datetime64[D]")
    lon, lat = g["longitude"].astype(float).to_numpy(), g["latitude"].astype(float).to_numpy()
    region, _ = place_points(th, lon, lat)
    outside = region == ""
    adm1 = g["adm_1"].map(lambda s: GED_ADM1.get(fold_adm1(s), "") if s else "").to_numpy()
    region[outside] = adm1[outside]
    still = region == ""
    near, snapped = place_points(th, lon[still], lat[still], snap_km=SNAP_KM)
    region[still] = near
    if (region == "").any():
        raise SystemExit(f"GED: {(region == '').sum()} events could not be placed")
    log(f"ged: {len(g)} events {GED_FIRST}..{GED_LAST}; {outside.sum()} outside every polygon: "
        f"{(outside & ~still).sum()} placed by adm_1, {snapped.sum()} (no adm_1) in the nearest "
        f"governorate within {SNAP_KM:g} km")
    for k in np.flatnonzero(outside):
        log(f"  ged id {g['id'][k]} {g['date_start'][k]} {g['where_coordinates'][k]!r} "
            f"adm_1={g['adm_1'][k]!r} -> {region[k]}")
    vague = g["where_prec"].astype(int).to_numpy() >= 6  # only "Iraq" known: national only
    region[vague] = ""
    log(f"ged: {vague.sum()} events with where_prec >= 6 (country-level location) counted in the "
        "national series only")
    is_ = ((g["side_a"] == "IS") | (g["side_b"] == "IS")).to_numpy()
    sb = (g["type_of_violence"] == "1").to_numpy()
    best = g["best"].astype(float).to_numpy()
    weights = {"is_events": is_ * 1.0, "is_deaths": best * is_,
               "sb_events": sb * 1.0, "sb_deaths": best * sb}
    rows = aggregate_events(start, region, weights, source="ged", codes=th.codes,
                            national=NATIONAL, granularities=("month",),
                            first=pd.Timestamp(GED_FIRST).date(),
                            last=pd.Timestamp(GED_LAST).date())
    month = start.astype("datetime64[M]").astype("datetime64[D]")
    for metric, flag in (("is", is_), ("sb", sb)):
        sel = outside & flag
        fb = pd.DataFrame({"region": region[sel], "month": month[sel]}).value_counts()
        for (reg, mon), n in fb.items():
            if not reg:
                continue
            hit = ((rows.region == reg) & (rows.period_start == pd.Timestamp(mon))
                   & rows.metric.str.startswith(metric))
            rows.loc[hit, "note"] = f"{n} event(s) outside every polygon, placed by adm_1/nearest"
    return rows


def ged_cm(data: Path) -> pd.DataFrame:
    """UCDP GED 24.1 country-month state-based deaths and events (hfrank processing)."""
    d = pd.read_csv(data / GED_CM, dtype={"dd": str})
    d = d[(d.gw_codes == 645) & (d.dd >= GED_CM_FROM)]
    start = pd.to_datetime(d["dd"] + "-01")
    end = start + pd.offsets.MonthEnd(0)
    note = "GED 24.1 state-based; events spanning two calendar months dropped (author's processing)"
    return pd.concat([_rows(source="ged_cm", metric=m, region=NATIONAL, period_start=start,
                            period_end=end, granularity="month", value=d[c].astype(float),
                            note=note) for m, c in (("sb_deaths", "best"), ("sb_events", "count"))])


def views(data: Path) -> pd.DataFrame:
    """ViEWS country-month GED fatalities (state-based, one-sided)."""
    d = pd.read_csv(data / VIEWS)
    d = d[d.gleditsch_ward == 645]
    start = pd.to_datetime(d["Date"])
    end = start + pd.offsets.MonthEnd(0)
    return pd.concat([_rows(source="views", metric=c, region=NATIONAL, period_start=start,
                            period_end=end, granularity="month", value=d[c].astype(float),
                            note="UCDP GED final+candidate best (ViEWS challenge)")
                      for c in ("ged_sb", "ged_os")])


def build(data: Path) -> pd.DataFrame:
    df = pd.concat([compiled(data), ged(data), ged_cm(data), views(data)], ignore_index=True)
    df["note"] = df["note"].fillna("")
    late = df[df.period_end > CUTOFF]
    if not late.empty:
        raise SystemExit(f"rows ending after {CUTOFF.date()}: {late.head().to_dict('records')}")
    df = df.sort_values(["source", "metric", "region", "period_start", "period_end"],
                        kind="stable").reset_index(drop=True)
    if df.duplicated(["source", "metric", "region", "period_start", "period_end"]).any():
        raise SystemExit("duplicate observation keys")
    for (s, m), g in df.groupby(["source", "metric"]):
        log(f"{s:>10} {m:<32} {len(g):5d} rows, {g.region.nunique():2d} regions, "
            f"{g.period_start.min().date()}..{g.period_end.max().date()}")
    return df


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--data", type=Path, default=DEFAULT_DATA)
    ap.add_argument("--out", type=Path, default=DEFAULT_OUT)
    ap.add_argument("--check", action="store_true", help="compare with --out, write nothing")
    args = ap.parse_args(argv)
    text = format_observations(build(args.data))
    if args.check:
        same = args.out.is_file() and args.out.read_text(encoding="utf-8") == text
        log(f"{args.out}: {'up to date' if same else 'DIFFERS from a fresh build'}")
        return 0 if same else 1
    from resurgence.core.atomic import atomic_write_text

    atomic_write_text(args.out, text)
    log(f"wrote {args.out} ({text.count(chr(10)) - 1} rows)")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
