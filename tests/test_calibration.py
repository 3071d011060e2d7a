"""Calibration, posterior files, forecasts in the DESIGN section 7 contract, backtest."""

from __future__ import annotations

import datetime as dt

import numpy as np
import pandas as pd
import pytest
from typer.testing import CliRunner

from resurgence.calibration.backtest import as_known, backtest
from resurgence.calibration.cases import IRAQ_2020, case_observations
from resurgence.calibration.forecast import SERIES, forecast
from resurgence.calibration.inference import Space, calibrate, history_setup
from resurgence.calibration.posterior import Posterior, shipped
from resurgence.cli.app import app
from resurgence.model.params import beta, lognormal, uniform
from resurgence.runs.ensemble import resolve

UNTIL = dt.date(2019, 6, 30)


@pytest.fixture(scope="module")
def small_fit():
    return calibrate("iraq-2020", until=UNTIL, particles=48, generations=3, seed=5)


def test_same_seed_same_posterior(small_fit):
    again = calibrate("iraq-2020", until=UNTIL, particles=48, generations=3, seed=5)
    pd.testing.assert_frame_equal(small_fit.posterior.draws, again.posterior.draws)
    other = calibrate("iraq-2020", until=UNTIL, particles=48, generations=2, seed=6)
    assert not np.allclose(other.posterior.draws.to_numpy()[:10],
                           small_fit.posterior.draws.to_numpy()[:10])


def test_abc_tightens_tolerance_and_keeps_diversity(small_fit):
    gens = small_fit.generations
    eps = [g.epsilon for g in gens[1:]]
    assert all(b < a for a, b in zip(eps, eps[1:], strict=False))
    assert gens[-1].ess > 0.3 * 48  # distinct particles survive the moves
    assert small_fit.posterior.until == UNTIL


def test_only_data_before_until_informs_the_fit():
    _, design = history_setup(IRAQ_2020, UNTIL)
    assert (design.rows["period_end"].dt.date <= UNTIL).all()
    obs = case_observations(IRAQ_2020, IRAQ_2020.until)
    assert (obs["period_end"].dt.date <= dt.date(2020, 11, 30)).all()


def test_space_round_trip_and_prior_density():
    sp = Space([], [lognormal(3.0, 0.5), beta(2, 5), uniform(-1.0, 4.0)])
    theta = np.array([[2.0, 0.3, 1.5], [5.0, 0.9, -0.5]])
    np.testing.assert_allclose(sp.from_z(sp.to_z(theta)), theta, rtol=1e-9)
    z = np.random.default_rng(0).normal(size=(20000, 3)) * 3
    # density in z-space integrates to ~1 per dimension: check via importance sampling
    logq = -0.5 * (z / 3) ** 2 - np.log(3 * np.sqrt(2 * np.pi))
    w = np.exp(sp.log_prior_z(z) - logq.sum(axis=1))
    assert w.mean() == pytest.approx(1.0, rel=0.1)


def test_posterior_file_round_trip(tmp_path, small_fit):
    path = small_fit.posterior.save(tmp_path / "p.csv")
    back = Posterior.load(path)
    assert back.until == UNTIL and back.start == IRAQ_2020.history_start
    pd.testing.assert_frame_equal(back.draws, small_fit.posterior.draws, atol=1e-5, check_exact=False)
    ps = back.paramset(np.arange(5))
    assert ps.runs == 5 and ps.values["attack_rate"][0] == pytest.approx(back.draws["attack_rate"][0], rel=1e-6)
    bad = tmp_path / "bad.csv"
    bad.write_text('# {"case": "iraq-2020", "start": "2018-01-01", "until": "2019-01-01"}\nnot_a_param\n1\n')
    with pytest.raises(ValueError, match="not_a_param"):
        Posterior.load(bad)


def test_shipped_posterior_is_for_the_case():
    post = shipped("iraq-2020")
    assert post is not None and post.size >= 1000
    assert post.until == dt.date(2020, 11, 30) and post.start == dt.date(2018, 1, 1)


