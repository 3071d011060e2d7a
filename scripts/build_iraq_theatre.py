"""Regenerate the packaged Iraq theatre data (``src/resurgence/data/iraq/``).

Deterministic: reads only the files in ``../shared/data`` (or ``--data DIR``) and writes
``regions.csv`` and a byte copy of ``boundaries.geojson``.  The judgement attributes
(``reconstruction_gap``, ``iran_affinity``, ``pmf_presence``, ``convoy_route``) are the
constants below; their reasoning is in ``src/resurgence/data/iraq/README.md``.
``bases.csv`` is hand-curated (see the README) and is not touched here.

Usage::

    python scripts/build_iraq_theatre.py [--data ../shared/data] [--out src/resurgence/data/iraq]
    python scripts/build_iraq_theatre.py --check     # exit 1 if the packaged files differ
"""

from __future__ import annotations

import argparse
import csv
import io
import json
import math
import shutil
import sys
import unicodedata
from pathlib import Path

import numpy as np
import pandas as pd
import shapely
from shapely.geometry import Point, shape

REPO = Path(__file__).resolve().parents[1]
DEFAULT_DATA = REPO.parent / "shared" / "data"
DEFAULT_OUT = REPO / "src" / "resurgence" / "data" / "iraq"

BOUNDARIES = "irq_adm1_geoboundaries_simplified.geojson"
POPULATION = "irq_governorate_population.csv"
GED = "ucdp_ged191_iraq_events_1989-2018_hdx.csv"

KM_PER_DEG = 111.32  # km per degree of latitude (and of longitude at the equator)

# English names used in regions.csv (ISO 3166-2:IQ short names, common English spelling).
NAMES = {
    "IQ-AN": "Anbar",
    "IQ-AR": "Erbil",
    "IQ-BA": "Basra",
    "IQ-BB": "Babil",
    "IQ-BG": "Baghdad",
    "IQ-DA": "Dohuk",
    "IQ-DI": "Diyala",
    "IQ-DQ": "Dhi Qar",
    "IQ-KA": "Karbala",
    "IQ-KI": "Kirkuk",
    "IQ-MA": "Maysan",
    "IQ-MU": "Muthanna",
    "IQ-NA": "Najaf",
    "IQ-NI": "Nineveh",
    "IQ-QA": "Al-Qadisiyah",
    "IQ-SD": "Salah ad-Din",
    "IQ-SU": "Sulaymaniyah",
    "IQ-WA": "Wasit",
}

# --- structural flags (DESIGN.md §3) -------------------------------------------------------
SYRIA_BORDER = {"IQ-AN", "IQ-NI"}
KURDISTAN = {"IQ-AR", "IQ-DA", "IQ-SU"}
DISPUTED = {"IQ-KI", "IQ-NI", "IQ-DI", "IQ-SD"}
LIBERATED = {"IQ-AN", "IQ-NI", "IQ-SD", "IQ-KI", "IQ-DI"}

# --- judgement attributes in [0, 1]; reasoning in data/iraq/README.md -----------------------
RECONSTRUCTION_GAP = {
    "IQ-NI": 1.00,  # Mosul old city, Sinjar, Nineveh plains: largest destruction, slowest rebuild
    "IQ-AN": 0.80,  # Ramadi, Fallujah, al-Qaim: heavy damage, better rebuilt than Mosul
    "IQ-SD": 0.70,  # Baiji, Tikrit, Shirqat; displaced not returned (e.g. Yathrib, Aziz Balad)
    "IQ-DI": 0.45,  # northern Diyala (Sadiyah, Jalawla, Muqdadiyah belt)
    "IQ-KI": 0.35,  # Hawija district and southwest Kirkuk
    "IQ-BB": 0.15,  # Jurf al-Sakhar (north Babil): residents never allowed back
    "IQ-BG": 0.10,  # northern/western Baghdad belts (Tarmiyah, Abu Ghraib)
}
IRAN_AFFINITY = {
    "IQ-KA": 0.90,
    "IQ-NA": 0.85,
    "IQ-BA": 0.85,
    "IQ-MA": 0.85,
    "IQ-DQ": 0.80,
    "IQ-QA": 0.80,
    "IQ-WA": 0.80,
    "IQ-MU": 0.75,
    "IQ-BB": 0.75,
    "IQ-BG": 0.70,
    "IQ-DI": 0.55,
    "IQ-SD": 0.35,
    "IQ-KI": 0.35,
    "IQ-NI": 0.25,
    "IQ-SU": 0.25,
    "IQ-AN": 0.10,
    "IQ-AR": 0.10,
    "IQ-DA": 0.05,
}
PMF_PRESENCE = {
    "IQ-SD": 0.80,
    "IQ-DI": 0.80,
    "IQ-BB": 0.75,
    "IQ-BG": 0.70,
    "IQ-NI": 0.60,
    "IQ-KI": 0.60,
    "IQ-BA": 0.45,
    "IQ-KA": 0.45,
    "IQ-MA": 0.40,
    "IQ-DQ": 0.40,
    "IQ-WA": 0.40,
    "IQ-NA": 0.40,
    "IQ-QA": 0.35,
    "IQ-MU": 0.30,
    "IQ-AN": 0.25,
    "IQ-AR": 0.05,
    "IQ-DA": 0.05,
    "IQ-SU": 0.05,
}
CONVOY_ROUTE = {"IQ-BA": 1.0, "IQ-DQ": 1.0, "IQ-QA": 1.0, "IQ-MU": 1.0, "IQ-BB": 1.0, "IQ-BG": 1.0}

