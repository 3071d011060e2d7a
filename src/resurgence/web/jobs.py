"""Jobs: ensembles run in a pool of worker processes behind a bounded queue.

A job is admitted only while fewer than ``max_jobs + queue`` jobs are queued or running
(otherwise :class:`QueueFull`); the pool runs ``max_jobs`` at a time. Workers are *spawned*
(not forked from the threaded server) and report start and progress through one
multiprocessing queue that a server thread drains. Each job writes its bundle to
``data_dir/bundles/<id>/`` (atomically, see :mod:`resurgence.results`) and returns a small
JSON summary that the catalogue keeps.
"""

from __future__ import annotations

import contextlib
import logging
import math
import multiprocessing as mp
import queue as queue_mod
import secrets
import threading
from collections.abc import Callable
from concurrent.futures import CancelledError, Future, ProcessPoolExecutor
from concurrent.futures.process import BrokenProcessPool
from dataclasses import dataclass
from functools import partial
from typing import Any

from resurgence.scenario.schema import Scenario
from resurgence.web.catalogue import Catalogue
from resurgence.web.settings import Settings

log = logging.getLogger("resurgence.web")

_progress_q: Any = None  # set in each worker process by _init_worker


class QueueFull(RuntimeError):
    """No room for another job; the message says how many are waiting."""


def clean(x: Any) -> Any:
    """JSON-safe: non-finite floats become None (JSON has no NaN)."""
    if isinstance(x, float):
        return x if math.isfinite(x) else None
    if isinstance(x, dict):
        return {k: clean(v) for k, v in x.items()}
    if isinstance(x, list | tuple):
        return [clean(v) for v in x]
    return x


def summarise(kind: str, summaries: dict[str, Any], names: list[str]) -> dict[str, Any]:
    """Per-run outcome intervals per scenario (lo, mid, hi = P10, median, P90; probabilities:
    mean with an 80% bootstrap interval) and, for a compare, paired contrasts B - A."""
    from resurgence.analysis.contrasts import contrast

    out: dict[str, Any] = {"kind": kind, "scenarios": names, "outcomes": {}}
    for n in names:
        rows = contrast(summaries[n], summaries[n])
        out["outcomes"][n] = [{"summary": c.summary, "unit": c.unit, "description": c.description,
                               "kind": c.kind, "lo": c.a[0], "mid": c.a[1], "hi": c.a[2]}
                              for c in rows]
    if kind == "compare":
        a, b = names
        out["a"], out["b"] = a, b
        out["contrasts"] = [c.as_dict() for c in contrast(summaries[a], summaries[b])]
    return clean(out)


def _init_worker(q: Any) -> None:
    global _progress_q
    _progress_q = q


def _report(job_id: str, what: str, k: int | str = 0) -> None:
    """From a worker: 'start', 'total' (runs to do), 'progress' (runs done) or a stage text."""
    if _progress_q is not None:
        _progress_q.put((job_id, what, k))


def execute(job_id: str, out: str, kind: str, scenarios: list[Scenario], runs: int, seed: int,
            posterior: str, chunk_size: int) -> dict[str, Any]:
    """Run one run/compare job in a worker process; returns its JSON summary."""
    from resurgence.calibration.posterior import resolve_posterior, usable_for
    from resurgence.runs.ensemble import run_ensemble

    _report(job_id, "start")
    # as on the command line: a posterior fitted to data after the start is not used
    post = usable_for(resolve_posterior(posterior), min(s.start for s in scenarios))
    res = run_ensemble(scenarios, runs, seed, out=out, posterior=post, chunk_size=chunk_size,
                       progress=partial(_report, job_id, "progress"),
                       manifest_extra={"web_job": {"id": job_id, "kind": kind,
                                                   "posterior": posterior}})
    summary = summarise(kind, res.summaries, [s.name for s in scenarios])
    summary["wall_time_s"] = round(res.wall_time_s, 3)
    return summary


@dataclass
class Active:
    total: int
    done: int = 0
    running: bool = False
    stage: str = ""


def progress_chunk(runs: int, chunk_size: int) -> int:
    """Runs per work unit: about 20 progress steps per scenario (results do not depend on it)."""
    return max(1, min(chunk_size, max(10, math.ceil(runs / 20))))


