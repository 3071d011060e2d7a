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


def test_forecast_only_parameters_keep_their_prior(small_fit):
    """The data cannot speak to what acts only after them: the forecast-only parameters'
    posterior draws are fresh prior draws, whatever the ABC did (the same with 2 or 3
    generations), while a fitted parameter's draws change with the fit."""
    from scipy import stats

    from resurgence.calibration.cases import IRAQ_2020
    from resurgence.calibration.posterior import full_specs

    shorter = calibrate("iraq-2020", until=UNTIL, particles=48, generations=2, seed=5)
    a, b = small_fit.posterior.draws, shorter.posterior.draws
    only = list(IRAQ_2020.forecast_only)
    pd.testing.assert_frame_equal(a[only], b[only])
    assert not np.allclose(a["rate_musings"], b["rate_musings"])
    spec = {p.name: p for p in full_specs()}["musings_walk"]
    assert stats.kstest(a["musings_walk"], spec.prior.dist().cdf).pvalue > 0.01


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


def test_trend_term_tells_a_flat_path_from_a_falling_one():
    # levels alone score a flat path through a falling series about as well as one that
    # falls with it; the trend term penalises the flat one
    from resurgence.calibration import obsmodel

    _, design = history_setup(IRAQ_2020, dt.date(2020, 9, 30))
    mu_true = np.maximum(design.y, 1.0)[None, :]
    sel = ((design.rows["granularity"] == "month") & (design.region_index < 0)).to_numpy()
    groups = design.rows["group"].to_numpy()
    flat = mu_true.copy()
    for g in np.unique(groups[sel]):  # each monthly series replaced by its own mean
        cols = sel & (groups == g)
        flat[0, cols] = mu_true[0, cols].mean()
    t_true = obsmodel.trend_terms(design, mu_true)
    t_flat = obsmodel.trend_terms(design, flat)
    assert len(t_true) >= 2 and max(float(x[0]) for x in t_true) < 1e-9
    assert sum(float(x[0]) for x in t_flat) > 1.0
    assert obsmodel.distance(design, flat)[0] > obsmodel.distance(design, mu_true)[0]


def test_abc_says_why_it_stopped_and_fits_every_uncertain_parameter(small_fit):
    meta = small_fit.posterior.meta
    assert meta["stopped"] in ("generations", "acceptance", "converged")
    assert meta["identifiable"] == list(IRAQ_2020.calibrated)
    cols = set(small_fit.posterior.draws.columns)
    # the unidentified mechanism parameters travel with the draws (uncertain, not fixed)...
    assert {"influence_rate", "pressure_militia", "elast_mediation"} <= cols
    assert small_fit.posterior.draws["influence_rate"].std() > 0
    # ...and constants stay constants
    assert "troops_ref" not in cols
    converged = calibrate("iraq-2020", until=UNTIL, particles=48, generations=30, seed=5,
                          min_improvement=0.5)
    assert converged.posterior.meta["stopped"] == "converged"
    assert len(converged.generations) < 30


