"""Naive forecasters for the backtest: what a skilled forecaster must beat.

Each works on a source's monthly history (the months of its non-overlapping partition,
a quarter or year remainder spread evenly over its months) on the log scale, as a point
rule ``f(history, h)`` for the log of the monthly level ``h`` months after the last month
seen, with an empirical predictive spread: the rule's own errors at the same horizon in
the history (rolling, in sample), or N(0, 0.5²) where fewer than three exist.

- ``no-change``: the last month seen;
- ``mean-6m`` / ``mean-12m``: the mean log level of the last 6 / 12 months seen;
- ``log-linear trend``: a straight line through the last 24 months' logs, extrapolated;
- ``seasonal climatology``: the mean log of the same calendar month ±1 in the last three
  years (the last 12 months where none).
"""

from __future__ import annotations

import numpy as np

METHODS = ("no-change", "mean-6m", "mean-12m", "log-linear trend", "seasonal climatology")


def _rule(name: str, t: np.ndarray, ly: np.ndarray, target: float) -> float:
    """Point forecast of the log level at month index ``target`` from months ``t`` (sorted)."""
    if name == "no-change":
        return float(ly[-1])
    if name in ("mean-6m", "mean-12m"):
        k = 6 if name == "mean-6m" else 12
        return float(np.mean(ly[t > t[-1] - k]))
    if name == "log-linear trend":
        sel = t > t[-1] - 24
        if sel.sum() < 3:
            return float(ly[-1])
        b, a = np.polyfit(t[sel], ly[sel], 1)
        return float(a + b * target)
    # seasonal climatology: calendar month = index mod 12 (index 0 is a January)
    cal = np.abs(((t % 12) - (target % 12) + 6) % 12 - 6) <= 1
    near = cal & (t > target - 36)
    return float(np.mean(ly[near]) if near.any() else np.mean(ly[t > t[-1] - 12]))


def predictive(name: str, t: np.ndarray, y: np.ndarray, targets: np.ndarray,
               rng: np.random.Generator, n: int = 500) -> np.ndarray:
    """Draws ``(n,)`` of the total count over the target months (month indices ``targets``,
    January-aligned) from the monthly history ``(t, y)``; Poisson noise on the total."""
    ok = np.isfinite(y) & (y > 0)
    t, ly = t[ok], np.log(y[ok])
    mid = float(np.mean(targets))
    h = max(1, int(round(mid - t[-1])))
    centre = _rule(name, t, ly, mid)
    errs = []
    for i in range(2, len(t)):
        j = np.flatnonzero(t == t[i] + h)
        if j.size:
            errs.append(ly[j[0]] - _rule(name, t[: i + 1], ly[: i + 1], float(t[i] + h)))
    e = rng.choice(np.array(errs), n) if len(errs) >= 3 else rng.normal(0.0, 0.5, n)
    return rng.poisson(len(targets) * np.exp(np.minimum(centre + e, 20.0))).astype(float)
