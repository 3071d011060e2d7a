"""Mechanisms: direction, and rough magnitude where LITERATURE.md gives one.

Each test changes one lever, shock or parameter against an otherwise identical scenario
and compares paired runs (common random numbers: same seed, same run indices), so the
differences are the mechanism's effect, not noise. Variants are built with the ``variant``
fixture (see conftest.py); ``simulate`` returns per-run metric arrays
``(runs, weeks[, regions])``.
"""

from __future__ import annotations

import datetime as dt

import numpy as np
import pytest

from resurgence.core.timegrid import WeekGrid

START = dt.date(2020, 12, 1)
GRID = WeekGrid(START, 104)
ONSET = dt.date(2021, 3, 1)
T0 = GRID.index_of(ONSET)  # week 12


def nat(a: np.ndarray) -> np.ndarray:
    """National series ``(runs, weeks)``: a regional metric summed over regions."""
    return a.sum(axis=2, dtype=np.float64) if a.ndim == 3 else a.astype(np.float64)


def popmean(a: np.ndarray, theatre) -> np.ndarray:
    w = theatre.population / theatre.population.sum()
    return (a * w).sum(axis=-1, dtype=np.float64)


def med(x: np.ndarray) -> float:
    return float(np.median(x))


# --- partner ISR (C1, C12) -----------------------------------------------------------------

def test_less_isr_lowers_detection_and_raises_fighters_and_attacks(simulate, variant, theatre):
    full = simulate("stay-3000")
    half = simulate(variant("stay-3000", "isr-half", schedules={"isr": [(START, 0.5)]}))
    none = simulate(variant("stay-3000", "isr-none", schedules={"isr": [(START, 0.0)]}))
    cov = [popmean(x["isr_coverage"], theatre).mean() for x in (full, half, none)]
    assert cov[0] > 0.5 and cov[1] == pytest.approx(cov[0] / 2, rel=1e-3) and cov[2] == 0.0
    # detection -> removals per fighter fall as ISR falls
    rate = [nat(x["is_removed"]).sum() / nat(x["is_fighters"]).sum() for x in (full, half, none)]
    assert rate[0] > rate[1] > rate[2]
    assert rate[2] < 0.75 * rate[0]
    # more fighters and more attacks, in (nearly) every paired run, dose-responsive
    f_end = [nat(x["is_fighters"])[:, -1] for x in (full, half, none)]
    assert np.mean(f_end[2] > f_end[1]) > 0.95 and np.mean(f_end[1] > f_end[0]) > 0.95
    assert med(f_end[2] / f_end[0]) > 1.2
    att = [nat(x["is_attacks"]).sum(axis=1) for x in (full, half, none)]
    assert np.mean(att[2] > att[1]) > 0.95 and np.mean(att[1] > att[0]) > 0.95
    # LITERATURE (inverse of Mir & Moore): losing persistent ISR completely -> attacks +75..160%
    ratio = med(att[2] / att[0])
    assert 1.5 < ratio < 2.8, ratio


# --- Baghdad-Erbil mediation (C18) ---------------------------------------------------------

def test_no_mediation_lowers_coordination_and_feeds_disputed_territories(simulate, theatre):
    a, b = simulate("announced-2500"), simulate("no-mediation")
    assert a["be_coordination"][:, -1].min() > 0.85
    assert b["be_coordination"][:, -1].max() < 0.5
    assert a["mediation"][:, -1].min() > 0.9 and b["mediation"][:, -1].max() == 0.0
    disputed = theatre.flags["disputed"]
    assert sorted(np.array(theatre.codes)[disputed]) == ["IQ-DI", "IQ-KI", "IQ-NI", "IQ-SD"]
    fa, fb = a["is_fighters"][:, -1], b["is_fighters"][:, -1]
    r_disp = fb[:, disputed].sum(axis=1) / fa[:, disputed].sum(axis=1)
    r_other = fb[:, ~disputed].sum(axis=1) / fa[:, ~disputed].sum(axis=1)
    assert med(r_disp) > 1.1
    assert np.mean(r_disp > r_other + 0.05) > 0.95
    # before mediation starts to fall (31 Dec) the two scenarios are identical
    np.testing.assert_array_equal(a["is_fighters"][:, :4], b["is_fighters"][:, :4])


# --- militia attacks, base closures, expulsion pressure (C9, C16, C24) ----------------------

