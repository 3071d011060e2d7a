"""Count samplers driven by pre-drawn uniforms (inversion), vectorised over any shape.

Why inversion: every stochastic flow in the engine consumes *one uniform per cell*
drawn in advance from the run's own stream (see :mod:`resurgence.model.sim`). Mapping that
uniform through the inverse CDF of the flow's distribution keeps random numbers
synchronised between scenarios (common random numbers): the same run, week, region
and mechanism always sees the same uniform, so a small policy change moves a count
by a little, not to an unrelated draw.

All three count laws the model needs are members of the Panjer (a, b, 0) class,
whose probabilities obey ``p(k+1) = p(k) * (a + b*k)/(k+1)`` with ``b`` folded into
the recursion below. One search routine therefore serves Poisson, negative binomial
and binomial draws. The search visits only cells still unresolved, so its cost is
O(cells + sum of counts). For large means (> ``NORMAL_SWITCH``) the moment-matched
gamma quantile is used instead (error far below the model's parameter uncertainty);
NumPy/SciPy offer no vectorised per-cell-uniform Poisson inverse that is fast enough
(``scipy.stats.poisson.ppf`` is ~50x slower, see BENCHMARKS.md).

The search runs in a Numba kernel when Numba is installed (measured ~4x faster than the
vectorised NumPy search, which remains as the fallback and as the reference in tests);
both give identical counts.
"""

from __future__ import annotations

import numpy as np
from scipy.special import gammaincinv

try:  # optional accelerator; results are identical either way
    import numba
except ImportError:  # pragma: no cover - exercised when numba is absent
    numba = None  # type: ignore[assignment]

NORMAL_SWITCH = 40.0
_MAX_STEPS = 400
USE_NUMBA = numba is not None


def _search_numpy(u: np.ndarray, p0: np.ndarray, a: np.ndarray, b: np.ndarray,
                  nmax: np.ndarray) -> np.ndarray:
    """Smallest k with F(k) >= u for an (a,b,0) law: p(k) = p(k-1) * (a + b/k).
    All inputs are 1-D of equal length."""
    out = np.zeros(u.size, dtype=np.float64)
    idx = np.flatnonzero(u > p0)
    if idx.size == 0:
        return out
    # rows: a, b, u, p(k), F(k), nmax -- compacted together as cells resolve
    st = np.stack([a[idx], b[idx], u[idx], p0[idx], p0[idx], nmax[idx]])
    k = 0
    while idx.size and k < _MAX_STEPS:
        k += 1
        st[3] *= st[0] + st[1] / k
        st[4] += st[3]
        keep = (st[2] > st[4]) & (st[5] > k)
        if not keep.all():
            out[idx[~keep]] = k
            idx = idx[keep]
            st = st[:, keep]
    out[idx] = k
    return out


