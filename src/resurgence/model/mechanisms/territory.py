"""Ground: IS-held or contested villages, clearing operations, and regional collapse.

IS infiltrates villages in proportion to its fighters, more where grievance is high and
host presence and coordination are thin; Iraqi clearing operations retake them at a rate
that depends on partner ISR, air and planning support (C1: ~90 villages cleared in
Nineveh relying on US intelligence, flights and planning). A region collapses (C7, the
2014 path) when IS fighters outnumber what its host strength can hold; collapse cuts host
strength (see host) until the ratio falls back. "IS holds ground" (C3, C21) is reported
when any region has collapsed or contested villages exceed a national threshold.
"""

from __future__ import annotations

import numba
import numpy as np

from resurgence.core import nbmath, samplers
from resurgence.model.module import M, Module, P, S
from resurgence.model.params import lognormal, uniform

N = "territory"


class Territory(Module):
    name = N
    title = "Villages contested or held by IS, clearing, collapse"
    claims = ("C1", "C3", "C7", "C21")
    reads = ("insurgency.fighters", "host.host", "host.coord", "coalition.isr", "coalition.air",
             "coalition.planning", "grievance.grievance")
    draws_region = 3  # clearing, infiltration, collapse/recovery
    params = (
        P(N, "villages_0", 150.0, "villages", "IS-held or contested villages at the start",
          lognormal(150, 0.5), ("C1",), "seed: ~90 villages cleared in one 2020 Nineveh operation"),
        P(N, "clear_rate", 0.034, "1/week", "clearing hazard per village at full support and H = 1",
          lognormal(0.034, 0.4), ("C1",)),
        P(N, "clear_unsupported", 0.3, "1", "clearing support available without any partner enablers",
          uniform(0.1, 0.6), ("C1", "C4")),
        P(N, "clear_isr", 0.3, "1", "clearing support from full ISR coverage", uniform(0.1, 0.5), ("C1",)),
        P(N, "clear_air", 0.2, "1", "clearing support from full air coverage", uniform(0.05, 0.4), ("C1", "C8")),
        P(N, "clear_planning", 0.2, "1", "clearing support from full planning support",
          uniform(0.05, 0.4), ("C1",)),
        P(N, "infiltration", 0.00065, "villages/fighter/week", "villages infiltrated per fighter per week",
          lognormal(0.00065, 0.5), ("C17", "C21")),
        P(N, "hold_villages", 450.0, "villages", "contested villages above which IS is said to hold ground",
          claims=("C3", "C21"), source="judgement (a definition): three times the late-2020 stock"),
        P(N, "collapse_density", 1500.0, "fighters per million people", "IS density a region's forces can hold at H = 1",
          lognormal(1500, 0.4), ("C7",), "2014: ~1,500 fighters took Mosul (Nineveh, 3.7 M people)"),
        P(N, "collapse_rate", 0.5, "1/week", "collapse hazard per unit squared excess force ratio",
          lognormal(0.5, 0.6), ("C7",)),
        P(N, "recover_rate", 0.05, "1/week", "weekly chance a collapsed region recovers once the ratio is below 0.5",
          lognormal(0.05, 0.5), ("C7",)),
    )
    states = (
        S("villages", "region", "villages", "IS-held or contested villages"),
        S("collapsed", "region", "0/1", "host forces in the region have collapsed"),
    )
    metrics = (
        M("is_villages", "villages", "IS-held or contested villages"),
        M("villages_cleared", "villages/week", "villages cleared by host operations"),
        M("collapsed", "0/1", "host forces collapsed in the region", agg="max"),
        M("is_holds_ground", "0/1", "IS holds ground: a region collapsed or villages above threshold",
          "national"),
    )

    def init(self, sim) -> None:
        th = sim.theatre
        s = sim.state.territory
        s.villages = sim.params.territory.villages_0 * th.attrs["is_presence"][None, :]
        s.collapsed = np.zeros((sim.n, sim.n_regions))
        self._pop_m = th.population[None, :] / 1e6
        self._P: np.ndarray | None = None  # per-run parameters of the fused kernel (first step)
        self._hold: np.ndarray | None = None

    def step(self, sim, t: int) -> None:
        s, p, st = sim.state.territory, sim.params.territory, sim.state
        c, coord, G = st.coalition, st.host.coord, st.grievance.grievance
        u = np.ascontiguousarray(sim.u_region(N, t))  # C order whatever the chunk: one kernel signature
        if self._P is None:
            self._P = np.ascontiguousarray(
                np.column_stack([getattr(p, k)[:, 0] for k in _KERNEL_PARAMS]))
        V0 = s.villages
        V, cleared, new, collapsed, p_clear, inf_mean, flagged = _cells(
            V0, st.insurgency.fighters, st.host.host, coord, G, c.isr, c.air, c.planning,
            s.collapsed, u, self._pop_m[0], self._P)
        if flagged:  # large means (rare): the moment-matched gamma quantile, as samplers do
            samplers.fix_large(2, cleared, V0, p_clear, u[..., 0])
            samplers.fix_large(0, new, inf_mean, 0.0, u[..., 1])
            V = V0 - cleared + new
        s.collapsed = collapsed
        s.villages = V
        if self._hold is None:
            self._hold = np.ascontiguousarray(p.hold_villages[:, 0])
        _finish(V, cleared, collapsed, self._hold, sim.out("is_villages", t),
                sim.out("villages_cleared", t), sim.out("collapsed", t),
                sim.out("is_holds_ground", t))


