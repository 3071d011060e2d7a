"""A chunk's metric laid out for the bundle in one compiled pass: its Parquet rows (regions,
then the national row) and its *cells x runs* block for the quantile pass
(:class:`~resurgence.results.quantiles.CellStore`), both float32, with the national row of a
regional metric aggregated on the way (NumPy's pairwise-sum order, so the bundle is the same
bytes as when the layout was done with NumPy). Used by :class:`~resurgence.results.writer.BundleWriter`.
"""

from __future__ import annotations

import numba
import numpy as np

from resurgence.core import nbmath

AGG = {"sum": 0, "mean": 1, "max": 2, "popmean": 3}


@numba.njit(cache=True, nogil=True)
def _region(src, agg, given, full, block):  # pragma: no cover - compiled
    """One regional metric of a chunk: ``src`` (runs, weeks, regions) into ``full`` (runs,
    weeks, regions + 1) float32, the national row last, and into the cells x runs ``block``
    (regions + 1, weeks, runs). The national row is the float64 sum (in NumPy's pairwise
    order), mean or max of the regions, or ``given`` (agg 3). Returns whether every value is
    finite."""
    n, W, R = src.shape
    row = np.empty(R)
    finite = True
    for w in range(W):  # the order the engine's week-major buffers are laid out in
        for i in range(n):
            for j in range(R):
                x = src[i, w, j]
                row[j] = x
                y = np.float32(x)
                full[i, w, j] = y
                block[j, w, i] = y
                if not np.isfinite(y):
                    finite = False
            if agg == 0:
                nat = nbmath.pairwise_sum(row)
            elif agg == 1:
                nat = nbmath.pairwise_sum(row) / R
            elif agg == 2:
                nat = row[0]
                for j in range(1, R):
                    nat = nbmath.maximum(nat, row[j])
            else:
                nat = given[i, w]
            y = np.float32(nat)
            full[i, w, R] = y
            block[R, w, i] = y
            if not np.isfinite(y):
                finite = False
    return finite


@numba.njit(cache=True, nogil=True)
def _national(src, full, block):  # pragma: no cover - compiled
    """One national metric of a chunk: ``src`` (runs, weeks) into the national rows of ``full``
    (the others 0: null) and into ``block`` (weeks, runs). Returns whether all are finite."""
    n, W = src.shape
    R = full.shape[2] - 1
    finite = True
    for w in range(W):
        for i in range(n):
            for j in range(R):
                full[i, w, j] = 0.0
            y = np.float32(src[i, w])
            full[i, w, R] = y
            block[w, i] = y
            if not np.isfinite(y):
                finite = False
    return finite



def lay_out(src: np.ndarray, level: str, agg: str, given: np.ndarray,
            n_regions: int) -> tuple[np.ndarray, np.ndarray, bool]:
    """``(full, block, finite)`` of one metric of a chunk: ``full`` (runs, weeks, regions + 1)
    the rows as written (a national metric's regional rows 0, written as null), ``block`` the
    cells x runs block ((regions + 1, weeks, runs) or (weeks, runs)), ``finite`` whether every
    value is finite (overflow to float32 included). ``given`` is the national row of a
    ``popmean`` metric (ignored otherwise)."""
    n, w = src.shape[0], src.shape[1]
    full = np.empty((n, w, n_regions + 1), dtype=np.float32)
    block = np.empty((n_regions + 1, w, n) if level == "region" else (w, n), dtype=np.float32)
    with np.errstate(over="ignore", invalid="ignore"):  # the caller refuses non-finite values
        if level == "region":
            finite = _region(src, AGG[agg], given, full, block)
        else:
            finite = _national(src, full, block)
    return full, block, bool(finite)
