"""Structure that can decline (issue #9, item 4): each new mechanism alone, direction and
magnitude, with a negative control (the mechanism's parameter at 0); posture priors that
reach zero and reversed values; the posture-neutral overlay; the long-run equilibrium."""

from __future__ import annotations

import numpy as np
import pytest

from resurgence.core.errors import ArgumentError
from resurgence.model.equilibrium import long_run
from resurgence.model.mechanisms import insurgency as ins
from resurgence.model.mechanisms.coalition import Coalition
from resurgence.model.mechanisms.grievance import Grievance
from resurgence.model.mechanisms.host import Host
from resurgence.model.mechanisms.insurgency import Insurgency
from resurgence.model.sim import all_params, default_params
from resurgence.model.structures import POSTURE_NEUTRAL, structure_overrides
from resurgence.model.testing import MockSim
from resurgence.runs.prepare import resolve
from resurgence.scenario.drivers import PolicyDrivers

SPECS = {p.name: p for p in all_params()}


def kernel_means(theatre, F: float, *, lead: float = 1.0, V: float = 0.8, syria: float = 1.0,
                 **over: float) -> np.ndarray:
    """``means`` (3, R) of the fused insurgency kernel for one run: removal probability,
    attack mean, recruitment + inflow mean, with F fighters nationally, spread as IS presence."""
    R = theatre.n_regions
    vals = {k: float(over.get(k, SPECS[k].default)) for k in ins._KERNEL_PARAMS}
    P = np.array([[vals[k] for k in ins._KERNEL_PARAMS]])
    one = np.ones((1, R))
    out = ins._cells(F * theatre.attrs["is_presence"][None, :], one, 0.8 * one, 0.3 * one, 0.5 * one, 0.5 * one,
                     0.5 * one, np.full((1, R, 4), 0.5, dtype=np.float32),
                     theatre.attrs["is_presence"], np.zeros(R), 130.0, np.array([syria]),
                     np.array([lead]), np.full((1, R), V), P)
    return out[-1][:, 0, :]


# --- Allee recruitment -------------------------------------------------------------------

def test_allee_lowers_per_capita_recruitment_when_is_is_small(theatre):
    a = SPECS["allee_fighters"].default
    j = int(np.argmax(theatre.attrs["is_presence"]))
    for F in (20.0, 200.0, 3000.0):
        with_ = kernel_means(theatre, F)[2]
        without = kernel_means(theatre, F, allee_fighters=0.0)[2]
        np.testing.assert_allclose(with_ / without, F / (F + a), rtol=1e-9)
    # per capita: without Allee (logistic) recruitment per fighter is highest when IS is
    # small; with it, per-capita recruitment at 5 fighters falls below that at 200
    pc = {F: kernel_means(theatre, F)[2, j] / F for F in (20.0, 1000.0)}
    pc0 = {F: kernel_means(theatre, F, allee_fighters=0.0)[2, j] / F for F in (20.0, 1000.0)}
    assert pc0[20.0] > pc0[1000.0]        # negative control: the insurgency heals itself
    assert pc[20.0] < 0.5 * pc[1000.0]    # Allee: it does not


# --- backlash / momentum ---------------------------------------------------------------------

@pytest.mark.parametrize("b", [0.05, -0.05, 0.0])
def test_backlash_scales_recruitment_by_remembered_violence(theatre, b):
    calm = kernel_means(theatre, 300.0, V=0.8, backlash=b)[2]
    violent = kernel_means(theatre, 300.0, V=4.8, backlash=b)[2]
    np.testing.assert_allclose(violent / calm, np.exp(-b * 4.0), rtol=1e-9)
    # b > 0 backlash lowers recruitment, b < 0 momentum raises it, b = 0 changes nothing


# --- leadership attrition and recovery -------------------------------------------------------

def _insurgency(theatre, host: float, **params: float) -> MockSim:
    R = theatre.n_regions
    return MockSim(Insurgency, theatre, runs=1, params=params, reads={
        "host.host": np.full((1, R), host), "host.coord": np.full((1, R), 0.8),
        "coalition.isr": np.full((1, R), 1.0), "coalition.air": np.full((1, R), 1.0),
        "coalition.planning": np.full((1, R), 1.0), "grievance.grievance": np.full((1, R), 0.3),
        "lever.syria_instability": 1.0, "driver.season_doy": np.full(60, 130.0),
        "driver.is_surge": np.zeros((60, R))})


