"""Scenario files: the shipped set, overlay semantics, and one-line errors for bad input."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import numpy as np
import pytest

from resurgence.model.sim import default_params
from resurgence.runs.ensemble import run_ensemble, scenario_params
from resurgence.scenario.drivers import SURGE_FIGHTERS, compile_drivers
from resurgence.scenario.schema import ScenarioError, load_scenario, shipped_names

#: the 2020 case's scenarios (DESIGN §5); other shipped cases may sit beside them
CASE_2020 = ["announced-2500", "enablers-over-horizon", "escalation", "full-withdrawal",
             "iraq-2020", "no-mediation", "pandemic-protests-worse", "stay-3000"]
D = dt.date
GRID_JUL_2021 = (D(2021, 7, 12) - D(2020, 12, 1)).days // 7  # a week after the 30 June exit


def write(folder: Path, name: str, text: str) -> Path:
    p = folder / f"{name}.toml"
    p.write_text(text, encoding="utf-8")
    return p


# --- shipped scenarios -------------------------------------------------------------------

def test_shipped_names() -> None:
    names = shipped_names()
    assert set(CASE_2020) <= set(names)
    assert names == sorted(names)


@pytest.mark.parametrize("name", shipped_names())
def test_every_shipped_scenario_loads_and_compiles(name, theatre) -> None:
    sc = load_scenario(name)
    assert sc.name == name and sc.title and sc.description
    drv = compile_drivers(sc, theatre)
    assert drv.grid.weeks == sc.weeks
    assert drv.base_open.shape == (sc.weeks, len(theatre.bases))
    for lever, series in drv.levers.items():
        assert series.shape == (sc.weeks,) and np.all(np.isfinite(series)), lever
    assert scenario_params(sc, default_params(2)).runs == 2
    assert all(c.startswith("C") for c in sc.claims)


@pytest.mark.parametrize("name", CASE_2020)
def test_case_2020_scenarios(name, theatre) -> None:
    sc = load_scenario(name)
    assert sc.start == D(2020, 12, 1) and sc.weeks == 104
    drv = compile_drivers(sc, theatre)
    # history (the 2020 base handovers) holds in every scenario: only 3 bases open at the start
    assert drv.base_open[0].sum() == 3
    assert 2800 < drv.levers["troops"][0] <= 3000  # after the September 2020 cut (ramp to 2,500)


def test_shipped_troop_schedules(theatre) -> None:
    def troops(name):
        return compile_drivers(load_scenario(name), theatre).levers["troops"]

    grid_end = -1  # week 103
    assert troops("stay-3000")[grid_end] == 3000
    assert troops("announced-2500")[grid_end] == 2500
    assert troops("announced-2500")[8] == 2500  # by 15 January 2021 (week 6)
    for name in ("full-withdrawal", "enablers-over-horizon"):
        t = troops(name)
        assert t[grid_end] == 0 and np.all(np.diff(t) <= 0)
        assert t[GRID_JUL_2021] == 0
    fw = compile_drivers(load_scenario("full-withdrawal"), theatre)
    oth = compile_drivers(load_scenario("enablers-over-horizon"), theatre)
    assert fw.levers["isr"][grid_end] == 0 and oth.levers["isr"][grid_end] == 1
    assert oth.levers["isr_over_horizon"][grid_end] == 1
    assert not fw.base_open[grid_end].any() and not oth.base_open[grid_end].any()



def test_escalation_shocks_compile(theatre) -> None:
    drv = compile_drivers(load_scenario("escalation"), theatre)
    t_strike = (D(2021, 3, 1) - D(2020, 12, 1)).days // 7
    t_vote = (D(2021, 3, 15) - D(2020, 12, 1)).days // 7
    assert drv.pressure_jump[t_strike] == pytest.approx(0.25 * 1.5)
    assert drv.pressure_jump[t_vote] == pytest.approx(0.3 * 1.5)
    assert drv.pressure_jump.sum() == pytest.approx(0.825)  # the 2020 shocks fall before the grid
    assert np.all(drv.campaign_force[t_strike:t_strike + 10] == 1)
    assert drv.campaign_force[t_strike + 10] == 0
    assert load_scenario("escalation").policy.responsive


# --- overlay semantics -----------------------------------------------------------------------

BASE = """
name = "base-case"
title = "base title"
start = 2021-01-04
weeks = 30
claims = ["C2"]

