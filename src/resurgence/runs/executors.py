"""Where chunks run: one executor protocol, three implementations, typed tasks.

An :class:`Executor` maps a picklable function over tasks: :class:`Serial` (this process),
:class:`Processes` (a local process pool; at most two tasks per worker in flight, so memory
does not grow with the number of runs) and :class:`Ray` (scale-out, ``pip install
'resurgence[ray]'``; ``RAY_ADDRESS`` selects a cluster). Ensembles (:func:`execute`),
per-chunk reductions (:func:`map_runs`, used by calibration, forecasts and the 2011 case)
and the Sobol' design (:mod:`resurgence.analysis.sensitivity`) all go through it. Results
are bit-identical across the three because every run's random stream depends on its index
only (:mod:`resurgence.core.rng`); chunks are units of work, nothing more.
"""

from __future__ import annotations

import datetime as dt
import os
from collections import deque
from collections.abc import Callable, Iterable, Iterator
from concurrent.futures import FIRST_COMPLETED, Future, ProcessPoolExecutor, wait
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Protocol, TypeVar

import numpy as np

from resurgence.core.errors import ArgumentError
from resurgence.core.timegrid import WeekGrid
from resurgence.model.params import ParamSet
from resurgence.results.outcomes import run_outcomes
from resurgence.runs.branch import simulate_branched
from resurgence.runs.prepare import Carried, simulate_spun
from resurgence.scenario.schema import Scenario
from resurgence.theatre.theatre import Theatre, load_theatre

T = TypeVar("T")
R = TypeVar("R")

BACKENDS = ("local", "ray")


# --- the protocol ----------------------------------------------------------------------------

class Executor(Protocol):
    """Maps ``fn`` over ``tasks``; ``ordered=False`` yields results as they complete."""

    workers: int

    def map(self, fn: Callable[[Any], Any], tasks: Iterable[Any], *,
            ordered: bool = True) -> Iterator[Any]: ...


class Serial:
    """In this process, one task at a time, lazily."""

    workers = 1

    def map(self, fn: Callable[[T], R], tasks: Iterable[T], *, ordered: bool = True) -> Iterator[R]:
        return (fn(t) for t in tasks)


class Processes:
    """A local process pool with a bounded number of tasks in flight (2 per worker)."""

    def __init__(self, workers: int):
        self.workers = workers

    def map(self, fn: Callable[[T], R], tasks: Iterable[T], *, ordered: bool = True) -> Iterator[R]:
        limit = 2 * self.workers
        with ProcessPoolExecutor(max_workers=self.workers) as pool:
            pending: deque[Future] = deque()
            for task in tasks:
                pending.append(pool.submit(fn, task))
                while len(pending) >= limit:
                    yield from self._drain(pending, ordered)
            while pending:
                yield from self._drain(pending, ordered)

    @staticmethod
    def _drain(pending: deque[Future], ordered: bool) -> Iterator[Any]:
        if ordered:
            yield pending.popleft().result()
            return
        done, _ = wait(set(pending), return_when=FIRST_COMPLETED)
        for f in done:
            pending.remove(f)
            yield f.result()


class Ray:
    """Each task a Ray task; connects to ``RAY_ADDRESS`` if set, else starts a local Ray."""

    def __init__(self, workers: int):
        try:
            import ray
        except ImportError:
            raise ArgumentError("field 'backend' = 'ray': Ray is not installed "
                                "(pip install 'resurgence[ray]')") from None
        self.workers, self._ray = workers, ray
        if not ray.is_initialized():
            ray.init(num_cpus=None if os.environ.get("RAY_ADDRESS") else workers,
                     include_dashboard=False, log_to_driver=False, ignore_reinit_error=True)

    def map(self, fn: Callable[[T], R], tasks: Iterable[T], *, ordered: bool = True) -> Iterator[R]:
        ray = self._ray
        remote = ray.remote(fn)
        pending: list = []
        limit = 2 * max(self.workers, 1)
        for task in tasks:
            pending.append(remote.remote(task))
            while len(pending) >= limit:
                if ordered:
                    yield ray.get(pending.pop(0))
                else:
                    done, pending = ray.wait(pending, num_returns=1)
                    yield from ray.get(done)
        while pending:
            if ordered:
                yield ray.get(pending.pop(0))
            else:
                done, pending = ray.wait(pending, num_returns=1)
                yield from ray.get(done)


def check_execution(workers: int, backend: str = "local") -> None:
    """``workers`` at least 1 and a known ``backend`` (checked before anything is written)."""
    if backend not in BACKENDS:
        raise ArgumentError(f"field 'backend' = {backend!r}: expected 'local' or 'ray'")
    if workers < 1:
        raise ArgumentError(f"field 'workers' = {workers}: expected at least 1")


