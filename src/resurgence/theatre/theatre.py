"""Theatre layer: the regions the engine simulates over, read from a directory of data files.

A theatre directory holds ``regions.csv`` (required columns ``code, name, population, lat,
lon``; optional ``area_km2``, flag and attribute columns), and optionally ``bases.csv``,
``boundaries.geojson`` and ``adjacency.csv`` (columns ``a, b``).  ``load_theatre("iraq")``
reads the packaged ``data/iraq/``; any other directory with the same layout loads the same way.
"""

from __future__ import annotations

import datetime
import functools
import hashlib
import json
import math
from collections.abc import Mapping
from dataclasses import dataclass, field
from importlib import resources
from pathlib import Path
from types import MappingProxyType
from typing import Any

import numpy as np
import pandas as pd

from resurgence.core.errors import TheatreError

__all__ = ["Base", "Theatre", "TheatreError", "load_theatre", "packaged_theatres"]

REQUIRED_COLUMNS = ("code", "name", "population", "lat", "lon")
FLAG_COLUMNS = ("syria_border", "kurdistan", "disputed", "liberated")
ATTR_COLUMNS = (
    "reconstruction_gap",
    "iran_affinity",
    "pmf_presence",
    "convoy_route",
    "is_presence",
)
BASE_COLUMNS = ("name", "region", "lat", "lon", "opened", "closed")
ADJACENCY_TOLERANCE_DEG = 1e-4  # polygons closer than ~2x this (~20 m) count as touching
EARTH_RADIUS_KM = 6371.0088
_TRUE, _FALSE = {"1", "true", "yes", "y", "t"}, {"0", "false", "no", "n", "f", ""}


@dataclass(frozen=True)
class Base:
    name: str
    region: str
    lat: float
    lon: float
    opened: datetime.date | None
    closed: datetime.date | None
    note: str = ""

    def is_open(self, date: datetime.date) -> bool:
        """Open on ``date``: opened on/before it (or unknown) and not yet closed."""
        return (self.opened is None or self.opened <= date) and (
            self.closed is None or date < self.closed
        )


@dataclass(frozen=True, eq=False)
class Theatre:
    name: str
    national_code: str
    codes: tuple[str, ...]
    names: tuple[str, ...]
    population: np.ndarray
    area_km2: np.ndarray
    lat: np.ndarray
    lon: np.ndarray
    flags: Mapping[str, np.ndarray]
    attrs: Mapping[str, np.ndarray]
    adjacency: np.ndarray
    bases: tuple[Base, ...]
    source_dir: Path
    hashes: Mapping[str, str] = field(default_factory=dict, repr=False)

    @property
    def n_regions(self) -> int:
        return len(self.codes)

    def index(self, code: str) -> int:
        try:
            return self.codes.index(code)
        except ValueError:
            raise ValueError(
                f"unknown region code {code!r} in theatre {self.name!r}; valid: {', '.join(self.codes)}"
            ) from None

    def neighbours(self, code: str) -> list[str]:
        row = self.adjacency[self.index(code)]
        return [c for c, adj in zip(self.codes, row, strict=True) if adj]

    def base_distance_km(self) -> np.ndarray:
        """(R, B) great-circle distance in km from each region's point to each base."""
        blat = np.array([b.lat for b in self.bases], dtype=float)
        blon = np.array([b.lon for b in self.bases], dtype=float)
        return haversine_km(self.lat[:, None], self.lon[:, None], blat[None, :], blon[None, :])

    def geometry(self) -> dict[str, Any]:
        """Shapely geometry per region code, read (once) from ``boundaries.geojson``."""
        path = self.source_dir / "boundaries.geojson"
        if not path.is_file():
            raise TheatreError(f"{path}: no boundaries file for theatre {self.name!r}")
        geoms = _read_geometry(path)
        return {c: geoms[c] for c in self.codes if c in geoms}

    def file_hashes(self) -> dict[str, str]:
        """sha256 of each data file read for this theatre (for provenance manifests)."""
        return dict(self.hashes)

    def to_frame(self) -> pd.DataFrame:
        df = pd.DataFrame(
            {
                "code": self.codes,
                "name": self.names,
                "population": self.population,
                "area_km2": self.area_km2,
                "lat": self.lat,
                "lon": self.lon,
            }
        )
        for k, v in {**self.flags, **self.attrs}.items():
            df[k] = v
        df["neighbours"] = [" ".join(self.neighbours(c)) for c in self.codes]
        return df


def haversine_km(lat1: Any, lon1: Any, lat2: Any, lon2: Any) -> np.ndarray:
    p1, p2 = np.radians(lat1), np.radians(lat2)
    dlat, dlon = p2 - p1, np.radians(lon2) - np.radians(lon1)
    h = np.sin(dlat / 2) ** 2 + np.cos(p1) * np.cos(p2) * np.sin(dlon / 2) ** 2
    return 2 * EARTH_RADIUS_KM * np.arcsin(np.sqrt(np.clip(h, 0.0, 1.0)))


def _packaged_root() -> Path:
    root = resources.files("resurgence").joinpath("data")
    return root if isinstance(root, Path) else Path(__file__).resolve().parent / "data"