def test_removals_deplete_leadership_which_recovers_without_them(theatre):
    sim = _insurgency(theatre, host=2.0)
    sim.init()
    L0 = float(sim.own.leadership[0, 0])
    F0 = sim.own.fighters.sum()
    sim.step()
    share = sim.recorded["is_removed"].sum() / F0
    p = {k: SPECS[k].default for k in ("lead_recovery", "decap_rate")}
    expect = L0 + p["lead_recovery"] * (1 - L0) - p["decap_rate"] * share * L0
    assert share > SPECS["lead_removal_ref"].default  # heavy operations
    assert float(sim.own.leadership[0, 0]) == pytest.approx(expect, rel=1e-9)
    assert float(sim.own.leadership[0, 0]) < L0
    # negative control: no decapitation, leadership only recovers (towards 1)
    ctl = _insurgency(theatre, host=2.0, decap_rate=0.0)
    ctl.init()
    for _ in range(30):
        ctl.step()
    assert 0.95 < float(ctl.own.leadership[0, 0]) <= 1.0


def test_leadership_scales_attacks_and_is_neutral_at_its_reference(theatre):
    p = default_params(1).values
    col = {k: v[:, None] for k, v in p.items()}
    ns = type("P", (), col)
    ref = float(ins._lead_ref(ns)[0, 0])
    assert float(ins._lead_factor(ns, np.array([[ref]]))[0, 0]) == pytest.approx(1.0)
    lo, hi = (float(ins._lead_factor(ns, np.array([[x]]))[0, 0]) for x in (0.2, 1.0))
    w = SPECS["lead_weight"].default
    assert hi / lo == pytest.approx(1.0 / (1.0 - w * 0.8))
    a = kernel_means(theatre, 300.0, lead=lo)[1] / kernel_means(theatre, 300.0, lead=hi)[1]
    np.testing.assert_allclose(a, lo / hi, rtol=1e-9)


# --- Syrian pool ---------------------------------------------------------------------------

def test_syrian_inflow_scales_with_the_pool_whose_excess_decays(theatre):
    R = theatre.n_regions
    border = theatre.flags["syria_border"].astype(float)
    vals = {k: SPECS[k].default for k in ins._KERNEL_PARAMS}
    vals["recruit_rate"] = 0.0  # inflow only
    P = np.array([[vals[k] for k in ins._KERNEL_PARAMS]])
    one = np.ones((1, R))

    def inflow(pool):
        return ins._cells(100 * one, one, one, 0.3 * one, 0.5 * one, one, one,
                          np.full((1, R, 4), 0.5, dtype=np.float32), theatre.attrs["is_presence"],
                          border, 130.0, np.array([pool]), np.ones(1), 0.8 * one, P)[-1][2, 0]

    np.testing.assert_allclose(inflow(1.6), 1.6 * inflow(1.0))
    assert inflow(1.0)[border == 0].sum() == 0 and inflow(1.0)[border == 1].min() > 0
    sim = _insurgency(theatre, host=1.0, syria_excess_0=0.6)
    sim.init()
    for _ in range(10):
        sim.step()
    d = SPECS["syria_excess_decay"].default
    assert float(sim.own.syria_excess[0, 0]) == pytest.approx(0.6 * (1 - d) ** 10)
    ctl = _insurgency(theatre, host=1.0)  # default: no excess, the lever's level
    ctl.init()
    ctl.step()
    assert float(ctl.own.syria_excess[0, 0]) == 0.0


# --- countervailing channels ---------------------------------------------------------------

def _grievance(theatre, ratio: float, **params: float) -> MockSim:
    R = theatre.n_regions
    return MockSim(Grievance, theatre, runs=1, params=params, reads={
        "host.host": np.ones((1, R)), "coalition.air": np.full((1, R), 0.5),
        "coalition.troop_ratio": np.full((1, 1), ratio), "insurgency.detect": np.full((1, R), 0.5),
        "militia.militia_strength": np.ones((1, 1))})