def test_closure_hazard_closes_bases(simulate):
    none = simulate("stay-3000", overrides={"closure_hazard_per_attack": 0.0})
    base = simulate("stay-3000")
    high = simulate("stay-3000", overrides={"closure_hazard_per_attack": 0.05})
    # without the hazard only the schedule moves bases: the three open at 2020-11-30 stay open
    assert np.all(none["bases_open"] == 3)
    b0, b1 = base["bases_open"][:, -1], high["bases_open"][:, -1]
    assert np.all(b1 <= b0) and b1.mean() < b0.mean() - 1.0
    assert b0.mean() < 3.0  # the default hazard closes some bases within two years
    # closed bases draw fewer attacks
    assert nat(high["militia_attacks_us"]).sum() < nat(base["militia_attacks_us"]).sum()


def test_more_militia_attacks_close_bases_and_raise_pressure(simulate):
    base = simulate("stay-3000")
    x3 = simulate("stay-3000", overrides={"attack_rate_base": 1.2, "attack_rate_convoy": 1.05,
                                          "attack_rate_embassy": 0.9})
    ratio = nat(x3["militia_attacks_us"]).sum() / nat(base["militia_attacks_us"]).sum()
    assert 2.0 < ratio < 3.2
    assert x3["bases_open"][:, -1].mean() < base["bases_open"][:, -1].mean() - 0.3
    dp = x3["political_pressure"].mean(axis=1) - base["political_pressure"].mean(axis=1)
    assert np.mean(dp > 0) > 0.95 and dp.mean() > 0.03


# --- pandemic (C6, C15) ----------------------------------------------------------------------

def test_pandemic_wave_cuts_host_strength_and_raises_attacks(simulate, variant):
    calm = variant("iraq-2020", "no-pandemic", schedules={"pandemic": [(START, 0.0)]})
    wave = variant(calm, "pandemic-wave", shocks=[
        {"date": ONSET, "kind": "pandemic_wave", "magnitude": 1.0, "weeks": 13}])
    a, b = simulate(calm), simulate(wave)
    q1, q2 = slice(T0, T0 + 13), slice(T0 + 13, T0 + 26)
    np.testing.assert_array_equal(a["is_attacks"][:, :T0], b["is_attacks"][:, :T0])
    host = b["host_strength"][:, q1].mean() / a["host_strength"][:, q1].mean()
    assert 0.65 < host < 0.85  # pandemic_presence_cut 0.25 at full pressure
    during = med(nat(b["is_attacks"])[:, q1].sum(axis=1) / nat(a["is_attacks"])[:, q1].sum(axis=1))
    after = med(nat(b["is_attacks"])[:, q2].sum(axis=1) / nat(a["is_attacks"])[:, q2].sum(axis=1))
    # LITERATURE: the lockdown quarter saw IS attacks x1.4-1.5, reversed the next quarter
    assert 1.2 < during < 1.8, during
    assert 1.0 < after < during - 0.2, after


# --- protests (C5, C6) ------------------------------------------------------------------------

def test_protests_cut_federal_host_strength_but_not_kurdistan(simulate, variant, theatre):
    calm = simulate(variant("iraq-2020", "no-protests", schedules={"protests": [(START, 0.0)]}))
    riot = simulate(variant("iraq-2020", "protests", schedules={"protests": [(START, 1.0)]}))
    kurd = theatre.flags["kurdistan"]
    assert sorted(np.array(theatre.codes)[kurd]) == ["IQ-AR", "IQ-DA", "IQ-SU"]
    fed = riot["host_strength"][:, :, ~kurd] / calm["host_strength"][:, :, ~kurd]
    assert np.all(fed < 1.0)
    assert fed.mean() == pytest.approx(1 - 0.12, abs=0.02)  # protest_presence_cut 0.12
    np.testing.assert_allclose(riot["host_strength"][:, :, kurd], calm["host_strength"][:, :, kurd],
                               rtol=1e-4)
    assert nat(riot["is_attacks"]).sum() > 1.05 * nat(calm["is_attacks"]).sum()


# --- withdrawal (C3, C12, C22, C26) -----------------------------------------------------------

def test_full_withdrawal_resurgence_iran_and_leverage(shipped):
    a, b = shipped.outcomes["announced-2500"], shipped.outcomes["full-withdrawal"]
    for name, rel in (("is_attacks_y2", 1.3), ("is_fighters_end", 1.2), ("is_villages_end", 1.5)):
        assert med(b[name]) > rel * med(a[name]), name
        assert np.mean(b[name] > a[name]) > 0.9, name
    assert med(b["iran_influence_end"]) > med(a["iran_influence_end"]) + 0.05
    assert np.all(b["iran_influence_end"] > a["iran_influence_end"])
    assert np.all(b["us_leverage_end"] < a["us_leverage_end"])
    assert med(b["us_leverage_end"]) < 0.5 * med(a["us_leverage_end"])
    assert np.all(b["bases_open_end"] == 0)