def test_forecast_contract(small_fit):
    fc = forecast("iraq-2020", "announced-2500", start=dt.date(2019, 7, 1), months=4, runs=12,
                  seed=7, posterior=small_fit.posterior)
    assert list(fc.columns) == ["run", "period_start", "period_end", "region", "series", "value"]
    assert fc.attrs["method"] == "blend"  # the default everywhere
    assert set(fc["series"]) == set(SERIES)
    assert set(fc["run"]) == set(range(12))
    assert "IQ" in set(fc["region"]) and "IQ-NI" in set(fc["region"])
    ged = fc[fc["series"] == "ged_sb_deaths"]
    assert set(ged["region"]) == {"IQ"}
    months = sorted(set(fc["period_start"]))
    assert months[0] == dt.date(2019, 7, 1) and len(months) == 4
    assert all(e.day >= 28 for e in fc["period_end"])
    # national IS attacks = sum of governorates
    a = fc[fc["series"] == "is_attacks"]
    nat = a[a["region"] == "IQ"].set_index(["run", "period_start"])["value"]
    reg = a[a["region"] != "IQ"].groupby(["run", "period_start"])["value"].sum()
    np.testing.assert_allclose(nat.sort_index(), reg.sort_index())
    again = forecast("iraq-2020", "announced-2500", start=dt.date(2019, 7, 1), months=4, runs=12,
                     seed=7, posterior=small_fit.posterior)
    pd.testing.assert_frame_equal(fc, again)


def test_forecast_refuses_data_after_start(small_fit):
    with pytest.raises(ValueError, match="only use data before its start"):
        forecast("iraq-2020", start=dt.date(2019, 6, 1), months=2, runs=4,
                 posterior=small_fit.posterior)


def test_as_known_drops_the_future():
    sc = resolve("iraq-2020")
    known = as_known(sc, dt.date(2019, 7, 1))
    assert all(p[0] < dt.date(2019, 7, 1) for p in known.schedule("troops"))
    assert not [s for s in known.shocks if s.date >= dt.date(2019, 7, 1)]
    assert {b.name for b in known.bases} >= {"Taji", "K1"}  # 2020 handovers not foreseen


def test_backtest_scores_against_baselines():
    res = backtest(origins=[dt.date(2020, 1, 1)], horizon=3, particles=40, generations=2, runs=40)
    s = res.scores
    assert {"simulator", "baseline", "blend", "no-change", "log-linear trend",
            "seasonal climatology"} <= set(s["method"])
    assert np.isfinite(s["crps"]).all() and (s["crps"] >= 0).all()
    assert set(s["horizon"]) <= {1, 2, 3}
    by = res.by_source()
    best = by[by["method"] == by["best_naive"]]
    assert (best["skill_vs_best_naive"] == 0).all()


@pytest.mark.parametrize("method", ["baseline", "blend"])
def test_forecast_methods_keep_the_contract(small_fit, method):
    fc = forecast("iraq-2020", "announced-2500", start=dt.date(2019, 7, 1), months=4, runs=12,
                  seed=7, posterior=small_fit.posterior, method=method)
    assert list(fc.columns) == ["run", "period_start", "period_end", "region", "series", "value"]
    assert set(fc["run"]) == set(range(12)) and fc.attrs["method"] == method
    assert len(set(fc["period_start"])) == 4 and (fc["value"] >= 0).all()
    if method == "blend":
        assert set(fc["series"]) == set(SERIES) and "IQ-NI" in set(fc["region"])
        sim = forecast("iraq-2020", "announced-2500", start=dt.date(2019, 7, 1), months=4,
                       runs=12, seed=7, posterior=small_fit.posterior, method="simulator")
        same = ["is_fighters", "iran_influence", "militia_attacks_us"]
        pd.testing.assert_frame_equal(fc[fc["series"].isin(same)], sim[sim["series"].isin(same)])
    else:
        assert set(fc["region"]) == {"IQ"}
        assert {"incidents", "is_attacks_ctc", "ged_sb_deaths", "ged_sb_events"} <= set(fc["series"])
    with pytest.raises(ValueError, match="method"):
        forecast("iraq-2020", start=dt.date(2019, 7, 1), months=2, runs=4,
                 posterior=small_fit.posterior, method="oracle")


def test_cli_forecast_rejects_bad_suffix(tmp_path):
    r = CliRunner().invoke(app, ["forecast", "--runs", "4", "--months", "1", "--out",
                                 str(tmp_path / "f.txt")])
    assert r.exit_code == 2
    assert "--out" in r.output and "Traceback" not in r.output
    assert not (tmp_path / "f.txt").exists()
