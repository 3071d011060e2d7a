"""Jobs: ensembles run one process per job behind a bounded queue.

A job is admitted only while fewer than ``max_jobs + queue`` jobs are queued or running
(otherwise :class:`QueueFull`); at most ``max_jobs`` run at once, each in its own *spawned*
process (see :mod:`resurgence.web.workers`: it dies with the server and reports through its
own pipe). One server thread starts queued jobs and watches the running ones, so a worker
that dies (killed, out of memory) fails only its own job. Each job writes its bundle to
``data_dir/bundles/<id>/`` (atomically, see :mod:`resurgence.results`) and returns a small
JSON summary that the catalogue keeps. A queued or running job can be cancelled: its process
group is killed and its files removed.
"""

from __future__ import annotations

import contextlib
import logging
import math
import multiprocessing as mp
import os
import secrets
import threading
from collections.abc import Callable
from dataclasses import dataclass
from functools import partial
from multiprocessing.connection import wait as wait_any
from typing import Any

from resurgence.scenario.schema import Scenario
from resurgence.web.catalogue import Catalogue
from resurgence.web.settings import Settings
from resurgence.web.workers import child_main, kill_job_process, report

log = logging.getLogger("resurgence.web")

INTERRUPTED = "the server stopped before this job finished; submit it again"


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
    from resurgence.analysis.contrasts import contrast, describe

    out: dict[str, Any] = {"kind": kind, "scenarios": names, "outcomes": {}}
    for n in names:
        rows = describe(summaries[n])
        out["outcomes"][n] = [{"summary": c.summary, "unit": c.unit, "description": c.description,
                               "kind": c.kind, "lo": c.a[0], "mid": c.a[1], "hi": c.a[2]}
                              for c in rows]
    if kind == "compare":
        a, b = names
        out["a"], out["b"] = a, b
        out["contrasts"] = [c.as_dict() for c in contrast(summaries[a], summaries[b])]
    return clean(out)


def execute(job_id: str, out: str, kind: str, scenarios: list[Scenario], runs: int, seed: int,
            posterior: str, chunk_size: int) -> dict[str, Any]:
    """Run one run/compare job in a worker process; returns its JSON summary."""
    from resurgence.calibration.posterior import resolve_posterior, usable_for
    from resurgence.runs.ensemble import run_ensemble

    report(job_id, "start")
    # as on the command line: a posterior fitted to data after the start is not used
    post = usable_for(resolve_posterior(posterior), min(s.start for s in scenarios))
    res = run_ensemble(scenarios, runs, seed, out=out, posterior=post, chunk_size=chunk_size,
                       progress=partial(report, job_id, "progress"),
                       manifest_extra={"web_job": {"id": job_id, "kind": kind,
                                                   "posterior": posterior}})
    summary = summarise(kind, res.outcomes, [s.name for s in scenarios])
    summary["wall_time_s"] = round(res.wall_time_s, 3)
    return summary


@dataclass
class Job:
    """A queued or running job, as the manager sees it."""

    id: str
    work: Callable[..., dict[str, Any]]
    args: tuple
    out: str
    bundle_rel: str
    total: int
    done: int = 0
    running: bool = False
    stage: str = ""
    proc: Any = None
    conn: Any = None
    outcome: tuple[str, Any] | None = None
    cancelled: bool = False


def progress_chunk(runs: int, chunk_size: int) -> int:
    """Runs per work unit: about 20 progress steps per scenario (results do not depend on it)."""
    return max(1, min(chunk_size, max(10, math.ceil(runs / 20))))


