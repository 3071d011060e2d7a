"""Host (Iraqi) forces: capability, presence, coordination and effective strength.

Effective strength ``H`` (1 = late-2020 federal forces in a region) combines capability
that grows as forces become more independent, faster with partner training (C4, C11);
presence cut by the pandemic and by redeployments against protests (C5, C6, C15);
corruption and political division (C5, C13); Iran-aligned militias fighting beside the
army (C8, C14); and regional collapse (C7). Coordination across the Baghdad-Erbil seam in
the disputed territories relaxes towards a level set by US mediation (C18).

Host adaptation (a countervailing channel): when partner training falls below its level in
the first simulated week, the forces learn to do without (``adaptation`` follows the lost
share of training with a lag), which adds to capability growth.
"""

from __future__ import annotations

import numba
import numpy as np

from resurgence.core import nbmath
from resurgence.model.module import M, Module, P, S
from resurgence.model.params import beta, lognormal, truncnormal, uniform

N = "host"


class Host(Module):
    name = N
    title = "Iraqi security forces: capability, presence, coordination"
    claims = ("C4", "C5", "C6", "C8", "C11", "C13", "C14", "C15", "C18")
    reads = ("lever.mediation", "lever.political_division", "lever.pandemic", "lever.protests",
             "lever.corruption", "coalition.training", "coalition.mediation",
             "militia.militia_strength",  # last week's
             "territory.collapsed")  # last week's
    params = (
        P(N, "cap_growth", 0.03, "1/yr", "host capability growth without partner training (independence)",
          uniform(-0.05, 0.1), ("C4",), "seed: 'Iraqi forces have become more independent'"),
        P(N, "cap_growth_training", 0.06, "1/yr", "extra capability growth at full training coverage",
          truncnormal(0.06, 0.05, -0.04, 0.2), ("C11",),
          "seed: governor of Nineveh 'we still need training'; < 0: training breeds dependence"),
        P(N, "host_adaptation", 0.04, "1/yr", "extra capability growth once all partner training has gone (learning to do without)",
          truncnormal(0.04, 0.04, 0.0, 0.2), ("C4", "C11"),
          "seed: 'Iraqi forces have become more independent'; 0 = no adaptation"),
        P(N, "adaptation_rate", 0.02, "1/week", "speed at which adaptation follows the lost share of training",
          truncnormal(0.02, 0.015, 0.002, 0.1), ("C4",), "judgement: about a year to adapt"),
        P(N, "cap_max", 2.0, "1", "ceiling of host capability"),
        P(N, "pandemic_presence_cut", 0.25, "1", "share of host presence lost at full pandemic pressure",
          beta(5, 15), ("C15", "C6"), "LITERATURE: March 2020 checkpoints abandoned; lockdown attacks x1.4-1.5"),
        P(N, "protest_presence_cut", 0.12, "1", "share of federal presence redeployed at full protest intensity",
          beta(3, 20), ("C5", "C6"), "LITERATURE: battalions sent south in 2018; unquantified"),
        P(N, "corruption_cut", 0.3, "1", "effectiveness lost per unit corruption above 0.5",
          uniform(0.0, 0.6), ("C5", "C13"), "seed: Transparency International quote"),
        P(N, "division_cut", 0.3, "1", "effectiveness lost per unit political division above 0.5",
          uniform(0.0, 0.6), ("C5",)),
        P(N, "branch_coordination", 0.8, "0-1", "coordination among branches of the security apparatus",
          beta(16, 4), ("C13",), "seed: 'poor coordination among different branches'"),
        P(N, "be_floor", 0.35, "0-1", "Baghdad-Erbil coordination without any mediation",
          beta(4, 7), ("C18",)),
        P(N, "seam_share", 0.4, "0-1", "share of a disputed governorate's IS operating space along the Baghdad-Erbil seam",
          beta(4, 6), ("C18",), "LITERATURE: ungoverned gaps 5-10 miles wide, 40-60 miles long in Diyala"),
        P(N, "be_rate", 0.04, "1/week", "speed at which Baghdad-Erbil coordination adjusts",
          lognormal(0.04, 0.4), ("C18",)),
        P(N, "pmf_combat_weight", 0.15, "1", "militia contribution to presence where PMF are strong, per unit strength",
          uniform(0.0, 0.3), ("C8", "C14")),
        P(N, "collapse_depth", 0.6, "1", "share of effective strength lost while a region has collapsed",
          beta(6, 4), ("C7",), "2014: collapse of army divisions in Mosul"),
    )
    states = (
        S("capability", "national", "1", "host capability, 1 = late 2020"),
        S("be_coord", "national", "0-1", "Baghdad-Erbil coordination"),
        S("coord", "region", "0-1", "coordination factor on host operations"),
        S("host", "region", "1", "effective host strength"),
        S("train_ref", "national", "1", "national training coverage in the first simulated week"),
        S("adaptation", "national", "0-1", "host adaptation to lost partner training"),
    )
    metrics = (
        M("host_strength", "1 = late 2020", "effective host-force strength", agg="popmean"),
        M("host_capability", "1 = late 2020", "national host-force capability", "national"),
        M("be_coordination", "0-1", "Baghdad-Erbil security coordination", "national"),
    )

    def init(self, sim) -> None:
        s, p = sim.state.host, sim.params.host
        s.capability = np.ones((sim.n, 1))
        s.adaptation = np.zeros((sim.n, 1))
        s.train_ref = np.full((sim.n, 1), np.nan)  # set by the first step (kept if carried)
        lv = sim.levers(0)
        s.be_coord = self._be_target(p, lv, np.full((sim.n, 1), lv["mediation"]))
        th = sim.theatre
        self._disputed = th.flags["disputed"][None, :]
        self._federal = ~th.flags["kurdistan"][None, :]
        self._pmf = th.attrs["pmf_presence"][None, :]
        self._w = th.population / th.population.sum()
        self._P: np.ndarray | None = None  # per-run parameters of the kernel (first step)

    @staticmethod
    def _be_target(p, lv, mediation):
        div = 1.0 - 0.5 * (lv["political_division"] - 0.5)
        return p.be_floor + (1.0 - p.be_floor) * np.clip(mediation * div, 0.0, 1.0)

    def step(self, sim, t: int) -> None:
        s, p, lv = sim.state.host, sim.params.host, sim.levers(t)
        c, st = sim.state.coalition, sim.state
        if self._P is None:  # per-run parameters of the kernel (built at the first step)
            self._P = np.ascontiguousarray(np.column_stack([getattr(p, k)[:, 0] for k in _KERNEL_PARAMS]))
        train = np.einsum("nr,r->n", c.training * self._federal, self._w)[:, None] / max(
            float((self._federal[0] * self._w).sum()), 1e-9)
        if np.isnan(s.train_ref).any():  # the first simulated week (a carried state is kept)
            s.train_ref = np.where(np.isnan(s.train_ref), np.maximum(train, 1e-9), s.train_ref)
        levers = nbmath.columns({k: lv[k] for k in _KERNEL_LEVERS}, sim.n)
        s.adaptation, s.capability, s.be_coord, s.coord, s.host = _cells(
            self._P, levers, train, s.train_ref, s.adaptation, s.capability, s.be_coord,
            np.asarray(c.mediation, dtype=np.float64),
            np.asarray(st.militia.militia_strength, dtype=np.float64),
            np.asarray(st.territory.collapsed, dtype=np.float64), self._disputed[0],
            self._federal[0], self._pmf[0], sim.out("host_strength", t),
            sim.out("host_capability", t), sim.out("be_coordination", t))


