"""The fused module kernels give exactly what the NumPy steps they replaced gave.

``tests/numpy_steps.py`` holds the former ``step`` of coalition, host, militia, politics,
grievance and insurgency (verbatim). Every test runs the same simulation twice, with the
engine's steps and with those put back, and requires every recorded series and every final
state to be bit for bit equal: default parameters spread over their range, the posture blend,
a responsive exit, over-the-horizon enablers, per-run levers (the Sobol' design), strict mode,
and the shipped posterior from its carried origin states.
"""

from __future__ import annotations

import numpy as np
import pytest

from resurgence.model import mechanisms
from resurgence.model.sim import PLAN, Sim, default_params
from resurgence.runs.ensemble import resolve
from resurgence.scenario.drivers import compile_drivers
from tests import numpy_steps

MODULES = ("coalition", "host", "militia", "politics", "grievance", "insurgency")


def _reference(monkeypatch) -> None:
    for cls in PLAN:
        if cls.name in MODULES:
            monkeypatch.setattr(cls, "step", getattr(numpy_steps, f"{cls.name}_step"))


def _spread(runs: int, seed: int, scale: dict[str, float] | None = None):
    p = default_params(runs)
    rng = np.random.default_rng(seed)
    for cls in PLAN:
        for prm in cls.params:
            p.values[prm.name] = (p.values[prm.name] * rng.uniform(0.5, 1.5, runs)
                                  * (scale or {}).get(prm.name, 1.0))
    return p


def _both(monkeypatch, make) -> tuple[dict, dict, dict, dict]:
    """``make()`` builds a Sim and runs it, returning (outputs, final states); first the
    engine's steps, then the reference steps."""
    fused = make()
    with monkeypatch.context() as m:
        _reference(m)
        ref = make()
    return fused[0], ref[0], fused[1], ref[1]


def _equal(fused, ref, fs, rs) -> None:
    assert fused.keys() == ref.keys() and fs.keys() == rs.keys()
    for k in ref:
        np.testing.assert_array_equal(fused[k], ref[k], err_msg=k)
        assert fused[k].dtype == ref[k].dtype
    for k in rs:
        np.testing.assert_array_equal(fs[k], rs[k], err_msg=k)


def _run(sc, theatre, params, runs, seed=3, drivers=None, **kw):
    def make():
        sim = Sim(sc, theatre, params, np.arange(runs), seed, drivers, **kw)
        out = sim.run(seed)
        return out, sim.export_state()
    return make


@pytest.mark.parametrize("scenario", ["announced-2500", "full-withdrawal", "escalation",
                                      "enablers-over-horizon", "pandemic-protests-worse"])
def test_engine_equals_the_numpy_steps(theatre, monkeypatch, scenario) -> None:
    sc = resolve(scenario, 70)
    drivers = compile_drivers(sc, theatre)
    p = _spread(40, 7)
    _equal(*_both(monkeypatch, _run(sc, theatre, p, 40, drivers=drivers)))


@pytest.mark.parametrize("scale", [{"posture_response": 0.5}, {"closure_hazard_per_attack": 40.0},
                                   {"pressure_0": 1.6, "pressure_attacks": 3.0},
                                   {"collapse_density": 0.2, "is_fighters_0": 3.0}])
def test_engine_equals_the_numpy_steps_on_rare_branches(theatre, monkeypatch, scale) -> None:
    """Posture blend, frequent base closures, an early responsive exit, collapse and the
    large-mean branches of the IS draws."""
    sc = resolve("escalation", 60)
    p = _spread(30, 11, scale)
    _equal(*_both(monkeypatch, _run(sc, theatre, p, 30)))


def test_engine_equals_the_numpy_steps_with_per_run_levers_and_strict(theatre, monkeypatch) -> None:
    sc = resolve("announced-2500", 40)
    drivers = compile_drivers(sc, theatre)
    rng = np.random.default_rng(5)
    n = 24
    series = {k: drivers.levers[k][:, None] * rng.uniform(0.3, 1.7, n)[None, :]
              for k in ("troops", "us_iran_tension", "pandemic", "isr", "mediation",
                        "political_division", "syria_instability")}
    p = _spread(n, 5)
    _equal(*_both(monkeypatch, _run(sc, theatre, p, n, drivers=drivers, lever_series=series)))
    _equal(*_both(monkeypatch, _run(sc, theatre, p, n, drivers=drivers, strict=True)))


def test_engine_equals_the_numpy_steps_from_carried_states(theatre, monkeypatch) -> None:
    """The shipped posterior from its origin states, as ``resurgence run`` simulates."""
    from resurgence.calibration.posterior import resolve_posterior
    from resurgence.runs.prepare import simulate_spun

    post = resolve_posterior("shipped")
    ids = np.arange(100, 160)
    car = post.carried(ids)
    sc = resolve("full-withdrawal", 104)

    def make():
        return simulate_spun(sc, theatre, post.paramset(ids), ids, 1, car.date, car), {}
    _equal(*_both(monkeypatch, make))


def test_reference_steps_are_complete() -> None:
    assert {m.name for m in PLAN} - set(MODULES) == {"territory"}  # see test_territory_kernel.py
    assert all(hasattr(numpy_steps, f"{m}_step") for m in MODULES)
    assert mechanisms is not None


def test_engine_equals_the_numpy_steps_with_parameters_at_their_bounds(theatre, monkeypatch) -> None:
    """One run per parameter and bound of its support (as test_validation), every other
    parameter at its default: infinities, zeros and divisions by zero behave as in NumPy."""
    from resurgence.model.sim import all_params

    cases = []
    for prm in all_params():
        lo, hi, lo_open, _ = prm.support()
        for v in [hi] + ([lo] if not lo_open else [lo + 1e-9 * max(1.0, abs(hi))]):
            if np.isfinite(v):
                cases.append((prm.name, v))
    p = default_params(len(cases))
    for i, (name, v) in enumerate(cases):
        p.values[name] = p.values[name].copy()
        p.values[name][i] = v
    sc = resolve("escalation", 30)
    with np.errstate(all="ignore"):
        _equal(*_both(monkeypatch, _run(sc, theatre, p, len(cases))))