def test_the_fit_reads_each_fact_once():
    from resurgence.calibration import obsmodel

    _, fit = history_setup(IRAQ_2020, IRAQ_2020.until, dt.date(2020, 12, 1), fit=True)
    _, every = history_setup(IRAQ_2020, IRAQ_2020.until)
    r = fit.rows
    nat = r[(r["region"] == "IQ") & (r["role"] == "level")]
    assert not (nat["granularity"] == "week").any()  # weekly snapshots are not levels
    for (_src, _met), g in nat.groupby(["source", "metric"]):  # no month counted twice
        months = [m for a, b in zip(g["period_start"], g["period_end"], strict=True)
                  for m in pd.period_range(a, b, freq="M")]
        assert len(months) == len(set(months))
    # Musings 2019: months Jan-Apr, then the year's remainder over May-Dec
    rem = nat[(nat["source"] == "musings") & (nat["granularity"] == "year remainder")
              & (nat["period_end"] == pd.Timestamp("2019-12-31"))]
    y19 = every.rows[(every.rows["source"] == "musings") & (every.rows["metric"] == "incidents")
                     & (every.rows["region"] == "IQ") & (every.rows["granularity"] == "year")
                     & (every.rows["period_start"] == pd.Timestamp("2019-01-01"))]["value"].iloc[0]
    months19 = nat[(nat["source"] == "musings") & (nat["granularity"] == "month")
                   & (nat["period_start"].dt.year == 2019)]["value"].sum()
    assert rem["period_start"].iloc[0] == pd.Timestamp("2019-05-01")
    assert rem["value"].iloc[0] == pytest.approx(y19 - months19)
    # governorate media snapshots are shares: a model with the right shares but half the
    # level scores the same share term
    assert (fit.snapshot >= 0).sum() > 20
    mu = np.maximum(fit.y, 0.5)[None, :]
    a, b = obsmodel.share_term(fit, mu), obsmodel.share_term(fit, 0.5 * mu)
    assert a[0] == pytest.approx(b[0]) and a[0] < 0.5
    skew = mu.copy()
    skew[0, fit.snapshot >= 0] = 1.0  # uniform shares
    assert obsmodel.share_term(fit, skew)[0] > 5 * a[0] + 0.5
    # vintage: the CTC 2020 Q2-Q3 counts (published January 2022) are not fitted
    ctc = r[(r["source"] == "ctc") & (r["granularity"] == "quarter")]
    assert ctc["period_start"].max() < pd.Timestamp("2020-04-01")


def test_calibrate_scores_observations_drawn_with_noise():
    # standard ABC: each simulation is scored on observations drawn around its expectation
    # (the SBC finding), each run from its own stream
    from resurgence.calibration.inference import _score

    _, design = history_setup(IRAQ_2020, UNTIL, fit=True)
    W = design.weights.shape[0]
    arrays = {"is_attacks": np.full((3, W, 18), 2.0, np.float32),
              "militia_attacks_us": np.zeros((3, W, 18), np.float32)}
    from resurgence.calibration.posterior import full_specs
    from resurgence.model.params import ParamSet

    params = ParamSet.defaults(full_specs(), 3)
    exact = _score(arrays, params, np.arange(3), design=design)
    noisy = _score(arrays, params, np.arange(3), design=design, seed=1, simulate_noise=True)
    again = _score(arrays, params, np.arange(3), design=design, seed=1, simulate_noise=True)
    assert np.all(exact == exact[0])  # identical runs, identical expectations
    assert len(set(noisy.tolist())) == 3  # but each run draws its own observations
    np.testing.assert_array_equal(noisy, again)


