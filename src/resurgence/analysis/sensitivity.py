"""Global sensitivity: Sobol' first- and total-order indices of key outcomes to the model's
uncertain parameters and to the policy levers (``resurgence sensitivity``).

Design. SALib's Saltelli scheme on a scrambled Sobol' sequence (``SALib.sample.sobol``,
without second-order terms, so ``N (D + 2)`` runs for ``D`` factors) over the unit
hypercube; analysis by ``SALib.analyze.sobol`` (Saltelli 2010 first order, Jansen total
order; confidence intervals by bootstrap). Second-order terms are not estimated, which
halves the cost: N=128 with all 88 factors is 11,520 runs of 104 weeks (12-30 s on 2 cores).

Factors. Every parameter of :func:`resurgence.model.sim.all_params` with a non-fixed prior
(optionally only those of some modules), each column mapped through its prior's ``ppf``,
plus six policy levers as multipliers of their late-2020 level (:data:`LEVERS`). A lever
follows the shape of the announced drawdown: linear from its late-2020 level on
2020-11-17 to ``multiplier x reference`` on 2021-01-15, then held. Multipliers
(2500/3000, 1, 1, 1, 1, 1) reproduce ``announced-2500`` exactly. Lever series are affine
in the multipliers, so the levers are compiled twice (all multipliers 0 and all 1) and
interpolated per run; one vectorised chunk then holds runs with different levers.

Outcomes (:data:`OUTPUTS`) of runs of ``announced-2500`` from 2020-12-01 for 104 weeks,
all other parameters at their versioned defaults: the indices describe the forward model
around the defaults over the prior ranges, not the calibrated system. With a
``posterior``, calibrated parameters are sampled from its marginal quantiles instead (or
held at its medians when not a factor) and every run spins up from the posterior's start (its draws refer to that date); Sobol'
indices assume independent factors, so posterior correlations are ignored. When only levers
are factors and the posterior carries origin states (:mod:`resurgence.calibration.origin`),
Saltelli block ``j`` instead takes posterior draw ``j mod D`` whole — its parameters and its
filtered state on 2020-12-01, where its runs start — so the indices are averaged over the
posterior and nothing is re-simulated before the origin.
``holds_ground_24m`` is a 0/1 indicator: its indices decompose the variance of a
Bernoulli outcome, i.e. of the probability of holding ground, which is legitimate but noisy.

Randomness. ``seed`` seeds the Sobol' scrambling, the runs (``SeedSequence(seed,
spawn_key=(i,))``, as in the engine) and the bootstrap. The model is stochastic; we treat
its noise as one more (unlisted) factor by giving every row of Saltelli block ``j``
(``A_j``, ``B_j`` and the ``AB_j`` rows) the same run id ``j``, with independent noise
across blocks. Then a factor without a pathway to an output has ``S1 = ST = 0`` exactly,
and ``ST`` is the total index of the stochastic model with noise as a factor. Fresh noise
in every row would add the noise variance to every ``ST`` (a floor even for inert
factors) and deflate ``S1``; one run id for all rows (pure common random numbers) would
give the indices of one arbitrary realisation. With block-shared noise ``S1`` includes
the factor's interactions with the noise, and ``1 - sum(S1)`` includes the noise share.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd

from resurgence.calibration.posterior import Posterior
from resurgence.core.errors import ArgumentError
from resurgence.model.params import ParamSet
from resurgence.model.sim import PLAN, Sim, all_params
from resurgence.results.outcomes import OUTCOME_BY_NAME
from resurgence.runs.ensemble import resolve, spun_up
from resurgence.runs.executors import check_execution, executor, theatre_ref
from resurgence.runs.prepare import Carried
from resurgence.scenario.drivers import compile_drivers
from resurgence.scenario.schema import Scenario, Schedules
from resurgence.theatre.theatre import Theatre, load_theatre

BASE_SCENARIO = "announced-2500"
LEVER_ANNOUNCED, LEVER_FROM = dt.date(2020, 11, 17), dt.date(2021, 1, 15)
#: lever -> (reference level, lowest multiplier, highest multiplier)
LEVERS: dict[str, tuple[float, float, float]] = {
    "troops": (3000.0, 0.0, 1.2), "isr": (1.0, 0.0, 1.2), "air": (1.0, 0.0, 1.2),
    "training": (1.0, 0.0, 1.2), "planning": (1.0, 0.0, 1.2), "mediation": (1.0, 0.0, 1.0)}
OUTPUTS: dict[str, str] = {
    "is_attacks_2021h2": "IS attacks, weeks starting 2021-07-01 to 2021-12-31 (national)",
    "holds_ground_24m": "IS holds ground within 24 months (0/1)",
    "iran_influence_end": "Iranian influence at the end (population mean)",
    "militia_attacks_us": "militia attacks on US sites (total)",
}
GROUPS = (*(m.name for m in PLAN), "levers")
ProgressFn = Callable[[int], None]


def lever_scenario(mult: dict[str, float], base: Scenario | None = None) -> Scenario:
    """``base`` (default: :data:`BASE_SCENARIO`, 104 weeks) with each lever in ``mult``
    ramped to ``multiplier x reference`` by 2021-01-15."""
    sc = base if base is not None else resolve(BASE_SCENARIO, 104)
    sched = sc.schedules.model_dump()
    for k, m in mult.items():
        ref = LEVERS[k][0]
        keep = [p for p in sc.schedule(k) if p[0] < LEVER_ANNOUNCED]
        sched[k] = [*keep, (LEVER_ANNOUNCED, ref), (LEVER_FROM, m * ref)]
    return sc.model_copy(update={"schedules": Schedules(**sched)})


def factors(groups: Sequence[str] | None = None) -> list[tuple[str, str]]:
    """``(name, kind)`` of the factors: uncertain parameters of ``groups`` (module names)
    and, if ``groups`` is None or names ``levers``, the policy levers."""
    bad = sorted(set(groups or ()) - set(GROUPS))
    if bad:
        raise ArgumentError(f"field 'group' = {bad[0]!r}: expected one of {', '.join(GROUPS)}")
    out = [(p.name, "parameter") for p in all_params()
           if p.uncertain and (groups is None or p.module in groups)]
    if groups is None or "levers" in groups:
        out += [(k, "lever") for k in LEVERS]
    return out


def design_runs(n: int, groups: Sequence[str] | None = None) -> int:
    """Runs of a design with base sample ``n`` (checked: a power of 2): ``n (D + 2)``."""
    if n < 2 or n & (n - 1):
        raise ArgumentError(f"field 'n' = {n}: expected a power of 2, at least 2")
    return n * (len(factors(groups)) + 2)


def outcomes(x: dict[str, np.ndarray], theatre: Theatre, sc: Scenario) -> dict[str, np.ndarray]:
    """The :data:`OUTPUTS` of each run from its metric arrays on ``sc``'s grid."""
    grid = compile_drivers(sc, theatre).grid
    d = grid.dates
    h2 = (d >= np.datetime64("2021-07-01")) & (d <= np.datetime64("2021-12-31"))
    out = {"is_attacks_2021h2": x["is_attacks"][:, h2].sum(axis=(1, 2), dtype=np.float64)}
    for k in ("holds_ground_24m", "iran_influence_end", "militia_attacks_us"):
        out[k] = OUTCOME_BY_NAME[k].fn(x, theatre, grid)
    return out