@pytest.mark.parametrize("pg", [None, 0.0])
def test_foreign_presence_feeds_grievance(theatre, pg):
    over = {} if pg is None else {"presence_grievance": pg}
    g = {}
    for ratio in (0.0, 2.0):
        sim = _grievance(theatre, ratio, **over)
        sim.init()
        sim.step()
        g[ratio] = sim.own.grievance
    k = SPECS["presence_grievance"].default if pg is None else 0.0
    np.testing.assert_allclose(g[2.0] - g[0.0], SPECS["grievance_rate"].default * k * 2.0,
                               atol=1e-12)


def _host(theatre, **params: float) -> MockSim:
    R = theatre.n_regions
    return MockSim(Host, theatre, runs=1, params={"cap_growth_training": 0.0, **params}, reads={
        "lever.mediation": 1.0, "lever.political_division": 0.5, "lever.pandemic": 0.0,
        "lever.protests": 0.0, "lever.corruption": 0.5, "coalition.training": np.ones((1, R)),
        "coalition.mediation": np.ones((1, 1)), "militia.militia_strength": np.ones((1, 1)),
        "territory.collapsed": np.zeros((1, R))})


def test_host_adapts_after_advisers_leave(theatre):
    def after(**params):
        sim = _host(theatre, **params)
        sim.init()
        sim.step()  # week 0 sets the training reference
        sim.state.coalition.training = np.zeros((1, theatre.n_regions))  # advisers leave
        for _ in range(52):
            sim.step()
        return float(sim.own.capability[0, 0]), float(sim.own.adaptation[0, 0])
    cap, adapt = after()
    cap0, adapt0 = after(host_adaptation=0.0)
    r = SPECS["adaptation_rate"].default
    assert adapt == pytest.approx(1 - (1 - r) ** 52) and adapt0 == adapt
    assert cap > cap0                      # learning adds capability
    gain = SPECS["host_adaptation"].default * adapt / 2  # ~ mean adaptation over the year
    assert 0.3 * gain < cap / cap0 - 1 < 1.5 * gain
    # negative control: training stays, nothing is lost, nothing to learn
    sim = _host(theatre)
    sim.init()
    for _ in range(20):
        sim.step()
    assert float(sim.own.adaptation[0, 0]) == 0.0


# --- posture switch and priors ---------------------------------------------------------------

def _coalition(theatre, troops: float, **params: float) -> MockSim:
    B, R = len(theatre.bases), theatre.n_regions
    levers = {f"lever.{k}": 1.0 for k in ("isr", "air", "training", "planning", "mediation")}
    return MockSim(Coalition, theatre, runs=1, params=params, reads={
        **levers, "lever.troops": troops, "lever.isr_over_horizon": 0.0,
        "lever.air_over_horizon": 0.0, "driver.base_open": np.ones((5, B), dtype=bool),
        "driver.policy": PolicyDrivers(False, 0.8, 26), "driver.closure_hazard": None,
        "militia.militia_attacks_us": np.zeros((1, R)), "politics.pressure": np.zeros((1, 1))})


@pytest.mark.parametrize("w", [1.0, 0.0])
def test_posture_response_switch(theatre, w):
    cov = {}
    for troops in (1000.0, 3000.0):
        sim = _coalition(theatre, troops, posture_response=w)
        sim.init()
        sim.step()
        cov[troops] = {e: getattr(sim.own, e).copy() for e in ("isr", "training", "planning")}
    for e in cov[1000.0]:
        if w == 0.0:  # posture-neutral: coverage is the reference, whatever the troops
            np.testing.assert_array_equal(cov[1000.0][e], cov[3000.0][e])
        else:  # posture matters (negative control of the switch)
            assert (cov[1000.0][e] < cov[3000.0][e]).all()
    # at the reference posture (3,000 troops, levers 1, all sites) both agree
    sim = _coalition(theatre, 3000.0)
    sim.init()
    sim.step()
    np.testing.assert_allclose(sim.own.isr, sim.own.isr_ref)


POSTURE_EFFECTS = ("isr_deterrence", "detect_isr", "detect_planning", "remove_air", "interdiction",
                   "cap_growth_training", "militia_vacuum", "influence_vacuum",
                   "presence_grievance", "host_adaptation", "lead_weight", "decap_rate",
                   "allee_fighters", "backlash")
