"""Results bundle: a directory with one ensemble's per-run series, quantiles and manifest.

``series/part-SS-RRRRRRR.parquet`` (one row per scenario, run, week, region; one float32 column
per metric), ``quantiles.parquet`` (long: scenario, metric, week, date, region, mean, q05..q95, n)
and ``manifest.json`` (written last, ``"complete": true``). :class:`BundleWriter` builds it all in
a sibling temp dir and renames it into place, so ``out_dir`` is either complete or absent.
"""

from __future__ import annotations

import datetime as dt
import json
import os
import re
import secrets
import shutil
import time
from collections.abc import Mapping, Sequence
from pathlib import Path
from types import TracebackType
from typing import Any

import duckdb
import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq

from resurgence.core.atomic import atomic_write_text, fsync_dir, sha256_file
from resurgence.core.errors import BundleError
from resurgence.model.module import MetricSpec

__all__ = ["FORMAT", "QUANTILES", "Bundle", "BundleError", "BundleWriter", "MetricSpec"]

FORMAT = "resurgence-bundle/1"
QUANTILES: tuple[float, ...] = (0.05, 0.10, 0.25, 0.50, 0.75, 0.90, 0.95)
_KEYS = ("scenario", "run", "week", "date", "region")
_WRITER_KEYS = ("format", "files", "metrics", "scenarios", "regions", "national_code",
                "start_date", "created", "wall_time_s", "complete")
_NAME_RE = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*$")
_DICT = pa.dictionary(pa.int32(), pa.string())


def _lit(s: str | os.PathLike[str]) -> str:
    """A SQL string literal."""
    return "'" + str(s).replace("'", "''") + "'"


def _as_list(x: Any) -> list[Any] | None:
    if x is None:
        return None
    return [x] if isinstance(x, str | int | np.integer) else list(x)


def _to_arrow(rel: duckdb.DuckDBPyRelation) -> pa.Table:  # fetch_arrow_table: duckdb < 1.4
    return rel.to_arrow_table() if hasattr(rel, "to_arrow_table") else rel.fetch_arrow_table()


def _json_default(o: Any) -> Any:
    if isinstance(o, np.generic | np.ndarray):
        return o.tolist()
    if isinstance(o, dt.date | Path):
        return str(o)
    raise TypeError(f"manifest value of type {type(o).__name__} is not JSON-serialisable")


