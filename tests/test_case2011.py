"""The 2011 case: the withdrawal scenario, the case's data window, and a tiny end-to-end run."""

from __future__ import annotations

import datetime as dt
import json

import numpy as np
import pytest
import typer
from typer.testing import CliRunner

from resurgence.analysis.case2011 import HOLD_DATES, ORIGIN, ex_ante, run_case_2011
from resurgence.calibration.cases import CASES, IRAQ_2011, IRAQ_2020, case_observations
from resurgence.calibration.inference import history_setup
from resurgence.cli.case2011 import case2011_cmd
from resurgence.model.sim import default_params, simulate_chunk
from resurgence.report.case2011 import save_figure
from resurgence.runs.ensemble import run_ensemble, spun_up
from resurgence.scenario.drivers import compile_drivers
from resurgence.scenario.schema import load_scenario

D = dt.date


def test_scenario_loads_and_compiles(theatre) -> None:
    sc = load_scenario("iraq-2011")
    assert sc.start == ORIGIN == D(2011, 12, 18)
    full, off = spun_up(sc, IRAQ_2011.history_start)
    assert full.start <= D(2009, 1, 1) and off > 150
    drv = compile_drivers(full, theatre)
    assert drv.grid.end >= D(2014, 12, 31)
    for lever, series in drv.levers.items():
        assert series.shape == (full.weeks,) and np.all(np.isfinite(series)), lever
    # every base open from 2009 until the withdrawal, none after
    assert drv.base_open[:off].all() and not drv.base_open[off:].any()
    assert drv.is_surge.sum() > 0  # the 2012-13 prison breaks
    assert "iraq-2011" in CASES and CASES["iraq-2011"].scenario == "iraq-2011"


def test_case_observations_stop_before_the_withdrawal() -> None:
    obs = case_observations(IRAQ_2011, IRAQ_2011.until)
    assert (obs["period_end"].dt.date < ORIGIN).all()
    _, design = history_setup(IRAQ_2011, IRAQ_2011.until)
    rows = design.rows
    assert list(rows["source"]) == ["ibc", "ibc"]
    assert [d.year for d in rows["period_start"]] == [2009, 2010]
    assert list(rows["value"]) == [5382.0, 4167.0]
    # iraq-2020 keeps its own observations: IBC (whose rate it does not fit) is not among them
    _, d20 = history_setup(IRAQ_2020, IRAQ_2020.until)
    assert "ibc" not in set(d20.rows["source"])
    assert {"ged", "ged_cm", "musings", "ctc"} <= set(d20.rows["source"])
    assert "ibc_deaths_per_attack" not in IRAQ_2020.calibrated


def test_withdrawal_zeroes_troops_and_coverage(theatre) -> None:
    full, off = spun_up(load_scenario("iraq-2011"), IRAQ_2011.history_start)
    x = simulate_chunk(full, theatre, default_params(4), np.arange(4), 11)
    for m in ("us_troops", "bases_open", "mediation", "isr_coverage", "air_coverage",
              "training_coverage", "planning_coverage"):
        assert np.all(x[m][:, off:] == 0), m
        assert np.all(x[m][:, off - 60:off - 10] > 0), m
    assert np.all(x["us_troops"][:, :20] > 100_000)


@pytest.fixture(scope="module")
def tiny():
    return run_case_2011(draws=24, runs=40, seed=3, workers=1, generations=2)