@dataclass(frozen=True)
class LeverTask:
    """One chunk of the Sobol' design: per-run parameters and lever multipliers."""

    scenario: Scenario
    theatre: str
    params: ParamSet
    mult: dict[str, np.ndarray]  # lever -> (runs,) multiplier from the lever's start date
    run_ids: np.ndarray
    seed: int
    spinup: dt.date | None
    carried: Carried | None = None


def _chunk(task: LeverTask) -> dict[str, np.ndarray]:
    sc, params, mult, run_ids, seed = task.scenario, task.params, task.mult, task.run_ids, task.seed
    th = load_theatre(task.theatre)
    c = task.carried
    full, off = spun_up(sc, c.date if c is not None else task.spinup)
    # the history is known, as in every ensemble (see resurgence.runs.prepare.history)
    known = c.date if c is not None else (sc.start if off else None)
    lo = compile_drivers(lever_scenario(dict.fromkeys(mult, 0.0), full), th, known_until=known)
    hi = compile_drivers(lever_scenario(dict.fromkeys(mult, 1.0), full), th, known_until=known)
    series = {k: lo.levers[k][:, None] + (hi.levers[k] - lo.levers[k])[:, None] * m[None, :]
              for k, m in mult.items()}
    sim = Sim(full, th, params, run_ids, seed, lo, lever_series=series)
    x = sim.run(seed) if c is None else sim.run(seed, c.state, c.history_weeks)
    return outcomes({k: v[:, off:] for k, v in x.items()}, th, sc)