def test_reporting_ratios_drift_across_their_reports_and_are_held_after():
    from resurgence.calibration import drift, obsmodel

    win = (np.datetime64("2018-01-01"), np.datetime64("2019-12-31"))
    weeks = np.datetime64("2017-06-05") + 7 * np.arange(200)
    r = drift.ratio(weeks, win, np.array([0.0, -0.8]))
    assert np.all(r[0] == 1.0)  # no drift, no change
    inside = (weeks >= win[0]) & (weeks + 3 <= win[1])
    assert np.all(np.diff(r[1, inside]) < 0)  # falls across the window
    after, before = weeks > win[1], weeks + 4 < win[0]
    assert np.allclose(r[1, after], r[1, after][0]) and np.allclose(r[1, before], r[1, before][0])
    assert r[1, after][0] == pytest.approx(np.exp(-0.8), rel=0.02)  # half a year past the middle
    # the observation model applies each drift to its own series' rows only
    _, d = history_setup(IRAQ_2020, dt.date(2020, 11, 30), fit=True)
    W = d.weights.shape[0]
    arrays = {"is_attacks": np.ones((2, W, 18), np.float32),
              "militia_attacks_us": np.zeros((2, W, 18), np.float32)}
    from resurgence.calibration.posterior import full_specs
    from resurgence.model.params import ParamSet

    ps = ParamSet.defaults(full_specs(), 2).with_overrides({"musings_drift": np.array([0.0, -0.8])})
    mu = obsmodel.expected(d, arrays, ps.values)
    late = (d.rows["period_end"] > pd.Timestamp("2019-06-30")).to_numpy()
    mus = (d.rate == "rate_musings") & late
    ctc = d.rate == "rate_ctc"
    deaths = (d.rate == "sb_deaths_per_attack") & late
    assert np.all(mu[1, mus] < 0.8 * mu[0, mus]) and np.allclose(mu[1, ctc], mu[0, ctc])
    assert np.allclose(mu[1, deaths], mu[0, deaths])
    up = ps.with_overrides({"musings_drift": np.zeros(2), "ucdp_deaths_drift": np.array([0.0, 0.5])})
    mu = obsmodel.expected(d, arrays, up.values)
    every = d.rate == "sb_deaths_per_attack"
    bg = up.values["sb_deaths_background"][0] * d.months[every]  # the background does not drift
    tilt = (mu[1, every] - bg) / (mu[0, every] - bg)  # months in order, 2018-01 on
    assert np.all(np.diff(tilt) > 0) and tilt[0] < 0.55 and tilt[-1] > 1.8
    assert np.allclose(mu[1, mus], mu[0, mus]) and np.allclose(mu[1, ctc], mu[0, ctc])


def test_forecasts_carry_the_musings_ratio_and_widen_with_its_walk():
    from resurgence.calibration.drift import ratio_path
    from resurgence.calibration.forecast import month_bounds
    from resurgence.calibration.posterior import full_specs
    from resurgence.model.params import ParamSet

    win = (np.datetime64("2018-01-01"), np.datetime64("2019-12-31"))
    ps_, pe_ = month_bounds(dt.date(2020, 12, 1), 36)
    runs = np.arange(400)
    held = ParamSet.defaults(full_specs(), 400).with_overrides(
        {"musings_drift": np.full(400, -0.8), "musings_walk": np.zeros(400),
         "musings_persist": np.zeros(400)})

    def musings_path(ps, *a, **k):
        return ratio_path(ps.values, "rate_musings", *a, **k)

    m = musings_path(held, runs, win, ps_, pe_, seed=3)
    assert np.allclose(m, m[0, 0]) and m[0, 0] == pytest.approx(np.exp(-0.8), rel=0.02)
    # the drift goes on after the last report, damped: drift x p x (1 - exp(-s / p)) more
    since = ((ps_.astype(float) + pe_.astype(float)) / 2 - win[1].astype(float)) / 365.25
    for p in (0.5, 2.0):
        go = np.log(musings_path(held.with_overrides({"musings_persist": np.full(400, p)}),
                                 runs, win, ps_, pe_, seed=3))
        np.testing.assert_allclose(go[0] - np.log(m[0]), -0.8 * p * (1 - np.exp(-since / p)),
                                   rtol=1e-9)
        assert (np.diff(go[0]) < 0).all() and go[0, -1] - np.log(m[0, -1]) > -0.8 * p
    rising = held.with_overrides({"musings_drift": np.full(400, 0.5),
                                  "musings_persist": np.full(400, 1.0)})
    assert (np.diff(musings_path(rising, runs, win, ps_, pe_, seed=3)[0]) > 0).all()
    walk = held.with_overrides({"musings_walk": np.full(400, 0.3)})
    w = np.log(musings_path(walk, runs, win, ps_, pe_, seed=3))
    sd_first, sd_last = w[:, 0].std(), w[:, -1].std()
    # ~0.3 * sqrt(years since the last report): ~0.29 after 0.95 years, ~0.6 after 3.9
    assert 0.22 < sd_first < 0.36 and 0.5 < sd_last < 0.72
    np.testing.assert_array_equal(w, np.log(musings_path(walk, runs, win, ps_, pe_, seed=3)))
    # UCDP's deaths and events share one walk of their own (not Musings'), ~0.15 sqrt(years)
    ucdp = held.with_overrides({"ucdp_walk": np.full(400, 0.15)})
    dth, evt = (np.log(ratio_path(ucdp.values, r, runs, win, ps_, pe_, seed=3))
                for r in ("sb_deaths_per_attack", "sb_events_per_attack"))
    np.testing.assert_array_equal(dth, evt)
    assert 0.22 < dth[:, -1].std() < 0.38 and abs(np.corrcoef(dth[:, -1], w[:, -1])[0, 1]) < 0.2