def test_enablers_over_horizon_sits_between(shipped):
    a = shipped.outcomes["announced-2500"]
    oth = shipped.outcomes["enablers-over-horizon"]
    fw = shipped.outcomes["full-withdrawal"]
    for name in ("is_attacks_y1", "is_attacks_y2", "is_fighters_end"):
        assert med(a[name]) < med(oth[name]) < med(fw[name]), name
        assert np.mean((a[name] <= oth[name]) & (oth[name] <= fw[name])) > 0.9, name
    # over-the-horizon ISR keeps most of the gap closed on IS attacks in year 2
    gap = (med(oth["is_attacks_y2"]) - med(a["is_attacks_y2"])) / (
        med(fw["is_attacks_y2"]) - med(a["is_attacks_y2"]))
    assert 0.1 < gap < 0.8, gap


# --- training (C4, C11) ---------------------------------------------------------------------

def test_training_speeds_host_capability_growth(simulate, variant):
    caps = []
    for level in (0.0, 1.0, 2.0):
        x = simulate(variant("stay-3000", f"training-{level:g}", schedules={"training": [(START, level)]}))
        caps.append(x["host_capability"][:, -1])
        assert np.all(np.diff(x["host_capability"], axis=1) > 0)  # grows as forces become independent
    assert np.all(caps[0] < caps[1]) and np.all(caps[1] < caps[2])
    assert 0.02 < med(caps[2] - caps[0]) < 0.15
    assert 1.01 < med(caps[0]) < 1.06  # independence alone: cap_growth 0.03/yr, logistic


# --- Syria (C21) ----------------------------------------------------------------------------

def test_syrian_inflow_only_in_border_governorates(simulate, variant, theatre):
    base = simulate("stay-3000")
    chaos = simulate(variant("stay-3000", "syria-chaos", schedules={"syria_instability": [(START, 3.0)]}))
    border = np.isin(np.array(theatre.codes), ["IQ-AN", "IQ-NI"])
    assert np.array_equal(theatre.flags["syria_border"], border)
    for x in (base, chaos):
        assert not x["is_inflow"][:, :, ~border].any()
        assert np.all(x["is_inflow"][:, :, border].sum(axis=(0, 1)) > 0)
    ratio = chaos["is_inflow"].sum() / base["is_inflow"].sum()
    assert 2.7 < ratio < 3.3
    per_week = base["is_inflow"][:, :, border].sum(axis=2).mean()
    assert 1.0 < per_week < 10.0  # a few fighters a week (syria_inflow 2.5 per border region)
    f_border = chaos["is_fighters"][:, -1, border].sum(axis=1) / base["is_fighters"][:, -1, border].sum(axis=1)
    assert med(f_border) > 1.05


# --- shocks (C23, C24) ---------------------------------------------------------------------

def test_strike_forces_a_militia_campaign_and_a_pressure_jump(simulate, variant):
    base = simulate("stay-3000")
    strike = simulate(variant("stay-3000", "strike", shocks=[
        {"date": ONSET, "kind": "strike", "magnitude": 1.0, "weeks": 8}]))
    vote = simulate(variant("stay-3000", "vote", shocks=[
        {"date": ONSET, "kind": "expulsion_vote", "magnitude": 1.0}]))
    win = slice(T0, T0 + 8)
    assert np.all(strike["militia_campaign"][:, win] == 1.0)
    assert base["militia_campaign"][:, win].mean() < 0.9
    np.testing.assert_array_equal(strike["political_pressure"][:, :T0], base["political_pressure"][:, :T0])
    jump = strike["political_pressure"][:, T0] - base["political_pressure"][:, T0]
    assert np.all((jump >= 0.25 - 1e-6) & (jump < 0.35))  # 0.25 per unit magnitude, plus attacks
    assert strike["us_iran_tension"][0, T0] == pytest.approx(1.5)  # +0.5 per unit magnitude
    assert nat(strike["militia_attacks_us"])[:, win].mean() > 1.5 * nat(base["militia_attacks_us"])[:, win].mean()
    vjump = vote["political_pressure"][:, T0] - base["political_pressure"][:, T0]
    np.testing.assert_allclose(vjump, 0.3, atol=1e-6)  # 0.3 per unit magnitude


