from __future__ import annotations

import datetime as dt
import hashlib
import json
from pathlib import Path

import numpy as np
import pandas as pd
import pyarrow.parquet as pq
import pytest

from resurgence.core.atomic import (
    atomic_output_path,
    atomic_write_bytes,
    atomic_write_text,
    sha256_file,
)
from resurgence.results.bundle import QUANTILES, Bundle, BundleError, BundleWriter, MetricSpec

REGIONS = ["BGW", "NIN", "ANB"]
NAT = "IQ"
WEEKS = 5
START = dt.date(2020, 1, 6)
WEIGHTS = np.array([8.0, 4.0, 2.0])
METRICS = [
    MetricSpec("attacks", "events/week", "Insurgent attacks", "region", "sum"),
    MetricSpec("influence", "share", "Rival influence", "region", "popmean"),
    MetricSpec("troops", "personnel", "Foreign troops in country", "national", "sum"),
]
SCENARIOS = ["baseline", "drawdown"]
N_RUNS = 8


def _data(seed: int = 1) -> dict[str, dict[str, np.ndarray]]:
    rng = np.random.default_rng(seed)
    out = {}
    for s in SCENARIOS:
        out[s] = {
            "attacks": rng.poisson(5.0, (N_RUNS, WEEKS, len(REGIONS))).astype(np.float64),
            "influence": rng.uniform(0, 1, (N_RUNS, WEEKS, len(REGIONS))),
            "troops": rng.normal(5000, 300, (N_RUNS, WEEKS)),
        }
    return out


def _write(out: Path, data, splits=(4,), **kw) -> Path:
    with BundleWriter(out, regions=REGIONS, national_code=NAT, metrics=METRICS, start_date=START,
                      weeks=WEEKS, manifest={"seed": 42, "runs": N_RUNS, "version": "0.1.0"},
                      region_weights=WEIGHTS, **kw) as w:
        for s in SCENARIOS:
            bounds = [0, *splits, N_RUNS]
            for a, b in zip(bounds[:-1], bounds[1:], strict=True):
                d = data[s]
                w.write_chunk(s, np.arange(a, b), {"attacks": d["attacks"][a:b],
                                                   "influence": d["influence"][a:b]},
                              {"troops": d["troops"][a:b]})
    return out


@pytest.fixture(scope="module")
def data():
    return _data()


@pytest.fixture(scope="module")
def bundle(tmp_path_factory, data) -> Bundle:
    return Bundle.open(_write(tmp_path_factory.mktemp("b") / "bundle", data))


def test_layout_and_types(bundle: Bundle) -> None:
    parts = sorted(p.name for p in (bundle.path / "series").iterdir())
    assert parts == ["part-00-0000000.parquet", "part-00-0000004.parquet",
                     "part-01-0000000.parquet", "part-01-0000004.parquet"]
    schema = pq.read_schema(bundle.path / "series" / parts[0])
    assert str(schema.field("scenario").type) == "dictionary<values=string, indices=int32, ordered=0>"
    assert str(schema.field("run").type) == "int32"
    assert str(schema.field("week").type) == "int16"
    assert str(schema.field("date").type) == "date32[day]"
    assert all(str(schema.field(m.name).type) == "float" for m in METRICS)
    meta = pq.ParquetFile(bundle.path / "series" / parts[0]).metadata
    assert meta.row_group(0).column(0).compression == "ZSTD"
    assert not list(bundle.path.parent.glob("*.tmp-*"))
    # the quantile pass's scratch file (cells.tmp) is gone: only the listed files remain
    assert sorted(p.name for p in bundle.path.iterdir()) == ["manifest.json", "quantiles.parquet",
                                                            "series"]


def test_series_rows_and_national_rows(bundle: Bundle, data) -> None:
    df = bundle.series()
    assert len(df) == len(SCENARIOS) * N_RUNS * WEEKS * (len(REGIONS) + 1)
    assert list(df.columns) == ["scenario", "run", "week", "date", "region",
                                "attacks", "influence", "troops"]
    assert set(df["region"]) == {*REGIONS, NAT}
    assert df["week"].min() == 0 and df["week"].max() == WEEKS - 1
    first = df[df["week"] == 2]["date"].iloc[0]
    assert pd.Timestamp(first).date() == START + dt.timedelta(weeks=2)
    # national-only metric is null on regional rows and present on national rows
    assert df.loc[df["region"] != NAT, "troops"].isna().all()
    assert df.loc[df["region"] == NAT, "troops"].notna().all()
    for s in SCENARIOS:
        sub = df[df["scenario"] == s].sort_values(["run", "week", "region"])
        reg = sub[sub["region"] != NAT]
        nat = sub[sub["region"] == NAT].sort_values(["run", "week"])
        piv = {m: reg.pivot_table(index=["run", "week"], columns="region", values=m,
                                  observed=True)[REGIONS].to_numpy()
               for m in ("attacks", "influence")}
        # stored regional values are the inputs (as float32)
        np.testing.assert_allclose(piv["attacks"], data[s]["attacks"].reshape(-1, 3), rtol=1e-6)
        np.testing.assert_allclose(nat["attacks"], piv["attacks"].sum(axis=1), rtol=1e-6)
        popmean = piv["influence"] @ WEIGHTS / WEIGHTS.sum()
        np.testing.assert_allclose(nat["influence"], popmean, rtol=1e-6)
        np.testing.assert_allclose(nat["troops"], data[s]["troops"].ravel(), rtol=1e-6)