REVERSIBLE = ("isr_deterrence", "cap_growth_training", "militia_vacuum", "influence_vacuum",
              "presence_grievance", "backlash")


def test_posture_priors_reach_zero_and_reversed_values():
    for name in POSTURE_EFFECTS:
        p = SPECS[name]
        lo, _hi, _open, _why = p.support()
        assert p.uncertain and lo <= 0.0, name
        assert p.problem(0.0) is None, name  # 0 (no effect) is a valid value
        dist = p.prior.dist()
        assert dist.cdf(0.25 * p.default) > 0.02, name  # real mass near no effect
    for name in REVERSIBLE:
        assert SPECS[name].prior.dist().cdf(0.0) > 0.02, name  # and on the reversed side
    # defaults stay where they were: only the priors widened
    assert SPECS["isr_deterrence"].default == 0.5 and SPECS["detect_isr"].default == 0.5
    assert SPECS["militia_vacuum"].default == 0.3 and SPECS["remove_air"].default == 0.006


def test_structure_overlays():
    assert structure_overrides("posture-matters") == {}
    assert structure_overrides("posture-neutral") == dict(POSTURE_NEUTRAL)
    for k, v in POSTURE_NEUTRAL.items():
        assert SPECS[k].problem(v) is None
    with pytest.raises(ArgumentError, match="field 'structure' = 'nope'"):
        structure_overrides("nope")


# --- long-run equilibrium ------------------------------------------------------------------

def test_long_run_equilibrium_posture_matters_and_neutral(theatre):
    runs, seed = 6, 5
    res = {}
    for st in ("posture-matters", "posture-neutral"):
        for sc in ("stay-3000", "full-withdrawal"):
            ps = default_params(runs, structure_overrides(st))
            res[st, sc] = long_run(resolve(sc), theatre, ps, range(runs), seed, years=4)
    r = res["posture-matters", "stay-3000"]
    assert set(r) >= {"attacks_last_year", "fighters_end", "settled", "decays"}
    assert (r["attacks_last_year"] > 1.0).all() and not r["decays"].any()
    m = {k: float(np.median(v["attacks_last_year"])) for k, v in res.items()}
    # posture matters: a full withdrawal settles far above staying; posture-neutral: the
    # frozen posture makes no difference (within noise)
    assert m["posture-matters", "full-withdrawal"] > 1.5 * m["posture-matters", "stay-3000"]
    assert m["posture-neutral", "full-withdrawal"] == pytest.approx(
        m["posture-neutral", "stay-3000"], rel=0.15)
    with pytest.raises(ValueError, match="years = 2"):
        long_run(resolve("stay-3000"), theatre, default_params(1), [0], 1, years=2)


# --- the structure comparison's scoring partition --------------------------------------------

def test_posture_compare_partition_is_non_overlapping_and_prefers_months():
    import importlib.util
    from pathlib import Path

    import pandas as pd

    path = Path(__file__).resolve().parents[1] / "scripts" / "posture_compare.py"
    spec = importlib.util.spec_from_file_location("posture_compare", path)
    assert spec and spec.loader
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    rows = pd.DataFrame([
        ("musings", "incidents", "IQ", "2018-01-01", "2018-12-31", "year"),     # 0: no months
        ("musings", "incidents", "IQ", "2019-01-01", "2019-12-31", "year"),     # 1: months below
        ("musings", "incidents", "IQ", "2019-01-01", "2019-01-31", "month"),    # 2
        ("musings", "incidents", "IQ", "2019-02-01", "2019-02-28", "month"),    # 3
        ("musings", "incidents", "IQ", "2019-02-03", "2019-02-09", "week"),     # 4: never a level
        ("musings", "incidents", "IQ-NI", "2019-01-01", "2019-01-31", "month"),  # 5: regional
        ("ged", "is_events", "IQ-NI", "2019-01-01", "2019-01-31", "month"),     # 6: regional GED
        ("ctc", "is_attacks", "IQ", "2020-01-01", "2020-03-31", "quarter"),     # 7
    ], columns=["source", "metric", "region", "period_start", "period_end", "granularity"])
    assert list(mod.partition(rows)) == [0, 2, 3, 7]
    assert list(mod.partition(rows, regional=True)) == [0, 2, 3, 6, 7]