def test_escalation_with_responsive_policy_orders_exit(shipped, simulate, variant):
    s = shipped.outcomes["escalation"]
    assert s["exit_ordered"].mean() > 0.9
    assert np.all(shipped.outcomes["announced-2500"]["exit_ordered"] == 0)
    esc = simulate("escalation")
    ordered = esc["exit_ordered"][:, -1] > 0
    assert ordered.mean() > 0.9
    assert np.all(esc["us_troops"][ordered, -1] == 0)
    # ordered out from the shocks (week 12-15), gone within exit_weeks (26) after
    first = np.argmax(esc["exit_ordered"] > 0, axis=1)[ordered]
    assert np.all((first >= T0) & (first <= T0 + 4))
    gone = np.argmax(esc["us_troops"] == 0, axis=1)[ordered]
    assert np.all(gone - first <= 27)
    assert np.all(esc["bases_open"][ordered, -1] == 0)
    # negative control: the same shocks without the responsive policy keep the troops
    calm = simulate(variant("escalation", "escalation-unresponsive", policy={"responsive": False}))
    assert not calm["exit_ordered"].any()
    assert np.all(calm["us_troops"][:, -1] == 2500)


def test_is_surge_adds_fighters_in_its_region(simulate, variant, theatre):
    base = simulate("stay-3000")
    surge = simulate(variant("stay-3000", "surge-anbar", shocks=[
        {"date": ONSET, "kind": "is_surge", "region": "IQ-AN", "magnitude": 2.0}]))
    np.testing.assert_array_equal(surge["is_fighters"][:, :T0], base["is_fighters"][:, :T0])
    d = surge["is_fighters"][:, T0].astype(np.float64) - base["is_fighters"][:, T0]
    an = theatre.index("IQ-AN")
    np.testing.assert_allclose(d.sum(axis=1), 200.0, atol=0.05)  # SURGE_FIGHTERS x magnitude
    assert np.all((d[:, an] > 185) & (d[:, an] <= 200.01))  # a few move on within the week
    others = np.delete(d, an, axis=1)
    assert np.all(others > -1e-3)
    nonadjacent = ~theatre.adjacency[an] & (np.arange(theatre.n_regions) != an)
    assert np.allclose(d[:, nonadjacent], 0.0, atol=1e-3)
    # a national surge spreads by IS presence
    nat_surge = simulate(variant("stay-3000", "surge-national", shocks=[
        {"date": ONSET, "kind": "is_surge", "magnitude": 1.0}]))
    dn = nat_surge["is_fighters"][:, T0].astype(np.float64) - base["is_fighters"][:, T0]
    np.testing.assert_allclose(dn.sum(axis=1), 100.0 * theatre.attrs["is_presence"].sum(), atol=0.05)


# --- attacks: season, infrastructure, baseline plausibility (C17, C19, C20) ------------------

def test_attacks_peak_in_spring(simulate):
    seasonal = simulate("stay-3000")
    flat = simulate("stay-3000", overrides={"season_amp": 0.0})
    ratio = nat(seasonal["is_attacks"]).sum(axis=0) / nat(flat["is_attacks"]).sum(axis=0)
    months = GRID.dates.astype("datetime64[M]").astype(int) % 12 + 1
    by_month = np.array([ratio[months == m].mean() for m in range(1, 13)])
    assert by_month.argmax() + 1 in (4, 5, 6)  # season_peak_doy 130: early May
    assert by_month.argmin() + 1 in (10, 11, 12, 1)
    assert 1.3 < by_month.max() / by_month.min() < 2.0


def test_infrastructure_attacks_are_the_infra_share(simulate):
    for share in (0.05, 0.2):
        x = simulate("stay-3000", overrides={"infra_share": share})
        assert np.all(x["is_attacks_infra"] <= x["is_attacks"])
        got = x["is_attacks_infra"].sum() / x["is_attacks"].sum()
        assert got == pytest.approx(share, abs=0.01 * max(1.0, share / 0.05)), (share, got)


def test_2020_baseline_is_plausible(simulate):
    x = simulate("iraq-2020")
    per_week = nat(x["is_attacks"])[:, :52].mean(axis=1)
    # CTC Sentinel 2019-2020: 1,669 attacks in 2019; 510-808 a quarter in 2020
    assert 25 < med(per_week) < 70
    fighters_1y = nat(x["is_fighters"])[:, 51]
    assert 2000 < med(fighters_1y) < 6000  # Iraqi intelligence / KRG: 2,000-5,000
    per_month = nat(x["militia_attacks_us"]).sum(axis=1) / (x["militia_attacks_us"].shape[1] * 7 / 30.44)
    assert 4 < med(per_month) < 15  # Washington Institute: ~4 rocket + ~7 convoy attacks/month


def test_attacks_concentrate_in_the_northern_belt(simulate, theatre):
    x = simulate("iraq-2020")
    four = np.isin(np.array(theatre.codes), ["IQ-DI", "IQ-KI", "IQ-SD", "IQ-NI"])
    share = x["is_attacks"][:, :, four].sum() / x["is_attacks"].sum()
    assert 0.35 < share < 0.8, share  # Musings weekly tables 2018-19: 35-67%, median ~56%