if numba is not None:

    @numba.njit(cache=True, nogil=True)
    def _search1(u, p, a, b, nm):  # pragma: no cover - compiled
        # the first two steps unrolled: b / 1 and b / 2 are b and b * 0.5 exactly, so the
        # most frequent steps need no division (the same numbers as the loop)
        c = p
        if not (u > c and nm > 0):
            return 0.0
        p *= a + b
        c += p
        if not (u > c and nm > 1):
            return 1.0
        p *= a + b * 0.5
        c += p
        k = 2
        while u > c and k < nm and k < _MAX_STEPS:
            k += 1
            p *= a + b / k
            c += p
        return float(k)

    @numba.njit(cache=True, nogil=True)
    def _search_numba(u, p0, a, b, nmax):  # pragma: no cover - compiled
        out = np.empty(u.size)
        for i in range(u.size):
            out[i] = _search1(u[i], p0[i], a[i], b[i], nmax[i])
        return out

    @numba.njit(cache=True, nogil=True)
    def poisson1(mean, u):  # pragma: no cover - compiled
        """One Poisson draw by inversion; -1.0 where the large-mean branch must take over."""
        m = max(mean, 0.0)
        if m > NORMAL_SWITCH:
            return -1.0
        if m == 0.0:  # exp(-0) = 1 >= u: the search would stop at 0 (no exp to pay for)
            return 0.0
        return _search1(u, np.exp(-m), 0.0, m, np.inf)

    @numba.njit(cache=True, nogil=True)
    def negbin1(mean, k, u):  # pragma: no cover - compiled
        """One negative-binomial draw (size ``k``); -1.0 for the large-mean/heavy-tail branch."""
        m = max(mean, 0.0)
        if m == 0.0:  # q = 0, p(0) = exp(0) = 1 >= u: the search would stop at 0
            return 0.0
        if m > NORMAL_SWITCH:
            return -1.0
        v = m + m * m / k
        lim = (_MAX_STEPS - m) / 12.0
        # the heavy-tail test m + 12 sqrt(v) > MAX_STEPS, exactly where it could hold: below
        # 0.9 lim^2 it cannot (m + 12 sqrt(v) < MAX_STEPS - 18), so no sqrt to pay for there
        if not v < 0.9 * lim * lim and m + 12.0 * np.sqrt(v) > _MAX_STEPS:
            return -1.0
        q = m / (k + m)
        return _search1(u, np.exp(k * np.log1p(-q)), q, q * (k - 1.0), np.inf)

    @numba.njit(cache=True, nogil=True)
    def binomial1(n, p, u):  # pragma: no cover - compiled
        """One binomial draw (``n`` rounded down); -1.0 for the large-mean branch."""
        pp = min(max(p, 0.0), 1.0 - 1e-12)
        return binomial1p(n, pp, np.log1p(-pp), pp / (1.0 - pp), u)

    @numba.njit(cache=True, nogil=True)
    def binomial1p(n, pp, log_q, r, u):  # pragma: no cover - compiled
        """:func:`binomial1` with the clamped ``pp``, ``log1p(-pp)`` and ``pp / (1 - pp)``
        given (the same numbers, for a ``p`` shared by many draws)."""
        nn = np.floor(max(n, 0.0))
        if nn == 0.0 or pp == 0.0:  # p(0) = exp(0) = 1 >= u: the search would stop at 0
            return 0.0
        if nn * pp > NORMAL_SWITCH:
            return -1.0
        return _search1(u, np.exp(nn * log_q), -r, r * (nn + 1.0), nn)

    @numba.njit(cache=True, nogil=True)
    def _fused(law, x, y, u, switch):  # pragma: no cover - compiled
        """law 0: Poisson(mean=x); 1: NB(mean=x, size=y); 2: Binomial(n=x, p=y). 2-D
        (possibly broadcast, non-contiguous) inputs; -1 marks cells for the large-mean branch."""
        n0, n1 = u.shape
        out = np.empty((n0, n1))
        for i in range(n0):
            for j in range(n1):
                if law == 0:
                    out[i, j] = poisson1(x[i, j], u[i, j])
                elif law == 1:
                    out[i, j] = negbin1(x[i, j], y[i, j], u[i, j])
                else:
                    out[i, j] = binomial1(x[i, j], y[i, j], u[i, j])
        return out


def fix_large(law: int, out: np.ndarray, x, y, u) -> np.ndarray:
    """Fill cells flagged -1 by a Numba kernel with the moment-matched gamma quantile."""
    big = out < 0
    if big.any():
        shape = out.shape
        ub = np.broadcast_to(np.asarray(u), shape)[big]
        xb = np.broadcast_to(np.asarray(x, dtype=np.float64), shape)[big]
        yb = np.broadcast_to(np.asarray(y, dtype=np.float64), shape)[big]
        if law == 0:
            out[big] = _large_mean_quantile(ub, xb, xb)
        elif law == 1:
            out[big] = _large_mean_quantile(ub, xb, xb + xb * xb / yb)
        else:
            n = np.floor(xb)
            pp = np.clip(yb, 0.0, 1.0 - 1e-12)
            out[big] = np.minimum(_large_mean_quantile(ub, n * pp, n * pp * (1 - pp)), n)
    return out


def _fast(law: int, x, y, u) -> np.ndarray | None:
    """Fused Numba path for 2-D draws; None where it does not apply (NumPy fallback)."""
    if not USE_NUMBA or np.ndim(u) != 2:
        return None
    shape = np.broadcast_shapes(np.shape(x), np.shape(y), np.shape(u))
    if len(shape) != 2:
        return None
    x = np.broadcast_to(np.asarray(x, dtype=np.float64), shape)
    y = np.broadcast_to(np.asarray(y, dtype=np.float64), shape)
    u = np.broadcast_to(np.asarray(u), shape)
    return fix_large(law, _fused(law, x, y, u, NORMAL_SWITCH), x, y, u)


