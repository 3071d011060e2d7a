"""The bundle writer's one-pass quantiles, non-finite refusal, journal, resume and replacement."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import duckdb
import numpy as np
import pandas as pd
import pytest

from resurgence.core.atomic import sha256_file
from resurgence.model.sim import all_metrics
from resurgence.results import journal as jr
from resurgence.results.bundle import QUANTILES, Bundle, BundleError, BundleWriter
from resurgence.results.quantiles import cell_quantiles
from tests.test_results import METRICS, NAT, REGIONS, START, WEEKS, WEIGHTS, _data, _write


def _duckdb_quantiles(bundle: Bundle) -> pd.DataFrame:
    """The quantiles as the bundle writer computed them before: one DuckDB query per metric."""
    con = duckdb.connect()
    q_sql = ", ".join(f"qs[{i + 1}] AS q{round(q * 100):02d}" for i, q in enumerate(QUANTILES))
    frames = []
    for scen in bundle.scenarios:
        for m in bundle.metrics:
            frames.append(con.sql(f"""
                SELECT scenario::VARCHAR AS scenario, '{m}' AS metric, week, date,
                       region::VARCHAR AS region, avg(v) AS mean,
                       quantile_cont(v, {list(QUANTILES)}) AS qs, count(v)::INTEGER AS n
                FROM (SELECT scenario, week, date, region, "{m}"::DOUBLE AS v
                      FROM read_parquet('{bundle.path}/series/*.parquet')
                      WHERE "{m}" IS NOT NULL AND scenario = '{scen}')
                GROUP BY ALL""").df())
    con.close()
    df = pd.concat(frames, ignore_index=True)
    qs = pd.DataFrame(df.pop("qs").tolist(), columns=[c.split(" ")[-1] for c in q_sql.split(", ")])
    return pd.concat([df, qs], axis=1)


def test_one_pass_quantiles_equal_duckdb_quantile_cont(tmp_path: Path) -> None:
    rng = np.random.default_rng(3)
    data = _data(7)
    for s in data:  # ties, zeros and skew, as in real counts
        data[s]["attacks"] = rng.negative_binomial(2, 0.3, data[s]["attacks"].shape).astype(float)
    b = Bundle.open(_write(tmp_path / "b", data, splits=(3, 5)))
    key = ["scenario", "metric", "region", "week"]
    got = b.quantiles().astype({"scenario": str, "metric": str, "region": str})
    want = _duckdb_quantiles(b).set_index(key).loc[got.set_index(key).index].reset_index()
    cols = [f"q{round(q * 100):02d}" for q in QUANTILES]
    assert len(got) == len(want)
    np.testing.assert_array_equal(got[cols].to_numpy(), want[cols].to_numpy())  # bit for bit
    np.testing.assert_array_equal(got["n"].to_numpy(), want["n"].to_numpy())
    np.testing.assert_allclose(got["mean"], want["mean"], rtol=1e-13, atol=0)


def test_cell_quantiles_equal_duckdb_on_many_runs() -> None:
    rng = np.random.default_rng(11)
    v = np.concatenate([rng.gamma(1.5, 40.0, (997, 60)), rng.poisson(3.0, (997, 20)),
                        rng.uniform(-1, 1, (997, 20))], axis=1).astype(np.float32)
    _, q = cell_quantiles(v)
    con = duckdb.connect()
    con.register("df", pd.DataFrame({"cell": np.tile(np.arange(v.shape[1]), v.shape[0]),
                                     "v": v.ravel()}))
    got = con.execute(f"SELECT cell, quantile_cont(v::DOUBLE, {list(QUANTILES)}) AS qs FROM df "
                      "GROUP BY cell ORDER BY cell").df()
    np.testing.assert_array_equal(np.stack(got["qs"].to_numpy()).T, q)


@pytest.mark.parametrize("n", [1, 2, 7, 20, 101])
def test_cell_quantiles_against_numpy(n: int) -> None:
    v = np.random.default_rng(n).gamma(2.0, 3.0, (n, 13)).astype(np.float32)
    mean, q = cell_quantiles(v)
    np.testing.assert_allclose(q, np.quantile(v.astype(float), QUANTILES, axis=0), rtol=1e-12)
    np.testing.assert_allclose(mean, v.astype(float).mean(axis=0), rtol=1e-12)


@pytest.mark.parametrize("bad", [np.nan, np.inf, -np.inf, 1e300])
def test_non_finite_values_are_refused_naming_the_metric(tmp_path: Path, bad: float) -> None:
    data = _data()
    data["drawdown"]["influence"][5, 2, 1] = bad
    with pytest.raises(BundleError, match="metric 'influence': non-finite") as e:
        _write(tmp_path / "b", data)
    assert "run 5, week 2" in str(e.value) and "\n" not in str(e.value)
    assert list(tmp_path.iterdir()) == []


def test_verify_detects_tampering_and_stray_files(tmp_path: Path) -> None:
    b = Bundle.open(_write(tmp_path / "b", _data()))
    assert b.verify() == len(b.manifest["files"])
    part = sorted((b.path / "series").iterdir())[0]
    shutil.copy(part, b.path / "series" / "part-09-0000000.parquet")
    with pytest.raises(BundleError, match="not listed"):
        b.verify()
    (b.path / "series" / "part-09-0000000.parquet").unlink()
    with open(part, "r+b") as fh:
        fh.seek(100)
        fh.write(b"\x00\x01")
    with pytest.raises(BundleError, match="sha256"):
        b.verify()


def _dead_pid() -> int:
    p = subprocess.Popen([sys.executable, "-c", "pass"])
    p.wait()
    return p.pid


def _writer(out: Path, **kw) -> BundleWriter:
    return BundleWriter(out, regions=REGIONS, national_code=NAT, metrics=METRICS, start_date=START,
                        weeks=WEEKS, manifest={"seed": 42}, region_weights=WEIGHTS,
                        scenarios=["baseline", "drawdown"], **kw)


def _chunk(w: BundleWriter, data, s: str, a: int, b: int) -> None:
    d = data[s]
    w.write_chunk(s, np.arange(a, b), {"attacks": d["attacks"][a:b], "influence": d["influence"][a:b]},
                  {"troops": d["troops"][a:b]}, extra={"tag": [s, a]})


def _orphan(w: BundleWriter) -> Path:
    """Make ``w``'s temp dir look like a killed process's: stop its thread, dead pid in its lock."""
    w._finish_queue()
    w._journal.close()
    (w.tmp_dir / jr.LOCK).write_text(json.dumps({"pid": _dead_pid()}))
    return w.tmp_dir


def _data_files(path: Path) -> dict[str, str]:
    return {str(p.relative_to(path)): sha256_file(p) for p in sorted(path.rglob("*.parquet"))}


def test_resume_adopts_a_dead_writers_journal_and_gives_the_same_bundle(tmp_path: Path) -> None:
    data = _data()
    with _writer(tmp_path / "ref") as w:
        for s in ("baseline", "drawdown"):
            for a, b in ((0, 3), (3, 6), (6, 8)):
                _chunk(w, data, s, a, b)
    w = _writer(tmp_path / "out")
    _chunk(w, data, "baseline", 0, 3)
    _chunk(w, data, "drawdown", 3, 6)
    tmp = _orphan(w)
    with open(tmp / jr.JOURNAL, "ab") as fh:  # a torn, uncommitted last line
        fh.write(b'{"file": "series/part-00-0000006.parq')
    (tmp / "series" / "part-00-0000006.parquet").write_bytes(b"half")  # uncommitted file
    w2 = _writer(tmp_path / "out", resume=True)
    assert w2.tmp_dir == tmp
    assert set(w2.committed) == {("baseline", 0), ("drawdown", 3)}
    assert w2.committed[("drawdown", 3)]["tag"] == ["drawdown", 3]
    for s in ("baseline", "drawdown"):
        for a, b in ((0, 3), (3, 6), (6, 8)):
            if (s, a) not in w2.committed:
                _chunk(w2, data, s, a, b)
    w2.close()
    assert _data_files(tmp_path / "out") == _data_files(tmp_path / "ref")
    ref, out = Bundle.open(tmp_path / "ref"), Bundle.open(tmp_path / "out", verify=True)
    strip = lambda m: {k: v for k, v in m.items() if k not in ("created", "wall_time_s")}  # noqa: E731
    assert strip(out.manifest) == strip(ref.manifest)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["out", "ref"]


def test_dead_writers_debris_is_removed_and_a_live_ones_kept(tmp_path: Path) -> None:
    data = _data()
    w = _writer(tmp_path / "out")
    _chunk(w, data, "baseline", 0, 3)
    dead = _orphan(w)
    live = _writer(tmp_path / "out")  # this process: alive
    other = _writer(tmp_path / "out", resume=True)  # a different run key is not adopted either
    assert other.tmp_dir not in (dead, live.tmp_dir) and not dead.exists() and live.tmp_dir.exists()
    live.abort()
    other.abort()
    assert list(tmp_path.iterdir()) == []


def test_overwrite_replaces_a_bundle_in_one_step(tmp_path: Path) -> None:
    out = _write(tmp_path / "b", _data(1))
    first = Bundle.open(out).manifest["files"]
    _write(out, _data(2), overwrite=True)
    assert Bundle.open(out, verify=True).manifest["files"] != first
    assert [p.name for p in tmp_path.iterdir()] == ["b"]
    (tmp_path / "f").write_text("x")
    with pytest.raises(BundleError, match="not a results bundle"):
        _write(tmp_path / "f", _data(1), overwrite=True)
    assert (tmp_path / "f").read_text() == "x"


def test_exchange_swaps_directories(tmp_path: Path) -> None:
    (tmp_path / "a").mkdir()
    (tmp_path / "a" / "x").write_text("a")
    (tmp_path / "b").mkdir()
    if not jr.exchange(tmp_path / "a", tmp_path / "b"):
        pytest.skip("renameat2(RENAME_EXCHANGE) unsupported here")
    assert (tmp_path / "b" / "x").read_text() == "a" and not (tmp_path / "a" / "x").exists()
    assert os.listdir(tmp_path / "a") == []


def test_cli_metrics_bundle_verify_and_start_up(tmp_path: Path) -> None:
    from typer.testing import CliRunner

    from resurgence.cli.app import app
    from resurgence.runs.ensemble import DEFAULT_METRICS

    runner = CliRunner()
    out = tmp_path / "b"
    r = runner.invoke(app, ["run", "stay-3000", "--runs", "3", "--weeks", "3", "--posterior", "none",
                            "--out", str(out)])
    assert r.exit_code == 0, r.output
    assert set(Bundle.open(out).metrics) == set(DEFAULT_METRICS)
    r = runner.invoke(app, ["bundle", "verify", str(out)])
    assert r.exit_code == 0 and r.output.strip().endswith("files match their sha256")
    part = next((out / "series").iterdir())
    part.write_bytes(part.read_bytes()[:-10])
    r = runner.invoke(app, ["bundle", "verify", str(out)])
    assert r.exit_code == 2 and "sha256" in r.stderr and len(r.stderr.strip().splitlines()) == 1
    r = runner.invoke(app, ["run", "stay-3000", "--runs", "2", "--weeks", "2", "--posterior", "none",
                            "--metrics", "us_troops,nope", "--out", str(tmp_path / "c")])
    assert r.exit_code == 2 and "'nope'" in r.stderr and not (tmp_path / "c").exists()
    r = runner.invoke(app, ["run", "stay-3000", "--runs", "2", "--weeks", "2", "--posterior", "none",
                            "--metrics", "all", "--out", str(tmp_path / "d")])
    assert r.exit_code == 0 and len(Bundle.open(tmp_path / "d").metrics) == len(all_metrics()) == 31
    # `resurgence --help` imports none of the heavy stack
    code = ("import sys; from resurgence.cli.app import app\n"
            "try: app(['--help'])\nexcept SystemExit: pass\n"
            "print(sorted(m for m in ('numpy', 'pandas', 'numba', 'duckdb', 'pyarrow', 'scipy') "
            "if m in sys.modules))")
    r2 = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert r2.stdout.strip().splitlines()[-1] == "[]"


def test_quantiles_do_not_depend_on_the_memory_budget(tmp_path: Path) -> None:
    from resurgence.results.quantiles import bundle_quantiles

    b = Bundle.open(_write(tmp_path / "b", _data(5), splits=(2, 5)))
    parts = {s: sorted((b.path / "series").glob(f"part-{i:02d}-*.parquet"))
             for i, s in enumerate(b.scenarios)}
    dates = np.datetime64(START, "D") + 7 * np.arange(WEEKS)
    kw = dict(regions=[*REGIONS, NAT], weeks=WEEKS, dates=dates)
    one = bundle_quantiles(parts, METRICS, **kw)
    assert one.equals(bundle_quantiles(parts, METRICS, budget_bytes=1, **kw))  # a metric a group
    assert one.equals(pq_read(b.path / "quantiles.parquet"))


def pq_read(path: Path):
    import pyarrow.parquet as pq

    return pq.read_table(path)