def _columns(names: list[tuple[str, str]], u: np.ndarray, posterior: Posterior | None
             ) -> tuple[dict[str, np.ndarray], dict[str, np.ndarray]]:
    """Map unit-hypercube columns to parameter values and lever multipliers."""
    specs = {p.name: p for p in all_params()}
    draws = posterior.draws if posterior is not None else pd.DataFrame()
    u = np.clip(u, 1e-9, 1 - 1e-9)
    pars, mult = {}, {}
    for j, (name, kind) in enumerate(names):
        if kind == "lever":
            _ref, lo, hi = LEVERS[name]
            mult[name] = lo + (hi - lo) * u[:, j]
        elif name in draws:
            pars[name] = np.quantile(draws[name].to_numpy(float), u[:, j])
        else:
            pars[name] = specs[name].prior.ppf(u[:, j], specs[name].default)
    return pars, mult


def sobol_indices(n: int = 128, seed: int = 1, *, groups: Sequence[str] | None = None,
                  workers: int = 1, chunk_size: int = 500, posterior: Posterior | None = None,
                  theatre: str | Path = "iraq", progress: ProgressFn | None = None
                  ) -> pd.DataFrame:
    """Sobol' indices of :data:`OUTPUTS` to :func:`factors` from ``n (D + 2)`` runs.

    Returns a tidy frame (output, factor, kind, S1, S1_conf, ST, ST_conf); ``attrs`` holds
    runs, n, seed and the per-run outcomes. An outcome without variance gets NaN indices.
    """
    from SALib.analyze import sobol as sobol_analyze
    from SALib.sample import sobol as sobol_sample

    design_runs(n, groups)
    check_execution(workers)
    names = factors(groups)
    D = len(names)
    problem = {"num_vars": D, "names": [f for f, _ in names], "bounds": [[0.0, 1.0]] * D}
    u = sobol_sample.sample(problem, n, calc_second_order=False, seed=seed)
    pars, mult = _columns(names, u, posterior)
    fixed = ({c: float(posterior.draws[c].median()) for c in posterior.draws
              if c in {p.name for p in all_params()}} if posterior is not None else {})
    run_ids = np.arange(len(u)) // (D + 2)  # one noise stream per Saltelli block
    carried = None
    if posterior is not None and not pars and posterior.carried(np.arange(1)) is not None:
        # levers only: block j takes draw j mod D whole, parameters and origin state
        params = posterior.paramset(run_ids)
        carried = posterior.carried(run_ids)
    else:
        params = ParamSet.defaults(all_params(), len(u), fixed).with_overrides(pars)
    sc = resolve(BASE_SCENARIO, 104)
    th = load_theatre(theatre)
    ref = theatre_ref(th)
    spinup = posterior.start if posterior is not None else None
    tasks = [LeverTask(sc, ref, params.take(ix), {k: v[ix] for k, v in mult.items()},
                       run_ids[ix], seed, spinup, carried.take(ix) if carried else None)
             for ix in np.array_split(np.arange(len(u)), -(-len(u) // chunk_size))]
    parts = []
    for task, res in zip(tasks, executor(workers).map(_chunk, tasks), strict=True):
        parts.append(res)
        if progress:
            progress(len(task.run_ids))
    Y = {k: np.concatenate([p[k] for p in parts]) for k in OUTPUTS}
    rows = []
    for out, y in Y.items():
        if np.ptp(y) > 0:
            si = sobol_analyze.analyze(problem, y, calc_second_order=False, seed=seed + 1)
        else:
            si = dict.fromkeys(("S1", "S1_conf", "ST", "ST_conf"), np.full(D, np.nan))
        for j, (f, kind) in enumerate(names):
            rows.append({"output": out, "factor": f, "kind": kind,
                         **{k: float(si[k][j]) for k in ("S1", "S1_conf", "ST", "ST_conf")}})
    df = pd.DataFrame(rows)
    df.attrs.update(runs=len(u), n=n, seed=seed, factors=D, outcomes=pd.DataFrame(Y))
    return df


def top_factors(df: pd.DataFrame, k: int = 15) -> pd.DataFrame:
    """The ``k`` factors with the largest total index per output, largest first."""
    return (df.sort_values(["output", "ST"], ascending=[True, False], na_position="last")
            .groupby("output", sort=False).head(k))