def _inverse(u, p0, a, b, nmax, shape) -> np.ndarray:
    args = [np.ascontiguousarray(np.broadcast_to(x, shape), dtype=np.float64).reshape(-1)
            for x in (u, p0, a, b, nmax)]
    fn = _search_numba if USE_NUMBA else _search_numpy
    return fn(*args).reshape(shape)


def _large_mean_quantile(u: np.ndarray, mean: np.ndarray, var: np.ndarray) -> np.ndarray:
    """Moment-matched gamma quantile, rounded: keeps the right skew of a count law."""
    shape = mean * mean / var
    return np.floor(gammaincinv(shape, np.clip(u, 1e-12, 1 - 1e-12)) * (var / mean) + 0.5)


def poisson(mean: np.ndarray, u: np.ndarray) -> np.ndarray:
    """Poisson(mean) by inversion of ``u``; returns float64 counts."""
    fast = _fast(0, mean, 0.0, u)
    if fast is not None:
        return fast
    mean = np.maximum(np.asarray(mean, dtype=np.float64), 0.0)
    shape = np.broadcast_shapes(mean.shape, np.shape(u))
    mean = np.broadcast_to(mean, shape)
    big = mean > NORMAL_SWITCH
    m = np.where(big, 0.0, mean)
    out = _inverse(u, np.exp(-m), 0.0, m, np.inf, shape)
    if big.any():
        out[big] = _large_mean_quantile(np.broadcast_to(u, shape)[big], mean[big], mean[big])
    return out


def negbin(mean: np.ndarray, k: np.ndarray | float, u: np.ndarray) -> np.ndarray:
    """Negative binomial with mean ``mean`` and size (dispersion) ``k``: var = m + m^2/k."""
    fast = _fast(1, mean, k, u)
    if fast is not None:
        return fast
    mean = np.maximum(np.asarray(mean, dtype=np.float64), 0.0)
    shape = np.broadcast_shapes(mean.shape, np.shape(k), np.shape(u))
    mean = np.broadcast_to(mean, shape)
    k = np.broadcast_to(np.asarray(k, dtype=np.float64), shape)
    # heavy tails (small k) would outrun the search: use the gamma quantile there too
    big = (mean > NORMAL_SWITCH) | (mean + 12.0 * np.sqrt(mean + mean * mean / k) > _MAX_STEPS)
    m = np.where(big, 0.0, mean)
    q = m / (k + m)
    # p(j)/p(j-1) = q (k + j - 1) / j  =>  a = q, b = q (k - 1)
    out = _inverse(u, np.exp(k * np.log1p(-q)), q, q * (k - 1.0), np.inf, shape)
    if big.any():
        mb = mean[big]
        out[big] = _large_mean_quantile(np.broadcast_to(u, shape)[big], mb, mb + mb * mb / k[big])
    return out


def binomial(n: np.ndarray, p: np.ndarray, u: np.ndarray) -> np.ndarray:
    """Binomial(n, p) by inversion; ``n`` is rounded down to an integer count."""
    fast = _fast(2, n, p, u)
    if fast is not None:
        return fast
    n = np.floor(np.maximum(np.asarray(n, dtype=np.float64), 0.0))
    p = np.clip(np.asarray(p, dtype=np.float64), 0.0, 1.0 - 1e-12)
    shape = np.broadcast_shapes(n.shape, p.shape, np.shape(u))
    n, p = np.broadcast_to(n, shape), np.broadcast_to(p, shape)
    mean = n * p
    big = mean > NORMAL_SWITCH
    pp = np.where(big, 0.0, p)
    r = pp / (1.0 - pp)
    # p(j)/p(j-1) = r (n - j + 1) / j  =>  a = -r, b = r (n + 1)
    out = _inverse(u, np.exp(n * np.log1p(-pp)), -r, r * (n + 1.0), n, shape)
    if big.any():
        ub = np.broadcast_to(u, shape)[big]
        var = mean[big] * (1 - p[big])
        out[big] = np.minimum(_large_mean_quantile(ub, mean[big], var), n[big])
    return out