# --- is_presence: UCDP GED events involving IS --------------------------------------------
GED_START, GED_END = "2018-01-01", "2018-12-31"
PSEUDO_COUNT = 0.5
# GED adm_1 spellings, ASCII-folded, lower-case, without " province"
GED_ADM1 = {
    "al anbar": "IQ-AN",
    "arbil": "IQ-AR",
    "al basrah": "IQ-BA",
    "babil": "IQ-BB",
    "baghdad": "IQ-BG",
    "dahuk": "IQ-DA",
    "diyala": "IQ-DI",
    "dhi qar": "IQ-DQ",
    "karbala'": "IQ-KA",
    "kirkuk": "IQ-KI",
    "at-ta'mim": "IQ-KI",  # Ba'ath-era name of Kirkuk governorate
    "maysan": "IQ-MA",
    "al muthanna": "IQ-MU",
    "an najaf": "IQ-NA",
    "ninawa": "IQ-NI",
    "al qadisiyah": "IQ-QA",
    "salah ad din": "IQ-SD",
    "as sulaymaniyah": "IQ-SU",
    "wasit": "IQ-WA",
}


def fold_adm1(name: str) -> str:
    """'Nīnawá province' -> 'ninawa'; 'Karbalā’ province' -> "karbala'"."""
    s = unicodedata.normalize("NFKD", name.replace("\u2019", "'"))
    s = "".join(c for c in s if not unicodedata.combining(c)).lower()
    s = " ".join(s.split())
    return s.removesuffix(" province").strip()


def equal_area_km2(geom: shapely.Geometry) -> float:
    """Area on a sphere via the sinusoidal (equal-area) projection x = lon*cos(lat), y = lat."""

    def project(xy: np.ndarray) -> np.ndarray:
        out = xy.copy()
        out[:, 0] = xy[:, 0] * np.cos(np.radians(xy[:, 1]))
        return out

    return float(shapely.transform(geom, project).area) * KM_PER_DEG**2


def inside_point(geom: shapely.Geometry) -> Point:
    c = geom.centroid
    return c if geom.contains(c) else geom.representative_point()


def load_polygons(data: Path) -> dict[str, shapely.Geometry]:
    gj = json.loads((data / BOUNDARIES).read_text(encoding="utf-8"))
    polys = {f["properties"]["shapeISO"]: shape(f["geometry"]) for f in gj["features"]}
    if set(polys) != set(NAMES):
        raise SystemExit(f"{BOUNDARIES}: shapeISO set {sorted(polys)} != expected {sorted(NAMES)}")
    return polys


def load_population(data: Path) -> dict[str, float]:
    pop = pd.read_csv(data / POPULATION)
    halabja = pop["shapeISO"].isna()
    if halabja.sum() != 1 or "Halab" not in str(pop.loc[halabja, "name_citypopulation"].iloc[0]):
        raise SystemExit(f"{POPULATION}: expected exactly one row without shapeISO (Halabja)")
    out = dict(
        zip(
            pop.loc[~halabja, "shapeISO"],
            pop.loc[~halabja, "pop_2018_est"].astype(float),
            strict=True,
        )
    )
    out["IQ-SU"] += float(
        pop.loc[halabja, "pop_2018_est"].iloc[0]
    )  # fold Halabja in, as the polygons do
    return out


