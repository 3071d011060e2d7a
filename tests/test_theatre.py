"""Tests for the theatre layer and the packaged Iraq theatre data."""

from __future__ import annotations

import datetime
import hashlib
import json
from pathlib import Path

import numpy as np
import pytest

from resurgence.theatre.theatre import Base, Theatre, TheatreError, load_theatre

IRAQ_CODES = [
    f"IQ-{s}"
    for s in ("AN", "AR", "BA", "BB", "BG", "DA", "DI", "DQ", "KA")
    + ("KI", "MA", "MU", "NA", "NI", "QA", "SD", "SU", "WA")
]


@pytest.fixture(scope="module")
def iraq() -> Theatre:
    return load_theatre("iraq")


def test_regions_and_codes(iraq: Theatre) -> None:
    assert iraq.name == "iraq"
    assert iraq.national_code == "IQ"
    assert iraq.n_regions == 18
    assert list(iraq.codes) == IRAQ_CODES  # ordered by ISO code
    assert iraq.names[iraq.index("IQ-NI")] == "Nineveh"
    for arr in (iraq.population, iraq.area_km2, iraq.lat, iraq.lon):
        assert arr.shape == (18,) and arr.dtype == np.float64


def test_population_sums_to_2018_national_estimate(iraq: Theatre) -> None:
    assert iraq.population.sum() == 38_124_182
    # Halabja (108,974) folded into As-Sulaymaniyah (2,053,305)
    assert iraq.population[iraq.index("IQ-SU")] == 2_053_305 + 108_974
    assert iraq.population.argmax() == iraq.index("IQ-BG")


def test_points_inside_iraq_and_polygons(iraq: Theatre) -> None:
    from shapely.geometry import Point

    geoms = iraq.geometry()
    assert list(geoms) == IRAQ_CODES
    for code, lat, lon in zip(iraq.codes, iraq.lat, iraq.lon, strict=True):
        assert 29 < lat < 37.5 and 38.5 < lon < 48.7
        assert geoms[code].contains(Point(lon, lat)), code


def test_areas_plausible(iraq: Theatre) -> None:
    area = dict(zip(iraq.codes, iraq.area_km2, strict=True))
    assert 425_000 < sum(area.values()) < 445_000  # Iraq ~435,000 km2
    assert area["IQ-AN"] == pytest.approx(138_500, rel=0.02)  # official 138,501
    assert area["IQ-NI"] == pytest.approx(37_323, rel=0.02)
    assert max(area, key=area.get) == "IQ-AN"


def test_flags(iraq: Theatre) -> None:
    def on(flag: str) -> set[str]:
        return {c for c, f in zip(iraq.codes, iraq.flags[flag], strict=True) if f}

    assert on("syria_border") == {"IQ-AN", "IQ-NI"}
    assert on("kurdistan") == {"IQ-AR", "IQ-DA", "IQ-SU"}
    assert on("disputed") == {"IQ-KI", "IQ-NI", "IQ-DI", "IQ-SD"}
    assert on("liberated") == {"IQ-AN", "IQ-NI", "IQ-SD", "IQ-KI", "IQ-DI"}
    assert all(v.dtype == bool and v.shape == (18,) for v in iraq.flags.values())


def test_judgement_attributes(iraq: Theatre) -> None:
    for key in ("reconstruction_gap", "iran_affinity", "pmf_presence", "convoy_route"):
        v = iraq.attrs[key]
        assert v.dtype == np.float64 and ((v >= 0) & (v <= 1)).all(), key
    gap = iraq.attrs["reconstruction_gap"]
    assert gap.argmax() == iraq.index("IQ-NI")
    assert gap[iraq.index("IQ-BA")] == 0
    aff = iraq.attrs["iran_affinity"]
    assert aff[iraq.index("IQ-KA")] > aff[iraq.index("IQ-DI")] > aff[iraq.index("IQ-AN")]
    assert aff[iraq.index("IQ-AR")] < 0.2
    convoy = {c for c, v in zip(iraq.codes, iraq.attrs["convoy_route"], strict=True) if v > 0.5}
    assert {"IQ-BA", "IQ-DQ", "IQ-BB", "IQ-BG"} <= convoy
    assert not convoy & {"IQ-NI", "IQ-AN", "IQ-AR"}


def test_is_presence(iraq: Theatre) -> None:
    p = dict(zip(iraq.codes, iraq.attrs["is_presence"], strict=True))
    assert sum(p.values()) == pytest.approx(1.0, abs=1e-6)
    assert all(v > 0 for v in p.values())  # pseudo-count
    # 2018 (post-territorial insurgency): the Kirkuk-Salah ad-Din-Diyala-Nineveh belt leads
    assert max(p, key=p.get) == "IQ-KI"
    assert sum(p[c] for c in ("IQ-KI", "IQ-SD", "IQ-NI", "IQ-DI")) > 0.6
    assert sum(p[c] for c in ("IQ-NI", "IQ-AN", "IQ-SD", "IQ-KI", "IQ-DI")) > 0.6
    for south in ("IQ-BA", "IQ-MA", "IQ-MU", "IQ-DQ", "IQ-QA"):
        assert p[south] < 0.01


