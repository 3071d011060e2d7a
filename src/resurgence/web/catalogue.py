"""The results catalogue: one DuckDB file listing every job and where its bundle lives.

``data_dir/catalogue.duckdb`` holds table ``jobs`` (id, kind, scenarios, runs, seed, weeks,
posterior, status, created, started, finished, error, bundle, summary, label). The bundles
themselves are ``data_dir/bundles/<job id>/`` (see :mod:`resurgence.results`). Only the
server process opens the file, through one connection guarded by a lock.
"""

from __future__ import annotations

import datetime as dt
import json
import shutil
import threading
from pathlib import Path
from typing import Any

import duckdb

STATUSES = ("queued", "running", "done", "failed", "interrupted", "cancelled")
ACTIVE = ("queued", "running")

_SCHEMA = """
CREATE TABLE IF NOT EXISTS jobs (
    id VARCHAR PRIMARY KEY,
    kind VARCHAR NOT NULL,            -- 'run' or 'compare'
    scenarios VARCHAR[] NOT NULL,     -- scenario names, in order (compare: A then B)
    runs INTEGER NOT NULL,
    seed BIGINT NOT NULL,
    weeks INTEGER NOT NULL,
    posterior VARCHAR NOT NULL,
    status VARCHAR NOT NULL,
    created TIMESTAMP NOT NULL,
    started TIMESTAMP,
    finished TIMESTAMP,
    error VARCHAR,
    bundle VARCHAR,                   -- bundle directory, relative to data_dir
    summary VARCHAR,                  -- JSON: per-run outcome quantiles or contrasts
    label VARCHAR                     -- the submitter's label (plain text, <= 80 chars)
)"""
_MIGRATE = "ALTER TABLE jobs ADD COLUMN IF NOT EXISTS label VARCHAR"  # catalogues before 'label'
_COLS = ("id", "kind", "scenarios", "runs", "seed", "weeks", "posterior", "status", "created",
         "started", "finished", "error", "bundle", "summary", "label")


def _remove(p: Path) -> None:
    if p.is_dir() and not p.is_symlink():
        shutil.rmtree(p, ignore_errors=True)
    else:
        p.unlink(missing_ok=True)


class CatalogueError(RuntimeError):
    """The catalogue cannot be opened (e.g. another server holds it)."""


def now() -> dt.datetime:
    """UTC, naive (stored as TIMESTAMP; reading TIMESTAMPTZ back would need pytz)."""
    return dt.datetime.now(dt.UTC).replace(tzinfo=None, microsecond=0)


