"""The Musings observation model: the reporting ratio's drift window and the governorate
share term of the ABC distance (issue #9: the backtest's Musings forecasts at 3-5x the
reports; docs/calibration.md, "Why the simulator's Musings forecast was too high")."""

from __future__ import annotations

import datetime as dt

import numpy as np
import pandas as pd
import pytest

from resurgence.calibration import drift, obsmodel
from resurgence.calibration.cases import IRAQ_2020, case_observations
from resurgence.calibration.forecast import simulate_forecast
from resurgence.calibration.inference import history_setup
from resurgence.calibration.origin import reports
from resurgence.calibration.posterior import Posterior
from resurgence.core.timegrid import WeekGrid

ORIGIN = dt.date(2019, 1, 1)
UNTIL = ORIGIN - dt.timedelta(days=1)


def test_forecast_and_filter_read_the_drift_window_the_fit_read():
    # the fit reads Musings' national reports inside its simulated weeks (from 2018-01-01);
    # the vintage also holds the 2014-2017 rows, which must not stretch the window
    known = case_observations(IRAQ_2020, UNTIL, published_before=ORIGIN)
    _, d = history_setup(IRAQ_2020, UNTIL, ORIGIN, fit=True)
    win = d.drift_windows["rate_musings"]
    assert win == (np.datetime64("2018-01-01"), np.datetime64("2018-11-30"))
    assert drift.drift_window(known) != win  # 2014-2017 rows in the vintage
    assert drift.windows(known, start=IRAQ_2020.history_start) == d.drift_windows
    grid = WeekGrid(dt.date(2017, 12, 25), 53)  # the filter's grid, spun up from a Monday
    assert reports(known, grid, IRAQ_2020.history_start).drift_windows == d.drift_windows
    # UCDP's months span their own window (its reports end at its own publication lag)
    ucdp = d.drift_windows["sb_deaths_per_attack"]
    assert ucdp is not None and ucdp[0] == np.datetime64("2018-01-01") and ucdp[1] <= win[1]


def test_the_forecast_continues_the_fitted_ratio():
    """A forecast's Musings ratio starts where the fit left it: ``exp(drift * tau)`` at the
    last report, tau in years from the middle of the fitted window (+0.46 here), not from
    the middle of 2014-2018 (+2.46: a drift of 1/year gave 11.7x instead of 1.6x)."""
    runs = 24
    draws = pd.DataFrame({"musings_drift": np.zeros(runs), "musings_walk": np.zeros(runs),
                          "musings_persist": np.zeros(runs)})  # the ratio held after it
    flat = Posterior("iraq-2020", IRAQ_2020.history_start, UNTIL, draws)
    tilted = Posterior("iraq-2020", IRAQ_2020.history_start, UNTIL,
                       draws.assign(musings_drift=1.0))
    out = [simulate_forecast("iraq-2020", "iraq-2020", start=ORIGIN, months=1, runs=runs,
                             seed=3, posterior=p) for p in (flat, tilted)]
    inc = [o[(o["region"] == "IQ") & (o["series"] == "incidents")]["value"].sum() for o in out]
    _, d = history_setup(IRAQ_2020, UNTIL, ORIGIN, fit=True)
    a, b = (w.astype(float) for w in d.drift_windows["rate_musings"])
    tau_end = (b - 0.5 * (a + b)) / 365.25
    assert tau_end == pytest.approx(0.46, abs=0.01)
    assert inc[1] / inc[0] == pytest.approx(np.exp(tau_end), rel=0.08)


def _design(y_snaps: list[np.ndarray], k: float = 10.0) -> obsmodel.ObsDesign:
    """A bare design of governorate snapshots (what :func:`obsmodel.share_term` reads)."""
    y = np.concatenate(y_snaps)
    snap = np.concatenate([np.full(len(s), i) for i, s in enumerate(y_snaps)])
    K = len(y)
    return obsmodel.ObsDesign(
        rows=pd.DataFrame({"value": y}), weights=np.zeros((1, K)),
        region_index=np.zeros(K, int), quantity=np.array(["is+militia"] * K),
        rate=np.array(["rate_musings"] * K), background=np.array([""] * K),
        months=np.ones(K), dispersion=np.full(K, k), snapshot=snap)


SHARES = np.array([0.30, 0.20, 0.15, 0.12, 0.10, 0.06, 0.04, 0.02, 0.01])


def _dm_counts(rng, n_snap: int, N: int, k: float = 10.0) -> list[np.ndarray]:
    """Snapshots of ``N`` counts from the Dirichlet-multinomial of concentration ``k``."""
    return [rng.multinomial(N, rng.dirichlet(k * SHARES)).astype(float) for _ in range(n_snap)]


def test_share_term_is_about_one_when_the_shares_are_right_whatever_the_count():
    # media snapshots are over-dispersed like the source's levels: the term reads them as a
    # Dirichlet-multinomial of the source's concentration, so a right model scores about 1
    # at 30 or at 600 incidents a snapshot (the multinomial deviance alone grows with N)
    rng = np.random.default_rng(4)
    for N in (30, 600):
        d = _design(_dm_counts(rng, 40, N))
        t = obsmodel.share_term(d, np.tile(SHARES, 40)[None, :] * N)[0]
        assert 0.5 < t < 2.0, (N, t)
    wrong = np.tile(SHARES[::-1], 40)[None, :] * 600  # the geography reversed
    assert obsmodel.share_term(d, wrong)[0] > 5.0


def test_share_term_does_not_reward_a_level_above_the_reports():
    """Scored on noisy simulated counts (as the ABC does), a simulation with the right
    shares at four times the reported level must not score better than one at the reported
    level: before the pseudo-count, each governorate a low simulation drew at zero cost ~20
    units of deviance per reported incident there, so the share term rewarded high levels."""
    rng = np.random.default_rng(7)
    N = 40
    d = _design(_dm_counts(rng, 12, N))
    mu = np.tile(SHARES, 12)[None, :] * N
    runs = 400
    u = rng.random((runs, mu.shape[1]))
    terms = [obsmodel.share_term(d, obsmodel.draw(np.repeat(f * mu, runs, axis=0),
                                                  d.dispersion[None, :], u).astype(float))
             for f in (1.0, 4.0)]
    at_level, above = (float(np.mean(t)) for t in terms)
    assert above > 0.8 * at_level
    # a governorate the model leaves empty costs a bounded amount
    empty = mu.copy()
    empty[0, 8] = 0.0
    assert obsmodel.share_term(d, empty)[0] - obsmodel.share_term(d, mu)[0] < 1.0
