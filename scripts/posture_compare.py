"""Which structure do the 2018-2020 data prefer: "posture matters" or "posture-neutral"?

Issue #9, item 4. The two structures share everything but the channels by which the US
posture reaches the rest of the model (``resurgence.model.structures``). Both are scored on
the observations of the ``iraq-2020`` case up to 2020-11-30, on one non-overlapping partition
of national rows per source (months first, then quarters, then years; weekly snapshots are
left out: they are picked for news value), with the observation model's negative-binomial
noise (``obsmodel.DISPERSION``):

1. **Prior predictive** (the marginal likelihood, i.e. the Bayes factor): ``--draws`` draws
   of the varied parameters from their priors, the same uniforms for both structures (common
   random numbers), one stochastic trajectory each; ``log p(y) ≈ log mean_i p(y | draw i)``,
   with its effective sample size and a bootstrap standard error, and the sum over rows of
   the per-row log predictive densities (a proper score that is far less degenerate).
2. **Reduced ABC fit** of each structure (``calibrate`` with ``--particles`` particles and
   ``--generations`` generations, the case's calibrated parameters plus the new mechanism and
   posture parameters), then the in-sample log pointwise predictive density (lppd) of the
   fitted draws on the same partition and the final ABC distances.

Usage (about 3-5 minutes on one core at the defaults)::

    .venv/bin/python scripts/posture_compare.py --draws 1000 --particles 300 --generations 4 \\
        --json posture-compare.json
"""

from __future__ import annotations

import argparse
import json
import time
from dataclasses import replace
from functools import partial
from pathlib import Path

import numpy as np
import pandas as pd
from scipy import special

from resurgence.calibration import inference, obsmodel
from resurgence.calibration.cases import IRAQ_2020
from resurgence.calibration.inference import calibrate, history_runs, history_setup
from resurgence.calibration.posterior import full_specs
from resurgence.model.params import ParamSet
from resurgence.model.structures import POSTURE_NEUTRAL, STRUCTURES

#: mechanism and posture parameters varied on top of the case's calibrated ones
EXTRA = ("detect_planning", "interdiction", "allee_fighters", "lead_recovery", "decap_rate",
         "lead_weight", "backlash", "violence_memory", "syria_excess_0", "syria_excess_decay",
         "presence_grievance", "host_adaptation", "adaptation_rate", "cap_growth_training",
         "militia_vacuum", "elast_isr", "elast_air", "elast_planning", "harm_weight")
#: posture effects whose fitted distribution is reported against the prior
POSTURE_PARAMS = ("isr_deterrence", "detect_isr", "remove_air", "detect_planning",
                  "presence_grievance", "militia_vacuum", "host_adaptation", "cap_growth_training",
                  "elast_isr", "lead_weight", "backlash", "allee_fighters")
GRAN_ORDER = ("month", "quarter", "multi-month", "year")


def partition(rows: pd.DataFrame, regional: bool = False) -> np.ndarray:
    """Indices of one non-overlapping set of national rows per (source, metric): months
    first, then quarters, multi-month periods and years that overlap no finer row kept;
    with ``regional``, also the regional UCDP GED months (one set per governorate)."""
    keep: list[int] = []
    sel = rows["granularity"] != "week"
    if regional:
        sel &= (rows["region"] == "IQ") | (rows["source"] == "ged")
    else:
        sel &= rows["region"] == "IQ"
    for _key, sub in rows[sel].groupby(["source", "metric", "region"]):
        taken: list[tuple[pd.Timestamp, pd.Timestamp]] = []
        rank = sub["granularity"].map({g: i for i, g in enumerate(GRAN_ORDER)}).fillna(9)
        for i in sub.assign(rank=rank).sort_values(["rank", "period_start"]).index:
            a, b = pd.Timestamp(rows.at[i, "period_start"]), pd.Timestamp(rows.at[i, "period_end"])
            if all(b < x or a > y for x, y in taken):
                taken.append((a, b))
                keep.append(int(i))
    return np.array(sorted(keep))


def nb_logpmf(y: np.ndarray, mu: np.ndarray, k: np.ndarray) -> np.ndarray:
    mu = np.maximum(mu, 1e-9)
    return (special.gammaln(y + k) - special.gammaln(k) - special.gammaln(y + 1)
            + k * np.log(k / (k + mu)) + y * np.log(mu / (k + mu)))


def _mu(arrays, params, run_ids, *, design):
    return obsmodel.expected(design, arrays, params.values)


def varied(structure: str) -> list[str]:
    fixed = set(STRUCTURES[structure])
    return [n for n in (*IRAQ_2020.calibrated, *EXTRA) if n not in fixed]


def paramset(structure: str, names: list[str], u: np.ndarray) -> ParamSet:
    specs = {p.name: p for p in full_specs()}
    theta = {n: IRAQ_2020.prior_overrides.get(n, specs[n].prior).ppf(u[:, j], specs[n].default)
             for j, n in enumerate(names)}
    ps = ParamSet.defaults(full_specs(), len(u))
    return ps.with_overrides(theta).with_overrides(STRUCTURES[structure])