[schedules]
troops = [[2020-06-01, 5000], [2021-01-01, 4000], [2021-06-01, 3000]]
isr = [[2020-01-01, 1.0], [2021-03-01, 0.8]]

[[bases]]
name = "Taji"
reopen = 2021-02-01

[[shocks]]
date = 2021-02-01
kind = "protest_wave"
magnitude = 0.5

[params]
attack_rate = 0.02
recruit_rate = 0.03

[policy]
responsive = true
"""

OVER = """
name = "over-case"
base = "base-case.toml"
weeks = 20

[schedules]
troops = [[2021-03-01, 1000]]
mediation = [[2021-01-01, 0.5]]

[[bases]]
name = "Erbil Air Base"
close = 2021-04-01

[[shocks]]
date = 2021-03-01
kind = "strike"

[params]
attack_rate = 0.01
"""


def test_overlay_semantics(tmp_path, theatre) -> None:
    write(tmp_path, "base-case", BASE)
    sc = load_scenario(write(tmp_path, "over-case", OVER))
    assert sc.name == "over-case" and sc.base == "base-case.toml"
    # fields the overlay sets win; the others come from the base
    assert sc.weeks == 20 and sc.start == D(2021, 1, 4)
    assert sc.title == "base title" and sc.claims == ["C2"]
    assert sc.policy.responsive
    # a schedule keeps the base's points dated before the overlay's first point
    assert sc.schedule("troops") == [(D(2020, 6, 1), 5000.0), (D(2021, 1, 1), 4000.0),
                                     (D(2021, 3, 1), 1000.0)]
    assert sc.schedule("isr") == [(D(2020, 1, 1), 1.0), (D(2021, 3, 1), 0.8)]  # untouched
    assert sc.schedule("mediation") == [(D(2021, 1, 1), 0.5)]  # new in the overlay
    assert sc.schedule("pandemic") == []
    # bases and shocks are concatenated, base first; params merged, the overlay wins
    assert [b.name for b in sc.bases] == ["Taji", "Erbil Air Base"]
    assert [s.kind for s in sc.shocks] == ["protest_wave", "strike"]
    assert sc.params == {"attack_rate": 0.01, "recruit_rate": 0.03}
    drv = compile_drivers(sc, theatre)
    assert drv.levers["troops"][-1] == 1000
    assert drv.levers["mediation"][0] == 0.5


def test_overlay_of_an_overlay_resolves_the_chain() -> None:
    fw = load_scenario("full-withdrawal")  # -> announced-2500 -> iraq-2020
    assert fw.base == "announced-2500"
    troops = fw.schedule("troops")
    assert troops[0] == (D(2018, 1, 1), 5200.0)  # from iraq-2020
    assert (D(2020, 11, 17), 3000.0) in troops  # from announced-2500, before the overlay's points
    assert troops[-1] == (D(2021, 6, 30), 0.0)
    assert [s.kind for s in fw.shocks] == ["strike", "expulsion_vote", "militia_truce"]
    assert fw.schedule("pandemic") == load_scenario("iraq-2020").schedule("pandemic")


def test_overlay_base_is_resolved_next_to_the_file(tmp_path, monkeypatch) -> None:
    sub = tmp_path / "scen"
    sub.mkdir()
    write(sub, "base-case", BASE)
    path = write(sub, "over-case", OVER)
    monkeypatch.chdir(tmp_path)  # base-case.toml is not in the working directory
    assert load_scenario(path).weeks == 20
    assert load_scenario(Path("scen") / "over-case.toml").schedule("troops")[-1][1] == 1000


def test_overlay_on_a_shipped_scenario(tmp_path) -> None:
    p = write(tmp_path, "mine", 'name = "mine"\nbase = "stay-3000"\n[params]\nattack_rate = 0.03\n')
    sc = load_scenario(p)
    assert sc.schedule("troops")[-1] == (D(2020, 12, 1), 3000.0)
    assert len(sc.shocks) == 3 and sc.params == {"attack_rate": 0.03}


def test_base_cycle_is_an_error(tmp_path) -> None:
    write(tmp_path, "a", 'name = "a"\nbase = "b.toml"\n')
    write(tmp_path, "b", 'name = "b"\nbase = "a.toml"\n')
    with pytest.raises(ScenarioError, match="cycle") as e:
        load_scenario(tmp_path / "a.toml")
    assert "\n" not in str(e.value)
    write(tmp_path, "self", 'name = "self"\nbase = "self.toml"\n')
    with pytest.raises(ScenarioError, match="cycle"):
        load_scenario(tmp_path / "self.toml")


# --- bad input -------------------------------------------------------------------------------

BAD = {
    "unknown-field": ('colour = "red"\n', "colour", "red"),
    "schedule-range": ("[schedules]\ntroops = [[2021-01-01, 3000], [2021-02-01, -5]]\n",
                       "schedules.troops", "-5"),
    "schedule-range-hi": ("[schedules]\nmediation = [[2021-01-01, 1.5]]\n",
                          "schedules.mediation", "1.5"),
    "dates": ("[schedules]\nisr = [[2021-03-01, 1.0], [2021-02-01, 0.5]]\n",
              "schedules.isr", "2021-02-01"),
    "same-dates": ("[schedules]\nisr = [[2021-03-01, 1.0], [2021-03-01, 0.5]]\n",
                   "schedules.isr", "2021-03-01"),
    "bad-date": ('start = "2020-13-01"\n', "start", "2020-13-01"),
    "shock-kind": ('[[shocks]]\ndate = 2021-03-01\nkind = "earthquake"\n', "shocks.0.kind",
                   "earthquake"),
    "shock-magnitude": ('[[shocks]]\ndate = 2021-03-01\nkind = "strike"\nmagnitude = 50\n',
                        "shocks.0.magnitude", "50"),
    "weeks": ("weeks = 0\n", "weeks", "0"),
    "unknown-lever": ("[schedules]\ndrones = [[2021-01-01, 1.0]]\n", "schedules.drones", "2021"),
    "policy": ("[policy]\nexpel_threshold = 2.0\n", "policy.expel_threshold", "2"),
}


@pytest.mark.parametrize("case", sorted(BAD))
def test_bad_file_is_a_one_line_error_naming_file_field_value(tmp_path, case) -> None:
    body, field, value = BAD[case]
    path = write(tmp_path, case, f'name = "{case}"\n{body}')
    with pytest.raises(ScenarioError) as e:
        load_scenario(path)
    msg = str(e.value)
    assert "\n" not in msg
    assert msg.startswith(str(path) + ":"), msg
    assert f"field '{field}'" in msg, msg
    assert value in msg, msg
    assert "Traceback" not in msg and "pydantic" not in msg


def test_bad_value_in_a_base_file_is_reported_through_the_overlay(tmp_path) -> None:
    write(tmp_path, "bad-base", 'name = "bad-base"\n[schedules]\ntroops = [[2021-01-01, -1]]\n')
    path = write(tmp_path, "child", 'name = "child"\nbase = "bad-base.toml"\n')
    with pytest.raises(ScenarioError) as e:
        load_scenario(path)
    msg = str(e.value)
    assert "\n" not in msg
    assert msg.startswith(f"{path}: field 'base'")
    assert "bad-base.toml: field 'schedules.troops'" in msg


def test_toml_syntax_error(tmp_path) -> None:
    path = write(tmp_path, "syntax", 'name = "syntax"\n[schedules\ntroops = \n')
    with pytest.raises(ScenarioError) as e:
        load_scenario(path)
    msg = str(e.value)
    assert "\n" not in msg and msg.startswith(f"{path}: TOML syntax error")
    assert "line 2" in msg


def test_unknown_shipped_name_and_missing_file(tmp_path) -> None:
    with pytest.raises(ScenarioError, match="unknown scenario 'stay-4000'") as e:
        load_scenario("stay-4000")
    assert "stay-3000" in str(e.value)  # lists what exists
    with pytest.raises(ScenarioError, match="no such scenario file"):
        load_scenario(tmp_path / "missing.toml")
    write(tmp_path, "child", 'name = "child"\nbase = "nope"\n')
    with pytest.raises(ScenarioError, match="field 'base' = 'nope': unknown scenario 'nope'"):
        load_scenario(tmp_path / "child.toml")


# Errors found when a scenario meets a theatre (regions, bases) or the parameter set: they
# name the file, the field and the value.

def test_unknown_region_in_a_shock(tmp_path, theatre) -> None:
    path = write(tmp_path, "region", 'name = "region"\n[[shocks]]\ndate = 2021-03-01\n'
                 'kind = "is_surge"\nregion = "IQ-XX"\n')
    sc = load_scenario(path)
    with pytest.raises(ScenarioError) as e:
        compile_drivers(sc, theatre)
    msg = str(e.value)
    assert "\n" not in msg and msg.startswith(str(path))
    assert "field 'shocks.0.region' = 'IQ-XX'" in msg


def test_unknown_base_name(tmp_path, theatre) -> None:
    path = write(tmp_path, "basename", 'name = "basename"\n[[bases]]\nname = "Camp Nowhere"\n'
                 "close = 2021-03-01\n")
    with pytest.raises(ScenarioError) as e:
        compile_drivers(load_scenario(path), theatre)
    msg = str(e.value)
    assert "\n" not in msg and "field 'bases.0.name' = 'Camp Nowhere'" in msg
    assert "Ain al-Asad" in msg  # says what was expected
    # '*' means every base
    ok = write(tmp_path, "allbases", 'name = "allbases"\n[[bases]]\nname = "*"\nclose = 2021-03-01\n')
    drv = compile_drivers(load_scenario(ok), theatre)
    assert not drv.base_open[-1].any() and drv.base_open[0].sum() == 3


def test_unknown_parameter_override(tmp_path) -> None:
    path = write(tmp_path, "param", 'name = "param"\nbase = "iraq-2020"\n'
                 "[params]\nno_such_param = 1.0\n")
    sc = load_scenario(path)
    with pytest.raises(ScenarioError, match=r"field 'params.no_such_param': unknown parameter"):
        scenario_params(sc, default_params(1))
    out = tmp_path / "bundle"
    with pytest.raises(ScenarioError, match="no_such_param"):
        run_ensemble([sc], 2, 1, weeks=2, out=out)
    assert not out.exists()
    assert not list(tmp_path.glob("bundle.tmp-*"))  # the aborted bundle leaves nothing behind


def test_parameter_override_applies(tmp_path, theatre) -> None:
    path = write(tmp_path, "fast", 'name = "fast"\nbase = "stay-3000"\n[params]\nattack_rate = 0.035\n')
    res = run_ensemble(["stay-3000", load_scenario(path)], 20, 3, weeks=26)
    a = res.outcomes["stay-3000"]["is_attacks_y1"]
    b = res.outcomes["fast"]["is_attacks_y1"]
    assert np.all(b > 1.6 * a)


def test_shock_region_applies_to_that_region(tmp_path, theatre) -> None:
    path = write(tmp_path, "surge", 'name = "surge"\n[[shocks]]\ndate = 2021-03-01\n'
                 'kind = "is_surge"\nregion = "IQ-KI"\nmagnitude = 3\n')
    drv = compile_drivers(load_scenario(path), theatre)
    t = (D(2021, 3, 1) - D(2020, 12, 1)).days // 7
    assert drv.is_surge[t, theatre.index("IQ-KI")] == 3 * SURGE_FIGHTERS
    assert drv.is_surge.sum() == 3 * SURGE_FIGHTERS


def test_compile_errors_name_the_file_and_its_own_shock_index(tmp_path, theatre) -> None:
    path = write(tmp_path, "overlay-region", 'name = "overlay-region"\nbase = "iraq-2020"\n'
                 '[[shocks]]\ndate = 2021-03-01\nkind = "is_surge"\nregion = "IQ-XX"\n')
    with pytest.raises(ScenarioError) as e:
        compile_drivers(load_scenario(path), theatre)
    msg = str(e.value)
    assert str(path) in msg
    assert "shocks.0.region" in msg


def test_shipped_name_is_not_shadowed_by_a_directory(tmp_path, monkeypatch) -> None:
    (tmp_path / "stay-3000").mkdir()
    monkeypatch.chdir(tmp_path)
    assert load_scenario("stay-3000").name == "stay-3000"