class JobManager:
    def __init__(self, settings: Settings, catalogue: Catalogue) -> None:
        self.settings = settings
        self.catalogue = catalogue
        self._ctx = mp.get_context("spawn")
        self._lock = threading.Lock()
        self._jobs: dict[str, Job] = {}  # queued and running, in submission order
        self._wake_r, self._wake_w = self._ctx.Pipe(duplex=False)
        self._closing = False
        # the one thread that starts job processes: PR_SET_PDEATHSIG follows the thread that
        # forked, so it must live as long as the server
        self._thread = threading.Thread(target=self._loop, name="jobs", daemon=True)
        self._thread.start()

    @property
    def capacity(self) -> int:
        return self.settings.max_jobs + self.settings.queue

    def counts(self) -> dict[str, int]:
        with self._lock:
            running = sum(j.running for j in self._jobs.values())
            return {"running": running, "queued": len(self._jobs) - running,
                    "capacity": self.capacity}

    def submit(self, kind: str, names: list[str], runs: int, seed: int, weeks: int,
               posterior: str, work: Callable[..., dict[str, Any]], work_args: tuple,
               total: int, out_rel: str = "bundles/{id}", bundle_rel: str = "bundles/{id}",
               label: str | None = None) -> str:
        """Queue ``work(job_id, out_dir, *work_args)`` in a process of its own; returns the
        job id. ``out_rel``/``bundle_rel`` (relative to data_dir, ``{id}`` filled in) are where
        the work writes and where its results bundle ends up."""
        with self._lock:
            if self._closing:
                raise QueueFull("the server is shutting down")
            if len(self._jobs) >= self.capacity:
                raise QueueFull(f"the job queue is full ({len(self._jobs)} jobs queued or "
                                f"running, at most {self.capacity}); try again later")
            job_id = secrets.token_hex(8)
            self.catalogue.add(job_id, kind, names, runs, seed, weeks, posterior, label)
            out = str(self.catalogue.data_dir / out_rel.format(id=job_id))
            self._jobs[job_id] = Job(job_id, work, work_args, out, bundle_rel.format(id=job_id),
                                     max(total, 1))
        self._wake()
        return job_id

    def submit_ensemble(self, kind: str, scenarios: list[Scenario], runs: int, seed: int,
                        posterior: str, label: str | None = None) -> str:
        return self.submit(kind, [s.name for s in scenarios], runs, seed, scenarios[0].weeks,
                           posterior, execute, (kind, scenarios, runs, seed, posterior,
                                                progress_chunk(runs, self.settings.chunk_size)),
                           runs * len(scenarios), label=label)

    def cancel(self, job_id: str) -> bool:
        """Cancel a queued or running job (its process group is killed, its files removed);
        False when it is not queued or running here."""
        with self._lock:
            job = self._jobs.get(job_id)
            if job is None or job.cancelled:
                return False
            job.cancelled = True
            self.catalogue.finish(job_id, "cancelled", error="cancelled on request")
            if job.proc is None:
                del self._jobs[job_id]
                self.catalogue.remove_files(job_id)
            else:
                kill_job_process(job.proc)  # the loop reaps it and removes its files
        self._wake()
        return True

    def _wake(self) -> None:
        with contextlib.suppress(OSError, ValueError):
            self._wake_w.send(None)

    def _start(self, job: Job) -> None:
        r, w = self._ctx.Pipe(duplex=False)
        proc = self._ctx.Process(target=child_main, name=f"resurgence-job-{job.id}",
                                 args=(w, os.getpid(), job.id, job.work, job.out, job.args),
                                 daemon=True)
        proc.start()
        w.close()  # the child holds the only write end: EOF when it dies
        job.proc, job.conn = proc, r

    def _loop(self) -> None:
        while True:
            with self._lock:
                if self._closing:
                    return
                running = [j for j in self._jobs.values() if j.proc is not None]
                for job in self._jobs.values():
                    if len(running) >= self.settings.max_jobs:
                        break
                    if job.proc is None and not job.cancelled:
                        try:
                            self._start(job)
                        except OSError as exc:  # cannot fork: fail this job, keep serving
                            job.outcome = ("error", f"could not start a worker: {exc}")
                            job.proc = _NoProcess()
                        running.append(job)
                waitables: list[Any] = [self._wake_r]
                for j in running:
                    if j.conn is not None:
                        waitables.append(j.conn)
                    waitables.append(j.proc.sentinel)
            for ready in wait_any(waitables, timeout=1.0):
                if ready is self._wake_r:
                    with contextlib.suppress(EOFError, OSError):
                        while self._wake_r.poll():
                            self._wake_r.recv()
                    continue
                owner = next((j for j in running if ready in (j.conn, j.proc.sentinel)), None)
                if owner is None:
                    continue
                if ready is owner.conn:
                    self._receive(owner)
                else:
                    self._reap(owner)

    def _receive(self, job: Job) -> None:
        try:
            while job.conn is not None and job.conn.poll():
                what, k = job.conn.recv()
                self._message(job, what, k)
        except (EOFError, OSError, ValueError):
            with contextlib.suppress(OSError):
                job.conn.close()
            job.conn = None

    def _message(self, job: Job, what: str, k: Any) -> None:
        if what in ("result", "error"):
            job.outcome = (what, k)
            return
        with self._lock:
            if what == "start":
                job.running = True
            elif what == "total":
                job.total = max(int(k), 1)
            elif what == "progress":
                job.done += int(k)
            else:
                job.stage = str(k)[:200]
        if what == "start" and not job.cancelled:
            self.catalogue.started(job.id)

    def _reap(self, job: Job) -> None:
        self._receive(job)  # what it said before it ended
        job.proc.join(timeout=5)
        code = job.proc.exitcode
        with self._lock:
            self._jobs.pop(job.id, None)
            if job.cancelled or self._closing:
                self.catalogue.remove_files(job.id)
                return
            if job.outcome is not None and job.outcome[0] == "result":
                self.catalogue.finish(job.id, "done", bundle=job.bundle_rel, summary=job.outcome[1])
            elif job.outcome is not None:
                self.catalogue.finish(job.id, "failed", error=str(job.outcome[1])[:500])
                self.catalogue.remove_files(job.id)
            else:
                how = f"signal {-code}" if code is not None and code < 0 else f"exit code {code}"
                log.error("job %s: worker process died (%s)", job.id, how)
                self.catalogue.finish(job.id, "failed", error=f"the worker process died ({how}; "
                                      "out of memory?); submit a smaller job")
                self.catalogue.remove_files(job.id)
        self._wake()

    def progress(self, job_id: str) -> tuple[bool, float, str] | None:
        """(running, fraction done, stage) of an active job; None when it is not active here."""
        with self._lock:
            j = self._jobs.get(job_id)
            if j is None or j.cancelled:
                return None
            return j.running, min(0.999, j.done / j.total), j.stage

    def processes(self) -> dict[str, int]:
        """Job id -> pid of each running job's process (for tests and diagnostics)."""
        with self._lock:
            return {j.id: j.proc.pid for j in self._jobs.values()
                    if j.proc is not None and j.proc.pid is not None}

    def shutdown(self) -> None:
        """Stop: queued jobs are dropped and running ones killed; both end 'interrupted'."""
        with self._lock:
            self._closing = True
            jobs = list(self._jobs.values())
            self._jobs.clear()
        self._wake()
        self._thread.join(timeout=5)
        for job in jobs:
            if job.proc is not None:
                kill_job_process(job.proc)
        for job in jobs:
            if job.proc is not None:
                job.proc.join(timeout=5)
            if not job.cancelled:
                self.catalogue.finish(job.id, "interrupted", error=INTERRUPTED)
            self.catalogue.remove_files(job.id)
        for conn in (self._wake_r, self._wake_w):
            with contextlib.suppress(OSError):
                conn.close()


class _NoProcess:
    """Stands in for a process that could not be started (its sentinel is always ready)."""

    pid = None
    exitcode = None

    def __init__(self) -> None:
        self._r, self._w = mp.Pipe(duplex=False)
        self._w.close()
        self.sentinel = self._r

    def join(self, timeout: float | None = None) -> None:
        return None

    def kill(self) -> None:
        return None