def test_tiny_case_run(tiny, tmp_path) -> None:
    g = tiny.ground
    assert list(g["date"]) == list(HOLD_DATES)
    for col in ("probability", "probability_given_no_ground_before"):
        p = g[col].to_numpy()
        assert np.all((p >= 0) & (p <= 1)) and np.all(np.diff(p) >= 0), col
    c = tiny.collapse
    assert set(c["region"]) == {"IQ-NI", "IQ-AN", "any"}
    assert c["probability"].between(0, 1).all()
    for reg, sub in c.groupby("region"):
        assert np.all(np.diff(sub["probability"].to_numpy()) >= 0), reg
    cv = tiny.curve["p_held_by"].to_numpy()
    assert np.all(np.diff(cv) >= 0) and cv[-1] == pytest.approx(g["probability"].iloc[-1])
    d = tiny.deaths.set_index("year")
    assert d.loc[2012, "observed"] == 4622 and d.loc[2013, "observed"] == 9852
    assert d.loc[2012, "role"] == "forecast" and d.loc[2009, "role"] == "fitted"
    assert d.loc[2011, "role"].startswith("not used")
    assert (d["p10"] <= d["median"]).all() and (d["median"] <= d["p90"]).all()
    assert d["observed_quantile"].between(0, 1).all()
    assert set(tiny.incidents["period"]) == {"2014", "Jan-Apr 2014"}
    assert tiny.settings["observations"] == 2
    assert "two yearly data points" in tiny.text()
    paths = tiny.save(tmp_path)
    paths["png"] = save_figure(tiny, tmp_path / "case2011.png")
    assert all(p.stat().st_size > 0 for p in paths.values())
    js = json.loads(paths["json"].read_text())
    assert js["case"] == "iraq-2011" and len(js["holds_ground_by"]) == 4


def test_forward_runs_are_those_of_run_ensemble(tiny) -> None:
    """P(held ground within 52 weeks) equals run_ensemble's holds_ground_12m on the posterior,
    for the same (ex-ante) scenario."""
    sc = ex_ante(load_scenario("iraq-2011"), ORIGIN)
    res = run_ensemble([sc], 40, 3, posterior=tiny.posterior)
    s = res.outcomes[sc.name]["holds_ground_12m"]
    assert tiny.curve["p_held_by"].iloc[51] == pytest.approx(s.mean())


def test_cli_writes_csv_json_png(tmp_path) -> None:
    app = typer.Typer()
    app.command()(case2011_cmd)
    out = tmp_path / "c11"
    r = CliRunner().invoke(app, ["--draws", "12", "--runs", "8", "--seed", "2", "--workers", "1",
                                 "--generations", "1", "--out", str(out)])
    assert r.exit_code == 0, r.output
    for ext in ("csv", "json", "png"):
        assert (out / f"case2011.{ext}").stat().st_size > 0
    assert "P(IS has held ground by 2014-06-30)" in r.output


def test_ex_ante_keeps_the_posture_and_holds_the_rest(theatre) -> None:
    """Ex ante: every lever is flat after the withdrawal at its value on the day, the
    announced posture (troops, enablers, bases to zero) is kept, later shocks are gone."""
    sc = load_scenario("iraq-2011")
    ea = ex_ante(sc, ORIGIN)
    full, off = spun_up(ea, IRAQ_2011.history_start)
    drv = compile_drivers(full, theatre)
    known = compile_drivers(spun_up(sc, IRAQ_2011.history_start)[0], theatre)
    for lever, series in drv.levers.items():
        assert np.all(series[off:] == series[off]), lever
        np.testing.assert_allclose(series[:off], known.levers[lever][:off], rtol=1e-12,
                                   err_msg=lever)
    assert drv.levers["troops"][off] == 0 and drv.levers["isr"][off] == 0
    assert known.levers["syria_instability"][-1] > drv.levers["syria_instability"][-1]
    assert drv.is_surge.sum() == 0 < known.is_surge.sum()
    assert not drv.base_open[off:].any()


def test_tiny_case_is_scored(tiny) -> None:
    s = tiny.scores()
    assert set(s["target"]) >= {"IBC civilian deaths 2012", "IBC civilian deaths 2013"}
    assert (s["crps"] > 0).all() and s["observed_quantile"].between(0, 1).all()
    for c in ("in50", "in80", "in90"):
        assert s[c].isin([0.0, 1.0]).all()
    assert (s["in50"] <= s["in80"]).all() and (s["in80"] <= s["in90"]).all()
    assert tiny.settings["drivers"] == "ex-ante" and "ex ante" in tiny.text()
    ibc = s[s["target"].str.startswith("IBC")]
    # the no-change baseline is the last fitted year (2010: 4,167 deaths)
    np.testing.assert_allclose(ibc["crps_no_change"], (ibc["observed"] - 4167.0).abs())