def is_event_counts(
    data: Path, polys: dict[str, shapely.Geometry]
) -> tuple[dict[str, int], list[str]]:
    ged = pd.read_csv(data / GED, low_memory=False)
    sel = ged[
        (ged["date_start"] >= GED_START)
        & (ged["date_start"] <= GED_END)
        & ((ged["side_a"] == "IS") | (ged["side_b"] == "IS"))
    ]
    notes: list[str] = []
    counts = dict.fromkeys(NAMES, 0)
    disagree = outside = 0
    for row in sel.itertuples(index=False):
        pt = Point(float(row.longitude), float(row.latitude))
        by_point = next((c for c, g in sorted(polys.items()) if g.covers(pt)), None)
        if isinstance(row.adm_1, str):
            key = fold_adm1(row.adm_1)
            if key not in GED_ADM1:
                raise SystemExit(f"{GED}: unmapped adm_1 {row.adm_1!r} (event id {row.id})")
            code = GED_ADM1[key]
            disagree += by_point is not None and by_point != code
            outside += by_point is None
        else:
            if by_point is None:
                raise SystemExit(
                    f"{GED}: event {row.id} has no adm_1 and lies outside all polygons"
                )
            code = by_point
            notes.append(f"event {row.id} ({row.where_coordinates}) placed by point -> {code}")
        counts[code] += 1
    notes.append(
        f"{len(sel)} IS events {GED_START}..{GED_END}; adm_1 vs point-in-polygon disagree: "
        f"{disagree}, point outside all polygons: {outside}"
    )
    return counts, notes


def build(data: Path) -> tuple[str, list[str]]:
    polys = load_polygons(data)
    pop = load_population(data)
    counts, notes = is_event_counts(data, polys)
    total = sum(counts.values()) + PSEUDO_COUNT * len(counts)
    rows = []
    for code in sorted(NAMES):
        g = polys[code]
        p = inside_point(g)
        rows.append(
            {
                "code": code,
                "name": NAMES[code],
                "population": int(pop[code]),
                "area_km2": round(equal_area_km2(g)),
                "lat": round(p.y, 4),
                "lon": round(p.x, 4),
                "syria_border": int(code in SYRIA_BORDER),
                "kurdistan": int(code in KURDISTAN),
                "disputed": int(code in DISPUTED),
                "liberated": int(code in LIBERATED),
                "reconstruction_gap": RECONSTRUCTION_GAP.get(code, 0.0),
                "iran_affinity": IRAN_AFFINITY[code],
                "pmf_presence": PMF_PRESENCE[code],
                "convoy_route": CONVOY_ROUTE.get(code, 0.0),
                "is_presence": round((counts[code] + PSEUDO_COUNT) / total, 9),
                "is_events_2018": counts[code],
            }
        )
    buf = io.StringIO()
    w = csv.DictWriter(buf, fieldnames=list(rows[0]), lineterminator="\n")
    w.writeheader()
    w.writerows(rows)
    s = sum(r["is_presence"] for r in rows)
    if not math.isclose(s, 1.0, abs_tol=1e-8):
        raise SystemExit(f"is_presence sums to {s}")
    return buf.getvalue(), notes


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--data", type=Path, default=DEFAULT_DATA)
    ap.add_argument("--out", type=Path, default=DEFAULT_OUT)
    ap.add_argument("--check", action="store_true", help="compare instead of writing")
    a = ap.parse_args(argv)
    text, notes = build(a.data)
    for n in notes:
        print(n, file=sys.stderr)
    regions, bounds = a.out / "regions.csv", a.out / "boundaries.geojson"
    if a.check:
        same = regions.read_text(encoding="utf-8") == text and (
            bounds.read_bytes() == (a.data / BOUNDARIES).read_bytes()
        )
        print("up to date" if same else "packaged theatre data differ from a rebuild")
        return 0 if same else 1
    a.out.mkdir(parents=True, exist_ok=True)
    regions.write_text(text, encoding="utf-8")
    shutil.copyfile(a.data / BOUNDARIES, bounds)
    print(f"wrote {regions} and {bounds}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