def scores(mu: np.ndarray, y: np.ndarray, k: np.ndarray, rng: np.random.Generator) -> dict:
    ll = nb_logpmf(y[None, :], mu, k[None, :])  # (draws, rows)
    joint = ll.sum(axis=1)
    n = len(joint)
    lml = float(special.logsumexp(joint) - np.log(n))
    w = np.exp(joint - joint.max())
    ess = float(w.sum() ** 2 / (w**2).sum())
    boot = [special.logsumexp(joint[rng.integers(0, n, n)]) - np.log(n) for _ in range(200)]
    pointwise = float((special.logsumexp(ll, axis=0) - np.log(n)).sum())
    return {"log_marginal_likelihood": round(lml, 2), "lml_bootstrap_se": round(float(np.std(boot)), 2),
            "ess": round(ess, 2), "sum_pointwise_log_pred": round(pointwise, 2),
            "median_joint_loglik": round(float(np.median(joint)), 2), "draws": n}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--draws", type=int, default=1000, help="prior-predictive draws")
    ap.add_argument("--particles", type=int, default=300, help="ABC particles (0: skip the fit)")
    ap.add_argument("--generations", type=int, default=4)
    ap.add_argument("--seed", type=int, default=1)
    ap.add_argument("--regional", action="store_true",
                    help="also score the regional UCDP GED months (IS events by governorate)")
    ap.add_argument("--json", type=Path, default=None)
    a = ap.parse_args()
    t0 = time.perf_counter()
    case = IRAQ_2020
    sc, design = history_setup(case, case.until)
    part = partition(design.rows, a.regional)
    y, k = design.y[part], design.dispersion[part]
    print(f"{len(part)} scored rows of {len(design.rows)}:",
          design.rows.iloc[part].groupby("group").size().to_dict())
    fn = partial(_mu, design=design)
    u_all = np.random.default_rng(a.seed).random((a.draws, len(case.calibrated) + len(EXTRA)))
    order = [*case.calibrated, *EXTRA]
    result: dict = {"rows": int(len(part)), "prior_predictive": {}, "abc": {}}
    joint = {}
    for name in STRUCTURES:
        names = varied(name)
        u = u_all[:, [order.index(n) for n in names]]
        ids = np.arange(a.draws)
        mu = np.concatenate(history_runs(sc, paramset(name, names, u), ids, a.seed, fn,
                                     theatre=case.theatre, chunk_size=250))[:, part]
        result["prior_predictive"][name] = scores(mu, y, k, np.random.default_rng(0))
        joint[name] = nb_logpmf(y[None, :], mu, k[None, :]).sum(axis=1)
        print(f"prior predictive, {name}: {result['prior_predictive'][name]}")
    diff = joint["posture-matters"] - joint["posture-neutral"]  # paired: same uniforms
    result["prior_predictive"]["paired"] = {
        "median_loglik_difference": round(float(np.median(diff)), 2),
        "share_matters_better": round(float(np.mean(diff > 0)), 3)}
    print(f"paired (matters - neutral): {result['prior_predictive']['paired']}")
    if a.particles:
        for name in STRUCTURES:
            names = varied(name)
            over = STRUCTURES[name]
            specs = [replace(p, default=float(over[p.name])) if p.name in over else p
                     for p in full_specs()]
            fit_case = replace(case, calibrated=tuple(names))
            inference.full_specs = lambda specs=specs: specs  # the structure's defaults
            try:
                res = calibrate(fit_case, particles=a.particles, generations=a.generations,
                                seed=a.seed)
            finally:
                inference.full_specs = full_specs
            ps = ParamSet.defaults(specs, res.posterior.size).with_overrides(
                {c: res.posterior.draws[c].to_numpy(float) for c in res.posterior.draws})
            ids = 10_000_000 + np.arange(res.posterior.size)
            mu = np.concatenate(history_runs(sc, ps, ids, a.seed, fn, theatre=case.theatre,
                                         chunk_size=250))
            d = obsmodel.distance(design, mu)
            s = scores(mu[:, part], y, k, np.random.default_rng(0))
            gens = res.generations
            specs_by = {p.name: p for p in specs}
            moved = {}
            for n in POSTURE_PARAMS:
                if n in res.posterior.draws:
                    d0 = specs_by[n].prior.dist()
                    x = res.posterior.draws[n].to_numpy(float)
                    moved[n] = {"prior_mean": round(float(d0.mean()), 4),
                                "prior_sd": round(float(d0.std()), 4),
                                "post_mean": round(float(x.mean()), 4),
                                "post_sd": round(float(x.std()), 4),
                                "post_p_below_0": round(float(np.mean(x <= 0)), 3)}
            result["abc"][name] = {"lppd": s["sum_pointwise_log_pred"],
                                   "median_joint_loglik": s["median_joint_loglik"],
                                   "final_epsilon": round(gens[-1].epsilon, 4),
                                   "median_distance": round(float(np.median(d)), 4),
                                   "generations": len(gens), "particles": a.particles,
                                   "varied": len(names), "posture_parameters": moved}
            print(f"ABC, {name}: {result['abc'][name]}")
    result["seconds"] = round(time.perf_counter() - t0, 1)
    result["command"] = (f"scripts/posture_compare.py --draws {a.draws} --particles {a.particles} "
                         f"--generations {a.generations} --seed {a.seed}" + (" --regional" if a.regional else ""))
    result["neutral_overlay"] = dict(POSTURE_NEUTRAL)
    if a.json:
        a.json.write_text(json.dumps(result, indent=2))
    print(json.dumps(result, indent=2))


if __name__ == "__main__":
    main()