def test_series_filters(bundle: Bundle) -> None:
    df = bundle.series(["attacks"], scenario="drawdown", region=["IQ", "BGW"], runs=[1, 5])
    assert list(df.columns) == ["scenario", "run", "week", "date", "region", "attacks"]
    assert len(df) == 2 * WEEKS * 2
    assert set(df["scenario"]) == {"drawdown"} and set(df["run"]) == {1, 5}
    with pytest.raises(KeyError, match="unknown metric"):
        bundle.series(["nope"])


def test_quantiles_match_numpy(bundle: Bundle) -> None:
    series = bundle.series()
    q = bundle.quantiles()
    cols = ["mean", *(f"q{round(p * 100):02d}" for p in QUANTILES), "n"]
    assert list(q.columns) == ["scenario", "metric", "week", "date", "region", *cols]
    # 2 regional metrics on R+1 rows + 1 national metric on the IQ row only
    assert len(q) == len(SCENARIOS) * WEEKS * (2 * (len(REGIONS) + 1) + 1)
    assert (q["n"] == N_RUNS).all()
    key = ["scenario", "metric", "region", "week"]
    assert q[key].equals(q.sort_values(key)[key])  # sorted in declared orders
    for row in q.itertuples():
        vals = series.loc[(series["scenario"] == row.scenario) & (series["week"] == row.week)
                          & (series["region"] == row.region), row.metric].to_numpy(np.float64)
        assert len(vals) == N_RUNS
        want = np.quantile(vals, QUANTILES, method="linear")
        got = [getattr(row, c) for c in cols[1:-1]]
        np.testing.assert_allclose(got, want, atol=1e-5, rtol=1e-6)
        assert row.mean == pytest.approx(vals.mean(), abs=1e-5)
    assert len(bundle.quantiles("troops", region="IQ")) == len(SCENARIOS) * WEEKS


def test_chunking_does_not_change_data(tmp_path: Path, bundle: Bundle, data) -> None:
    one = Bundle.open(_write(tmp_path / "one", data, splits=()))
    three = Bundle.open(_write(tmp_path / "three", data, splits=(1, 6)))
    key = ["scenario", "run", "week", "region"]
    ref = bundle.series().sort_values(key).reset_index(drop=True)
    for b in (one, three):
        pd.testing.assert_frame_equal(b.series().sort_values(key).reset_index(drop=True), ref)
        pd.testing.assert_frame_equal(b.quantiles(), bundle.quantiles())


def test_manifest_and_hashes(bundle: Bundle) -> None:
    m = json.loads((bundle.path / "manifest.json").read_text())
    assert m == bundle.manifest
    assert m["format"] == "resurgence-bundle/1" and m["complete"] is True
    assert m["seed"] == 42 and m["runs"] == N_RUNS and m["version"] == "0.1.0"
    assert m["scenarios"] == SCENARIOS and m["regions"] == REGIONS and m["national_code"] == NAT
    assert m["metrics"]["troops"] == {"unit": "personnel", "description": "Foreign troops in country",
                                      "level": "national", "agg": "sum"}
    assert dt.datetime.fromisoformat(m["created"]).tzinfo is not None
    assert m["wall_time_s"] >= 0
    assert set(m["files"]) == {"quantiles.parquet",
                               *(f"series/{p.name}" for p in (bundle.path / "series").iterdir())}
    for rel, info in m["files"].items():
        assert sha256_file(bundle.path / rel) == info["sha256"]
        assert pq.ParquetFile(bundle.path / rel).metadata.num_rows == info["rows"]
    assert Bundle.open(bundle.path, verify=True).scenarios == SCENARIOS
    assert bundle.regions == REGIONS and list(bundle.metrics) == [m.name for m in METRICS]


def test_query(bundle: Bundle) -> None:
    n = bundle.query("select count(*) as n from series")["n"].iloc[0]
    assert n == len(SCENARIOS) * N_RUNS * WEEKS * (len(REGIONS) + 1)
    got = bundle.query("select count(*) as n from quantiles where metric = ?", ["troops"])
    assert got["n"].iloc[0] == len(SCENARIOS) * WEEKS
    assert bundle.series_glob().endswith("series/*.parquet")


