"""Claim verdicts: the category rule (how a verdict was reached), the findings
(as claimed / as built / uncertain / contradicted), the zero-width defect, the attribution of
a check to the parameters that drive it, and the 2011 out-of-sample test. Synthetic runs,
no simulation: each test builds per-run summaries whose answer is known."""

from __future__ import annotations

import numpy as np
import pytest

from resurgence.analysis import claim_oat
from resurgence.analysis import claims as cl
from resurgence.calibration.posterior import full_specs
from resurgence.core.errors import ArgumentError

N = 400


def _contrast(basis: str = "fitted", drivers=("attack_rate",), direction: int = 1) -> cl.Claim:
    return cl._c("T1", "a quote", "a mechanism", "B raises IS fighters", "A", "B",
                 "is_fighters_end", direction, basis=basis, drivers=drivers)


def _summ(d: np.ndarray, base: float = 1000.0) -> cl.Summ:
    a = np.full(len(d), base)
    return {"A": {"is_fighters_end": a}, "B": {"is_fighters_end": a + d}}


@pytest.fixture
def driven():
    """A contrast driven by attack_rate (effect = 50 * (x - 0.5) + 30 + small noise), with
    an unrelated parameter beside it."""
    rng = np.random.default_rng(1)
    x = rng.uniform(0.2, 1.0, N)
    other = rng.uniform(0, 1, N)
    d = 30 + 50 * (x - 0.5) + rng.normal(0, 2, N)
    return d, {"attack_rate": x, "season_amp": other}


def test_attribution_finds_the_parameter_that_moves_the_contrast(driven):
    d, params = driven
    shares = cl.attribute(d, params)
    assert shares["attack_rate"][0] > 0.8 and shares["attack_rate"][1] < 1e-6
    assert shares["season_amp"][0] < 0.05 and shares["season_amp"][1] > 0.01
    # a parameter that does not vary is not attributed at all (it cannot be, from these runs)
    assert "rate_ctc" not in cl.attribute(d, {**params, "rate_ctc": np.full(N, 1.0)})


def test_driver_at_its_prior_makes_a_fitted_claim_model_implied(driven):
    d, params = driven
    claim = _contrast("fitted")
    at_prior = cl.verdict(claim, _summ(d), params, {"attack_rate": 0.98, "season_amp": 0.3})
    assert at_prior["category"] == "model-implied" and at_prior["finding"] == "as built"
    assert "supported" not in at_prior["verdict"]
    # negative control: the same claim whose driver the data narrowed is consistent with the fit
    narrowed = cl.verdict(claim, _summ(d), params, {"attack_rate": 0.3, "season_amp": 1.0})
    assert narrowed["category"] == "consistent with the fit"
    assert narrowed["finding"] == "as claimed" and narrowed["informed_share"] > 0.9


def test_driver_fixed_at_its_default_makes_it_model_implied(driven):
    d, params = driven
    # the stated driver is not varied in the runs: fixed, so the data cannot have informed it,
    # however much the other (narrowed) parameters explain
    claim = _contrast("fitted", drivers=("clear_rate",))
    row = cl.verdict(claim, _summ(d), params, {"attack_rate": 0.3})
    assert row["category"] == "model-implied" and "clear_rate" in row["category_reason"]
    assert "clear_rate (fixed)" in row["drivers"]


def test_model_implied_label_is_not_upgraded_by_narrowed_parameters(driven):
    d, params = driven
    row = cl.verdict(_contrast("model-implied"), _summ(d), params, {"attack_rate": 0.3})
    assert row["category"] == "model-implied" and row["finding"] == "as built"


def test_opposite_sign_comes_out_contradicted(driven):
    d, params = driven
    row = cl.verdict(_contrast("fitted"), _summ(-d), params, {"attack_rate": 0.3})
    assert row["finding"] == "contradicted" and row["share_opposite"] > 0.9
    assert row["effect_p90"] < 0
    # a claimed fall (direction -1) on a rise is contradicted too
    assert cl.verdict(_contrast(direction=-1), _summ(d), params)["finding"] == "contradicted"


def test_interval_straddling_zero_is_uncertain():
    rng = np.random.default_rng(2)
    d = rng.normal(5, 40, N)  # P10 < 0 < P90
    row = cl.verdict(_contrast(), _summ(d))
    assert row["effect_p10"] < 0 < row["effect_p90"] and row["finding"] == "uncertain"
    assert row["defect"] == ""


def test_zero_width_interval_is_flagged_as_a_defect():
    row = cl.verdict(_contrast(drivers=("influence_vacuum",)), _summ(np.full(N, 0.13)))
    assert row["effect_p10"] == row["effect_p90"]
    assert row["defect"].startswith("zero-width 80% interval")
    assert "influence_vacuum" in row["defect"]
    # a definition may have no spread (a lever); a stochastic contrast with spread is no defect
    lever = cl._b("T2", "q", "c", "ends at 2,500", "B", "us_troops_end",
                  lambda x: np.abs(x - 2500) < 1, basis="definition")
    flat = {"B": {"us_troops_end": np.full(N, 2500.0)}}
    assert cl.verdict(lever, flat)["defect"] == ""
    assert cl.verdict(lever, flat)["verdict"] == "definition: by definition"
    assert cl.verdict(_contrast(), _summ(np.linspace(1, 2, N)))["defect"] == ""


