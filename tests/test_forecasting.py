"""Vintage discipline, the statistical baseline (synthetic-truth recovery), the blend and
the backtest on every source."""

from __future__ import annotations

import datetime as dt

import numpy as np
import pandas as pd
import pytest

from resurgence.calibration import baseline as bl
from resurgence.calibration.backtest import backtest, default_origins, vintage
from resurgence.calibration.blend import blend, pool
from resurgence.calibration.cases import IRAQ_2020, case_observations
from resurgence.calibration.observations import ObservationError, load_observations

D = dt.date


@pytest.mark.parametrize("origin", [*default_origins(), D(2020, 12, 1)])
def test_an_origin_never_sees_a_row_published_after_it(origin):
    v = vintage(IRAQ_2020, origin)
    assert len(v) > 0
    assert (v["published"] < pd.Timestamp(origin)).all()
    assert (v["period_end"] < pd.Timestamp(origin)).all()


def test_ctc_2020_q2_q3_published_in_2022_are_not_known_in_2020():
    full = case_observations(IRAQ_2020, IRAQ_2020.until)
    v = vintage(IRAQ_2020, D(2020, 12, 1))
    q2 = (full["source"] == "ctc") & (full["period_start"] == "2020-04-01")
    assert q2.sum() == 1 and full.loc[q2, "published"].iat[0] == pd.Timestamp("2022-01-31")
    ctc = v[v["source"] == "ctc"]
    assert set(ctc["period_start"].dt.date) == {D(2018, 1, 1), D(2019, 1, 1), D(2020, 1, 1)}
    # CTC Sentinel May 2020: nothing of it before June 2020
    assert (vintage(IRAQ_2020, D(2020, 5, 1))["source"] != "ctc").all()


def test_published_column_filled_by_rule_and_checked(tmp_path):
    head = "source,metric,region,period_start,period_end,granularity,value,note\n"
    p = tmp_path / "o.csv"
    p.write_text(head + "musings,incidents,IQ,2019-03-01,2019-03-31,month,61,x\n")
    df = load_observations(path=p)
    assert df["published"].iat[0] == pd.Timestamp("2019-04-07")
    p.write_text(head.strip() + ",published\n"
                 "musings,incidents,IQ,2019-03-01,2019-03-31,month,61,x,2019-03-15\n")
    with pytest.raises(ObservationError, match="published"):
        load_observations(path=p)
    p.write_text(head.strip() + ",published\n"
                 "musings,incidents,IQ,2019-03-01,2019-03-31,month,61,x,2019-04-10\n")
    assert load_observations(path=p, published_before=D(2019, 4, 10)).empty
    assert len(load_observations(path=p, published_before=D(2019, 4, 11))) == 1


def test_partition_is_non_overlapping_and_uses_no_weeks():
    obs = case_observations(IRAQ_2020, IRAQ_2020.until)
    part = bl.partition(obs, D(2018, 1, 1), D(2020, 11, 30))
    for _col, g in part.groupby("column"):
        months = [m for ms in g["months"] for m in ms]
        assert len(months) == len(set(months))
    assert "week" not in set(part["granularity"])
    inc = part[part["column"] == "incidents"]
    # 2019: four months and the remainder of the year total over May-December
    rem = inc[inc["months"].map(lambda m: 16 in m)]
    assert rem["granularity"].iat[0] == "year remainder"
    assert rem["value"].iat[0] == pytest.approx(1131.5 - (114 + 117 + 61 + 99))


END = D(2020, 11, 30)


def _synthetic(slope: float, seed: int, end: D = END) -> pd.DataFrame:
    """UCDP-like monthly deaths and events, Musings months and CTC years around a latent
    log intensity with a steady trend, Poisson-lognormal noise."""
    rng = np.random.default_rng(seed)
    months = pd.period_range("2018-01", end.strftime("%Y-%m"), freq="M")
    x = np.log(150.0) + slope * np.arange(len(months)) + np.cumsum(rng.normal(0, 0.03, len(months)))
    rows = []
    for (src, met), ratio, sd in ((("ged_cm", "sb_deaths"), 0.4, 0.3),
                                  (("ged_cm", "sb_events"), 0.15, 0.2),
                                  (("musings", "incidents"), 1.2, 0.1)):
        y = rng.poisson(np.exp(x + np.log(ratio) + rng.normal(0, sd, len(months))))
        for p, v in zip(months, y, strict=True):
            rows.append((src, met, p.start_time, p.end_time.normalize(), "month", float(v)))
    lam = np.exp(x)
    for yr in (2018, 2019):
        sel = months.year == yr
        rows.append(("ctc", "is_attacks", pd.Timestamp(f"{yr}-01-01"), pd.Timestamp(f"{yr}-12-31"),
                     "year", float(rng.poisson(lam[sel].sum()))))
    df = pd.DataFrame(rows, columns=["source", "metric", "period_start", "period_end",
                                     "granularity", "value"])
    df["region"] = "IQ"
    return df