def test_adjacency(iraq: Theatre) -> None:
    a = iraq.adjacency
    assert a.shape == (18, 18) and a.dtype == bool
    assert (a == a.T).all() and not a.diagonal().any()
    assert a.sum(axis=1).min() >= 1
    assert set(iraq.neighbours("IQ-NI")) == {"IQ-DA", "IQ-AR", "IQ-SD", "IQ-AN"}
    assert set(iraq.neighbours("IQ-BA")) == {"IQ-DQ", "IQ-MA", "IQ-MU"}
    assert set(iraq.neighbours("IQ-DA")) == {"IQ-NI", "IQ-AR"}
    assert "IQ-SD" in iraq.neighbours("IQ-KI")
    i = iraq.index
    assert not a[i("IQ-BG"), i("IQ-BA")]
    assert not a[i("IQ-NI"), i("IQ-KI")]  # Makhmour (Erbil) / Shirqat (Salah ad-Din) between
    assert not a[i("IQ-AN"), i("IQ-DI")]
    assert not a[i("IQ-DA"), i("IQ-SU")]


def test_bases(iraq: Theatre) -> None:
    assert len(iraq.bases) == 9
    assert all(isinstance(b, Base) and b.region in iraq.codes for b in iraq.bases)
    closed = [b for b in iraq.bases if b.closed is not None]
    assert len(closed) == 6
    assert all(b.closed.year == 2020 for b in closed)
    by_name = {b.name: b for b in iraq.bases}
    assert by_name["Taji"].closed == datetime.date(2020, 8, 23)
    assert by_name["Al-Qaim"].closed == datetime.date(2020, 3, 17)
    open_at_cutoff = {b.name for b in iraq.bases if b.is_open(datetime.date(2020, 11, 30))}
    assert open_at_cutoff == {"Ain al-Asad", "Erbil Air Base", "Union III (Baghdad)"}
    assert {b.region for b in iraq.bases if b.closed is None} == {"IQ-AN", "IQ-AR", "IQ-BG"}


def test_base_distance(iraq: Theatre) -> None:
    d = iraq.base_distance_km()
    assert d.shape == (18, 9)
    assert (d >= 0).all()
    erbil = [k for k, b in enumerate(iraq.bases) if b.name == "Erbil Air Base"][0]
    assert d[iraq.index("IQ-AR"), erbil] < 30
    assert d[iraq.index("IQ-BA"), erbil] > 600
    # Basra to Baghdad's Union III is roughly 450 km
    union = [k for k, b in enumerate(iraq.bases) if b.name.startswith("Union III")][0]
    assert 400 < d[iraq.index("IQ-BA"), union] < 500


def test_index_error_lists_codes(iraq: Theatre) -> None:
    with pytest.raises(ValueError, match="IQ-XX") as e:
        iraq.index("IQ-XX")
    assert "IQ-NI" in str(e.value)


def test_cache_and_hashes(iraq: Theatre) -> None:
    assert load_theatre("iraq") is iraq
    assert load_theatre(iraq.source_dir) is iraq
    h = iraq.file_hashes()
    assert set(h) == {"regions.csv", "bases.csv", "boundaries.geojson"}
    expect = hashlib.sha256((iraq.source_dir / "regions.csv").read_bytes()).hexdigest()
    assert h["regions.csv"] == expect
    assert not iraq.population.flags.writeable


def test_to_frame(iraq: Theatre) -> None:
    df = iraq.to_frame()
    assert len(df) == 18 and list(df["code"]) == IRAQ_CODES
    for col in ("population", "area_km2", "lat", "lon", "kurdistan", "is_presence", "neighbours"):
        assert col in df.columns


def test_packaged_boundaries_match_shared_copy(iraq: Theatre) -> None:
    shared = (
        Path(__file__).resolve().parents[2]
        / "shared/data/irq_adm1_geoboundaries_simplified.geojson"
    )
    if not shared.is_file():
        pytest.skip("shared data not available")
    assert (iraq.source_dir / "boundaries.geojson").read_bytes() == shared.read_bytes()


# --- custom theatres -----------------------------------------------------------------------

REGIONS = "code,name,population,lat,lon\nXX-A,Alpha,100,10.0,20.0\nXX-B,Beta,300,10.0,21.0\nXX-C,Gamma,600,11.0,21.0\n"


def make(tmp_path: Path, regions: str = REGIONS, **extra: str) -> Path:
    d = tmp_path / "toy"
    d.mkdir()
    (d / "regions.csv").write_text(regions)
    for name, text in extra.items():
        (d / name).write_text(text)
    return d


