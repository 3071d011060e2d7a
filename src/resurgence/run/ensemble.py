"""Ensembles: many runs of one or more scenarios, chunked, optionally in worker processes,
streamed into a results bundle.

Chunks are units of work only. Every run's randomness comes from its run index (see
:mod:`resurgence.engine`), so results are bit-identical whatever ``chunk_size`` and
``workers``. Scenarios of one ensemble share run indices, seeds and per-run parameters:
common random numbers, so their paired differences are policy effects, not noise.
"""

from __future__ import annotations

import datetime as dt
import os
import time
from collections.abc import Callable, Iterator, Sequence
from concurrent.futures import FIRST_COMPLETED, ProcessPoolExecutor, wait
from dataclasses import dataclass, field
from pathlib import Path
from typing import Protocol

import numpy as np

from resurgence.core.errors import ArgumentError
from resurgence.core.timegrid import WeekGrid
from resurgence.core.version import __version__
from resurgence.model.params import DEFAULTS_VERSION, ParamSet, check_overrides, defaults_digest
from resurgence.model.sim import all_metrics, all_params, default_params, simulate_chunk
from resurgence.results.bundle import Bundle, BundleWriter
from resurgence.results.outcomes import run_summaries
from resurgence.scenario.drivers import compile_drivers
from resurgence.scenario.schema import Scenario, ScenarioError, check_spinup, load_scenario
from resurgence.theatre.theatre import Theatre, load_theatre

ProgressFn = Callable[[int], None]


class Origin(Protocol):
    """Where runs start and with which per-run parameters: a posterior (see
    :class:`resurgence.calibration.posterior.Posterior`) or anything shaped like one.

    Run ``i`` takes ``paramset([i])``; every run starts at ``start`` (simulating the known
    history from there) and reports from the scenario's own start."""

    start: dt.date

    def paramset(self, run_ids: np.ndarray) -> ParamSet: ...

    def manifest_entry(self) -> dict: ...


@dataclass
class EnsembleResult:
    """What an ensemble returns in memory: per-run summaries (always) and the bundle path."""

    scenarios: list[Scenario]
    runs: int
    seed: int
    summaries: dict[str, dict[str, np.ndarray]] = field(default_factory=dict)
    bundle: Path | None = None
    wall_time_s: float = 0.0

    def open(self) -> Bundle:
        if self.bundle is None:
            raise ArgumentError("this ensemble was run without an output directory")
        return Bundle.open(self.bundle)


def resolve(scenario: Scenario | str | Path, weeks: int | None = None) -> Scenario:
    sc = scenario if isinstance(scenario, Scenario) else load_scenario(scenario)
    if weeks is not None:
        if not 1 <= weeks <= 1040:
            raise ScenarioError(f"field 'weeks' = {weeks}: expected 1 to 1040")
        sc = sc.model_copy(update={"weeks": weeks})
    return sc


def scenario_params(sc: Scenario, base: ParamSet) -> ParamSet:
    """Apply a scenario's parameter overrides, checked by ``check_overrides``."""
    if not sc.params:
        return base
    return base.with_overrides(check_overrides(base.specs, sc.params, sc.name))


def chunks(runs: int, chunk_size: int) -> list[np.ndarray]:
    return [np.arange(i, min(i + chunk_size, runs)) for i in range(0, runs, chunk_size)]