class Catalogue:
    def __init__(self, data_dir: Path) -> None:
        self.data_dir = Path(data_dir)
        self.bundles = self.data_dir / "bundles"
        self.bundles.mkdir(parents=True, exist_ok=True)
        (self.data_dir / "downloads").mkdir(exist_ok=True)
        path = self.data_dir / "catalogue.duckdb"
        try:
            self._con = duckdb.connect(str(path))
        except duckdb.Error as exc:
            first = str(exc).splitlines()[0] if str(exc) else type(exc).__name__
            raise CatalogueError(f"{path}: cannot open the catalogue ({first}); is another "
                                 "`resurgence serve` using this data directory?") from None
        self._lock = threading.Lock()
        self._closed = False
        with self._lock:
            self._con.execute(_SCHEMA)
            self._con.execute(_MIGRATE)

    def close(self) -> None:
        with self._lock:
            self._closed = True
            self._con.close()

    def recover(self) -> int:
        """After a restart: jobs left queued or running are marked ``interrupted``; the files
        of every job that is not ``done`` (partial or late bundles, brief folders, temp
        dirs) and of directories no job owns are removed. Returns how many jobs were
        interrupted."""
        with self._lock:
            n = self._con.execute(
                "UPDATE jobs SET status = 'interrupted', finished = ?, error = 'the server stopped "
                "before this job finished; submit it again' WHERE status IN ('queued', 'running') "
                "RETURNING id", [now()]).fetchall()
            done = {r[0] for r in self._con.execute(
                "SELECT id FROM jobs WHERE status = 'done'").fetchall()}
        for folder in (self.bundles, self.data_dir / "briefs"):
            if not folder.is_dir():
                continue
            for p in folder.iterdir():
                if p.name.split(".", 1)[0] not in done or ".tmp-" in p.name:
                    _remove(p)
        for p in (self.data_dir / "downloads").glob(".*.tmp-*"):
            p.unlink(missing_ok=True)
        return len(n)

    def remove_files(self, job_id: str) -> None:
        """Remove everything a job wrote: its bundle (and temp dirs), brief folder, download."""
        for folder in (self.bundles, self.data_dir / "briefs"):
            for p in folder.glob(f"{job_id}*"):
                _remove(p)
        (self.data_dir / "downloads" / f"{job_id}.zip").unlink(missing_ok=True)

    def delete(self, job_id: str) -> bool:
        """Delete a finished job (done, failed, interrupted, cancelled) and its files; False
        if it is queued or running (or unknown)."""
        with self._lock:
            row = self._con.execute("DELETE FROM jobs WHERE id = ? AND status NOT IN "
                                    "('queued', 'running') RETURNING id", [job_id]).fetchone()
            if row is not None:
                self._con.execute("CHECKPOINT")
        if row is None:
            return False
        self.remove_files(job_id)
        return True

    def add(self, job_id: str, kind: str, scenarios: list[str], runs: int, seed: int, weeks: int,
            posterior: str, label: str | None = None) -> None:
        with self._lock:
            self._con.execute(
                "INSERT INTO jobs (id, kind, scenarios, runs, seed, weeks, posterior, status, "
                "created, label) VALUES (?, ?, ?, ?, ?, ?, ?, 'queued', ?, ?)",
                [job_id, kind, scenarios, runs, seed, weeks, posterior, now(), label])

    def started(self, job_id: str) -> None:
        with self._lock:
            if self._closed:
                return
            self._con.execute("UPDATE jobs SET status = 'running', started = ? WHERE id = ? AND "
                              "status = 'queued'", [now(), job_id])

    def finish(self, job_id: str, status: str, *, error: str | None = None,
               bundle: str | None = None, summary: dict[str, Any] | None = None) -> None:
        assert status in STATUSES
        with self._lock:
            if self._closed:  # a late callback after shutdown: recover() handles it on restart
                return
            self._con.execute(
                "UPDATE jobs SET status = ?, finished = ?, error = ?, bundle = ?, summary = ? "
                "WHERE id = ?", [status, now(), error, bundle,
                                 None if summary is None else json.dumps(summary), job_id])
            self._con.execute("CHECKPOINT")

    def get(self, job_id: str) -> dict[str, Any] | None:
        with self._lock:
            row = self._con.execute(f"SELECT {', '.join(_COLS)} FROM jobs WHERE id = ?",
                                    [job_id]).fetchone()
        return None if row is None else self._row(row)

    def list(self, limit: int = 50) -> list[dict[str, Any]]:
        with self._lock:
            rows = self._con.execute(f"SELECT {', '.join(_COLS)} FROM jobs ORDER BY created DESC "
                                     "LIMIT ?", [limit]).fetchall()
        return [self._row(r) for r in rows]

    def _row(self, row: tuple) -> dict[str, Any]:
        d = dict(zip(_COLS, row, strict=True))
        for k in ("created", "started", "finished"):
            if d[k] is not None:
                d[k] = d[k].replace(tzinfo=dt.UTC).isoformat(timespec="seconds")
        d["summary"] = json.loads(d["summary"]) if d["summary"] else None
        return d

    def bundle_path(self, job: dict[str, Any]) -> Path | None:
        return None if not job.get("bundle") else self.data_dir / job["bundle"]