def test_out_of_sample_finding_from_the_2011_case():
    doc = {"first_hold": {"p_by_mosul": 0.56},
           "collapse": [{"region": "IQ-NI", "date": "2014-06-30", "probability": 0.007},
                        {"region": "IQ-AN", "date": "2014-06-30", "probability": 0.09}]}
    ev = cl.case2011_evidence(doc)
    assert set(ev) == {"C7"} and not ev["C7"].held and "0.7%" in ev["C7"].detail
    doc["collapse"][0]["probability"] = 0.3
    assert cl.case2011_evidence(doc)["C7"].held
    c7 = next(c for c in cl.CLAIMS if c.id == "C7")
    summ = {c7.a: {"holds_ground_24m": np.zeros(N)},
            c7.b: {"holds_ground_24m": (np.arange(N) % 5 == 0).astype(float)}}
    row = cl.verdict(c7, summ, oos=ev["C7"])
    assert row["verdict"] == "tested out of sample: failed" and row["in_model"] == "as claimed"
    with pytest.raises(ArgumentError, match="case2011"):
        cl.case2011_evidence({"first_hold": {}})


def test_registry_labels_and_drivers_are_known():
    names = {p.name for p in full_specs()}
    for c in cl.CLAIMS:
        assert c.basis in cl.INTENDED, c.id
        assert set(c.drivers) <= names, (c.id, set(c.drivers) - names)
        assert c.basis == "definition" or c.drivers, c.id
    assert [c.id for c in cl.CLAIMS if c.oos] == ["C7"]


def test_headline_counts_by_category_never_supported(driven):
    import pandas as pd

    from resurgence.report.content import verdict_counts, verdict_headline

    d, params = driven
    rows = [cl.verdict(_contrast("fitted"), _summ(d), params, {"attack_rate": 0.3}),
            cl.verdict(_contrast("fitted"), _summ(-d), params, {"attack_rate": 0.99}),
            cl.verdict(_contrast("model-implied"), _summ(np.full(N, 0.1)))]
    df = pd.DataFrame(rows)
    head = verdict_headline(df)
    assert head.startswith("3 claims of the source checked, by how the verdict was reached")
    assert "1 consistent with the fit (1 as claimed)" in head
    assert "2 model-implied (1 as built, 1 contradicted)" in head
    assert "Defects: T1 (zero-width" in head and "supported" not in head
    vc = verdict_counts(df).set_index("category")
    assert vc.loc["model-implied", "claims"] == 2 and vc["claims"].sum() == 3


def test_attribution_ignores_chance_correlations_in_few_runs():
    rng = np.random.default_rng(5)
    d = rng.normal(0, 1, 24)
    noise = {f"p{i}": rng.uniform(0, 1, 24) for i in range(40)}
    found = cl.drivers_of(_contrast(drivers=()), cl.attribute(d, noise), {})
    assert len(found) <= 1
    # and too few runs never make a check 'consistent with the fit'
    x = np.linspace(0, 1, 24)
    row = cl.verdict(_contrast(), _summ(10 + x), {"attack_rate": x}, {"attack_rate": 0.3})
    assert row["category"] == "model-implied" and "too few" in row["category_reason"]


def test_cli_claims_json_counts_by_category_and_takes_the_2011_case(tmp_path):
    import json

    from typer.testing import CliRunner

    from resurgence.cli.app import app

    doc = {"first_hold": {"p_by_mosul": 0.56},
           "collapse": [{"region": "IQ-NI", "date": "2014-06-30", "probability": 0.007}]}
    (tmp_path / "case2011.json").write_text(json.dumps(doc))
    r = CliRunner().invoke(app, ["claims", "--runs", "10", "--json", "--case2011", str(tmp_path)])
    assert r.exit_code == 0, r.output
    out = json.loads(r.output[r.output.index("{"):])
    assert list(out["counts"]) == list(cl.CATEGORIES)
    assert sum(sum(v.values()) for v in out["counts"].values()) == 26
    assert out["counts"]["tested out of sample"] == {"failed": 1}
    rows = {c["id"]: c for c in out["claims"]}
    assert rows["C7"]["verdict"] == "tested out of sample: failed"
    assert "supported" not in out["headline"] and "by how the verdict was reached" in out["headline"]
    (tmp_path / "bad.json").write_text("{not json")
    bad = CliRunner().invoke(app, ["claims", "--runs", "10", "--case2011", str(tmp_path / "bad.json")])
    assert bad.exit_code == 2 and "case2011" in bad.output and len(bad.output.strip().splitlines()) == 1


def test_a_fixed_driver_that_does_not_move_the_check_does_not_block_the_fit(driven):
    d, params = driven
    claim = _contrast("fitted", drivers=("clear_rate", "attack_rate"))
    inert = cl.verdict(claim, _summ(d), params, {"attack_rate": 0.3},
                       oat={("T1", "clear_rate"): False})
    assert inert["category"] == "consistent with the fit"
    assert "does not move it one at a time" in inert["drivers"]
    moving = cl.verdict(claim, _summ(d), params, {"attack_rate": 0.3},
                        oat={("T1", "clear_rate"): True})
    assert moving["category"] == "model-implied"


def test_one_at_a_time_finds_which_fixed_parameters_move_a_check():
    import dataclasses

    c14 = next(c for c in cl.CLAIMS if c.id == "C14")
    probe = dataclasses.replace(c14, drivers=("militia_growth", "season_peak_doy", "rate_ctc"))
    tab = claim_oat.one_at_a_time([probe], runs=4, seed=2).set_index("parameter")
    # militia growth sets militia strength; the week of IS's seasonal peak does not; an
    # observation-model rate never acts on a run and is not probed
    assert tab.loc["militia_growth", "moves"]
    assert tab.loc["militia_growth", "effect_high"] > tab.loc["militia_growth", "effect_low"]
    assert not tab.loc["season_peak_doy", "moves"]
    assert "rate_ctc" not in tab.index


def test_one_at_a_time_leaves_the_checks_own_lever_alone():
    c13 = next(c for c in cl.CLAIMS if c.id == "C13")  # poor-coordination sets branch_coordination
    assert claim_oat.one_at_a_time([c13], runs=2).empty