@pytest.mark.parametrize("slope", [-0.05, 0.05])
def test_baseline_recovers_a_synthetic_decline_and_rise(slope):
    """Four synthetic histories per direction: the 80% interval of the next six months
    covers the synthetic continuation (at least 9 of 12 source-histories) and the median
    path keeps going the synthetic's way (every history, both series)."""
    origin = D(2020, 6, 1)
    covered, checks = 0, 0
    for seed in (1, 2, 3, 4):
        df = _synthetic(slope, seed=seed)
        bf = bl.fit(df[df["period_end"] < pd.Timestamp(origin)], origin)
        paths = bl.simulate(bf, 12, 600, seed=1)
        for col, met in (("ged_sb_deaths", "sb_deaths"), ("ged_sb_events", "sb_events"),
                         ("incidents", "incidents")):
            s = df[df["metric"] == met].set_index("period_start")["value"]
            truth = s[s.index >= pd.Timestamp(origin)].iloc[:6].sum()
            lo, hi = np.quantile(paths[col][:, :6].sum(axis=1), [0.1, 0.9])
            covered += int(lo <= truth <= hi)
            checks += 1
            if col != "ged_sb_events":
                first, second = (np.median(paths[col][:, a:a + 6].sum(axis=1)) for a in (0, 6))
                assert (second < first) if slope < 0 else (second > first), (seed, col)
    assert covered >= 9, f"{covered} of {checks} covered"


def _flat_simulator(level: dict[str, float]):
    """A stand-in simulator that does not follow the data: every series flat at a fixed
    level with 30% lognormal noise (the contract's national rows)."""
    def sim(c, o, horizon, runs, seed, *args):
        rng = np.random.default_rng(seed)
        ps = pd.date_range(pd.Timestamp(o), periods=horizon, freq="MS")
        rows = [(r, p.date(), (p + pd.offsets.MonthEnd(0)).date(), "IQ", ser,
                 float(rng.poisson(v * np.exp(0.3 * rng.standard_normal()))))
                for ser, v in level.items() for r in range(runs) for p in ps]
        return pd.DataFrame(rows, columns=["run", "period_start", "period_end", "region",
                                           "series", "value"])
    return sim


@pytest.mark.parametrize("slope", [-0.05, 0.05])
def test_default_forecast_blend_follows_a_synthetic_decline_and_rise(slope, monkeypatch):
    """The default method (the blend) in a synthetic world: a synthetic history that
    declines or rises by 5%/month, and a simulator that stays flat at the 2018 level. Run
    through the backtest (vintage, pool weights learned only from the targets that ended
    before each origin), the blend at the last origin gives the flat simulator less than a
    third of the weight, its 80% intervals cover at least 70% of the next twelve months of
    UCDP deaths and events and Musings, and its median keeps going the synthetic's way."""
    import resurgence.calibration.backtest as bt

    origins = [D(2019, 1, 1), D(2019, 7, 1), D(2020, 1, 1)]
    df = _synthetic(slope, seed=1)
    df["published"] = df["period_end"] + pd.Timedelta(days=7)
    monkeypatch.setattr(bt, "case_observations", lambda c, until, **k: df)
    monkeypatch.setattr(bt, "vintage", lambda c, o: df[df["published"] < pd.Timestamp(o)])
    monkeypatch.setattr(bt, "_simulator", _flat_simulator(
        {"ged_sb_deaths": 60.0, "ged_sb_events": 22.0, "incidents": 180.0, "is_attacks_ctc": 150.0}))
    res = bt.backtest(origins=origins, horizon=12, runs=200, seed=1)
    # the weights at each origin are those of the targets that ended before it only
    assert res.weights[origins[0].isoformat()] == dict.fromkeys(res.weights[origins[0].isoformat()], 0.5)
    for o in origins:
        assert res.weights[o.isoformat()] == bt.blend_weights(res.pool_terms, before=o)
    last = res.weights[origins[-1].isoformat()]
    assert max(last[s] for s in ("ged_sb_deaths", "ged_sb_events", "incidents")) < 1 / 3, last
    s = res.scores[(res.scores["method"] == "blend") & (res.scores["origin"] == origins[-1])
                   & res.scores["series"].isin(["ged_sb_deaths", "ged_sb_events", "incidents"])]
    assert len(s) == 33 and s["in80"].mean() >= 0.7, s.groupby("series")["in80"].mean()
    for ser in ("ged_sb_deaths", "incidents"):
        g = s[s["series"] == ser].sort_values("target_start")
        first, second = g["median"].iloc[:6].mean(), g["median"].iloc[6:12].mean()
        assert (second < first) if slope < 0 else (second > first), ser