@numba.njit(cache=True, nogil=True)
def _finish(V, cleared, collapsed, hold, rec_V, rec_cleared, rec_collapsed,
            rec_holds):  # pragma: no cover - compiled
    """The week's records: villages, cleared, collapsed, and "IS holds ground" (a region
    collapsed, or villages summed as NumPy sums them at or above ``hold``)."""
    n, R = V.shape
    for i in range(n):
        any_collapsed = False
        for j in range(R):
            rec_V[i, j] = V[i, j]
            rec_cleared[i, j] = cleared[i, j]
            rec_collapsed[i, j] = collapsed[i, j]
            if collapsed[i, j] > 0:
                any_collapsed = True
        holds = any_collapsed or nbmath.pairwise_sum(V[i]) >= hold[i]
        rec_holds[i, 0] = 1.0 if holds else 0.0


_KERNEL_PARAMS = ("clear_unsupported", "clear_isr", "clear_air", "clear_planning", "clear_rate",
                  "infiltration", "collapse_density", "collapse_rate", "recover_rate")


@numba.njit(cache=True, nogil=True, error_model="numpy")  # x / 0 -> inf or nan, as in NumPy
def _cells(V, F, H, coord, G, isr, air, planning, collapsed, u, pop_m, P):  # pragma: no cover
    """The weekly ground flows of every run and region, fused (docs/model.md): villages
    cleared ~ Binomial(V, 1 - exp(-r H coord support)), infiltrated ~ Poisson(i F (1 + G) /
    (1.3 max(H coord, 0.2))), and the collapse / recovery switch. The same operations in the
    same order as the former NumPy step; only ``exp`` comes from libm rather than NumPy's SIMD
    loop, which can differ in the last bit of a probability, so the counts, states and records
    are identical (tests/test_territory_kernel.py). -1 flags a count for the large-mean
    branch, filled in by the caller (``flagged``)."""
    n, R = V.shape
    V_new = np.empty((n, R))
    cleared = np.empty((n, R))
    new = np.empty((n, R))
    col = np.empty((n, R))
    p_clear = np.empty((n, R))
    inf_mean = np.empty((n, R))
    flagged = False
    for i in range(n):
        c_un, c_isr, c_air, c_plan, c_rate, infil, c_dens, c_rate2, r_rate = P[i]
        for j in range(R):
            h, hc = H[i, j], H[i, j] * coord[i, j]
            support = (c_un + c_isr * min(isr[i, j], 1.0) + c_air * min(air[i, j], 1.0)
                       + c_plan * min(planning[i, j], 1.0))
            pc = 1.0 - np.exp(-c_rate * h * coord[i, j] * support)
            p_clear[i, j] = pc
            v = V[i, j]
            k = samplers.binomial1(v, pc, u[i, j, 0])
            m = infil * F[i, j] * (1.0 + G[i, j]) / (1.3 * max(hc, 0.2))
            inf_mean[i, j] = m
            x = samplers.poisson1(m, u[i, j, 1])
            cleared[i, j] = k
            new[i, j] = x
            if k < 0 or x < 0:
                flagged = True
            V_new[i, j] = v - k + x
            ratio = F[i, j] / (c_dens * h * pop_m[j])
            was = collapsed[i, j]
            if was > 0:
                hz = r_rate if ratio < 0.5 else 0.0
            elif ratio > 1.0:
                e = ratio - 1.0
                hz = 1.0 - np.exp(-c_rate2 * (e * e))
            else:  # 1 - exp(-0) = 0 exactly: no collapse, no exp to pay for
                hz = 0.0
            col[i, j] = 1.0 - was if u[i, j, 2] < hz else was
    return V_new, cleared, new, col, p_clear, inf_mean, flagged
