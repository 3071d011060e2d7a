"""The blend: levels pooled from the statistical baseline and the simulator, scenario
effects from the simulator's paired (common-random-number) contrasts.

Each run ``i`` takes its level for series ``s`` from the simulator with probability
``w_s`` (one uniform per run, so a run is coherent across series) and otherwise from the
baseline. ``w_s`` is the simulator's inverse-mean-CRPS share in the rolling-origin backtest
(``data/blend/<case>.json``, written by ``resurgence backtest`` and copied into the
package). A baseline level has no scenario in it, so the scenario's effect is applied as
the simulator's paired multiplier: run ``i``'s simulated truth in the scenario over the same
run in the reference scenario (what was announced at the origin), month by month. Regional
rows of a baseline-levelled run keep the simulator's spatial shares.
"""

from __future__ import annotations

import json
from importlib import resources

import numpy as np
import pandas as pd

REFERENCE = "announced-2500"  # the posture known at the 2020-12-01 origin
#: blended series and the simulated truth whose paired ratio carries the scenario effect
BLENDED = {"incidents": ("is_attacks", "militia_attacks_us"), "is_attacks_ctc": ("is_attacks",),
           "ged_sb_deaths": ("is_attacks",), "ged_sb_events": ("is_attacks",),
           "is_attacks": ("is_attacks",)}


def pool(sim: np.ndarray, base: np.ndarray, w: float, rng: np.random.Generator,
         n: int | None = None) -> np.ndarray:
    """A linear pool of two ensembles: ``round(w n)`` draws from ``sim``, the rest from ``base``."""
    n = n or max(sim.size, base.size)
    k = int(round(w * n))
    parts = []
    if k and sim.size:
        parts.append(rng.choice(sim, k))
    if n - k and base.size:
        parts.append(rng.choice(base, n - k))
    return np.concatenate(parts) if parts else np.array([])


#: pseudo-targets at an equal share that the pool weight is shrunk towards (few targets)
PRIOR_TARGETS = 10


def mixture_terms(y: float, a: np.ndarray, b: np.ndarray) -> dict[str, float]:
    """The terms of the CRPS of a two-component pool of ensembles ``a`` and ``b`` at ``y``:
    ``CRPS(w) = w ea + (1-w) eb - (w^2 daa + (1-w)^2 dbb + 2 w (1-w) dab) / 2`` with
    ``ea = E|A-y|``, ``daa = E|A-A'|``, ``dab = E|A-B|`` (and the same for ``b``)."""
    a, b = np.sort(np.asarray(a, float)), np.sort(np.asarray(b, float))

    def spread(x):  # E|X - X'| over all ordered pairs, from the order statistics
        n = x.size
        return float(2.0 * np.sum((2 * np.arange(1, n + 1) - n - 1) * x) / n ** 2)

    # E|A - B| = E max - E min: from the pooled order, without an n x m matrix
    cb = np.concatenate([[0.0], np.cumsum(b)])
    k = np.searchsorted(b, a)  # b[:k] < a
    dab = float(np.mean(k * a - cb[k] + (cb[-1] - cb[k]) - (b.size - k) * a) / b.size)
    return {"ea": float(np.mean(np.abs(a - y))), "eb": float(np.mean(np.abs(b - y))),
            "daa": spread(a), "dbb": spread(b), "dab": dab}


def pool_crps(t: dict[str, float] | pd.DataFrame, w: float) -> float | pd.Series:
    """CRPS of the pool with weight ``w`` on ``a``, from :func:`mixture_terms`."""
    return (w * t["ea"] + (1 - w) * t["eb"]
            - 0.5 * (w * w * t["daa"] + (1 - w) ** 2 * t["dbb"] + 2 * w * (1 - w) * t["dab"]))


def optimal_weight(terms: pd.DataFrame, prior: int = PRIOR_TARGETS) -> float:
    """The weight on ``a`` that minimises the mean CRPS of the pool over the rows of
    ``terms`` (the mean CRPS is a convex quadratic in the weight), shrunk towards 0.5 by
    ``prior`` pseudo-targets; 0.5 where there are none."""
    n = len(terms)
    if n == 0:
        return 0.5
    m = terms[["ea", "eb", "daa", "dbb", "dab"]].mean()
    curv = 2 * m["dab"] - m["daa"] - m["dbb"]  # 2 x energy distance >= 0
    if curv <= 1e-12:
        w = 0.5
    else:
        w = float(np.clip((m["eb"] - m["ea"] + m["dab"] - m["dbb"]) / curv, 0.0, 1.0))
    return (n * w + prior * 0.5) / (n + prior)


def packaged_weights(case: str) -> dict:
    """The blend weights stored with the package (simulator share per series)."""
    f = resources.files("resurgence") / "data" / "blend" / f"{case}.json"
    if not f.is_file():
        return {"weights": {s: 0.5 for s in BLENDED}, "source": "default (no backtest stored)"}
    return json.loads(f.read_text(encoding="utf-8"))


def _national(df: pd.DataFrame, runs: int, months: int, series: str) -> np.ndarray:
    sub = df[(df["region"] == "IQ") & (df["series"] == series)]
    out = np.zeros((runs, months))
    m = sub.groupby("period_start", observed=True).ngroup().to_numpy()
    out[sub["run"].to_numpy(), m] = sub["value"].to_numpy()
    return out


def blend(sim: pd.DataFrame, ref: pd.DataFrame | None, base: dict[str, np.ndarray],
          weights: dict[str, float], seed: int) -> pd.DataFrame:
    """Blended forecast in the contract of ``sim`` (same rows; levels replaced)."""
    runs, months = int(sim["run"].max()) + 1, sim["period_start"].nunique()
    u = np.random.default_rng(np.random.SeedSequence(seed, spawn_key=(2**31 + 9,))).random(runs)
    out = sim.copy()
    month_of = out.groupby("period_start", observed=True).ngroup().to_numpy()
    run = out["run"].to_numpy()
    val = out["value"].to_numpy(copy=True)
    for ser, truth in BLENDED.items():
        if ser not in base:
            continue
        use_base = u >= weights.get(ser, 0.5)
        num = sum(_national(sim, runs, months, t) for t in truth)
        den = num if ref is None else sum(_national(ref, runs, months, t) for t in truth)
        mult = (num + 0.5) / (den + 0.5)
        level = base[ser][np.arange(runs) % base[ser].shape[0]][:, :months] * mult
        sim_nat = _national(sim, runs, months, ser)
        factor = np.where(sim_nat > 0, level / np.maximum(sim_nat, 1e-12), 1.0)
        rows = (out["series"] == ser).to_numpy() & use_base[run]
        nat = rows & (out["region"] == "IQ").to_numpy()
        val[rows] = val[rows] * factor[run[rows], month_of[rows]]
        val[nat] = level[run[nat], month_of[nat]]
    out["value"] = val
    out.attrs.update(sim.attrs)
    out.attrs.update(method="blend", blend_weights=json.dumps(weights))
    return out