_KERNEL_PARAMS = ("adaptation_rate", "cap_growth", "cap_growth_training", "host_adaptation",
                  "cap_max", "be_rate", "be_floor", "seam_share", "branch_coordination",
                  "pandemic_presence_cut", "protest_presence_cut", "corruption_cut",
                  "division_cut", "pmf_combat_weight", "collapse_depth")
_KERNEL_LEVERS = ("political_division", "pandemic", "protests", "corruption")


@numba.njit(cache=True, nogil=True, error_model="numpy")  # x / 0 -> inf or nan, as in NumPy
def _cells(P, levers, train, train_ref, adaptation, capability, be_coord, mediation, militia,
           collapsed, disputed, federal, pmf, rec_host, rec_capability,
           rec_be):  # pragma: no cover - compiled
    """The week's host forces of every run and region, fused (the same operations in the same
    order as the former NumPy step): adaptation, capability, Baghdad-Erbil coordination, the
    coordination factor and effective strength. ``levers`` holds political division,
    pandemic, protests and corruption, ``train`` the national training coverage."""
    n, R = collapsed.shape
    new_a = np.empty((n, 1))
    new_c = np.empty((n, 1))
    new_be = np.empty((n, 1))
    coord = np.empty((n, R))
    host = np.empty((n, R))
    for i in range(n):
        (a_rate, cg, cg_t, h_ad, c_max, be_rate, be_floor, seam_w, branch, pan_cut, pro_cut,
         cor_cut, div_cut, pmf_w, col_depth) = P[i]
        division, pandemic, protests, corruption = levers[i, 0], levers[i, 1], levers[i, 2], levers[i, 3]
        tr = train[i, 0]
        lost = nbmath.clip(1.0 - tr / train_ref[i, 0], 0.0, 1.0)
        a = adaptation[i, 0]
        a = a + a_rate * (lost - a)
        new_a[i, 0] = a
        g = (cg + cg_t * nbmath.minimum(tr, 1.0) + h_ad * a) / 52.0
        cap = capability[i, 0]
        cap = cap + g * cap * (1.0 - cap / c_max)
        new_c[i, 0] = cap
        rec_capability[i, 0] = cap
        div = 1.0 - 0.5 * (division - 0.5)
        be_target = be_floor + (1.0 - be_floor) * nbmath.clip(mediation[i, 0] * div, 0.0, 1.0)
        be = be_coord[i, 0]
        be = be + be_rate * (be_target - be)
        new_be[i, 0] = be
        rec_be[i, 0] = be
        seam = 1.0 - seam_w * (1.0 - be)
        quality = (1.0 - cor_cut * (corruption - 0.5)) * (1.0 - div_cut * (division - 0.5))
        pan = 1.0 - pan_cut * pandemic
        ms = militia[i, 0]
        for j in range(R):
            coord[i, j] = branch * (seam if disputed[j] else 1.0)
            presence = pan * (1.0 - pro_cut * protests * federal[j])
            mil = 1.0 + pmf_w * pmf[j] * (ms - 1.0)
            col = 1.0 - col_depth * collapsed[i, j]
            x = nbmath.maximum(cap * presence * quality * mil * col, 0.02)
            host[i, j] = x
            rec_host[i, j] = x
    return new_a, new_c, new_be, coord, host