def spun_up(sc: Scenario, spinup: dt.date | None) -> tuple[Scenario, int]:
    """The scenario extended back to ``spinup`` on its own weekly grid, and the number of
    weeks of spin-up to drop from the outputs."""
    if spinup is None or spinup >= sc.start:
        return sc, 0
    off = -(-(sc.start - spinup).days // 7)
    start = sc.start - dt.timedelta(days=7 * off)
    return sc.model_copy(update={"start": start, "weeks": sc.weeks + off}), off


def simulate_spun(sc: Scenario, theatre: Theatre, params: ParamSet, run_ids: np.ndarray,
                  seed: int, spinup: dt.date | None = None) -> dict[str, np.ndarray]:
    full, off = spun_up(sc, spinup)
    out = simulate_chunk(full, theatre, params, run_ids, seed)
    return {k: v[:, off:] for k, v in out.items()} if off else out


def _work(args) -> tuple[int, np.ndarray, dict[str, np.ndarray] | None, dict[str, np.ndarray]]:
    si, sc, theatre_ref, params, run_ids, seed, spinup, keep = args
    theatre = load_theatre(theatre_ref)
    out = simulate_spun(sc, theatre, params, run_ids, seed, spinup)
    summ = run_summaries(out, theatre, WeekGrid(sc.start, sc.weeks))
    # without a bundle only the per-run summaries travel back (not ~70 MB of series a chunk)
    return si, run_ids, (out if keep else None), summ


def _tasks(scs, theatre_ref, params_all, runs, chunk_size, seed, spinup,
           keep: bool) -> Iterator[tuple]:
    for ids in chunks(runs, chunk_size):
        for si, sc in enumerate(scs):
            yield (si, sc, theatre_ref, scenario_params(sc, params_all).take(ids), ids, seed,
                   spinup, keep)


def _map_work(args):
    sc, theatre_ref, params, run_ids, seed, spinup, fn = args
    theatre = load_theatre(theatre_ref)
    return fn(simulate_spun(sc, theatre, params, run_ids, seed, spinup), params, run_ids)


def map_runs(sc: Scenario, params: ParamSet, run_ids: np.ndarray, seed: int, fn: Callable,
             *, theatre: str | Path = "iraq", spinup: dt.date | None = None,
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


def run_ensemble(scenarios: Sequence[Scenario | str | Path], runs: int, seed: int, *,
                 out: str | Path | None = None, weeks: int | None = None,
                 theatre: str | Path = "iraq", params: ParamSet | None = None,
                 workers: int = 1, chunk_size: int = 250, overwrite: bool = False,
                 progress: ProgressFn | None = None, posterior: Origin | None = None,
                 manifest_extra: dict | None = None,
                 metrics: Sequence[str] | None = None, backend: str = "local") -> EnsembleResult:
    """Run ``runs`` runs of each scenario with root seed ``seed``.

    ``params`` holds one value per run (e.g. posterior draws); by default every run uses the
    versioned defaults. With a ``posterior``, run ``i`` uses draw ``i mod D`` and every run
    starts at the posterior's start date (spin-up through the history), reporting from the
    scenario's start. With ``out``, the per-run series stream into a results bundle (all
    metrics, or only ``metrics``).
    """
    if runs < 1:
        raise ArgumentError(f"field 'runs' = {runs}: expected at least 1")
    if workers < 1:
        raise ArgumentError(f"field 'workers' = {workers}: expected at least 1")
    if backend not in ("local", "ray"):
        raise ArgumentError(f"field 'backend' = {backend!r}: expected 'local' or 'ray'")
    t0 = time.perf_counter()
    scs = [resolve(s, weeks) for s in scenarios]
    th = load_theatre(theatre)
    names = [s.name for s in scs]
    if len(set(names)) != len(names):
        dup = next(n for n in names if names.count(n) > 1)
        raise ScenarioError(f"scenarios of one ensemble need distinct names: {dup!r} appears twice")
    grids = {(s.start, s.weeks) for s in scs}
    if len(grids) > 1:
        raise ScenarioError("scenarios of one ensemble must share 'start' and 'weeks': got "
                            + ", ".join(f"{s.name} {s.start}+{s.weeks}w" for s in scs))
    for sc in scs:  # validate early: regions, bases and parameter names
        compile_drivers(sc, th)
    spinup = None
    if posterior is not None:
        if params is not None:
            raise ArgumentError("pass either params or a posterior, not both")
        params = posterior.paramset(np.arange(runs))
        spinup = posterior.start
        for sc in scs:
            check_spinup(sc, spinup)
    params_all = params if params is not None else default_params(runs)
    if params_all.runs != runs:
        raise ArgumentError(f"params hold {params_all.runs} runs, expected {runs}")
    for sc in scs:  # unknown parameter overrides fail before anything is written
        scenario_params(sc, params_all)
    theatre_ref = str(th.source_dir) if th.name != "iraq" else "iraq"
    result = EnsembleResult(scs, runs, seed)
    summaries: list[dict[str, list]] = [{} for _ in scs]
    extra = dict(manifest_extra or {})
    if posterior is not None:
        extra["posterior"] = posterior.manifest_entry()
    specs = [m for m in all_metrics() if metrics is None or m.name in metrics]
    if metrics is not None and len(specs) != len(set(metrics)):
        unknown = sorted(set(metrics) - {m.name for m in specs})
        raise ArgumentError(f"field 'metrics' = {unknown[0]!r}: unknown metric (see `resurgence model outcomes`)")
    writer = (_writer(out, scs, th, runs, seed, params_all, overwrite, extra, specs)
              if out else None)
    try:
        tasks = _tasks(scs, theatre_ref, params_all, runs, chunk_size, seed, spinup,
                       writer is not None)
        for si, ids, arrays, summ in _execute(tasks, workers, backend):
            if writer is not None:
                regional = {m.name: arrays[m.name] for m in specs if m.level == "region"}
                national = {m.name: arrays[m.name] for m in specs if m.level == "national"}
                writer.write_chunk(scs[si].name, ids, regional, national)
            for k, v in summ.items():
                summaries[si].setdefault(k, []).append((ids, v))
            if progress:
                progress(len(ids))
        if writer is not None:
            result.bundle = writer.close()
    except BaseException:
        if writer is not None:
            writer.abort()
        raise
    for sc, summ in zip(scs, summaries, strict=True):
        result.summaries[sc.name] = {k: _ordered(parts, runs) for k, parts in summ.items()}
    result.wall_time_s = time.perf_counter() - t0
    return result


def _ordered(parts: list[tuple[np.ndarray, np.ndarray]], runs: int) -> np.ndarray:
    out = np.empty(runs)
    for ids, v in parts:
        out[ids] = v
    return out


def _execute(tasks: Iterator[tuple], workers: int, backend: str = "local") -> Iterator[tuple]:
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


def _writer(out, scs, th: Theatre, runs, seed, params: ParamSet, overwrite,
            extra: dict, metric_specs) -> BundleWriter:
    specs = all_params()
    manifest = {
        "package": "resurgence", "version": __version__, "seed": int(seed), "runs": int(runs),
        "weeks": scs[0].weeks, "theatre": th.name, "data_hashes": th.file_hashes(),
        "scenario_hashes": {s.name: s.digest() for s in scs},
        "scenario_definitions": {s.name: s.model_dump(mode="json") for s in scs},
        "params": {"defaults_version": DEFAULTS_VERSION, "defaults_digest": defaults_digest(specs),
                   "values_digest": params.digest(), "mean_values": params.summary(),
                   # per scenario, with its [params] overrides applied
                   "values_digest_by_scenario": {s.name: scenario_params(s, params).digest()
                                                 for s in scs}},
        "rng": "SeedSequence(seed, spawn_key=(run,)) -> PCG64, one uniform block per run",
        "host": {"cpu_count": os.cpu_count()},
        **extra,
    }
    return BundleWriter(out, regions=list(th.codes), national_code=th.national_code,
                        metrics=metric_specs, start_date=scs[0].start, weeks=scs[0].weeks,
                        manifest=manifest, overwrite=overwrite, region_weights=th.population)