def test_pool_and_blend_take_levels_from_the_right_model():
    rng = np.random.default_rng(0)
    sim, base = np.full(100, 10.0), np.full(100, 1.0)
    assert set(pool(sim, base, 1.0, rng)) == {10.0}
    assert set(pool(sim, base, 0.0, rng)) == {1.0}
    assert np.mean(pool(sim, base, 0.3, rng) == 10.0) == pytest.approx(0.3)
    runs, months = 4, 3
    ps = pd.date_range("2021-01-01", periods=months, freq="MS").date
    rows = [(r, ps[m], ps[m], reg, ser, 10.0 if reg == "IQ" else 5.0)
            for r in range(runs) for m in range(months) for reg in ("IQ-NI", "IQ")
            for ser in ("incidents", "is_attacks", "militia_attacks_us")]
    sim_df = pd.DataFrame(rows, columns=["run", "period_start", "period_end", "region", "series",
                                         "value"])
    base_paths = {"incidents": np.full((runs, months), 2.0)}
    out = blend(sim_df, None, base_paths, {"incidents": 0.0}, seed=1)
    inc = out[out["series"] == "incidents"]
    assert (inc.loc[inc["region"] == "IQ", "value"] == 2.0).all()
    assert (inc.loc[inc["region"] == "IQ-NI", "value"] == 1.0).all()  # simulator's share kept
    assert (out[out["series"] != "incidents"]["value"] == sim_df[sim_df["series"] != "incidents"]["value"]).all()
    same = blend(sim_df, None, base_paths, {"incidents": 1.0}, seed=1)
    assert (same["value"] == sim_df["value"]).all()
    # scenario effect: the scenario's truth is half the reference's -> half the baseline level
    ref = sim_df.copy()
    ref.loc[ref["series"].isin(["is_attacks", "militia_attacks_us"]), "value"] *= 2
    eff = blend(sim_df, ref, base_paths, {"incidents": 0.0}, seed=1)
    nat = eff[(eff["series"] == "incidents") & (eff["region"] == "IQ")]["value"]
    assert np.allclose(nat, 2.0 * (20.5 / 40.5))


def test_backtest_scores_every_source_against_naive_rules():
    res = backtest(origins=[D(2019, 1, 1), D(2020, 6, 1)], horizon=12, runs=100,
                   simulator=False)
    s = res.scores
    assert {"ged_sb_deaths", "ged_sb_events", "incidents", "is_attacks_ctc"} <= set(s["series"])
    assert {"baseline", "no-change", "mean-6m", "mean-12m", "log-linear trend",
            "seasonal climatology"} <= set(s["method"])
    assert {"month", "year", "quarter"} <= set(s["granularity"])
    assert s[["crps", "logs", "pit", "in50", "in80", "in90"]].notna().all().all()
    assert ((s["pit"] >= 0) & (s["pit"] <= 1)).all()
    by = res.by_source()
    assert set(by["best_naive"].dropna()) <= {"no-change", "mean-6m", "mean-12m",
                                              "log-linear trend", "seasonal climatology"}