def test_custom_theatre_with_adjacency_csv(tmp_path: Path) -> None:
    d = make(tmp_path, **{"adjacency.csv": "a,b\nXX-A,XX-B\nXX-C,XX-B\n"})
    t = load_theatre(d)
    assert t.name == "toy" and t.national_code == "XX" and t.n_regions == 3
    assert t.neighbours("XX-B") == ["XX-A", "XX-C"]
    assert t.neighbours("XX-A") == ["XX-B"]
    assert (t.adjacency == t.adjacency.T).all() and not t.adjacency.diagonal().any()
    assert t.bases == ()
    assert t.base_distance_km().shape == (3, 0)
    assert not any(v.any() for v in t.flags.values())  # missing flag columns -> False
    assert t.attrs["pmf_presence"].tolist() == [0.0, 0.0, 0.0]
    assert t.attrs["is_presence"].tolist() == pytest.approx([0.1, 0.3, 0.6])
    assert set(t.file_hashes()) == {"regions.csv", "adjacency.csv"}
    assert load_theatre(str(d)) is t


def test_custom_theatre_adjacency_from_polygons(tmp_path: Path) -> None:
    # three unit squares in a row with a 5e-5 deg gap between A and B (a sliver)
    def sq(code: str, x0: float) -> dict:
        ring = [[x0, 0], [x0 + 1, 0], [x0 + 1, 1], [x0, 1], [x0, 0]]
        geometry = {"type": "Polygon", "coordinates": [ring]}
        return {"type": "Feature", "properties": {"code": code}, "geometry": geometry}

    features = [sq("XX-A", 0), sq("XX-B", 1.00005), sq("XX-C", 2.00005)]
    gj = json.dumps({"type": "FeatureCollection", "features": features})
    regions = "code,name,population,lat,lon\nXX-A,A,1,0.5,0.5\nXX-B,B,1,0.5,1.5\nXX-C,C,1,0.5,2.5\n"
    bases = "name,region,lat,lon,opened,closed\nCamp,XX-B,0.5,1.5,2015-01-01,\n"
    t = load_theatre(make(tmp_path, regions, **{"boundaries.geojson": gj, "bases.csv": bases}))
    assert t.neighbours("XX-A") == ["XX-B"]
    assert t.neighbours("XX-B") == ["XX-A", "XX-C"]
    assert not t.adjacency[0, 2]
    assert t.area_km2[0] == pytest.approx(111.32**2, rel=1e-3)  # computed when column absent
    assert t.bases[0].opened == datetime.date(2015, 1, 1) and t.bases[0].closed is None
    assert t.base_distance_km()[1, 0] == pytest.approx(0.0, abs=1e-9)


@pytest.mark.parametrize(
    ("files", "fragments"),
    [
        ({"regions.csv": "code,name,lat,lon\nXX-A,A,1,2\n"}, ["regions.csv", "population"]),
        (
            {"regions.csv": "code,name,population,lat,lon\nXX-A,A,1,1,1\nXX-A,B,2,2,2\n"},
            ["regions.csv", "code", "duplicate", "XX-A", "line 3"],
        ),
        (
            {"regions.csv": "code,name,population,lat,lon\nXX-A,A,many,1,1\n"},
            ["regions.csv", "population", "many", "line 2"],
        ),
        (
            {"regions.csv": REGIONS.replace("600", "-5")},
            ["regions.csv", "population", "-5"],
        ),
        (
            {"regions.csv": "code,name,population,lat,lon,kurdistan\nXX-A,A,1,1,1,maybe\n"},
            ["regions.csv", "kurdistan", "maybe"],
        ),
        (
            {"regions.csv": "code,name,population,lat,lon,iran_affinity\nXX-A,A,1,1,1,1.5\n"},
            ["regions.csv", "iran_affinity", "1.5"],
        ),
        (
            {"bases.csv": "name,region,lat,lon,opened,closed\nCamp,XX-Z,1,1,,\n"},
            ["bases.csv", "region", "XX-Z"],
        ),
        (
            {"bases.csv": "name,region,lat,lon,opened,closed\nCamp,XX-A,1,1,2015-13-01,\n"},
            ["bases.csv", "opened", "2015-13-01"],
        ),
        (
            {"bases.csv": "name,region,lat,lon,opened\nCamp,XX-A,1,1,2015-01-01\n"},
            ["bases.csv", "closed"],
        ),
        ({"adjacency.csv": "a,b\nXX-A,XX-Q\n"}, ["adjacency.csv", "'b'", "XX-Q"]),
        ({"adjacency.csv": "from,to\nXX-A,XX-B\n"}, ["adjacency.csv", "a, b"]),
    ],
)
def test_bad_files_raise_theatre_error(
    tmp_path: Path, files: dict[str, str], fragments: list[str]
) -> None:
    regions = files.pop("regions.csv", REGIONS)
    d = make(tmp_path, regions, **files)
    with pytest.raises(TheatreError) as e:
        load_theatre(d)
    msg = str(e.value)
    assert "\n" not in msg
    for frag in fragments:
        assert frag in msg, (frag, msg)


def test_missing_directory_and_unknown_name(tmp_path: Path) -> None:
    with pytest.raises(TheatreError, match="regions.csv"):
        load_theatre(tmp_path / "nowhere")
    with pytest.raises(TheatreError, match="iraq"):
        load_theatre("atlantis")
    assert issubclass(TheatreError, ValueError)
