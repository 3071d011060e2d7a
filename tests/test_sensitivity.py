"""Sobol' sensitivity: per-run levers, indices, planted checks, determinism, figure and CLI."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
import typer
from typer.testing import CliRunner

from resurgence.analysis.sensitivity import (
    BASE_SCENARIO,
    LEVERS,
    OUTPUTS,
    LeverTask,
    _chunk,
    design_runs,
    factors,
    lever_scenario,
    outcomes,
    sobol_indices,
)
from resurgence.model.sim import all_params, default_params, simulate_chunk
from resurgence.report.diagnostics import sobol_figure
from resurgence.runs.ensemble import resolve
from resurgence.scenario.drivers import compile_drivers
from resurgence.theatre.theatre import load_theatre

GROUPS = ["insurgency", "politics", "levers"]


@pytest.fixture(scope="module")
def small() -> pd.DataFrame:
    return sobol_indices(32, 1, groups=GROUPS)


def test_factors_and_design():
    everything = factors()
    assert [f for f, k in everything if k == "lever"] == list(LEVERS)
    assert {f for f, k in everything if k == "parameter"} == {p.name for p in all_params()
                                                               if p.uncertain}
    only = factors(["politics"])
    assert only and all(k == "parameter" for _, k in only)
    assert design_runs(8, ["politics"]) == 8 * (len(only) + 2)
    with pytest.raises(ValueError, match="'group' = 'nope'"):
        factors(["nope"])
    with pytest.raises(ValueError, match="power of 2"):
        design_runs(12)


def test_per_run_levers_match_scenarios():
    """One chunk with per-run levers equals each run simulated with its own scenario."""
    th = load_theatre("iraq")
    sc = resolve(BASE_SCENARIO, 104)
    mult = {"troops": np.array([2500 / 3000, 0.1, 1.2]), "isr": np.array([1.0, 0.0, 1.2]),
            "air": np.array([1.0, 1.2, 0.3]), "training": np.array([1.0, 0.5, 0.0]),
            "planning": np.array([1.0, 0.0, 0.7]), "mediation": np.array([1.0, 0.2, 0.0])}
    ps, ids = default_params(3), np.array([4, 5, 6])
    got = _chunk(LeverTask(sc, "iraq", ps, mult, ids, 7, None))
    for i in range(3):
        sci = lever_scenario({k: float(v[i]) for k, v in mult.items()})
        ref = outcomes(simulate_chunk(sci, th, ps.take(np.array([i])), ids[i:i + 1], 7), th, sc)
        for k in OUTPUTS:
            assert got[k][i] == pytest.approx(ref[k][0], rel=1e-9), (i, k)
    # the announced plan's own multipliers reproduce announced-2500
    base = compile_drivers(lever_scenario({k: float(v[0]) for k, v in mult.items()}), th)
    want = compile_drivers(sc, th)
    for k in LEVERS:
        np.testing.assert_allclose(base.levers[k], want.levers[k], rtol=1e-12)


def test_indices_complete_and_finite(small):
    names = [f for f, _ in factors(GROUPS)]
    assert set(small["output"]) == set(OUTPUTS)
    for _out, g in small.groupby("output"):
        assert list(g["factor"]) == names
    cols = ["S1", "S1_conf", "ST", "ST_conf"]
    assert np.isfinite(small[cols].to_numpy()).all()
    assert set(small["kind"]) == {"parameter", "lever"}
    assert small.attrs["runs"] == 32 * (len(names) + 2) == len(small.attrs["outcomes"])
    # total index is at least the first-order one, up to estimation error
    assert ((small["ST"] >= small["S1"] - 0.1).mean()) > 0.9


def test_planted_factors(small):
    # responsive policy is off, so politics (pressure, influence) feeds nothing back to IS;
    # insurgency states are read by neither militias nor politics
    assert not resolve(BASE_SCENARIO).policy.responsive
    d = small.set_index(["output", "factor"])
    for f, _ in factors(["politics"]):
        assert d.loc[("is_attacks_2021h2", f), "ST"] == 0.0
        assert d.loc[("is_attacks_2021h2", f), "S1"] == 0.0
    for f, _ in factors(["insurgency"]):
        for out in ("militia_attacks_us", "iran_influence_end"):
            assert d.loc[(out, f), "ST"] == 0.0
    att = small[small["output"] == "is_attacks_2021h2"].set_index("factor")["ST"]
    assert att.idxmax() == "attack_rate" and att["attack_rate"] > 0.15
    infl = small[small["output"] == "iran_influence_end"].set_index("factor")["ST"]
    assert infl.idxmax() == "influence_0"


def test_same_seed_same_indices_any_chunking():
    a = sobol_indices(8, 3, groups=["militia"])
    b = sobol_indices(8, 3, groups=["militia"], chunk_size=7)
    pd.testing.assert_frame_equal(a, b)
    c = sobol_indices(8, 4, groups=["militia"])
    assert not np.allclose(a["ST"].fillna(0), c["ST"].fillna(0))


def test_figure(small, tmp_path):
    p = sobol_figure(small, tmp_path / "sobol.png")
    assert p.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    assert [x.name for x in tmp_path.iterdir()] == ["sobol.png"]  # no temporary left behind


def test_cli(tmp_path):
    from resurgence.cli.app import user_errors
    from resurgence.cli.sensitivity import sensitivity_cmd

    app = typer.Typer()
    app.command("sensitivity")(user_errors(sensitivity_cmd))
    app.command("other")(lambda: None)  # keep sub-command dispatch
    out = tmp_path / "sens"
    res = CliRunner().invoke(app, ["sensitivity", "--n", "8", "-g", "politics", "-g", "levers",
                                   "--out", str(out), "--top", "3"])
    assert res.exit_code == 0, res.output
    df = pd.read_csv(out / "indices.csv")
    assert list(df.columns) == ["output", "factor", "kind", "S1", "S1_conf", "ST", "ST_conf"]
    assert (out / "sobol.png").is_file()
    assert "influence_0" in res.output
    bad = CliRunner().invoke(app, ["sensitivity", "--n", "10", "--out", str(out)])
    assert bad.exit_code == 2 and "power of 2" in bad.output