def test_known_history_every_run_has_the_real_bases_at_the_origin():
    from resurgence.calibration.posterior import full_specs
    from resurgence.model.params import ParamSet
    from resurgence.runs.ensemble import resolve
    from resurgence.runs.prepare import simulate_spun
    from resurgence.scenario.drivers import compile_drivers
    from resurgence.theatre.theatre import load_theatre

    th = load_theatre("iraq")
    sc = resolve("announced-2500").model_copy(update={"weeks": 26})
    n = 60
    # a closure hazard 100x the default: without the fix nearly every run loses bases in 2018-20
    ps = ParamSet.defaults(full_specs(), n).with_overrides(
        {"closure_hazard_per_attack": np.full(n, 0.4)})
    out = simulate_spun(sc, th, ps, np.arange(n), seed=3, spinup=D(2018, 1, 1))
    real = int(compile_drivers(sc, th).base_open[0].sum())
    bases = out["bases_open"].reshape(n, sc.weeks)
    assert (bases[:, 0] == real).all()  # 100% of runs
    assert (bases[:, -1] < bases[:, 0]).any()  # the hazard still acts after the origin


def test_cli_backtest_writes_tables_and_refuses_bad_origins(tmp_path):
    import json

    from typer.testing import CliRunner

    from resurgence.cli.app import app

    out = tmp_path / "bt"
    r = CliRunner().invoke(app, ["backtest", "--no-simulator", "--origins", "2020-06-01",
                                 "--horizon", "6", "--runs", "60", "--out", str(out)])
    assert r.exit_code == 0, r.output
    for f in ("scores.csv", "summary.csv", "by_source.csv", "backtest.json", "backtest.png"):
        assert (out / f).is_file()
    data = json.loads((out / "backtest.json").read_text())
    assert {"by_source", "summary", "pit_histogram_5_bins"} <= set(data)
    r = CliRunner().invoke(app, ["backtest", "--no-simulator", "--origins", "June",
                                 "--out", str(tmp_path / "x")])
    assert r.exit_code == 2 and "--origins" in r.output and "Traceback" not in r.output


@pytest.mark.parametrize("freeze", ["", "v2", "v3"])
def test_preregistered_freezes_are_unchanged(freeze):
    """Every pre-registered freeze still holds the files its manifest hashed (by protocol a
    freeze is never regenerated); each covers every target and the default method."""
    import hashlib
    import json
    from pathlib import Path

    root = Path(__file__).resolve().parents[1] / "preregistration" / freeze
    man = json.loads((root / "manifest.json").read_text())
    assert man["data"].startswith("observations up to 2020-11-30")
    for name, digest in man["sha256"].items():
        assert hashlib.sha256((root / name).read_bytes()).hexdigest() == digest, name
    q = pd.read_csv(root / "quantiles.csv")
    blend = set(q.loc[q["method"] == "blend", "target"])
    assert {"musings_incidents_per_day_2021", "ctc_is_attacks_2021Q1",
            "ucdp_sb_deaths_2021-01", "ucdp_sb_events_2023-12"} <= blend


def test_the_fit_holds_its_history_known():
    """Every simulation of a fit (``inference.history_runs``: the ABC, its predictive check,
    its SBC) follows the base record through the fitted history, as the origin filter and the
    forecasts do; the same runs through a bare ``map_runs`` lose bases to the closure hazard
    (the negative control: what the fit did before)."""
    from resurgence.calibration.inference import history_runs, history_setup
    from resurgence.calibration.posterior import full_specs
    from resurgence.model.params import ParamSet
    from resurgence.runs.ensemble import map_runs
    from resurgence.scenario.drivers import compile_drivers
    from resurgence.theatre.theatre import load_theatre

    sc, _ = history_setup(IRAQ_2020, D(2020, 11, 30))
    n = 40
    ps = ParamSet.defaults(full_specs(), n).with_overrides(
        {"closure_hazard_per_attack": np.full(n, 0.4)})  # 100x the default
    known = np.concatenate(history_runs(sc, ps, np.arange(n), 3, _bases_open))
    bare = np.concatenate(map_runs(sc, ps, np.arange(n), 3, _bases_open))
    record = compile_drivers(sc, load_theatre("iraq")).base_open.sum(axis=1)  # (weeks,)
    assert (known == record[None, :]).all()  # 100% of runs, every week of the history
    assert (bare[:, -1] < record[-1]).mean() > 0.5


def _bases_open(arrays, params, run_ids):
    return arrays["bases_open"].reshape(len(run_ids), -1)
