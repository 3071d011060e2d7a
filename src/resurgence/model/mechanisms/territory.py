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

import numpy as np

from resurgence.core import samplers
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

    def step(self, sim, t: int) -> None:
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
