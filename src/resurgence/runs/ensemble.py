"""Ensembles: many runs of one or more scenarios, chunked, optionally in worker processes,
streamed into a results bundle.

Chunks are units of work only (see :mod:`resurgence.runs.executors` for where they run and
:mod:`resurgence.runs.prepare` for what they run). Every run's randomness comes from its run index (see
:mod:`resurgence.model.sim`), so results are bit-identical whatever ``chunk_size`` and
``workers``. Scenarios of one ensemble share run indices, seeds and per-run parameters:
common random numbers, so their paired differences are policy effects, not noise.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import json
import os
import time
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Protocol

import numpy as np

from resurgence.core.errors import ArgumentError
from resurgence.core.version import __version__
from resurgence.model.params import DEFAULTS_VERSION, ParamSet, defaults_digest
from resurgence.model.sim import all_metrics, all_params, default_params
from resurgence.results.bundle import Bundle, BundleWriter
from resurgence.results.outcomes import OUTCOMES
from resurgence.runs.executors import (
    EnsembleTask,
    check_execution,
    execute,
    map_runs,
    theatre_ref,
)
from resurgence.runs.prepare import (
    Carried,
    chunks,
    resolve,
    scenario_params,
    simulate_spun,
    spun_up,
)
from resurgence.scenario.drivers import compile_drivers
from resurgence.scenario.schema import Scenario, ScenarioError, check_spinup
from resurgence.theatre.theatre import Theatre, load_theatre

__all__ = ["DEFAULT_METRICS", "EnsembleResult", "Origin", "chunks", "map_runs", "resolve",
           "run_ensemble", "scenario_params", "simulate_spun", "spun_up"]

#: What ``resurgence run`` and ``compare`` write by default (``--metrics all`` writes all 30):
#: the metrics the brief, the web app and the SQL examples of docs/results.md read.
DEFAULT_METRICS: tuple[str, ...] = (
    "is_attacks", "is_attacks_infra", "is_fighters", "is_villages", "militia_attacks_us",
    "militia_campaign", "iran_influence", "host_strength", "isr_coverage", "grievance",
    "us_troops", "bases_open", "us_leverage", "political_pressure", "is_holds_ground",
    "exit_ordered", "be_coordination")

ProgressFn = Callable[[int], None]


class Origin(Protocol):
    """Where runs start and with which per-run parameters: a posterior (see
    :class:`resurgence.calibration.posterior.Posterior`) or anything shaped like one.

    Run ``i`` takes ``paramset([i])``; every run starts at ``start`` (simulating the known
    history from there) and reports from the scenario's own start — or, where the origin
    carries states (``carried`` is not None), from the state of run ``i`` on that date, with
    no history to simulate (for scenarios that start on or after it)."""

    start: dt.date

    def paramset(self, run_ids: np.ndarray) -> ParamSet: ...

    def carried(self, run_ids: np.ndarray) -> Carried | None: ...

    def manifest_entry(self) -> dict: ...


@dataclass
class EnsembleResult:
    """What an ensemble returns in memory: per-run summaries (always) and the bundle path."""

    scenarios: list[Scenario]
    runs: int
    seed: int
    outcomes: dict[str, dict[str, np.ndarray]] = field(default_factory=dict)
    bundle: Path | None = None
    wall_time_s: float = 0.0

    def open(self) -> Bundle:
        if self.bundle is None:
            raise ArgumentError("this ensemble was run without an output directory")
        return Bundle.open(self.bundle)


def run_ensemble(scenarios: Sequence[Scenario | str | Path], runs: int, seed: int, *,
                 out: str | Path | None = None, weeks: int | None = None,
                 theatre: str | Path = "iraq", params: ParamSet | None = None,
                 workers: int = 1, chunk_size: int = 250, overwrite: bool = False,
                 progress: ProgressFn | None = None, posterior: Origin | None = None,
                 manifest_extra: dict | None = None,
                 metrics: Sequence[str] | None = None, backend: str = "local",
                 resume: bool = False) -> EnsembleResult:
    """Run ``runs`` runs of each scenario with root seed ``seed``.

    ``params`` holds one value per run (e.g. posterior draws); by default every run uses the
    versioned defaults. With a ``posterior``, run ``i`` uses draw ``i mod D`` and every run
    starts at the posterior's start date (spin-up through the history), reporting from the
    scenario's start. With ``out``, the per-run series stream into a results bundle (all
    metrics, or only ``metrics``); with ``resume``, the committed chunks of a killed run of the
    same command (same scenarios, runs, seed, metrics, chunk size) are kept and only the rest
    simulated, to the same bundle. Without ``out`` memory stays bounded whatever ``runs``
    (per-run parameters are made chunk by chunk; only the per-run summaries are kept).
    """
    if runs < 1:
        raise ArgumentError(f"field 'runs' = {runs}: expected at least 1")
    check_execution(workers, backend)
    if chunk_size < 1:
        raise ArgumentError(f"field 'chunk_size' = {chunk_size}: expected at least 1")
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
    carried_for: Callable[[np.ndarray], Carried | None] = lambda ids: None  # noqa: E731
    if posterior is not None:
        if params is not None:
            raise ArgumentError("pass either params or a posterior, not both")
        spinup = posterior.start
        probe_state = posterior.carried(np.arange(1))
        if probe_state is not None and all(sc.start >= probe_state.date for sc in scs):
            spinup, carried_for = probe_state.date, posterior.carried
        for sc in scs:
            check_spinup(sc, spinup)
    elif params is not None and params.runs != runs:
        raise ArgumentError(f"params hold {params.runs} runs, expected {runs}")

    def params_for(ids: np.ndarray) -> ParamSet:  # the same values as taking from all runs
        if posterior is not None:
            return posterior.paramset(ids)
        return params.take(ids) if params is not None else default_params(len(ids))

    probe = params_for(np.arange(1))
    for sc in scs:  # unknown parameter overrides fail before anything is written
        scenario_params(sc, probe)
    ref = theatre_ref(th)
    result = EnsembleResult(scs, runs, seed)
    result.outcomes = {sc.name: {s.name: np.full(runs, np.nan) for s in OUTCOMES} for sc in scs}
    extra = dict(manifest_extra or {})
    if posterior is not None:
        extra["posterior"] = posterior.manifest_entry()
        extra["posterior"]["runs_start"] = {
            "date": spinup.isoformat() if spinup else None,
            "from": "carried origin states" if carried_for(np.arange(1)) is not None
            else "simulated history"}
    specs = [m for m in all_metrics() if metrics is None or m.name in metrics]
    if metrics is not None and len(specs) != len(set(metrics)):
        unknown = sorted(set(metrics) - {m.name for m in specs})
        raise ArgumentError(f"field 'metrics' = {unknown[0]!r}: unknown metric (see `resurgence model outcomes`)")
    writer = None
    if out:
        full = params_for(np.arange(runs))  # digests in the manifest
        writer = _writer(out, scs, th, runs, seed, full, overwrite, extra, specs,
                         resume=resume, chunk_size=chunk_size)
        del full
    try:
        done = writer.committed if writer is not None else {}
        for (name, _first), rec in done.items():
            ids = np.arange(rec["runs"][0], rec["runs"][1] + 1)
            for k, v in rec["summaries"].items():
                result.outcomes[name][k][ids] = v
            if progress:
                progress(len(ids))
        keep = {m.name for m in specs} if writer is not None else None
        tasks = _tasks(scs, ref, params_for, carried_for, runs, chunk_size, seed, spinup, keep,
                       done, len(th.codes), budget=None if workers == 1 else 128 << 20)
        for si, ids, arrays, summ in execute(tasks, workers, backend):
            name = scs[si].name
            if writer is not None and arrays is not None:
                regional = {m.name: arrays[m.name] for m in specs if m.level == "region"}
                national = {m.name: arrays[m.name] for m in specs if m.level == "national"}
                writer.write_chunk(name, ids, regional, national,
                                   extra={"summaries": {k: v.tolist() for k, v in summ.items()}})
            for k, v in summ.items():
                result.outcomes[name][k][ids] = v
            if progress:
                progress(len(ids))
        if writer is not None:
            result.bundle = writer.close()
    except BaseException:
        if writer is not None:
            writer.abort()
        raise
    result.wall_time_s = time.perf_counter() - t0
    return result


def _tasks(scs, ref, params_for, carried_for, runs, chunk_size, seed, spinup, keep, done,
           n_regions: int, budget: int | None) -> Iterator[EnsembleTask]:
    """Per chunk, the scenarios not yet committed, in batches whose kept series fit
    ``budget`` bytes (None: one batch; a batch shares its history, see
    :mod:`resurgence.runs.branch`; a worker process returns a whole batch at once)."""
    weeks = scs[0].weeks
    per_run = 4 * weeks * (n_regions + 1) * (len(keep) if keep else 0)
    for ids in chunks(runs, chunk_size):
        ps, carried = params_for(ids), carried_for(ids)
        todo = [(si, sc, scenario_params(sc, ps)) for si, sc in enumerate(scs)
                if (sc.name, int(ids[0])) not in done]
        size = max(1, len(todo) if budget is None else budget // max(1, per_run * len(ids)))
        for i in range(0, len(todo), size):
            yield EnsembleTask(tuple(todo[i:i + size]), ref, ids, seed, spinup,
                               frozenset(keep) if keep is not None else None, carried)


def _writer(out, scs, th: Theatre, runs, seed, params: ParamSet, overwrite,
            extra: dict, metric_specs, *, resume: bool, chunk_size: int) -> BundleWriter:
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
    # a killed run is resumed only by the same command: same manifest, metrics and chunking
    key = hashlib.sha256(json.dumps([manifest, [m.name for m in metric_specs], chunk_size],
                                    sort_keys=True, default=str).encode()).hexdigest()
    return BundleWriter(out, regions=list(th.codes), national_code=th.national_code,
                        metrics=metric_specs, start_date=scs[0].start, weeks=scs[0].weeks,
                        manifest=manifest, overwrite=overwrite, region_weights=th.population,
                        scenarios=[s.name for s in scs], resume=resume, run_key=key)