class BundleWriter:
    """Streams chunks of runs into a new bundle; see the module docstring."""

    def __init__(self, out_dir: Path | str, *, regions: Sequence[str], national_code: str,
                 metrics: Sequence[MetricSpec], start_date: dt.date, weeks: int,
                 manifest: dict[str, Any], overwrite: bool = False,
                 region_weights: np.ndarray | None = None) -> None:
        self.out_dir = Path(out_dir)
        self.regions = [str(r) for r in regions]
        self.national_code = str(national_code)
        self.metrics = list(metrics)
        self.weeks = int(weeks)
        self.start_date = start_date
        self.overwrite = overwrite
        names = [m.name for m in self.metrics]
        if not self.regions or len({*self.regions, self.national_code}) != len(self.regions) + 1:
            raise ValueError("regions must be distinct codes, none equal to the national code")
        if self.weeks < 1 or not self.metrics or len(set(names)) != len(names):
            raise ValueError("need weeks >= 1 and a non-empty list of distinct metrics")
        for m in self.metrics:
            if (not _NAME_RE.match(m.name) or m.name in _KEYS or m.level not in ("region", "national")
                    or m.agg not in ("sum", "mean", "popmean", "max")):
                raise ValueError(f"bad metric {m!r}: name must be an identifier, not a key column")
        self.weights: np.ndarray | None = None
        if region_weights is not None:
            self.weights = np.asarray(region_weights, dtype=np.float64)
            if self.weights.shape != (len(self.regions),) or not self.weights.sum() > 0:
                raise ValueError(f"region_weights must have shape ({len(self.regions)},), sum > 0")
        if self.weights is None and any(m.agg == "popmean" and m.level == "region" for m in self.metrics):
            raise ValueError("a regional 'popmean' metric needs region_weights")
        clash = sorted(set(manifest) & set(_WRITER_KEYS))
        if clash:
            raise ValueError(f"manifest keys {clash} are reserved for the bundle writer")
        self.manifest = dict(manifest)
        json.dumps(self.manifest, default=_json_default)  # fail now, not after the whole run
        if self.out_dir.exists() and not overwrite:
            raise BundleError(f"{self.out_dir}: already exists (pass overwrite to replace it)")
        self.out_dir.parent.mkdir(parents=True, exist_ok=True)
        self.tmp_dir = self.out_dir.with_name(
            f"{self.out_dir.name}.tmp-{os.getpid()}-{secrets.token_hex(4)}")
        (self.tmp_dir / "series").mkdir(parents=True)
        self._t0 = time.monotonic()
        self._scenarios: list[str] = []
        self._runs: dict[str, set[int]] = {}
        self._files: dict[str, dict[str, Any]] = {}
        self._closed = False
        start = np.datetime64(start_date, "D")
        self._dates = start + 7 * np.arange(self.weeks, dtype=np.int64)
        self._schema = pa.schema(
            [("scenario", _DICT), ("run", pa.int32()), ("week", pa.int16()), ("date", pa.date32()),
             ("region", _DICT)] + [(m.name, pa.float32()) for m in self.metrics])

    def _national(self, spec: MetricSpec, x: np.ndarray) -> np.ndarray:
        if spec.agg == "popmean":
            assert self.weights is not None
            return (x @ self.weights) / self.weights.sum()
        return {"sum": np.sum, "mean": np.mean, "max": np.max}[spec.agg](x, axis=-1)

    def write_chunk(self, scenario: str, runs: np.ndarray, regional: Mapping[str, np.ndarray],
                    national: Mapping[str, np.ndarray]) -> None:
        """Append runs ``runs`` of ``scenario``: ``regional[m]`` is (n, weeks, R), ``national[m]`` (n, weeks)."""
        runs = np.asarray(runs)
        n, w, r = len(runs), self.weeks, len(self.regions)
        if self._closed:
            raise RuntimeError("write_chunk() on a closed BundleWriter")
        if runs.ndim != 1 or n == 0 or not np.issubdtype(runs.dtype, np.integer) or runs.min() < 0:
            raise ValueError("runs must be a non-empty 1-D array of non-negative integers")
        want_r = {m.name for m in self.metrics if m.level == "region"}
        want_n = {m.name for m in self.metrics if m.level == "national"}
        if set(regional) != want_r or set(national) != want_n:
            raise ValueError(f"chunk metrics mismatch: expected regional {sorted(want_r)}, "
                             f"national {sorted(want_n)}; got {sorted(regional)}, {sorted(national)}")
        seen = self._runs.get(scenario, set())
        run_ids = {int(x) for x in runs}
        if len(run_ids) != n or seen & run_ids:
            raise ValueError(f"scenario {scenario!r}: duplicate run ids in chunk")
        cols: dict[str, pa.Array] = {}
        mask = np.ones((n, w, r + 1), dtype=bool)
        mask[:, :, r] = False  # national-level metrics exist only on the national rows
        for m in self.metrics:
            src = np.asarray(regional[m.name] if m.level == "region" else national[m.name], np.float64)
            shape = (n, w, r) if m.level == "region" else (n, w)
            if src.shape != shape:
                raise ValueError(f"metric {m.name!r}: shape {src.shape}, expected {shape}")
            full = np.zeros((n, w, r + 1), dtype=np.float32)
            if m.level == "region":
                full[:, :, :r] = src
                full[:, :, r] = self._national(m, src)
                cols[m.name] = pa.array(full.ravel())
            else:
                full[:, :, r] = src
                cols[m.name] = pa.array(full.ravel(), mask=mask.ravel())
        rows = n * w * (r + 1)
        keys = {
            "scenario": pa.DictionaryArray.from_arrays(
                pa.array(np.zeros(rows, np.int32)), pa.array([scenario])),
            "run": pa.array(np.repeat(runs.astype(np.int32), w * (r + 1))),
            "week": pa.array(np.tile(np.repeat(np.arange(w, dtype=np.int16), r + 1), n)),
            "date": pa.array(np.tile(np.repeat(self._dates, r + 1), n), type=pa.date32()),
            "region": pa.DictionaryArray.from_arrays(
                pa.array(np.tile(np.arange(r + 1, dtype=np.int32), n * w)),
                pa.array([*self.regions, self.national_code])),
        }
        table = pa.Table.from_pydict({**keys, **cols}, schema=self._schema)
        if scenario not in self._scenarios:
            self._scenarios.append(scenario)
        rel = f"series/part-{self._scenarios.index(scenario):02d}-{int(runs[0]):07d}.parquet"
        path = self.tmp_dir / rel
        pq.write_table(table, path, compression="zstd")
        self._runs[scenario] = seen | run_ids
        self._files[rel] = {"sha256": sha256_file(path), "rows": rows, "scenario": scenario}

    def _write_quantiles(self, path: Path) -> int:
        """Quantiles over runs, one DuckDB query per (scenario, metric) so memory stays bounded."""
        con = duckdb.connect(config={"temp_directory": str(self.tmp_dir / ".duckdb-tmp")})
        regions = [*self.regions, self.national_code]
        q_sql = ", ".join(f"qs[{i + 1}] AS q{round(q * 100):02d}" for i, q in enumerate(QUANTILES))
        tables: list[pa.Table] = []
        try:
            for scen in self._scenarios:
                files = [str(self.tmp_dir / f) for f, v in self._files.items() if v["scenario"] == scen]
                src = f"read_parquet([{', '.join(map(_lit, files))}])"
                for m in self.metrics:
                    sql = f"""
                        SELECT scenario::VARCHAR AS scenario, {_lit(m.name)} AS metric, week, date,
                               region::VARCHAR AS region, mean, {q_sql}, n::INTEGER AS n
                        FROM (SELECT scenario, week, date, region, avg(v) AS mean,
                                     quantile_cont(v, {list(QUANTILES)}) AS qs, count(v) AS n
                              FROM (SELECT scenario, week, date, region, "{m.name}"::DOUBLE AS v
                                    FROM {src} WHERE "{m.name}" IS NOT NULL)
                              GROUP BY ALL)
                        ORDER BY list_position([{', '.join(map(_lit, regions))}], region), week"""
                    tables.append(_to_arrow(con.sql(sql)))  # small: weeks x regions rows
        finally:
            con.close()
            shutil.rmtree(self.tmp_dir / ".duckdb-tmp", ignore_errors=True)
        table = pa.concat_tables(tables)
        pq.write_table(table, path, compression="zstd")
        return table.num_rows

    def close(self) -> Path:
        """Compute quantiles, write the manifest and move the bundle into place; returns out_dir."""
        if self._closed:
            return self.out_dir
        try:
            if not self._files:
                raise ValueError("no chunks were written; refusing to create an empty bundle")
            qrows = self._write_quantiles(self.tmp_dir / "quantiles.parquet")
            files = {k: {"sha256": v["sha256"], "rows": v["rows"]} for k, v in self._files.items()}
            files["quantiles.parquet"] = {
                "sha256": sha256_file(self.tmp_dir / "quantiles.parquet"), "rows": qrows}
            manifest = {
                **self.manifest, "format": FORMAT, "files": dict(sorted(files.items())),
                "metrics": {m.name: {"unit": m.unit, "description": m.description,
                                     "level": m.level, "agg": m.agg} for m in self.metrics},
                "scenarios": list(self._scenarios), "regions": list(self.regions),
                "national_code": self.national_code, "start_date": self.start_date.isoformat(),
                "created": dt.datetime.now(dt.UTC).isoformat(timespec="seconds"),
                "wall_time_s": round(time.monotonic() - self._t0, 3), "complete": True,
            }
            text = json.dumps(manifest, indent=2, default=_json_default) + "\n"
            atomic_write_text(self.tmp_dir / "manifest.json", text)
            self._move_into_place()
        except BaseException:
            self.abort()
            raise
        self._closed = True
        return self.out_dir

    def _move_into_place(self) -> None:
        if not self.out_dir.exists():
            os.rename(self.tmp_dir, self.out_dir)
        elif not self.overwrite:
            raise BundleError(f"{self.out_dir}: appeared while writing; not replacing it")
        else:
            old = self.out_dir.with_name(f"{self.tmp_dir.name}-old")
            os.rename(self.out_dir, old)
            try:
                os.rename(self.tmp_dir, self.out_dir)
            except BaseException:
                os.rename(old, self.out_dir)
                raise
            if old.is_dir():
                shutil.rmtree(old, ignore_errors=True)
            else:
                old.unlink()
        fsync_dir(self.out_dir.parent)

    def abort(self) -> None:
        """Discard everything written so far."""
        self._closed = True
        shutil.rmtree(self.tmp_dir, ignore_errors=True)

    def __enter__(self) -> BundleWriter:
        return self

    def __exit__(self, exc_type: type[BaseException] | None, exc: BaseException | None,
                 tb: TracebackType | None) -> None:
        if exc_type is None:
            self.close()
        else:
            self.abort()