def packaged_theatres() -> list[str]:
    root = _packaged_root()
    return (
        sorted(p.name for p in root.iterdir() if (p / "regions.csv").is_file())
        if root.is_dir()
        else []
    )


def load_theatre(name_or_path: str | Path = "iraq") -> Theatre:
    """Load a packaged theatre by name (``"iraq"``) or any theatre directory by path (cached)."""
    if isinstance(name_or_path, str) and "/" not in name_or_path and "\\" not in name_or_path:
        packaged = _packaged_root() / name_or_path
        if (packaged / "regions.csv").is_file():
            return _load(packaged.resolve())
    path = Path(name_or_path).expanduser()
    if not (path / "regions.csv").is_file():
        raise TheatreError(
            f"{path}: not a theatre directory (no regions.csv); packaged theatres: "
            f"{', '.join(packaged_theatres()) or 'none'}"
        )
    return _load(path.resolve())


def _read_csv(path: Path, required: tuple[str, ...]) -> pd.DataFrame:
    try:
        df = pd.read_csv(path, dtype=str, keep_default_na=False, skipinitialspace=True)
    except (pd.errors.ParserError, pd.errors.EmptyDataError, UnicodeDecodeError) as e:
        raise TheatreError(f"{path}: cannot parse CSV: {str(e).splitlines()[0]}") from None
    df.columns = [str(c).strip() for c in df.columns]
    missing = [c for c in required if c not in df.columns]
    if missing:
        raise TheatreError(
            f"{path}: missing required column(s) {', '.join(missing)} (has: {', '.join(df.columns)})"
        )
    return df.apply(lambda s: s.str.strip())


def _where(path: Path, i: int, col: str) -> str:
    return f"{path}: line {i + 2}, column '{col}'"  # +1 for header, +1 for 1-based lines


def _floats(
    df: pd.DataFrame, col: str, path: Path, lo: float = -math.inf, hi: float = math.inf
) -> np.ndarray:
    out = np.empty(len(df))
    for i, v in enumerate(df[col]):
        try:
            out[i] = float(v)
        except ValueError:
            raise TheatreError(f"{_where(path, i, col)}: not a number: {v!r}") from None
        if not (lo <= out[i] <= hi):  # also rejects NaN
            raise TheatreError(f"{_where(path, i, col)}: value {v!r} outside [{lo}, {hi}]")
    out.flags.writeable = False
    return out


def _bools(df: pd.DataFrame, col: str, path: Path) -> np.ndarray:
    vals = [str(v).lower() for v in df[col]]
    for i, v in enumerate(vals):
        if v not in _TRUE | _FALSE:
            raise TheatreError(f"{_where(path, i, col)}: not a 0/1 flag: {df[col].iloc[i]!r}")
    out = np.array([v in _TRUE for v in vals], dtype=bool)
    out.flags.writeable = False
    return out


def _date(df: pd.DataFrame, i: int, col: str, path: Path) -> datetime.date | None:
    v = df[col].iloc[i] if col in df.columns else ""
    try:
        return datetime.date.fromisoformat(v) if v else None
    except ValueError:
        raise TheatreError(f"{_where(path, i, col)}: not an ISO date (YYYY-MM-DD): {v!r}") from None


