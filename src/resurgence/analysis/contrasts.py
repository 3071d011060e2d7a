"""Scenario contrasts: paired differences of per-run summaries under common random numbers."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from resurgence.results.outcomes import OUTCOME_BY_NAME, OUTCOMES

QUANTS = (0.1, 0.5, 0.9)


@dataclass(frozen=True)
class Contrast:
    summary: str
    unit: str
    description: str
    a: tuple[float, float, float]  # P10, P50, P90 (or mean with bootstrap interval)
    b: tuple[float, float, float]
    diff: tuple[float, float, float]
    p_increase: float  # share of runs where B > A
    kind: str  # "quantiles" or "probability"

    def as_dict(self) -> dict[str, float | str]:
        d: dict[str, float | str] = {"summary": self.summary, "unit": self.unit,
                                     "description": self.description, "kind": self.kind}
        for label, v in (("a", self.a), ("b", self.b), ("diff", self.diff)):
            d.update({f"{label}_lo": v[0], f"{label}_mid": v[1], f"{label}_hi": v[2]})
        d["p_increase"] = self.p_increase
        return d


#: Resampled values held at once by :func:`_boot_mean` (index and gathered value: 16 bytes each).
BOOT_BLOCK = 1 << 22


def _boot_mean(x: np.ndarray, seed: int = 0, n_boot: int = 1000) -> tuple[float, float, float]:
    """Mean with an 80% bootstrap interval. The resamples are drawn in blocks of rows of at most
    ``BOOT_BLOCK`` values, so memory is bounded (64 MiB) for any number of runs; NumPy's
    ``integers`` continues the same stream across calls, so the blocks draw exactly the
    indices one ``(n_boot, n)`` draw would (tests/test_boot_mean.py)."""
    return _boot_means([x], seed, n_boot)[0]


def _boot_means(xs: list[np.ndarray], seed: int = 0,
                n_boot: int = 1000) -> list[tuple[float, float, float]]:
    """:func:`_boot_mean` of each of ``xs`` (all of one length): every one is resampled with
    the same indices (the same seed), so the indices are drawn once for all of them."""
    rng = np.random.default_rng(seed)
    n = len(xs[0])
    rows = max(1, BOOT_BLOCK // max(n, 1))
    parts: list[list[np.ndarray]] = [[] for _ in xs]
    for i in range(0, n_boot, rows):
        idx = rng.integers(0, n, size=(min(rows, n_boot - i), n))
        for part, x in zip(parts, xs, strict=True):
            part.append(x[idx].mean(axis=1))
    out = []
    for part, x in zip(parts, xs, strict=True):
        lo, hi = np.quantile(np.concatenate(part), [0.1, 0.9])
        out.append((float(lo), float(x.mean()), float(hi)))
    return out


def _q(x: np.ndarray) -> tuple[float, float, float]:
    lo, mid, hi = np.quantile(x, QUANTS)
    return float(lo), float(mid), float(hi)


@dataclass(frozen=True)
class Interval:
    """One scenario's outcome across runs: what :func:`contrast` gives as its ``a`` side."""

    summary: str
    unit: str
    description: str
    a: tuple[float, float, float]  # P10, P50, P90 (or mean with bootstrap interval)
    kind: str  # "quantiles" or "probability"


def describe(a: dict[str, np.ndarray], names: list[str] | None = None) -> list[Interval]:
    """Each outcome of one scenario as :func:`contrast` reports it for that scenario (the same
    numbers as ``contrast(a, a)[i].a``), without the contrast's other columns."""
    names = names or [s.name for s in OUTCOMES]
    probs = [n for n in names if OUTCOME_BY_NAME[n].unit == "probability"]
    boot = dict(zip(probs, _boot_means([a[n] for n in probs]), strict=True)) if probs else {}
    out = []
    for name in names:
        s = OUTCOME_BY_NAME[name]
        prob = s.unit == "probability"
        out.append(Interval(name, s.unit, s.description, boot[name] if prob else _q(a[name]),
                            "probability" if prob else "quantiles"))
    return out


def contrast(a: dict[str, np.ndarray], b: dict[str, np.ndarray],
             names: list[str] | None = None) -> list[Contrast]:
    """Paired contrasts B - A. Counts and indices: quantiles across runs of each scenario and
    of the per-run difference. Probabilities: means with 80% bootstrap intervals."""
    out = []
    for name in names or [s.name for s in OUTCOMES]:
        s = OUTCOME_BY_NAME[name]
        xa, xb = a[name], b[name]
        d = xb - xa
        if s.unit == "probability":
            ia, ib, idiff = _boot_means([xa, xb, d])
            out.append(Contrast(name, s.unit, s.description, ia, ib, idiff,
                                float((d > 0).mean()), "probability"))
        else:
            out.append(Contrast(name, s.unit, s.description, _q(xa), _q(xb), _q(d),
                                float((d > 0).mean()), "quantiles"))
    return out
