"""Results bundle: a directory with one ensemble's per-run series, quantiles and manifest.

``series/part-SS-RRRRRRR.parquet`` (one row per scenario, run, week, region; one float32 column
per metric), ``quantiles.parquet`` (long: scenario, metric, week, date, region, mean, q05..q95, n)
and ``manifest.json`` (written last, ``"complete": true``, with every file's sha256). This module
reads bundles; :class:`~resurgence.results.writer.BundleWriter` writes them (crash-safe,
resumable), so ``out_dir`` is either complete or absent.
"""

from __future__ import annotations

import json
import os
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

if TYPE_CHECKING:  # DuckDB and pandas are imported by the readers that use them
    import duckdb
    import pandas as pd

from resurgence.core.atomic import sha256_file
from resurgence.core.errors import BundleError
from resurgence.model.module import MetricSpec
from resurgence.results.quantiles import QUANTILES
from resurgence.results.writer import FORMAT, KEYS, BundleWriter

__all__ = ["FORMAT", "QUANTILES", "Bundle", "BundleError", "BundleWriter", "MetricSpec"]

_KEYS = KEYS


def _lit(s: str | os.PathLike[str]) -> str:
    """A SQL string literal."""
    return "'" + str(s).replace("'", "''") + "'"


def _as_list(x: Any) -> list[Any] | None:
    if x is None:
        return None
    return [x] if isinstance(x, str | int | np.integer) else list(x)


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
        bundle = cls(p, manifest)
        if verify:
            bundle.verify()
        return bundle

    def verify(self) -> int:
        """Re-hash every listed file against the manifest and refuse unlisted series parts
        (readers glob ``series/*.parquet``); returns the number of files checked."""
        files = self.manifest.get("files") or {}
        bad = [f for f, v in files.items() if sha256_file(self.path / f) != v["sha256"]]
        if bad:
            raise BundleError(f"{self.path}: {len(bad)} file(s) fail their sha256, e.g. {bad[0]}")
        stray = sorted(f"series/{p.name}" for p in (self.path / "series").glob("*.parquet")
                       if f"series/{p.name}" not in files)
        if stray:
            raise BundleError(f"{self.path}: {len(stray)} series file(s) not listed in the "
                              f"manifest, e.g. {stray[0]}")
        return len(files)

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
        import duckdb

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
                import pandas as pd

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
