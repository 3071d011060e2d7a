"""Grievance: lagging reconstruction, militia abuses and collateral harm.

Regional grievance relaxes towards a level set by lagging reconstruction and services in
liberated areas (C10), by Iran-aligned militia presence where people do not share their
affinity (C14), and by collateral harm from operations run on poor information (Kress &
Szechtman 2009; harm by foreign-backed forces raises support for insurgents, Lyall et al.
2013). Foreign presence is itself a grievance (a countervailing channel: a drawdown removes
it). Grievance feeds IS recruitment and capacity and cuts tips to host intelligence.
"""

from __future__ import annotations

import numba
import numpy as np

from resurgence.core import nbmath
from resurgence.model.module import M, Module, P, S
from resurgence.model.params import beta, lognormal, truncnormal, uniform

N = "grievance"


class Grievance(Module):
    name = N
    title = "Grievance: reconstruction, militia abuse, collateral harm"
    claims = ("C10", "C14")
    reads = ("host.host", "coalition.air", "coalition.troop_ratio", "insurgency.detect",
             "militia.militia_strength")
    params = (
        P(N, "grievance_base", 0.15, "0-1", "grievance where reconstruction is complete",
          beta(3, 17), ("C10",)),
        P(N, "grievance_reconstruction", 0.35, "0-1", "grievance added by a full reconstruction gap",
          beta(7, 13), ("C10",), "seed: liberated areas where 'reconstruction has lagged'"),
        P(N, "grievance_militia", 0.15, "0-1", "grievance from militia presence among non-aligned people",
          uniform(0.0, 0.3), ("C14",)),
        P(N, "harm_weight", 0.1, "0-1", "grievance from poorly informed operations",
          uniform(0.0, 0.3), ("C10",), "Kress & Szechtman 2009; Condra & Shapiro 2012"),
        P(N, "harm_info_half", 0.5, "1/week", "detection intensity at which half of operations are well informed",
          lognormal(0.5, 0.4)),
        P(N, "presence_grievance", 0.04, "0-1", "grievance per unit of US troops above the late-2020 reference (foreign presence feeds mobilisation)",
          truncnormal(0.04, 0.05, -0.1, 0.25), ("C10",),
          "Lyall, Blair & Imai 2013 (foreign forces' harm raises insurgent support); Fetzer et "
          "al. 2021 (restraint to speed the exit); reaches 0 and reversed"),
        P(N, "grievance_rate", 0.03, "1/week", "speed of grievance adjustment",
          lognormal(0.03, 0.4)),
    )
    states = (S("grievance", "region", "0-1", "grievance"),
              S("harm_ref", "region", "index", "operations' civilian harm in the run's first week "
                "(harm is measured against it)"))
    metrics = (M("grievance", "0-1", "grievance in the population", agg="popmean"),)

    def init(self, sim) -> None:
        th = sim.theatre
        self._rec = th.attrs["reconstruction_gap"][None, :]
        self._mil = (th.attrs["pmf_presence"] * (1.0 - th.attrs["iran_affinity"]))[None, :]
        self._P: np.ndarray | None = None  # per-run parameters of the kernel (first step)
        sim.state.grievance.grievance = (self._target(sim.params.grievance, 1.0, 0.0)
                                         * np.ones((sim.n, 1)))

    def _target(self, p, militia, harm, presence=0.0):
        return np.clip(p.grievance_base + p.grievance_reconstruction * self._rec
                       + p.grievance_militia * self._mil * militia + p.harm_weight * harm
                       + p.presence_grievance * presence, 0.0, 1.0)

    def step(self, sim, t: int) -> None:
        s, p, st = sim.state.grievance, sim.params.grievance, sim.state
        if self._P is None:  # per-run parameters of the kernel (built at the first step)
            self._P = np.ascontiguousarray(np.column_stack([getattr(p, k)[:, 0] for k in _KERNEL_PARAMS]))
        first = sim.elapsed(t) == 0  # harm is measured against the run's first simulated week
        s.grievance, harm_ref = _cells(
            self._P, np.asarray(st.insurgency.detect, dtype=np.float64),
            np.asarray(st.host.host, dtype=np.float64), np.asarray(st.coalition.air, dtype=np.float64),
            np.asarray(st.coalition.troop_ratio, dtype=np.float64),
            np.asarray(st.militia.militia_strength, dtype=np.float64), s.grievance,
            s.harm_ref if not first else s.grievance, first, self._rec[0], self._mil[0],
            sim.out("grievance", t))
        if first:
            s.harm_ref = harm_ref


_KERNEL_PARAMS = ("harm_info_half", "grievance_base", "grievance_reconstruction",
                  "grievance_militia", "harm_weight", "presence_grievance", "grievance_rate")


@numba.njit(cache=True, nogil=True, error_model="numpy")  # x / 0 -> inf or nan, as in NumPy
def _cells(P, detect, host, air, troop_ratio, militia, G, harm_ref, first, rec, mil,
           rec_grievance):  # pragma: no cover - compiled
    """The week's grievance of every run and region, fused (the same operations in the same
    order as the former NumPy step). In the run's first week the harm of operations becomes
    the reference it is measured against (returned; ``harm_ref`` is then not read)."""
    n, R = G.shape
    new = np.empty((n, R))
    ref = np.empty((n, R))
    for i in range(n):
        half, g_base, g_rec, g_mil, h_w, p_g, rate = P[i]
        presence = nbmath.clip(troop_ratio[i, 0], 0.0, 2.0) - 1.0
        ms = militia[i, 0]
        for j in range(R):
            d = detect[i, j]
            info = d / (d + half)
            harm = (host[i, j] + air[i, j]) * (1.0 - info)
            if first:
                ref[i, j] = harm
                harm = harm - harm
            else:
                harm = harm - harm_ref[i, j]
            target = nbmath.clip(g_base + g_rec * rec[j] + g_mil * mil[j] * ms + h_w * harm
                                 + p_g * presence, 0.0, 1.0)
            g = G[i, j]
            x = g + rate * (target - g)
            new[i, j] = x
            rec_grievance[i, j] = x
    return new, ref
