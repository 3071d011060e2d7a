"""The fused territory kernel gives exactly what the NumPy step it replaced gave.

``numpy_step`` is the former ``Territory.step`` (vectorised NumPy with the ``samplers``
functions); the engine must produce bit-identical series with either, on default parameters,
where collapse happens often, and where the counts take the large-mean branch.
"""

from __future__ import annotations

import numpy as np
import pytest

from resurgence.core import samplers
from resurgence.model.mechanisms.territory import N, Territory
from resurgence.model.sim import default_params, simulate_chunk
from resurgence.runs.ensemble import resolve
from resurgence.scenario.drivers import compile_drivers


def numpy_step(self, sim, t: int) -> None:
    s, p, st = sim.state.territory, sim.params.territory, sim.state
    c, coord, G = st.coalition, st.host.coord, st.grievance.grievance
    u = sim.u_region(N, t)
    V, F, H = s.villages, st.insurgency.fighters, st.host.host
    support = (p.clear_unsupported + p.clear_isr * np.minimum(c.isr, 1.0)
               + p.clear_air * np.minimum(c.air, 1.0) + p.clear_planning * np.minimum(c.planning, 1.0))
    p_clear = 1.0 - np.exp(-p.clear_rate * H * coord * support)
    cleared = samplers.binomial(V, p_clear, u[..., 0])
    inf_mean = p.infiltration * F * (1.0 + G) / (1.3 * np.maximum(H * coord, 0.2))
    V = V - cleared + samplers.poisson(inf_mean, u[..., 1])
    ratio = F / (p.collapse_density * H * self._pop_m)
    hz = np.where(s.collapsed > 0, np.where(ratio < 0.5, p.recover_rate, 0.0),
                  1.0 - np.exp(-p.collapse_rate * np.maximum(ratio - 1.0, 0.0) ** 2))
    s.collapsed = np.where(u[..., 2] < hz, 1.0 - s.collapsed, s.collapsed)
    s.villages = V
    holds = (s.collapsed.max(axis=1, keepdims=True) > 0) | (
        V.sum(axis=1, keepdims=True) >= p.hold_villages)
    sim.record("is_villages", t, V)
    sim.record("villages_cleared", t, cleared)
    sim.record("collapsed", t, s.collapsed)
    sim.record("is_holds_ground", t, holds.astype(float))


@pytest.mark.parametrize("scale", [{}, {"collapse_density": 0.2},
                                   {"villages_0": 40.0}, {"infiltration": 400.0}])
@pytest.mark.parametrize("scenario", ["announced-2500", "full-withdrawal"])
def test_fused_step_is_bit_identical_to_the_numpy_step(theatre, monkeypatch, scale, scenario):
    sc = resolve(scenario, 30)
    drivers = compile_drivers(sc, theatre)
    p = default_params(40)
    rng = np.random.default_rng(5)
    for prm in Territory.params:  # spread the runs over the parameter space
        p.values[prm.name] = p.values[prm.name] * rng.uniform(0.5, 1.5, 40) * scale.get(prm.name, 1.0)
    fused = simulate_chunk(sc, theatre, p, np.arange(40), 3, drivers)
    monkeypatch.setattr(Territory, "step", numpy_step)
    ref = simulate_chunk(sc, theatre, p, np.arange(40), 3, drivers)
    assert fused.keys() == ref.keys()
    for k in ref:
        np.testing.assert_array_equal(fused[k], ref[k], err_msg=k)
    if "collapse_density" in scale:  # the case exercises collapse and recovery
        assert 0 < ref["collapsed"].mean() < 1
    if "villages_0" in scale:  # and the large-mean branch of the clearing draw
        assert (ref["villages_cleared"] > samplers.NORMAL_SWITCH).any()


def test_kernel_matches_the_numpy_equations_on_every_branch() -> None:
    """Synthetic states covering collapse, recovery (ratio < 0.5), no change and the
    large-mean flag, against the NumPy equations of the former step."""
    from resurgence.model.mechanisms.territory import _KERNEL_PARAMS, _cells

    rng = np.random.default_rng(11)
    n, R = 400, 18
    V = rng.uniform(0, 60, (n, R))
    V[:5] *= 100  # large means: flagged for the gamma branch
    F = rng.uniform(0, 3000, (n, R))
    H, coord, G = rng.uniform(0.05, 1.2, (n, R)), rng.uniform(0.2, 1, (n, R)), rng.uniform(0, 1, (n, R))
    isr, air, planning = (rng.uniform(0, 1.5, (n, R)) for _ in range(3))
    collapsed = (rng.random((n, R)) < 0.4).astype(float)
    u = rng.random((n, R, 3)).astype(np.float32)
    pop_m = rng.uniform(0.5, 8, R)
    P = np.column_stack([rng.uniform(0.1, 0.6, n), rng.uniform(0.1, 0.5, n), rng.uniform(0.05, 0.4, n),
                         rng.uniform(0.05, 0.4, n), rng.uniform(0.01, 0.1, n), rng.uniform(1e-4, 1e-3, n),
                         rng.uniform(100, 3000, n), rng.uniform(0.1, 2, n), rng.uniform(0.5, 1, n)])
    assert P.shape[1] == len(_KERNEL_PARAMS)
    c_un, c_isr, c_air, c_plan, c_rate, infil, c_dens, c_rate2, r_rate = (P[:, [k]] for k in range(9))
    support = c_un + c_isr * np.minimum(isr, 1.0) + c_air * np.minimum(air, 1.0) + c_plan * np.minimum(planning, 1.0)
    p_clear = 1.0 - np.exp(-c_rate * H * coord * support)
    inf_mean = infil * F * (1.0 + G) / (1.3 * np.maximum(H * coord, 0.2))
    ratio = F / (c_dens * H * pop_m[None, :])
    hz = np.where(collapsed > 0, np.where(ratio < 0.5, r_rate, 0.0),
                  1.0 - np.exp(-c_rate2 * np.maximum(ratio - 1.0, 0.0) ** 2))
    want_col = np.where(u[..., 2] < hz, 1.0 - collapsed, collapsed)
    for branch in (want_col != collapsed) & (collapsed > 0), (want_col != collapsed) & (collapsed == 0):
        assert branch.sum() > 10  # recoveries and collapses both happen
    V1, cleared, new, col, pc, im, flagged = _cells(V, F, H, coord, G, isr, air, planning,
                                                    collapsed, u, pop_m, P)
    np.testing.assert_array_equal(col, want_col)
    # exp: Numba's (libm) and NumPy's (SIMD) may differ in the last bit; the counts may not
    np.testing.assert_allclose(pc, p_clear, rtol=0, atol=3e-16)  # 1 - exp: ulps of 1
    np.testing.assert_array_equal(im, inf_mean)
    assert flagged and (cleared < 0).any()
    samplers.fix_large(2, cleared, V, pc, u[..., 0])
    samplers.fix_large(0, new, im, 0.0, u[..., 1])
    np.testing.assert_array_equal(cleared, samplers.binomial(V, p_clear, u[..., 0]))
    np.testing.assert_array_equal(new, samplers.poisson(inf_mean, u[..., 1]))
    assert (cleared >= 0).all() and (new >= 0).all()
    np.testing.assert_array_equal(V1[5:], (V - cleared + new)[5:])  # rows without a flag
