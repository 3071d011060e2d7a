"""Count samplers driven by per-cell uniforms (resurgence.samplers).

Small means go through the exact (a, b, 0) inversion search and must equal SciPy's
``ppf`` cell by cell; large means use the moment-matched gamma quantile and are checked on
their moments. There are three search paths: the NumPy search (``USE_NUMBA = False``, or
any draw that is not 2-D), the Numba 1-D search, and the fused Numba kernel used for 2-D
draws (the engine's ``(runs, regions)`` cells). All must give identical counts, and every
sampler must be monotone in ``u`` (the common-random-numbers property).
"""

from __future__ import annotations

import numpy as np
import pytest
from scipy import stats

from resurgence.core import samplers

N = 100_000
#: 1-D draws take the per-law search; 2-D draws (runs x regions) take the fused kernel
SHAPES = {"1d": (N,), "2d": (N // 50, 50)}


@pytest.fixture(scope="module")
def u() -> np.ndarray:
    # the engine feeds float32 uniforms
    return np.random.default_rng(11).random(N, dtype=np.float32)


@pytest.fixture(scope="module")
def rng() -> np.random.Generator:
    return np.random.default_rng(12)


# --- exact inversion for small means ---------------------------------------------------

@pytest.mark.parametrize("shape", SHAPES.values(), ids=SHAPES.keys())
def test_poisson_equals_scipy_ppf_for_small_means(u, rng, shape) -> None:
    mean = np.concatenate([rng.uniform(0, samplers.NORMAL_SWITCH, N - 4), [0.0, 1e-9, 1.0, 40.0]])
    mean, uu = mean.reshape(shape), u.reshape(shape)
    got = samplers.poisson(mean, uu)
    want = stats.poisson.ppf(uu.astype(np.float64), mean)
    np.testing.assert_array_equal(got, want)
    assert got.dtype == np.float64 and got.shape == shape


@pytest.mark.parametrize("shape", SHAPES.values(), ids=SHAPES.keys())
def test_negbin_equals_scipy_ppf_for_small_means(u, rng, shape) -> None:
    mean = rng.uniform(0, 20, shape)
    k = rng.uniform(1.0, 10.0, shape)  # the engine's dispersions: militia ~1, IS attacks ~3
    uu = u.reshape(shape)
    got = samplers.negbin(mean, k, uu)
    want = stats.nbinom.ppf(uu.astype(np.float64), k, k / (k + mean))
    np.testing.assert_array_equal(got, want)


def test_negbin_scalar_dispersion_broadcasts(u, rng) -> None:
    mean = rng.uniform(0, 30, (100, 18))
    uu = u[: 100 * 18].reshape(100, 18)
    got = samplers.negbin(mean, 3.0, uu)
    want = stats.nbinom.ppf(uu.astype(np.float64), 3.0, 3.0 / (3.0 + mean))
    assert got.shape == (100, 18)
    np.testing.assert_array_equal(got, want)


@pytest.mark.parametrize("shape", SHAPES.values(), ids=SHAPES.keys())
def test_binomial_equals_scipy_ppf_for_small_means(u, rng, shape) -> None:
    n = rng.integers(0, 400, shape).astype(np.float64)
    p = rng.uniform(0, 1, shape)
    # keep n p at or below the switch so every cell uses the exact search
    p = np.where(n * p > samplers.NORMAL_SWITCH, rng.uniform(0, 1, shape) * 40 / np.maximum(n, 1), p)
    uu = u.reshape(shape)
    got = samplers.binomial(n, p, uu)
    want = stats.binom.ppf(uu.astype(np.float64), n, p)
    np.testing.assert_array_equal(got, want)


def test_binomial_floors_fractional_n(u) -> None:
    n = np.full(1000, 7.9)  # fighters are fractional after movement; removals use floor(n)
    got = samplers.binomial(n, 0.5, u[:1000])
    np.testing.assert_array_equal(got, stats.binom.ppf(u[:1000].astype(np.float64), 7, 0.5))


# --- large means: moment-matched gamma branch ----------------------------------------------

@pytest.mark.parametrize("shape", SHAPES.values(), ids=SHAPES.keys())
@pytest.mark.parametrize("mean", [60.0, 250.0, 2000.0])
def test_poisson_large_mean_moments(u, mean, shape) -> None:
    x = samplers.poisson(np.full(shape, mean), u.reshape(shape))
    assert np.all(x == np.floor(x)) and x.min() >= 0
    assert x.mean() == pytest.approx(mean, rel=0.01)
    assert x.var() == pytest.approx(mean, rel=0.05)


@pytest.mark.parametrize("shape", SHAPES.values(), ids=SHAPES.keys())
@pytest.mark.parametrize(("mean", "k"), [(60.0, 3.0), (300.0, 1.0), (100.0, 20.0)])
def test_negbin_large_mean_moments(u, mean, k, shape) -> None:
    x = samplers.negbin(np.full(shape, mean), k, u.reshape(shape)).ravel()
    var = mean + mean * mean / k
    assert x.mean() == pytest.approx(mean, rel=0.02)
    assert x.var() == pytest.approx(var, rel=0.08)
    # overdispersed, right-skewed like the negative binomial
    assert stats.skew(x) > 0.5 * 2 / np.sqrt(k)


@pytest.mark.parametrize("shape", SHAPES.values(), ids=SHAPES.keys())
@pytest.mark.parametrize(("n", "p"), [(200.0, 0.5), (1000.0, 0.1), (3000.0, 0.97)])
def test_binomial_large_mean_moments(u, n, p, shape) -> None:
    x = samplers.binomial(np.full(shape, n), p, u.reshape(shape))
    assert x.mean() == pytest.approx(n * p, rel=0.01)
    assert x.var() == pytest.approx(n * p * (1 - p), rel=0.08)


def test_gamma_branch_is_continuous_with_search_at_the_switch(u) -> None:
    """Just below and just above NORMAL_SWITCH the two methods agree in distribution."""
    below = samplers.poisson(np.full(N, samplers.NORMAL_SWITCH), u)
    above = samplers.poisson(np.full(N, samplers.NORMAL_SWITCH + 1e-9), u)
    assert abs(below.mean() - above.mean()) < 0.1
    assert np.mean(np.abs(below - above)) < 0.6  # same uniform, nearly the same count


# --- support, zeros --------------------------------------------------------------------------

@pytest.mark.parametrize("shape", SHAPES.values(), ids=SHAPES.keys())
def test_binomial_never_exceeds_n(u, rng, shape) -> None:
    n = np.floor(rng.uniform(0, 5000, shape))
    p = rng.uniform(0, 1, shape) ** 0.3  # many p near 1: large means through the gamma branch
    uu = np.concatenate([u[:-3], np.float32([0.0, 0.99999994, 0.5])]).reshape(shape)
    x = samplers.binomial(n, p, uu)
    assert (n * p > samplers.NORMAL_SWITCH).mean() > 0.5  # both branches exercised
    assert np.all(x <= n) and np.all(x >= 0)
    assert np.all(samplers.binomial(np.full(5, 30.0), 1.0, np.linspace(0.01, 0.9999, 5)) == 30.0)
    assert np.all(samplers.binomial(np.full(5, 3000.0), 1.0, np.linspace(0.01, 0.9999, 5)) == 3000.0)


@pytest.mark.parametrize("shape", [(1000,), (50, 20)], ids=["1d", "2d"])
def test_zero_means_give_zero(u, shape) -> None:
    m = u[:1000].reshape(shape)
    zeros = np.zeros(shape)
    assert not samplers.poisson(zeros, m).any()
    assert not samplers.poisson(-np.ones(shape), m).any()  # negative means are clipped
    assert not samplers.negbin(zeros, 0.5, m).any()
    assert not samplers.negbin(-zeros - 3.0, 5.0, m).any()
    assert not samplers.binomial(zeros, 0.7, m).any()
    assert not samplers.binomial(-np.ones(shape), 0.7, m).any()
    assert not samplers.binomial(np.full(shape, 50.0), 0.0, m).any()
    assert not samplers.binomial(np.full(shape, 50.0), -0.5, m).any()  # p is clipped to [0, 1)
    # the largest float32 uniform below 1 still gives zero
    top = np.float32([0.99999994])
    assert samplers.poisson(np.zeros(1), top)[0] == 0
    assert samplers.binomial(np.zeros(1), 0.5, top)[0] == 0


# --- the two search kernels ----------------------------------------------------------------

def _law_inputs(rng, n: int):
    """(u, p0, a, b, nmax) for Poisson, negative-binomial and binomial cells together."""
    u = rng.random(3 * n, dtype=np.float32).astype(np.float64)
    m = rng.uniform(0, 40, n)
    k = rng.uniform(0.5, 8, n)
    q = m / (k + m)
    nn = np.floor(rng.uniform(0, 120, n))
    pp = rng.uniform(0, 0.33, n)
    r = pp / (1 - pp)
    p0 = np.concatenate([np.exp(-m), np.exp(k * np.log1p(-q)), np.exp(nn * np.log1p(-pp))])
    a = np.concatenate([np.zeros(n), q, -r])
    b = np.concatenate([m, q * (k - 1), r * (nn + 1)])
    nmax = np.concatenate([np.full(n, np.inf), np.full(n, np.inf), nn])
    return u, p0, a, b, nmax


@pytest.mark.skipif(not hasattr(samplers, "_search_numba"), reason="numba not installed")
def test_numba_and_numpy_search_kernels_agree(rng) -> None:
    args = _law_inputs(rng, 50_000)
    a = samplers._search_numpy(*args)
    b = samplers._search_numba(*args)
    np.testing.assert_array_equal(a, b)
    assert a.max() > 40  # the comparison reached the tails, not just zeros


@pytest.mark.skipif(not hasattr(samplers, "_search_numba"), reason="numba not installed")
def test_use_numba_toggle_gives_identical_draws(monkeypatch, u, rng) -> None:
    mean = rng.uniform(0, 60, N)  # both branches
    k = rng.uniform(0.8, 6, N)
    n = np.floor(rng.uniform(0, 300, N))
    p = rng.uniform(0, 0.5, N)

    def draw():
        return (samplers.poisson(mean, u), samplers.negbin(mean, k, u),
                samplers.binomial(n, p, u))

    monkeypatch.setattr(samplers, "USE_NUMBA", True)
    fast = draw()
    monkeypatch.setattr(samplers, "USE_NUMBA", False)
    slow = draw()
    for x, y in zip(fast, slow, strict=True):
        np.testing.assert_array_equal(x, y)


@pytest.mark.skipif(not hasattr(samplers, "_search_numba"), reason="numba not installed")
def test_fused_engine_shaped_draws_equal_the_numpy_path(monkeypatch, rng) -> None:
    """The engine's calls: 2-D (runs, regions) strided uniform views, float32, with per-run
    (runs, 1) parameter columns and scalar parameters broadcast against regional means."""
    U = rng.random((400, 7, 18, 4), dtype=np.float32)[:, 3]  # a week's block, like Sim.U
    u0, u1, u2 = U[..., 0], U[..., 1], U[..., 2]
    assert not u1.flags.c_contiguous
    fighters = rng.lognormal(4, 1.5, (400, 18))  # spans both branches
    mean = 0.0175 * fighters
    k = rng.lognormal(np.log(3.0), 0.5, (400, 1))
    p_rem = rng.uniform(0, 0.2, (400, 18))

    def draw():
        att = samplers.negbin(mean, k, u1)
        return (samplers.binomial(fighters, p_rem, u0), att,
                samplers.binomial(att, np.full((400, 1), 0.05), u2),
                samplers.poisson(0.02 * fighters + np.zeros((400, 1)), u2),
                samplers.negbin(mean, 1.0, u0))

    monkeypatch.setattr(samplers, "USE_NUMBA", True)
    fast = draw()
    monkeypatch.setattr(samplers, "USE_NUMBA", False)
    slow = draw()
    for i, (x, y) in enumerate(zip(fast, slow, strict=True)):
        assert x.shape == (400, 18), i
        np.testing.assert_array_equal(x, y, err_msg=str(i))
    assert (mean > samplers.NORMAL_SWITCH).any() and (mean < 1).any()


def test_fused_path_broadcasts_like_the_numpy_path(monkeypatch) -> None:
    mean = np.arange(12.0).reshape(3, 4)
    u = np.full((1, 4), 0.5, dtype=np.float32)
    monkeypatch.setattr(samplers, "USE_NUMBA", False)
    want = samplers.poisson(mean, u)
    assert want.shape == (3, 4)
    monkeypatch.setattr(samplers, "USE_NUMBA", True)
    np.testing.assert_array_equal(samplers.poisson(mean, u), want)


# --- monotone in u (common random numbers) -------------------------------------------------

@pytest.mark.parametrize("two_d", [False, True], ids=["1d", "2d"])
@pytest.mark.parametrize("mean", [0.05, 0.7, 3.0, 17.0, 39.9, 40.1, 150.0])
def test_counts_are_monotone_in_u(mean, two_d) -> None:
    uu = np.sort(np.random.default_rng(3).random(20_000, dtype=np.float32))
    if two_d:  # sorted along the rows of a 2-D array, read back in the same order
        uu = uu.reshape(200, 100)
    full = np.full(uu.shape, mean)
    for x in (samplers.poisson(full, uu), samplers.negbin(full, 1.3, uu),
              samplers.binomial(np.full(uu.shape, 4 * mean + 1), mean / (4 * mean + 1), uu)):
        x = x.ravel()
        assert np.all(np.diff(x) >= 0)
        assert x[-1] > x[0]  # and not constant: u actually moves the count


def test_monotone_in_mean_for_a_fixed_u() -> None:
    """CRN: the same uniform with a slightly larger mean never gives a smaller count."""
    uu = np.random.default_rng(4).random(5_000, dtype=np.float32)
    means = np.linspace(0, 80, 161)
    prev = np.zeros(uu.size)
    for m in means:
        x = samplers.poisson(np.full(uu.size, m), uu)
        assert np.all(x >= prev - 1)  # gamma branch may round one step back at the switch
        if m <= samplers.NORMAL_SWITCH:
            assert np.all(x >= prev)
        prev = x


@pytest.mark.parametrize("shape", [(1,), (1, 1)], ids=["1d", "2d"])
def test_negbin_heavy_tail_is_not_truncated(shape) -> None:
    u = np.full(shape, 0.9999, dtype=np.float32)
    got = samplers.negbin(np.full(shape, 30.0), 0.5, u)
    want = stats.nbinom.ppf(float(u.flat[0]), 0.5, 0.5 / 30.5)  # 458
    # beyond the search's reach the moment-matched gamma quantile takes over: not capped
    assert got.flat[0] > 400
    assert got.flat[0] == pytest.approx(want, rel=0.02)