def test_ucdp_event_noise_is_bounded_by_the_months_before_the_first_origin():
    """The reporting noise of UCDP's state-based events is no wider than the months before
    2018 show (their variance around a 5-month moving mean, which also holds the attacks'
    own noise), and narrower than that of deaths, whose months swing with one attack's toll."""
    from resurgence.calibration import obsmodel

    obs = case_observations(IRAQ_2020, dt.date(2017, 12, 31), published_before=dt.date(2018, 7, 1))
    sizes = {}
    for metric in ("sb_events", "sb_deaths"):
        y = (obs[(obs["source"] == "ged_cm") & (obs["metric"] == metric) & (obs["region"] == "IQ")
                 & (obs["period_start"] >= "2010-01-01") & (obs["period_start"] < "2014-01-01")]
             .sort_values("period_start")["value"].astype(float).reset_index(drop=True))
        assert len(y) == 48, metric
        lev = y.rolling(5, center=True, min_periods=3).mean()
        var = float(((y - lev) ** 2).mean() * 5 / 4)
        sizes[metric] = float(lev.mean()) ** 2 / (var - float(lev.mean()))
    events, deaths = obsmodel.dispersion("ged_cm", "sb_events"), obsmodel.dispersion("ged_cm", "sb_deaths")
    assert events == pytest.approx(sizes["sb_events"], rel=0.05)  # the documented derivation
    assert deaths <= sizes["sb_deaths"] and deaths < events
    # a row's noise reads its metric: events and deaths of the same source differ
    ged = obs[(obs["source"] == "ged_cm") & (obs["period_start"] >= "2017-01-01")]
    weeks = np.arange(np.datetime64("2017-01-02"), np.datetime64("2018-01-01"), 7)
    d = obsmodel.design(ged, weeks, ("IQ-BG",), "IQ")
    assert len(d.rows) > 0 and set(d.dispersion.tolist()) == {events, deaths}
    assert (d.dispersion[(d.rows["metric"] == "sb_events").to_numpy()] == events).all()


def _tilted(rows, slope: float) -> pd.DataFrame:
    """The case's reports with the ``rows`` tilted by ``exp(slope * tau)``, tau in years
    from 2019-06-15 (counts rounded), every other row as reported."""
    real = case_observations(IRAQ_2020, IRAQ_2020.until)
    tau = ((pd.to_datetime(real["period_start"]) - pd.Timestamp("2019-06-15")).dt.days
           / 365.25).to_numpy()
    m = rows(real).to_numpy()
    obs = real.copy()
    obs.loc[m, "value"] = np.round(obs.loc[m, "value"] * np.exp(slope * tau[m]))
    return obs


def test_the_fit_recovers_a_tilted_ucdp_deaths_ratio(monkeypatch):
    """Synthetic truth for the reporting drift: the case's own reports with UCDP's monthly
    deaths tilted by exp(+-0.8 tau) (tau in years from the middle of their span), every other
    row as reported. A fit that reads the drift finds it: the two posteriors of
    ``ucdp_deaths_drift`` are ordered and far apart, while the events' drift, whose rows did
    not change, moves much less (a fit without the drift would have to bend the attacks
    instead, and CTC, Musings and the events would not let it)."""
    import resurgence.calibration.inference as inf

    medians = {}
    for tilt in (-0.8, 0.8):
        obs = _tilted(lambda r: (r["source"] == "ged_cm") & (r["metric"] == "sb_deaths")
                      & (r["region"] == "IQ"), tilt)
        monkeypatch.setattr(inf, "case_observations", lambda *a, _o=obs, **k: _o)
        res = inf.calibrate("iraq-2020", particles=200, generations=6, seed=5)
        medians[tilt] = res.posterior.draws[["ucdp_deaths_drift", "ucdp_events_drift"]].median()
    gap = medians[0.8] - medians[-0.8]
    # a reduced fit (200 particles, 6 generations) moves part of the way from the prior: the
    # gap is 0.57-0.60 at seeds 5-7 (a true gap of 1.6); the events' drift leans the other
    # way, by 0.02-0.32 (the attacks take a little of the tilt)
    assert gap["ucdp_deaths_drift"] > 0.4, medians
    assert abs(gap["ucdp_events_drift"]) < 0.6 * gap["ucdp_deaths_drift"], medians


