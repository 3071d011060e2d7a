"""Where chunks run: in this process, a local process pool or Ray; bounded work in flight."""

from __future__ import annotations

import os
from collections.abc import Callable, Iterator
from concurrent.futures import FIRST_COMPLETED, ProcessPoolExecutor, wait
from pathlib import Path

import numpy as np

from resurgence.core.errors import ArgumentError
from resurgence.core.timegrid import WeekGrid
from resurgence.model.params import ParamSet
from resurgence.results.outcomes import run_summaries
from resurgence.runs.prepare import simulate_spun
from resurgence.scenario.schema import Scenario
from resurgence.theatre.theatre import load_theatre


def _work(args) -> tuple[int, np.ndarray, dict[str, np.ndarray] | None, dict[str, np.ndarray]]:
    si, sc, theatre_ref, params, run_ids, seed, spinup, keep = args
    theatre = load_theatre(theatre_ref)
    out = simulate_spun(sc, theatre, params, run_ids, seed, spinup)
    summ = run_summaries(out, theatre, WeekGrid(sc.start, sc.weeks))
    # without a bundle only the per-run summaries travel back (not ~70 MB of series a chunk)
    if keep is not None:
        out = {k: v for k, v in out.items() if k in keep}
    return si, run_ids, (out if keep is not None else None), summ


def _map_work(args):
    sc, theatre_ref, params, run_ids, seed, spinup, fn = args
    theatre = load_theatre(theatre_ref)
    return fn(simulate_spun(sc, theatre, params, run_ids, seed, spinup), params, run_ids)


def map_runs(sc: Scenario, params: ParamSet, run_ids: np.ndarray, seed: int, fn: Callable,
             *, theatre: str | Path = "iraq", spinup=None,
             chunk_size: int = 250, workers: int = 1) -> list:
    """Simulate runs ``run_ids`` (``params`` holds one value per run) in chunks and apply
    ``fn(arrays, params_chunk, run_ids_chunk)`` to each chunk in the worker; results come
    back in chunk order. ``fn`` must be picklable (a module-level function or partial)."""
    run_ids = np.asarray(run_ids)
    th = load_theatre(theatre)
    ref = str(th.source_dir) if th.name != "iraq" else "iraq"
    tasks = ((sc, ref, params.take(np.arange(i, min(i + chunk_size, len(run_ids)))),
              run_ids[i:i + chunk_size], seed, spinup, fn)
             for i in range(0, len(run_ids), chunk_size))
    if workers == 1:
        return [_map_work(t) for t in tasks]
    with ProcessPoolExecutor(max_workers=workers) as pool:
        return list(pool.map(_map_work, tasks))


def execute(tasks: Iterator[tuple], workers: int, backend: str = "local") -> Iterator[tuple]:
    """Run ``_work`` on each task; results in completion order, at most 2 per worker pending."""
    if backend == "ray":
        yield from _execute_ray(tasks, workers)
        return
    if workers == 1:
        for task in tasks:
            yield _work(task)
        return
    with ProcessPoolExecutor(max_workers=workers) as pool:
        pending = set()
        for task in tasks:
            pending.add(pool.submit(_work, task))
            if len(pending) >= 2 * workers:  # bounded queue: memory does not grow with runs
                done, pending = wait(pending, return_when=FIRST_COMPLETED)
                for f in done:
                    yield f.result()
        for f in pending:
            yield f.result()


def _execute_ray(tasks: Iterator[tuple], workers: int) -> Iterator[tuple]:
    """Scale out on Ray (``pip install resurgence[ray]``): each chunk is a Ray task. Results are
    bit-identical to local execution because every run's stream depends on its index only.
    Connects to a running cluster if ``RAY_ADDRESS`` is set, else starts a local one."""
    try:
        import ray
    except ImportError:
        raise ArgumentError("field 'backend' = 'ray': Ray is not installed "
                         "(pip install 'resurgence[ray]')") from None
    if not ray.is_initialized():
        ray.init(num_cpus=None if os.environ.get("RAY_ADDRESS") else workers,
                 include_dashboard=False, log_to_driver=False, ignore_reinit_error=True)
    remote = ray.remote(_work)
    pending: list = []
    for task in tasks:
        pending.append(remote.remote(task))
        if len(pending) >= 2 * max(workers, 1):  # bounded in-flight work
            done, pending = ray.wait(pending, num_returns=1)
            yield from ray.get(done)
    while pending:
        done, pending = ray.wait(pending, num_returns=1)
        yield from ray.get(done)
