"""Ensembles: many runs of one or more scenarios, chunked, optionally in worker processes,
streamed into a results bundle.

Chunks are units of work only. Every run's randomness comes from its run index (see
:mod:`resurgence.engine`), so results are bit-identical whatever ``chunk_size`` and
``workers``. Scenarios of one ensemble share run indices, seeds and per-run parameters:
common random numbers, so their paired differences are policy effects, not noise.
"""

from __future__ import annotations

import os
import time
from collections.abc import Callable, Iterator, Sequence
from concurrent.futures import FIRST_COMPLETED, ProcessPoolExecutor, wait
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from . import __version__
from .drivers import compile_drivers
from .engine import all_metrics, all_params, default_params, simulate_chunk
from .params import DEFAULTS_VERSION, ParamSet, defaults_digest
from .results import Bundle, BundleWriter
from .scenario import Scenario, ScenarioError, load_scenario
from .summaries import run_summaries
from .theatre import Theatre, load_theatre

ProgressFn = Callable[[int], None]


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
            raise ValueError("this ensemble was run without an output directory")
        return Bundle.open(self.bundle)


def resolve(scenario: Scenario | str | Path, weeks: int | None = None) -> Scenario:
    sc = scenario if isinstance(scenario, Scenario) else load_scenario(scenario)
    if weeks is not None:
        if not 1 <= weeks <= 1040:
            raise ScenarioError(f"option '--weeks' = {weeks}: expected 1 to 1040")
        sc = sc.model_copy(update={"weeks": weeks})
    return sc


def scenario_params(sc: Scenario, base: ParamSet) -> ParamSet:
    """Apply a scenario's parameter overrides; unknown names are a ScenarioError."""
    if not sc.params:
        return base
    unknown = sorted(set(sc.params) - set(base.specs))
    if unknown:
        raise ScenarioError(f"{sc.name}: field 'params.{unknown[0]}': unknown parameter "
                            f"(see `resurgence model params`)")
    return base.with_overrides(sc.params)


def chunks(runs: int, chunk_size: int) -> list[np.ndarray]:
    return [np.arange(i, min(i + chunk_size, runs)) for i in range(0, runs, chunk_size)]


def _work(args) -> tuple[int, np.ndarray, dict[str, np.ndarray], dict[str, np.ndarray]]:
    si, sc, theatre_ref, params, run_ids, seed = args
    theatre = load_theatre(theatre_ref)
    out = simulate_chunk(sc, theatre, params, run_ids, seed)
    return si, run_ids, out, run_summaries(out, theatre, compile_drivers(sc, theatre).grid)


def _tasks(scs, theatre_ref, params_all, runs, chunk_size, seed) -> Iterator[tuple]:
    for ids in chunks(runs, chunk_size):
        for si, sc in enumerate(scs):
            yield (si, sc, theatre_ref, scenario_params(sc, params_all).take(ids), ids, seed)


def run_ensemble(scenarios: Sequence[Scenario | str | Path], runs: int, seed: int, *,
                 out: str | Path | None = None, weeks: int | None = None,
                 theatre: str | Path = "iraq", params: ParamSet | None = None,
                 workers: int = 1, chunk_size: int = 250, overwrite: bool = False,
                 progress: ProgressFn | None = None) -> EnsembleResult:
    """Run ``runs`` runs of each scenario with root seed ``seed``.

    ``params`` holds one value per run (e.g. posterior draws); by default every run uses the
    versioned defaults. With ``out``, the full per-run series stream into a results bundle.
    """
    if runs < 1:
        raise ValueError(f"option '--runs' = {runs}: expected at least 1")
    if workers < 1:
        raise ValueError(f"option '--workers' = {workers}: expected at least 1")
    t0 = time.perf_counter()
    scs = [resolve(s, weeks) for s in scenarios]
    th = load_theatre(theatre)
    grids = {(s.start, s.weeks) for s in scs}
    if len(grids) > 1:
        raise ScenarioError("scenarios of one ensemble must share 'start' and 'weeks': got "
                            + ", ".join(f"{s.name} {s.start}+{s.weeks}w" for s in scs))
    for sc in scs:  # validate early: regions, bases and parameter names
        compile_drivers(sc, th)
    params_all = params if params is not None else default_params(runs)
    if params_all.runs != runs:
        raise ValueError(f"params hold {params_all.runs} runs, expected {runs}")
    theatre_ref = str(th.source_dir) if th.name != "iraq" else "iraq"
    result = EnsembleResult(scs, runs, seed)
    summaries: list[dict[str, list]] = [{} for _ in scs]
    writer = _writer(out, scs, th, runs, seed, params_all, overwrite) if out else None
    try:
        tasks = _tasks(scs, theatre_ref, params_all, runs, chunk_size, seed)
        for si, ids, arrays, summ in _execute(tasks, workers):
            if writer is not None:
                regional = {m.name: arrays[m.name] for m in all_metrics() if m.level == "region"}
                national = {m.name: arrays[m.name] for m in all_metrics() if m.level == "national"}
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


def _execute(tasks: Iterator[tuple], workers: int) -> Iterator[tuple]:
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


def _writer(out, scs, th: Theatre, runs, seed, params: ParamSet, overwrite) -> BundleWriter:
    specs = all_params()
    manifest = {
        "package": "resurgence", "version": __version__, "seed": int(seed), "runs": int(runs),
        "weeks": scs[0].weeks, "theatre": th.name, "data_hashes": th.file_hashes(),
        "scenario_hashes": {s.name: s.digest() for s in scs},
        "scenario_definitions": {s.name: s.model_dump(mode="json") for s in scs},
        "params": {"defaults_version": DEFAULTS_VERSION, "defaults_digest": defaults_digest(specs),
                   "values_digest": params.digest(), "mean_values": params.summary()},
        "rng": "SeedSequence(seed, spawn_key=(run,)) -> PCG64, one uniform block per run",
        "host": {"cpu_count": os.cpu_count()},
    }
    return BundleWriter(out, regions=list(th.codes), national_code=th.national_code,
                        metrics=all_metrics(), start_date=scs[0].start, weeks=scs[0].weeks,
                        manifest=manifest, overwrite=overwrite, region_weights=th.population)