class JobManager:
    def __init__(self, settings: Settings, catalogue: Catalogue) -> None:
        self.settings = settings
        self.catalogue = catalogue
        self._ctx = mp.get_context("spawn")
        self._q: Any = self._ctx.Queue()
        self._lock = threading.Lock()
        self._active: dict[str, Active] = {}
        self._pool: ProcessPoolExecutor | None = None
        self._closing = False
        self._drain = threading.Thread(target=self._drain_loop, name="job-progress", daemon=True)
        self._drain.start()

    def _new_pool(self) -> ProcessPoolExecutor:
        return ProcessPoolExecutor(max_workers=self.settings.max_jobs, mp_context=self._ctx,
                                   initializer=_init_worker, initargs=(self._q,))

    @property
    def capacity(self) -> int:
        return self.settings.max_jobs + self.settings.queue

    def counts(self) -> dict[str, int]:
        with self._lock:
            running = sum(a.running for a in self._active.values())
            return {"running": running, "queued": len(self._active) - running,
                    "capacity": self.capacity}

    def submit(self, kind: str, names: list[str], runs: int, seed: int, weeks: int,
               posterior: str, work: Callable[..., dict[str, Any]], work_args: tuple,
               total: int, out_rel: str = "bundles/{id}", bundle_rel: str = "bundles/{id}") -> str:
        """Queue ``work(job_id, out_dir, *work_args)`` in a worker; returns the job id.
        ``out_rel``/``bundle_rel`` (relative to data_dir, ``{id}`` filled in) are where the
        work writes and where its results bundle ends up."""
        with self._lock:
            if self._closing:
                raise QueueFull("the server is shutting down")
            if len(self._active) >= self.capacity:
                raise QueueFull(f"the job queue is full ({len(self._active)} jobs queued or "
                                f"running, at most {self.capacity}); try again later")
            if self._pool is None:
                self._pool = self._new_pool()
            job_id = secrets.token_hex(8)
            self.catalogue.add(job_id, kind, names, runs, seed, weeks, posterior)
            out = str(self.catalogue.data_dir / out_rel.format(id=job_id))
            self._active[job_id] = Active(total=max(total, 1))
            try:
                fut = self._pool.submit(work, job_id, out, *work_args)
            except BrokenProcessPool:  # a worker died earlier: start a fresh pool once
                self._pool = self._new_pool()
                fut = self._pool.submit(work, job_id, out, *work_args)
        fut.add_done_callback(partial(self._done, job_id, bundle_rel.format(id=job_id)))
        return job_id

    def submit_ensemble(self, kind: str, scenarios: list[Scenario], runs: int, seed: int,
                        posterior: str) -> str:
        return self.submit(kind, [s.name for s in scenarios], runs, seed, scenarios[0].weeks,
                           posterior, execute, (kind, scenarios, runs, seed, posterior,
                                                progress_chunk(runs, self.settings.chunk_size)),
                           runs * len(scenarios))

    def _done(self, job_id: str, bundle_rel: str, fut: Future) -> None:
        try:
            summary = fut.result()
        except (CancelledError, BrokenProcessPool) as exc:
            if self._closing or isinstance(exc, CancelledError):
                self.catalogue.finish(job_id, "interrupted", error="the server stopped before "
                                      "this job finished; submit it again")
            else:
                log.error("job %s: worker process died", job_id)
                self.catalogue.finish(job_id, "failed", error="the worker process died "
                                      "(out of memory?); submit a smaller job")
                with self._lock:
                    self._pool = None  # the next submit starts a fresh pool
        except Exception as exc:  # a failed job is reported, not raised
            log.error("job %s failed", job_id, exc_info=exc)
            msg = str(exc).splitlines()[0] if str(exc) else type(exc).__name__
            self.catalogue.finish(job_id, "failed", error=msg[:500])
        else:
            self.catalogue.finish(job_id, "done", bundle=bundle_rel, summary=summary)
        finally:
            with self._lock:
                self._active.pop(job_id, None)

    def _drain_loop(self) -> None:
        q = self._q
        while True:
            try:
                item = q.get(timeout=0.5)
            except queue_mod.Empty:
                if self._closing:
                    return
                continue
            except (EOFError, OSError, ValueError):
                return
            if item is None:
                return
            job_id, what, k = item
            with self._lock:
                a = self._active.get(job_id)
                if a is None:
                    continue
                if what == "start":
                    a.running = True
                elif what == "total":
                    a.total = max(int(k), 1)
                elif what == "progress":
                    a.done += int(k)
                else:
                    a.stage = str(k)[:200]
            if what == "start":
                self.catalogue.started(job_id)

    def progress(self, job_id: str) -> tuple[bool, float, str] | None:
        """(running, fraction done, stage) of an active job; None when it is not active here."""
        with self._lock:
            a = self._active.get(job_id)
            return None if a is None else (a.running, min(0.999, a.done / a.total), a.stage)

    def shutdown(self) -> None:
        """Stop: queued jobs are cancelled and running ones killed; both end 'interrupted'."""
        with self._lock:
            self._closing = True
            pool, self._pool = self._pool, None
            active = list(self._active)
        if pool is not None:
            procs = list((getattr(pool, "_processes", None) or {}).values())
            pool.shutdown(wait=False, cancel_futures=True)
            for p in procs:
                if p.is_alive():
                    p.terminate()
            for p in procs:
                p.join(timeout=5)
            pool.shutdown(wait=True)  # the manager thread ends once its workers are gone
        for job_id in active:
            self.catalogue.finish(job_id, "interrupted", error="the server stopped before this "
                                  "job finished; submit it again")
        with contextlib.suppress(OSError, ValueError):
            self._q.put(None)
        self._drain.join(timeout=2)
        with contextlib.suppress(OSError, ValueError):
            self._q.close()
            self._q.join_thread()
        self._q = None  # let its semaphores be released now, not reported at exit
