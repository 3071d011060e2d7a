"""Scalar helpers for the engine's Numba kernels, with NumPy's semantics, so that a kernel
computes bit for bit what the vectorised NumPy expressions it replaces computed.

``maximum``/``minimum`` are ``np.maximum``/``np.minimum`` of two floats as NumPy's vectorised
loops give them (NaN propagates; of two equal values, zeros of either sign, the second);
``clip`` is ``np.clip`` (NaN propagates; ``x`` is kept where it equals a bound, so ``-0.0``
stays ``-0.0``); ``pairwise_sum`` is the order in which NumPy
sums a short contiguous row (``x.sum(axis=-1)`` for fewer than 128 elements: eight partial
sums, combined as a tree, then the rest in order). Transcendental functions (``exp``,
``log1p``, ``**``) are not here: NumPy's vectorised ones and the C library's can differ in the
last bit, so kernels leave those that feed continuous states to NumPy.
"""

from __future__ import annotations

import numba
import numpy as np


@numba.njit(cache=True, nogil=True)
def maximum(a, b):  # pragma: no cover - compiled
    if a != a:
        return a
    if b != b:
        return b
    return a if a > b else b


@numba.njit(cache=True, nogil=True)
def minimum(a, b):  # pragma: no cover - compiled
    if a != a:
        return a
    if b != b:
        return b
    return a if a < b else b


@numba.njit(cache=True, nogil=True)
def clip(x, lo, hi):  # pragma: no cover - compiled
    if x != x:
        return x
    y = lo if lo > x else x
    return hi if hi < y else y


@numba.njit(cache=True, nogil=True)
def pairwise_sum(row):  # pragma: no cover - compiled
    """``row.sum()`` of a 1-D float64 row as NumPy sums it (rows shorter than 128)."""
    n = row.shape[0]
    if n < 8:
        res = 0.0
        for i in range(n):
            res += row[i]
        return res
    r0, r1, r2, r3 = row[0], row[1], row[2], row[3]
    r4, r5, r6, r7 = row[4], row[5], row[6], row[7]
    i = 8
    while i < n - (n % 8):
        r0 += row[i]
        r1 += row[i + 1]
        r2 += row[i + 2]
        r3 += row[i + 3]
        r4 += row[i + 4]
        r5 += row[i + 5]
        r6 += row[i + 6]
        r7 += row[i + 7]
        i += 8
    res = ((r0 + r1) + (r2 + r3)) + ((r4 + r5) + (r6 + r7))
    while i < n:
        res += row[i]
        i += 1
    return res


def columns(values: dict, n: int) -> np.ndarray:
    """Levers of one week (scalars, or ``(n, 1)`` per-run columns) as an ``(n, k)`` float64
    array, in the order given."""
    out = np.empty((n, len(values)))
    for j, v in enumerate(values.values()):
        out[:, j] = v if np.ndim(v) == 0 else np.asarray(v, dtype=np.float64)[:, 0]
    return out
