"""Writing a results bundle: chunks streamed through a writer thread into a journaled temp dir.

:class:`BundleWriter` builds the bundle in ``DIR.tmp-<pid>-<hex>`` (see
:mod:`resurgence.results.journal`): every chunk becomes one Parquet file (one row group, zstd,
float32 metrics stored byte-stream-split, dictionary-encoded scenario and region) written
atomically and committed to the journal with its sha256; ``close`` computes the quantiles, writes ``manifest.json`` last and
moves the directory into place, so ``DIR`` is either complete or absent. With ``resume=True``
the temp dir of a dead writer of the same run is adopted and its committed chunks kept.
Chunk encoding and writing run on a thread (bounded queue of 2) so they overlap the simulation;
the columns are handed to pyarrow without copies (laid out by :mod:`resurgence.results.layout`), and the thread also
keeps each chunk's *cells x runs* blocks for the quantiles (:class:`~resurgence.results.quantiles.CellStore`),
so that little is left to do after the last chunk.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import hashlib
import json
import os
import queue
import re
import secrets
import shutil
import threading
import time
from collections.abc import Mapping, Sequence
from pathlib import Path
from types import TracebackType
from typing import Any

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq

from resurgence.core.atomic import (
    atomic_output_path,
    atomic_write_bytes,
    atomic_write_text,
    fsync_dir,
    sha256_file,
)
from resurgence.core.errors import BundleError
from resurgence.model.module import MetricSpec
from resurgence.results import journal as jr
from resurgence.results.layout import lay_out
from resurgence.results.quantiles import CellStore, bundle_quantiles

FORMAT = "resurgence-bundle/1"
KEYS = ("scenario", "run", "week", "date", "region")
_WRITER_KEYS = ("format", "files", "metrics", "scenarios", "regions", "national_code",
                "start_date", "created", "wall_time_s", "complete")
_NAME_RE = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*$")
_DICT = pa.dictionary(pa.int32(), pa.string())
CELLS = "cells.tmp"  # scratch file of the quantile pass (deleted before the bundle is moved)


def json_default(o: Any) -> Any:
    if isinstance(o, np.generic | np.ndarray):
        return o.tolist()
    if isinstance(o, dt.date | Path):
        return str(o)
    raise TypeError(f"manifest value of type {type(o).__name__} is not JSON-serialisable")


def is_bundle(path: Path) -> bool:
    """A directory with a bundle manifest (complete or not)."""
    try:
        man = json.loads((path / "manifest.json").read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return False
    return isinstance(man, dict) and man.get("format") == FORMAT


def _check_replaceable(path: Path) -> None:
    if not path.is_dir() or not is_bundle(path):
        raise BundleError(f"{path}: exists and is not a results bundle (no bundle manifest.json); "
                          "refusing to replace it")


class BundleWriter:
    """Streams chunks of runs into a new bundle; see the module docstring."""

    def __init__(self, out_dir: Path | str, *, regions: Sequence[str], national_code: str,
                 metrics: Sequence[MetricSpec], start_date: dt.date, weeks: int,
                 manifest: dict[str, Any], overwrite: bool = False,
                 region_weights: np.ndarray | None = None, scenarios: Sequence[str] | None = None,
                 resume: bool = False, run_key: str | None = None, threaded: bool = True) -> None:
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
            if (not _NAME_RE.match(m.name) or m.name in KEYS or m.level not in ("region", "national")
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
        text = json.dumps(self.manifest, default=json_default, sort_keys=True)  # fail now
        self._fixed = scenarios is not None
        self._scenarios: list[str] = list(scenarios or [])
        self.run_key = run_key or hashlib.sha256(json.dumps(
            [text, names, self.regions, self.weeks, str(start_date), self._scenarios],
            default=json_default).encode()).hexdigest()
        if self.out_dir.exists():
            if not overwrite:
                raise BundleError(f"{self.out_dir}: already exists (pass overwrite to replace it)")
            _check_replaceable(self.out_dir)
        self.out_dir.parent.mkdir(parents=True, exist_ok=True)
        adopt = jr.find_resumable(self.out_dir, self.run_key) if resume else None
        jr.collect_debris(self.out_dir, keep=adopt)
        self._runs: dict[str, set[int]] = {}
        self._files: dict[str, dict[str, Any]] = {}
        #: committed chunks of a resumed run: (scenario, first run) -> journal record
        self.committed: dict[tuple[str, int], dict[str, Any]] = {}
        if adopt is not None:
            self.tmp_dir = adopt
            jr.write_lock(adopt)
            _, records = jr.read_journal(adopt)
            self._adopt(records)
            self._journal = jr.Journal(adopt)
        else:
            self.tmp_dir = self.out_dir.with_name(
                f"{self.out_dir.name}.tmp-{os.getpid()}-{secrets.token_hex(4)}")
            (self.tmp_dir / "series").mkdir(parents=True)
            jr.write_lock(self.tmp_dir)
            self._journal = jr.Journal(self.tmp_dir, {"run_key": self.run_key})
        self._t0 = time.monotonic()
        self._key_cache: dict[tuple[str, int], dict[str, Any]] = {}
        self._no_nat = np.zeros((0, 0))
        #: each chunk's cells x runs blocks for the quantiles, kept as the chunks are written
        self._cells: CellStore | None = CellStore(self.tmp_dir / CELLS)
        self._closed = False
        self._error: BaseException | None = None
        self._queue: queue.Queue | None = None
        self._thread: threading.Thread | None = None
        if threaded:
            self._queue = queue.Queue(maxsize=2)
            self._thread = threading.Thread(target=self._drain, name="bundle-writer", daemon=True)
            self._thread.start()
        start = np.datetime64(start_date, "D")
        self._dates = start + 7 * np.arange(self.weeks, dtype=np.int64)
        self._schema = pa.schema(
            [("scenario", _DICT), ("run", pa.int32()), ("week", pa.int16()), ("date", pa.date32()),
             ("region", _DICT)] + [(m.name, pa.float32()) for m in self.metrics])

    def _adopt(self, records: list[dict[str, Any]]) -> None:
        keep = {r["file"] for r in records}
        for p in (self.tmp_dir / "series").iterdir():  # uncommitted or torn chunk files
            if f"series/{p.name}" not in keep:
                p.unlink()
        for r in sorted(records, key=lambda r: (r["si"], r["runs"][0])):
            scen = r["scenario"]
            if scen not in self._scenarios:
                self._scenarios.append(scen)
            ids = set(range(r["runs"][0], r["runs"][1] + 1))
            self._runs[scen] = self._runs.get(scen, set()) | ids
            self._files[r["file"]] = {"sha256": r["sha256"], "rows": r["rows"], "scenario": scen,
                                      "first": r["runs"][0]}
            self.committed[(scen, r["runs"][0])] = r

    def _national(self, spec: MetricSpec, x: np.ndarray) -> np.ndarray:
        if spec.agg == "popmean":
            assert self.weights is not None
            return (x @ self.weights) / self.weights.sum()
        reduce: dict[str, Any] = {"sum": np.sum, "mean": np.mean, "max": np.max}
        return reduce[spec.agg](x, axis=-1)

    def write_chunk(self, scenario: str, runs: np.ndarray, regional: Mapping[str, np.ndarray],
                    national: Mapping[str, np.ndarray], extra: Mapping[str, Any] | None = None) -> None:
        """Append runs ``runs`` of ``scenario``: ``regional[m]`` is (n, weeks, R), ``national[m]``
        (n, weeks). ``extra`` (JSON) is kept in the chunk's journal record (see ``committed``)."""
        runs = np.asarray(runs)
        n = len(runs)
        if self._closed:
            raise RuntimeError("write_chunk() on a closed BundleWriter")
        self._raise_pending()
        if runs.ndim != 1 or n == 0 or not np.issubdtype(runs.dtype, np.integer) or runs.min() < 0:
            raise ValueError("runs must be a non-empty 1-D array of non-negative integers")
        if not np.array_equal(runs, np.arange(runs[0], runs[0] + n)):
            raise ValueError("runs of a chunk must be consecutive and increasing")
        want_r = {m.name for m in self.metrics if m.level == "region"}
        want_n = {m.name for m in self.metrics if m.level == "national"}
        if set(regional) != want_r or set(national) != want_n:
            raise ValueError(f"chunk metrics mismatch: expected regional {sorted(want_r)}, "
                             f"national {sorted(want_n)}; got {sorted(regional)}, {sorted(national)}")
        for m in self.metrics:
            src = regional[m.name] if m.level == "region" else national[m.name]
            shape = (n, self.weeks, len(self.regions)) if m.level == "region" else (n, self.weeks)
            if np.shape(src) != shape:
                raise ValueError(f"metric {m.name!r}: shape {np.shape(src)}, expected {shape}")
        seen = self._runs.get(scenario, set())
        run_ids = {int(x) for x in runs}
        if seen & run_ids:
            raise ValueError(f"scenario {scenario!r}: duplicate run ids in chunk")
        if scenario not in self._scenarios:
            if self._fixed:
                raise ValueError(f"scenario {scenario!r} is not one of {self._scenarios}")
            self._scenarios.append(scenario)
        self._runs[scenario] = seen | run_ids
        job = (scenario, self._scenarios.index(scenario), runs, regional, national, dict(extra or {}))
        if self._queue is None:
            self._encode_and_commit(*job)
        else:
            self._queue.put(job)

    def _drain(self) -> None:
        assert self._queue is not None
        while (job := self._queue.get()) is not None:
            if self._error is None:
                try:
                    self._encode_and_commit(*job)
                except BaseException as e:  # re-raised in the caller's thread
                    self._error = e

    def _raise_pending(self) -> None:
        if self._error is not None:
            err, self._error = self._error, None
            raise err

    def _keys(self, scenario: str, n: int) -> dict[str, pa.Array]:
        """The key columns of a chunk of ``n`` runs but ``run`` (the same for every chunk of
        that size: kept)."""
        key = (scenario, n)
        if key not in self._key_cache:
            w, r = self.weeks, len(self.regions)
            rows = n * w * (r + 1)
            self._key_cache.clear()  # chunks share one size (the last may be smaller)
            self._key_cache[key] = {
                "scenario": pa.DictionaryArray.from_arrays(
                    pa.array(np.zeros(rows, np.int32)), pa.array([scenario])),
                "week": pa.array(np.tile(np.repeat(np.arange(w, dtype=np.int16), r + 1), n)),
                "date": pa.array(np.tile(np.repeat(self._dates, r + 1), n), type=pa.date32()),
                "region": pa.DictionaryArray.from_arrays(
                    pa.array(np.tile(np.arange(r + 1, dtype=np.int32), n * w)),
                    pa.array([*self.regions, self.national_code])),
                # national-level metrics exist only on the national rows: a validity bitmap
                "_national_valid": pa.array(np.tile(np.arange(r + 1) == r, n * w)).buffers()[1],
            }
        return self._key_cache[key]

    def _encode_and_commit(self, scenario: str, si: int, runs: np.ndarray,
                           regional: Mapping[str, np.ndarray], national: Mapping[str, np.ndarray],
                           extra: dict[str, Any]) -> None:
        n, w, r = len(runs), self.weeks, len(self.regions)
        rows = n * w * (r + 1)
        keys = self._keys(scenario, n)
        cols: dict[str, pa.Array] = {}
        blocks: dict[str, np.ndarray] = {}
        for m in self.metrics:
            src = np.asarray(regional[m.name] if m.level == "region" else national[m.name])
            if src.dtype not in (np.float32, np.float64):
                src = src.astype(np.float64)
            # a population-weighted national row comes from NumPy's matmul, as before
            with np.errstate(over="ignore", invalid="ignore"):  # overflow is refused below
                given = (self._national(m, np.asarray(src, np.float64))
                         if m.level == "region" and m.agg == "popmean" else self._no_nat)
            full, block, finite = lay_out(src, m.level, m.agg, given, r)
            if not finite:
                bad = np.argwhere(~np.isfinite(full))[0]
                raise BundleError(
                    f"metric {m.name!r}: non-finite value {full[tuple(bad)]} in scenario "
                    f"{scenario!r}, run {int(runs[bad[0]])}, week {int(bad[1])}; refusing to write it")
            # zero-copy: the column is the array's own buffer (and the national rows' bitmap)
            valid = keys["_national_valid"] if m.level == "national" else None
            cols[m.name] = pa.Array.from_buffers(pa.float32(), rows, [valid, pa.py_buffer(full)],
                                                 null_count=rows - n * w if valid else 0)
            if self._cells is not None:
                blocks[m.name] = block.reshape(-1, n)
        arrays = [keys["scenario"], pa.array(np.repeat(runs.astype(np.int32), w * (r + 1))),
                  keys["week"], keys["date"], keys["region"], *(cols[m.name] for m in self.metrics)]
        table = pa.Table.from_arrays(arrays, schema=self._schema)
        sink = pa.BufferOutputStream()
        pq.write_table(table, sink, compression="zstd", row_group_size=rows,
                       use_dictionary=["scenario", "region"],  # not the float columns
                       use_byte_stream_split=[m.name for m in self.metrics])
        data = sink.getvalue()
        del table, cols, arrays
        rel = f"series/part-{si:02d}-{int(runs[0]):07d}.parquet"
        digest = hashlib.sha256(data).hexdigest()
        atomic_write_bytes(self.tmp_dir / rel, data)
        if self._cells is not None:
            self._cells.add(Path(rel).name, n, blocks)
        self._files[rel] = {"sha256": digest, "rows": rows, "scenario": scenario, "first": int(runs[0])}
        self._journal.append({"file": rel, "sha256": digest, "rows": rows, "scenario": scenario,
                              "si": si, "runs": [int(runs[0]), int(runs[-1])], **extra})

    def _finish_queue(self) -> None:
        if self._thread is not None and self._queue is not None:
            self._queue.put(None)
            self._thread.join()
            self._thread = None
        self._raise_pending()

    def close(self) -> Path:
        """Compute quantiles, write the manifest and move the bundle into place; returns out_dir."""
        if self._closed:
            return self.out_dir
        try:
            self._finish_queue()
            if not self._files:
                raise ValueError("no chunks were written; refusing to create an empty bundle")
            parts = {s: [self.tmp_dir / f for f, v in sorted(self._files.items(), key=lambda kv: kv[1]["first"])
                         if v["scenario"] == s] for s in self._scenarios if s in self._runs}
            table = bundle_quantiles(parts, self.metrics, regions=[*self.regions, self.national_code],
                                     weeks=self.weeks, dates=self._dates, store=self._cells)
            self._close_cells()
            with atomic_output_path(self.tmp_dir / "quantiles.parquet") as tmp:
                pq.write_table(table, tmp, compression="zstd")
            files = {k: {"sha256": v["sha256"], "rows": v["rows"]} for k, v in self._files.items()}
            files["quantiles.parquet"] = {
                "sha256": sha256_file(self.tmp_dir / "quantiles.parquet"), "rows": table.num_rows}
            manifest = {
                **self.manifest, "format": FORMAT, "files": dict(sorted(files.items())),
                "metrics": {m.name: {"unit": m.unit, "description": m.description,
                                     "level": m.level, "agg": m.agg} for m in self.metrics},
                "scenarios": [s for s in self._scenarios if s in self._runs],
                "regions": list(self.regions),
                "national_code": self.national_code, "start_date": self.start_date.isoformat(),
                "created": dt.datetime.now(dt.UTC).isoformat(timespec="seconds"),
                "wall_time_s": round(time.monotonic() - self._t0, 3), "complete": True,
            }
            text = json.dumps(manifest, indent=2, default=json_default) + "\n"
            atomic_write_text(self.tmp_dir / "manifest.json", text)
            self._journal.close()
            for aux in (jr.JOURNAL, jr.LOCK):
                (self.tmp_dir / aux).unlink(missing_ok=True)
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
            _check_replaceable(self.out_dir)
            if jr.exchange(self.tmp_dir, self.out_dir):  # one atomic step: DIR is never missing
                shutil.rmtree(self.tmp_dir, ignore_errors=True)
            else:  # no renameat2: a dead writer's "-old" copy is put back by the next writer
                old = self.out_dir.with_name(f"{self.tmp_dir.name}-old")
                os.rename(self.out_dir, old)
                try:
                    os.rename(self.tmp_dir, self.out_dir)
                except BaseException:
                    os.rename(old, self.out_dir)
                    raise
                shutil.rmtree(old, ignore_errors=True)
        fsync_dir(self.out_dir.parent)

    def _close_cells(self) -> None:
        if self._cells is not None:
            self._cells.close()
            self._cells = None

    def abort(self) -> None:
        """Discard everything written so far."""
        self._closed = True
        if self._thread is not None and self._queue is not None:
            self._error = self._error or RuntimeError("aborted")  # the thread drops queued jobs
            self._queue.put(None)
            self._thread.join()
            self._thread = None
        with contextlib.suppress(OSError):
            self._journal.close()
        with contextlib.suppress(OSError):
            self._close_cells()
        shutil.rmtree(self.tmp_dir, ignore_errors=True)

    def __enter__(self) -> BundleWriter:
        return self

    def __exit__(self, exc_type: type[BaseException] | None, exc: BaseException | None,
                 tb: TracebackType | None) -> None:
        if exc_type is None:
            self.close()
        else:
            self.abort()
