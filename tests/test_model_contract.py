"""The module contract: owned state, declared reads checked at start-up and at run time,
and one mechanism tested alone against a mock simulation."""

from __future__ import annotations

import numpy as np
import pytest

from resurgence.model.mechanisms.militia import Militia
from resurgence.model.mechanisms.politics import Politics
from resurgence.model.module import ModelError, Module, check_declarations, state_class
from resurgence.model.sim import PLAN, Sim, default_params, simulate_chunk
from resurgence.model.testing import MockSim
from resurgence.scenario.drivers import compile_drivers
from resurgence.scenario.schema import SCHEDULES, load_scenario


def _fields(theatre):
    d = compile_drivers(load_scenario("stay-3000"), theatre)
    from dataclasses import fields

    return d.levers, [f.name for f in fields(d)]


def test_every_module_owns_its_states_and_reads_only_declared_names(theatre) -> None:
    """Strict mode checks every access; its results equal the fast path bit for bit, and
    every declared read is used (no stale declarations)."""
    used: set[tuple[str, str]] = set()
    for name in ("escalation", "full-withdrawal"):
        sc = load_scenario(name).model_copy(update={"weeks": 30})
        sc = sc.model_copy(update={"policy": sc.policy.model_copy(update={"responsive": True})})
        ps = default_params(6)
        fast = simulate_chunk(sc, theatre, ps, np.arange(6), 11)
        sim = Sim(sc, theatre, ps, np.arange(6), 11, strict=True)
        strict = sim.run(11)
        for k in fast:
            np.testing.assert_array_equal(fast[k], strict[k])
        used |= sim.used_reads
    declared = {(m.name, r) for m in PLAN for r in m.reads}
    assert used <= declared
    unused = declared - used
    assert unused == set(), f"declared but never read: {sorted(unused)}"


def test_a_state_typo_fails_at_once() -> None:
    st = state_class(Militia)()
    st.militia_strength = np.ones((2, 1))
    with pytest.raises(AttributeError):
        st.militia_strenght = np.ones((2, 1))  # not a declared state


def _bad_module(reads: tuple[str, ...]) -> type[Module]:
    return type("Bad", (Module,), {"name": "bad", "title": "bad", "reads": reads,
                                   "step": lambda self, sim, t: None})


@pytest.mark.parametrize(("read", "needle"), [
    ("coalition.troopz", "bad reads 'coalition.troopz', which coalition does not declare"),
    ("lever.isrr", "bad reads lever 'isrr'"),
    ("driver.nothing", "bad reads driver 'nothing'"),
    ("ghost.x", "no module 'ghost' is in the plan"),
    ("troops", "not qualified"),
])
def test_a_missing_read_is_one_line_naming_module_and_name(theatre, read, needle) -> None:
    levers, fields = _fields(theatre)
    check_declarations(PLAN, levers, fields)  # the shipped plan is consistent
    with pytest.raises(ModelError, match=needle.replace("(", r"\(").replace(")", r"\)")) as e:
        check_declarations([*PLAN, _bad_module((read,))], levers, fields)
    assert "\n" not in str(e.value)


def test_strict_mode_catches_an_undeclared_read(theatre) -> None:
    """Reading another module's state without declaring it is an error in strict mode."""
    class Sneaky(Politics):
        reads = tuple(r for r in Politics.reads if r != "coalition.mediation")

    import resurgence.model.sim as simmod

    plan = tuple(Sneaky if m is Politics else m for m in PLAN)
    sc = load_scenario("stay-3000").model_copy(update={"weeks": 3})
    old = simmod.PLAN
    try:
        simmod.PLAN = plan
        with pytest.raises(ModelError, match="politics reads 'coalition.mediation' without declaring it"):
            Sim(sc, theatre, default_params(2), np.arange(2), 1, strict=True).run(1)
        # the fast path does not check (and runs)
        Sim(sc, theatre, default_params(2), np.arange(2), 1).run(1)
    finally:
        simmod.PLAN = old


def _militia(theatre, strength: float, campaign_u: float = 0.0) -> np.ndarray:
    sim = MockSim(Militia, theatre, runs=1, uniform=0.5, reads={
        "lever.us_iran_tension": 1.0, "driver.campaign_force": np.array([1.0]),
        "coalition.troops": 3000.0, "coalition.troop_ratio": 1.0,
        "coalition.base_open": np.ones((1, len(theatre.bases)), dtype=bool)})
    sim.init()
    sim.own.militia_strength = np.full((1, 1), strength)
    sim.step()
    return sim.recorded["militia_attacks_us"]


def test_militia_alone_attacks_scale_with_strength(theatre) -> None:
    """One mechanism against hand-made inputs: doubling militia strength (during a forced
    campaign, same uniforms) raises attacks on US sites, and only where there are targets."""
    lo, hi = _militia(theatre, 1.0), _militia(theatre, 2.0)
    assert hi.sum() > lo.sum() > 0
    assert (hi >= lo).all()


def test_mock_sim_demands_every_declared_read(theatre) -> None:
    with pytest.raises(ModelError, match="give a value for 'lever.us_iran_tension'"):
        MockSim(Militia, theatre, reads={})


def test_schedules_define_every_lever_a_module_reads() -> None:
    levers = {r.split(".", 1)[1] for m in PLAN for r in m.reads if r.startswith("lever.")}
    assert levers <= set(SCHEDULES)


def test_params_and_state_survive_copy_protocols(theatre) -> None:
    """A simulation's parameter and state namespaces answer copy/pickle's dunder look-ups
    with AttributeError (not ModelError), so they deep-copy like any object."""
    import copy

    sc = load_scenario("stay-3000").model_copy(update={"weeks": 2})
    sim = Sim(sc, theatre, default_params(2), np.arange(2), 1)
    p = copy.deepcopy(sim.params)
    np.testing.assert_array_equal(p.coalition.troops_ref, sim.params.coalition.troops_ref)
    with pytest.raises(ModelError, match="parameters of nowhere"):
        sim.params["nowhere"]