@pytest.mark.parametrize("slope", [-0.6, 0.6])
def test_the_simulator_fitted_to_a_synthetic_decline_or_rise(slope, monkeypatch):
    """Synthetic truth for the simulator itself (issue #9, item 8): the case's reports from
    2018 on tilted by exp(slope * tau) (every source: a world where violence fell, or rose,
    60% a year faster than it did), a reduced fit, then the simulator's 12-month forecast
    from 2020-12-01, against the synthetic continuation of UCDP's deaths and events (the last
    six tilted months' mean carried on at the tilt).

    Declining world (fit seeds 3-6 on 2026-12-02): the 80% intervals cover 10-12 of the 12
    months of both continuations, the second half of 2021 is below the first (H2/H1
    0.86-0.95) and the CTC-scale year is 1,165-1,561 attacks. Rising world: the level is far
    above (2,323-3,153) and the deaths' continuation is covered in 7-11 months, but the
    simulator forecasts a plateau, not a rise (H2/H1 0.94-1.06), and the events' rising
    continuation leaves the interval (0-8 of 12 months), which is not asserted.
    docs/calibration.md records the limit.
    """
    import resurgence.calibration.forecast as fc
    import resurgence.calibration.inference as inf

    obs = _tilted(lambda r: pd.to_datetime(r["period_start"]) >= "2018-01-01", slope)
    monkeypatch.setattr(inf, "case_observations", lambda *a, **k: obs)
    monkeypatch.setattr(fc, "case_observations", lambda *a, **k: obs)
    post = inf.calibrate("iraq-2020", particles=150, generations=5, seed=3).posterior
    out = fc.simulate_forecast("iraq-2020", "announced-2500", start=dt.date(2020, 12, 1),
                               months=12, runs=150, seed=3, posterior=post)
    nat = out[out["region"] == "IQ"]
    halves, cover = {}, {}
    for series, metric in (("ged_sb_deaths", "sb_deaths"), ("ged_sb_events", "sb_events")):
        x = nat[nat["series"] == series].pivot(index="run", columns="period_start",
                                               values="value").to_numpy()
        months = obs[(obs["source"] == "ged_cm") & (obs["metric"] == metric)
                     & (obs["region"] == "IQ")].sort_values("period_start").tail(6)
        cont = months["value"].mean() * np.exp(slope * (np.arange(12) + 4.5) / 12)
        lo, hi = np.quantile(x, [0.1, 0.9], axis=0)
        cover[series] = (cont >= lo) & (cont <= hi)
        halves[series] = np.median(x[:, 6:].sum(axis=1)) / np.median(x[:, :6].sum(axis=1))
    ctc = nat[nat["series"] == "is_attacks_ctc"].groupby("run")["value"].sum().median()
    if slope < 0:
        assert all(c.mean() >= 0.8 for c in cover.values()), cover
        assert all(r < 0.97 for r in halves.values()), halves
        assert ctc < 1700, ctc
    else:
        assert cover["ged_sb_deaths"].mean() >= 0.5, cover
        assert all(0.85 < r < 1.15 for r in halves.values()), halves  # a plateau, not a rise
        assert ctc > 2000, ctc