def _sha256(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


@functools.lru_cache(maxsize=32)
def _load(d: Path) -> Theatre:
    rpath = d / "regions.csv"
    df = _read_csv(rpath, REQUIRED_COLUMNS)
    if df.empty:
        raise TheatreError(f"{rpath}: no regions")
    for i, code in enumerate(df["code"]):
        if not code:
            raise TheatreError(f"{_where(rpath, i, 'code')}: empty region code")
    dup = df["code"][df["code"].duplicated()]
    if not dup.empty:
        raise TheatreError(
            f"{_where(rpath, int(dup.index[0]), 'code')}: duplicate code {dup.iloc[0]!r}"
        )
    codes = tuple(df["code"])
    population = _floats(df, "population", rpath, 0.0)
    lat, lon = _floats(df, "lat", rpath, -90.0, 90.0), _floats(df, "lon", rpath, -180.0, 180.0)
    hashes = {"regions.csv": _sha256(rpath)}
    gpath = d / "boundaries.geojson"
    if gpath.is_file():
        hashes["boundaries.geojson"] = _sha256(gpath)
    if "area_km2" in df.columns:
        area = _floats(df, "area_km2", rpath, 0.0)
    else:
        geoms = _read_geometry(gpath) if gpath.is_file() else {}
        area = np.array([_area_km2(geoms[c]) if c in geoms else math.nan for c in codes])
    flags = {
        c: _bools(df, c, rpath) if c in df.columns else np.zeros(len(df), bool)
        for c in FLAG_COLUMNS
    }
    attrs: dict[str, np.ndarray] = {}
    for c in ATTR_COLUMNS:
        if c in df.columns:
            attrs[c] = _floats(df, c, rpath, 0.0, 1.0)
        elif c == "is_presence" and population.sum() > 0:
            attrs[c] = population / population.sum()
        else:
            attrs[c] = np.zeros(len(df))
    apath = d / "adjacency.csv"
    if apath.is_file():
        hashes["adjacency.csv"] = _sha256(apath)
        adjacency = _adjacency_from_csv(apath, codes)
    elif gpath.is_file():
        adjacency = _adjacency_from_polygons(_read_geometry(gpath), codes)
    else:
        adjacency = np.zeros((len(codes), len(codes)), dtype=bool)
    adjacency.flags.writeable = False
    bpath = d / "bases.csv"
    bases: tuple[Base, ...] = ()
    if bpath.is_file():
        hashes["bases.csv"] = _sha256(bpath)
        bases = _read_bases(bpath, codes, tuple(df["name"]))
    prefixes = {c.split("-")[0] for c in codes}
    national = (
        prefixes.pop() if len(prefixes) == 1 and all("-" in c for c in codes) else d.name.upper()
    )
    return Theatre(
        name=d.name,
        national_code=national,
        codes=codes,
        names=tuple(df["name"]),
        population=population,
        area_km2=area,
        lat=lat,
        lon=lon,
        flags=MappingProxyType(flags),
        attrs=MappingProxyType(attrs),
        adjacency=adjacency,
        bases=bases,
        source_dir=d,
        hashes=MappingProxyType(hashes),
    )


def _read_bases(path: Path, codes: tuple[str, ...], names: tuple[str, ...]) -> tuple[Base, ...]:
    df = _read_csv(path, BASE_COLUMNS)
    by_name = {n.lower(): c for c, n in zip(codes, names, strict=True)}
    lat, lon = _floats(df, "lat", path, -90.0, 90.0), _floats(df, "lon", path, -180.0, 180.0)
    out = []
    for i, row in enumerate(df.itertuples(index=False)):
        region = row.region if row.region in codes else by_name.get(row.region.lower())
        if region is None:
            raise TheatreError(
                f"{_where(path, i, 'region')}: region {row.region!r} not in regions.csv"
            )
        opened, closed = _date(df, i, "opened", path), _date(df, i, "closed", path)
        if opened and closed and closed < opened:
            raise TheatreError(
                f"{_where(path, i, 'closed')}: closed {closed} before opened {opened}"
            )
        note = df["note"].iloc[i] if "note" in df.columns else ""
        out.append(Base(row.name, region, float(lat[i]), float(lon[i]), opened, closed, note))
    return tuple(out)


def _adjacency_from_csv(path: Path, codes: tuple[str, ...]) -> np.ndarray:
    df = _read_csv(path, ("a", "b"))
    adj = np.zeros((len(codes), len(codes)), dtype=bool)
    for i, (a, b) in enumerate(zip(df["a"], df["b"], strict=True)):
        for col, v in (("a", a), ("b", b)):
            if v not in codes:
                raise TheatreError(f"{_where(path, i, col)}: region {v!r} not in regions.csv")
        if a == b:
            raise TheatreError(f"{_where(path, i, 'b')}: region {a!r} adjacent to itself")
        adj[codes.index(a), codes.index(b)] = adj[codes.index(b), codes.index(a)] = True
    return adj


def _adjacency_from_polygons(geoms: Mapping[str, Any], codes: tuple[str, ...]) -> np.ndarray:
    import shapely

    adj = np.zeros((len(codes), len(codes)), dtype=bool)
    have = [i for i, c in enumerate(codes) if c in geoms]
    buffered = [geoms[codes[i]].buffer(ADJACENCY_TOLERANCE_DEG) for i in have]
    tree = shapely.STRtree(buffered)
    left, right = tree.query(buffered, predicate="intersects")
    for p, q in zip(left, right, strict=True):
        if p != q:
            adj[have[p], have[q]] = adj[have[q], have[p]] = True
    return adj


def _area_km2(geom: Any) -> float:
    """Equal-area (sinusoidal) area of a lon/lat geometry; 1 degree = 111.32 km."""
    import shapely

    def project(xy: np.ndarray) -> np.ndarray:
        return np.column_stack([xy[:, 0] * np.cos(np.radians(xy[:, 1])), xy[:, 1]])

    return float(shapely.transform(geom, project).area) * 111.32**2


@functools.lru_cache(maxsize=8)
def _read_geometry(path: Path) -> dict[str, Any]:
    from shapely.geometry import shape

    try:
        features = json.loads(path.read_text(encoding="utf-8"))["features"]
    except (ValueError, KeyError, TypeError) as e:
        raise TheatreError(f"{path}: not a GeoJSON FeatureCollection ({e})") from None
    out: dict[str, Any] = {}
    for k, f in enumerate(features):
        props = f.get("properties") or {}
        code = props.get("shapeISO") or props.get("code")
        if not code:
            raise TheatreError(f"{path}: feature {k}: no 'shapeISO' or 'code' property")
        try:
            out[code] = shape(f["geometry"])
        except (KeyError, TypeError, ValueError, AttributeError) as e:
            raise TheatreError(f"{path}: feature {k} ({code}): bad geometry ({e})") from None
    return out