def executor(workers: int = 1, backend: str = "local") -> Executor:
    """The executor for ``workers`` local processes or a Ray backend."""
    check_execution(workers, backend)
    if backend == "ray":
        return Ray(workers)
    return Serial() if workers == 1 else Processes(workers)


# --- the tasks -------------------------------------------------------------------------------

@dataclass(frozen=True)
class EnsembleTask:
    """One chunk of runs of one or more scenarios of an ensemble (they share history)."""

    items: tuple[tuple[int, Scenario, ParamSet], ...]  # (scenario index, scenario, params)
    theatre: str  # "iraq" or a theatre folder
    run_ids: np.ndarray
    seed: int
    spinup: dt.date | None
    keep: frozenset[str] | None  # metrics to send back (None: outcomes only)
    carried: Carried | None = None  # runs start from this state instead of simulating history


@dataclass(frozen=True)
class MapTask:
    """One chunk of runs of one scenario, reduced in the worker by ``fn``."""

    scenario: Scenario
    theatre: str
    params: ParamSet
    run_ids: np.ndarray
    seed: int
    spinup: dt.date | None
    fn: Callable
    carried: Carried | None = None
    known_until: dt.date | None = None  # see resurgence.runs.prepare.history


ChunkResult = tuple[int, np.ndarray, dict[str, np.ndarray] | None, dict[str, np.ndarray]]


def _iter_work(task: EnsembleTask) -> Iterator[ChunkResult]:
    """One scenario's ``(index, run_ids, kept series or None, outcomes)`` at a time."""
    theatre = load_theatre(task.theatre)
    by_index = {i: sc for i, sc, _ in task.items}
    for si, out in simulate_branched(task.items, theatre, task.run_ids, task.seed,
                                       task.spinup, task.carried):
        sc = by_index[si]
        summ = run_outcomes(out, theatre, WeekGrid(sc.start, sc.weeks))
        # without a bundle only the per-run outcomes travel back (not ~70 MB of series a chunk)
        kept = ({k: v for k, v in out.items() if k in task.keep}
                if task.keep is not None else None)
        del out
        yield si, task.run_ids, kept, summ


def _work(task: EnsembleTask) -> list[ChunkResult]:
    return list(_iter_work(task))


def _map_work(task: MapTask) -> Any:
    theatre = load_theatre(task.theatre)
    arrays = simulate_spun(task.scenario, theatre, task.params, task.run_ids, task.seed,
                           task.spinup, task.carried, task.known_until)
    return task.fn(arrays, task.params, task.run_ids)


def theatre_ref(th: Theatre) -> str:
    """How a task names its theatre: ``"iraq"`` (the packaged one) or its folder."""
    return str(th.source_dir) if th.name != "iraq" else "iraq"


def map_runs(sc: Scenario, params: ParamSet, run_ids: np.ndarray, seed: int, fn: Callable,
             *, theatre: str | Path = "iraq", spinup: dt.date | None = None,
             carried: Carried | None = None, known_until: dt.date | None = None,
             chunk_size: int = 250, workers: int = 1, backend: str = "local") -> list:
    """Simulate runs ``run_ids`` (``params`` holds one value per run; ``carried``, if given,
    one starting state per run) in chunks and apply ``fn(arrays, params_chunk,
    run_ids_chunk)`` to each chunk in the worker; results come back in chunk order. ``fn``
    must be picklable (a module-level function or partial)."""
    run_ids = np.asarray(run_ids)
    ref = theatre_ref(load_theatre(theatre))

    def task(i: int) -> MapTask:
        sl = slice(i, min(i + chunk_size, len(run_ids)))
        return MapTask(sc, ref, params.take(np.arange(sl.start, sl.stop)), run_ids[sl], seed,
                       spinup, fn, carried.take(sl) if carried is not None else None,
                       known_until)

    tasks = (task(i) for i in range(0, len(run_ids), chunk_size))
    return list(executor(workers, backend).map(_map_work, tasks))


def execute(tasks: Iterable[EnsembleTask], workers: int,
            backend: str = "local") -> Iterator[ChunkResult]:
    """Run each ensemble task; per-scenario results in completion order."""
    ex = executor(workers, backend)
    if isinstance(ex, Serial):  # in process: one scenario's series in memory at a time
        for task in tasks:
            yield from _iter_work(task)
        return
    for res in ex.map(_work, tasks, ordered=False):
        yield from res
