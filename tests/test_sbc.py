"""Simulation-based calibration: the rank check accepts an exact posterior, rejects a
shifted prior and an over-confident posterior, and judges the real ABC-SMC loop on a toy
problem (the full-model SBC is ``benchmarks/sbc.py``; docs/calibration.md)."""

from __future__ import annotations

import numpy as np
import pytest

from resurgence.calibration import sbc
from resurgence.calibration.inference import Space
from resurgence.model.params import Param, Prior


def _normal_space() -> Space:
    p = [Param("theta", 0.0, "1", "a normal mean", Prior("normal", 0.0, 1.0))]
    return Space(p, [q.prior for q in p])


def _conjugate(shift: float = 0.0, scale: float = 1.0):
    """theta ~ N(0, 1), five observations ~ N(theta, 1): the posterior is N(sum/6, 1/6).
    ``shift`` (in prior sds) and ``scale`` break it on purpose."""

    def fit(theta: np.ndarray, i: int) -> np.ndarray:
        rng = np.random.default_rng(i)
        y = rng.normal(theta[0], 1.0, 5)
        mean, sd = y.sum() / 6, np.sqrt(1 / 6)
        return (mean + shift + scale * sd * rng.standard_normal(400))[:, None]

    return fit


def test_rank_check_accepts_an_exact_posterior():
    res = sbc.sbc(_normal_space(), _conjugate(), 200, draws=49, seed=1)
    tab = res.table()
    assert sbc.calibrated(tab), tab.to_string()
    assert abs(tab.loc[0, "coverage80"] - 0.8) < 0.1 and abs(tab.loc[0, "mean_rank"] - 0.5) < 0.06


def test_rank_check_rejects_a_prior_shifted_posterior():
    # the deliberately broken inference: the prior itself, shifted by half a prior sd
    space = _normal_space()

    def broken(theta: np.ndarray, i: int) -> np.ndarray:
        return np.random.default_rng(i).normal(0.5, 1.0, (400, 1))

    tab = sbc.sbc(space, broken, 200, draws=49, seed=1).table()
    assert not sbc.calibrated(tab)
    assert tab.loc[0, "p_ks"] < 1e-3 and tab.loc[0, "reading"].startswith("biased: truth below")
    # the unshifted prior is, famously, calibrated: SBC cannot see an inference that ignores
    # the data, which is why coverage and the posterior's width are reported beside it
    same = sbc.sbc(space, lambda th, i: np.random.default_rng(i).normal(0, 1, (400, 1)), 200,
                   draws=49, seed=1).table()
    assert sbc.calibrated(same)


def test_rank_check_reads_an_over_confident_posterior_as_under_dispersed():
    tab = sbc.sbc(_normal_space(), _conjugate(scale=0.4), 200, draws=49, seed=1).table()
    assert not sbc.calibrated(tab)
    assert tab.loc[0, "reading"].startswith("under-dispersed") and tab.loc[0, "coverage80"] < 0.55
    wide = sbc.sbc(_normal_space(), _conjugate(scale=2.5), 200, draws=49, seed=1).table()
    assert wide.loc[0, "reading"].startswith("over-dispersed") and wide.loc[0, "coverage80"] > 0.95


def test_ranks_break_ties_and_reject_bad_sizes():
    rng = np.random.default_rng(0)
    r = sbc.ranks(np.zeros((500, 1)), [np.zeros((9, 1))] * 500, rng)
    assert r.min() == 0 and r.max() == 9 and abs(r.mean() - 4.5) < 0.4
    with pytest.raises(Exception, match="replicates"):
        sbc.sbc(_normal_space(), _conjugate(), 1)


def test_abc_smc_with_the_observation_noise_simulated_is_calibrated_on_a_toy():
    space, fit = sbc.toy_fit(simulate_noise=True, particles=100, generations=8)
    tab = sbc.sbc(space, fit, 80, draws=49, seed=2).table()
    assert sbc.calibrated(tab), tab.to_string()


def test_abc_smc_scored_on_expected_observations_is_too_narrow_on_a_toy():
    """How :func:`calibrate` scored before this check (expected observations, no observation
    noise in the simulations): as the tolerance falls the posterior becomes too narrow and
    the level biased low (docs/calibration.md). The negative control of the test above:
    calibrate now simulates the noise (``inference._score(simulate_noise=True)``)."""
    space, fit = sbc.toy_fit(simulate_noise=False, particles=100, generations=8)
    tab = sbc.sbc(space, fit, 80, draws=49, seed=2).table().set_index("parameter")
    assert not sbc.calibrated(tab.reset_index())
    assert tab.loc["level", "coverage80"] < 0.72 and tab.loc["level", "mean_rank"] > 0.55