def test_exception_leaves_nothing(tmp_path: Path, data) -> None:
    out = tmp_path / "bundle"
    with pytest.raises(RuntimeError, match="boom"), BundleWriter(
            out, regions=REGIONS, national_code=NAT, metrics=METRICS, start_date=START,
            weeks=WEEKS, manifest={}, region_weights=WEIGHTS) as w:
        d = data["baseline"]
        w.write_chunk("baseline", np.arange(N_RUNS), {"attacks": d["attacks"],
                                                      "influence": d["influence"]},
                      {"troops": d["troops"]})
        raise RuntimeError("boom")
    assert list(tmp_path.iterdir()) == []


def test_bad_chunks_rejected(tmp_path: Path, data) -> None:
    d = data["baseline"]
    w = BundleWriter(tmp_path / "b", regions=REGIONS, national_code=NAT, metrics=METRICS,
                     start_date=START, weeks=WEEKS, manifest={}, region_weights=WEIGHTS)
    good = {"attacks": d["attacks"], "influence": d["influence"]}
    with pytest.raises(ValueError, match="metrics mismatch"):
        w.write_chunk("baseline", np.arange(N_RUNS), {"attacks": d["attacks"]},
                      {"troops": d["troops"]})
    with pytest.raises(ValueError, match="shape"):
        w.write_chunk("baseline", np.arange(N_RUNS), good, {"troops": d["troops"][:, :2]})
    w.write_chunk("baseline", np.arange(N_RUNS), good, {"troops": d["troops"]})
    with pytest.raises(ValueError, match="duplicate"):
        w.write_chunk("baseline", np.arange(N_RUNS), good, {"troops": d["troops"]})
    w.abort()
    assert list(tmp_path.iterdir()) == []
    with pytest.raises(ValueError, match="reserved"):
        BundleWriter(tmp_path / "c", regions=REGIONS, national_code=NAT, metrics=METRICS,
                     start_date=START, weeks=WEEKS, manifest={"complete": True},
                     region_weights=WEIGHTS)
    with pytest.raises(ValueError, match="popmean"):
        BundleWriter(tmp_path / "c", regions=REGIONS, national_code=NAT, metrics=METRICS,
                     start_date=START, weeks=WEEKS, manifest={})


def test_existing_out_dir(tmp_path: Path, data) -> None:
    out = tmp_path / "bundle"
    out.mkdir()
    (out / "old.txt").write_text("old")
    with pytest.raises(BundleError, match="already exists"):
        _write(out, data)
    assert (out / "old.txt").exists()
    with pytest.raises(BundleError, match="not a results bundle"):  # overwrite replaces bundles only
        _write(out, data, overwrite=True)
    assert (out / "old.txt").read_text() == "old"
    (out / "old.txt").unlink()
    out.rmdir()
    _write(out, data)
    _write(out, data, overwrite=True)  # a bundle is replaced
    assert Bundle.open(out).manifest["complete"] is True
    assert sorted(p.name for p in tmp_path.iterdir()) == ["bundle"]


def test_open_rejects_incomplete(tmp_path: Path, bundle: Bundle) -> None:
    with pytest.raises(BundleError, match="no manifest.json"):
        Bundle.open(tmp_path)
    with pytest.raises(BundleError, match="no manifest.json"):
        Bundle.open(tmp_path / "missing")
    m = dict(bundle.manifest, complete=False)
    (tmp_path / "manifest.json").write_text(json.dumps(m))
    with pytest.raises(BundleError, match="incomplete"):
        Bundle.open(tmp_path)
    (tmp_path / "manifest.json").write_text(json.dumps(dict(m, complete=True)))
    with pytest.raises(BundleError, match="missing"):
        Bundle.open(tmp_path)
    (tmp_path / "manifest.json").write_text("{not json")
    with pytest.raises(BundleError, match="unreadable"):
        Bundle.open(tmp_path)
    assert issubclass(BundleError, ValueError)


def test_atomic_helpers(tmp_path: Path) -> None:
    p = tmp_path / "a.txt"
    atomic_write_text(p, "hello")
    assert p.read_text() == "hello"
    atomic_write_bytes(p, b"bye")
    assert p.read_bytes() == b"bye"
    assert sha256_file(p) == hashlib.sha256(b"bye").hexdigest()
    with atomic_output_path(tmp_path / "b.bin") as tmp:
        tmp.write_bytes(b"x")
        assert not (tmp_path / "b.bin").exists()
    assert (tmp_path / "b.bin").read_bytes() == b"x"
    with pytest.raises(RuntimeError), atomic_output_path(tmp_path / "b.bin") as tmp:
        tmp.write_bytes(b"partial")
        raise RuntimeError
    assert (tmp_path / "b.bin").read_bytes() == b"x"
    assert sorted(q.name for q in tmp_path.iterdir()) == ["a.txt", "b.bin"]