class Bundle:
    """Read access to a complete bundle written by :class:`BundleWriter`."""

    def __init__(self, path: Path, manifest: dict[str, Any]) -> None:
        self.path = path
        self.manifest = manifest

    @classmethod
    def open(cls, path: Path | str, *, verify: bool = False) -> Bundle:
        """Open and check a bundle; ``verify=True`` also re-hashes every file."""
        p = Path(path)
        mpath = p / "manifest.json"
        if not mpath.is_file():
            raise BundleError(f"{p}: no manifest.json (not a results bundle, or never finished)")
        try:
            manifest = json.loads(mpath.read_text(encoding="utf-8"))
        except (OSError, ValueError) as e:
            raise BundleError(f"{p}: unreadable manifest.json ({e})") from None
        if not isinstance(manifest, dict) or manifest.get("format") != FORMAT:
            raise BundleError(f"{p}: manifest format is not {FORMAT!r}")
        if manifest.get("complete") is not True:
            raise BundleError(f"{p}: bundle is incomplete (manifest 'complete' is not true)")
        files = manifest.get("files") or {}
        missing = [f for f in files if not (p / f).is_file()]
        if missing:
            raise BundleError(f"{p}: {len(missing)} listed file(s) missing, e.g. {missing[0]}")
        if verify:
            bad = [f for f, v in files.items() if sha256_file(p / f) != v["sha256"]]
            if bad:
                raise BundleError(f"{p}: {len(bad)} file(s) fail their sha256, e.g. {bad[0]}")
        return cls(p, manifest)

    @property
    def scenarios(self) -> list[str]:
        return list(self.manifest["scenarios"])

    @property
    def regions(self) -> list[str]:
        """Sub-national region codes (the national code is :attr:`national_code`)."""
        return list(self.manifest["regions"])

    @property
    def national_code(self) -> str:
        return str(self.manifest["national_code"])

    @property
    def metrics(self) -> dict[str, dict[str, str]]:
        return dict(self.manifest["metrics"])

    def series_glob(self) -> str:
        return str(self.path / "series" / "*.parquet")

    def connect(self) -> duckdb.DuckDBPyConnection:
        """A fresh in-memory DuckDB connection with views ``series`` and ``quantiles``."""
        con = duckdb.connect()
        for view, src in (("series", self.series_glob()), ("quantiles", self.path / "quantiles.parquet")):
            con.execute(f"CREATE VIEW {view} AS SELECT * FROM read_parquet({_lit(src)})")
        return con

    def query(self, sql: str, params: Sequence[Any] | None = None) -> pd.DataFrame:
        con = self.connect()
        try:
            return con.execute(sql, params).df()
        finally:
            con.close()

    def _select(self, view: str, cols: list[str], metrics: list[str],
                filters: dict[str, Any]) -> pd.DataFrame:
        unknown = [m for m in metrics if m not in self.manifest["metrics"]]
        if unknown:
            raise KeyError(f"unknown metric(s) {unknown}; bundle has {list(self.metrics)}")
        where, params = [], []
        for col, val in filters.items():
            vals = _as_list(val)
            if vals is not None:
                where.append(f"{col} IN ({', '.join('?' * len(vals))})" if vals else "false")
                params += [int(v) if col == "run" else str(v) for v in vals]
        sql = f"SELECT {', '.join(cols)} FROM {view}" + (
            f" WHERE {' AND '.join(where)}" if where else "")
        df = self.query(sql, params)
        cats = {"scenario": self.scenarios, "region": [*self.regions, self.national_code],
                "metric": list(self.metrics)}
        for col, categories in cats.items():
            if col in df.columns:
                df[col] = pd.Categorical(df[col], categories=categories)
        return df

    def series(self, metrics: Sequence[str] | str | None = None, *, scenario: Any = None,
               region: Any = None, runs: Any = None) -> pd.DataFrame:
        """Per-run rows (scenario, run, week, date, region, metrics...), in file order."""
        names = list(self.metrics) if metrics is None else _as_list(metrics) or []
        cols = [*_KEYS, *(f'"{m}"' for m in names)]
        return self._select("series", cols, names,
                            {"scenario": scenario, "region": region, "run": runs})

    def quantiles(self, metric: Sequence[str] | str | None = None, *, scenario: Any = None,
                  region: Any = None) -> pd.DataFrame:
        """Quantile rows, sorted by scenario, metric, region, week (declared orders)."""
        return self._select("quantiles", ["*"], _as_list(metric) or [],
                            {"scenario": scenario, "metric": metric, "region": region})
