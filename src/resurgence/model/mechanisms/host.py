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

import numpy as np

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

    @staticmethod
    def _be_target(p, lv, mediation):
        div = 1.0 - 0.5 * (lv["political_division"] - 0.5)
        return p.be_floor + (1.0 - p.be_floor) * np.clip(mediation * div, 0.0, 1.0)

    def step(self, sim, t: int) -> None:
        s, p, lv = sim.state.host, sim.params.host, sim.levers(t)
        c, st = sim.state.coalition, sim.state
        train = np.einsum("nr,r->n", c.training * self._federal, self._w)[:, None] / max(
            float((self._federal[0] * self._w).sum()), 1e-9)
        if np.isnan(s.train_ref).any():  # the first simulated week (a carried state is kept)
            s.train_ref = np.where(np.isnan(s.train_ref), np.maximum(train, 1e-9), s.train_ref)
        lost = np.clip(1.0 - train / s.train_ref, 0.0, 1.0)
        s.adaptation = s.adaptation + p.adaptation_rate * (lost - s.adaptation)
        g = (p.cap_growth + p.cap_growth_training * np.minimum(train, 1.0)
             + p.host_adaptation * s.adaptation) / 52.0
        s.capability = s.capability + g * s.capability * (1.0 - s.capability / p.cap_max)
        s.be_coord = s.be_coord + p.be_rate * (self._be_target(p, lv, c.mediation) - s.be_coord)
        seam = 1.0 - p.seam_share * (1.0 - s.be_coord)
        s.coord = p.branch_coordination * np.where(self._disputed, seam, 1.0)
        presence = (1.0 - p.pandemic_presence_cut * lv["pandemic"]) * (
            1.0 - p.protest_presence_cut * lv["protests"] * self._federal)
        quality = (1.0 - p.corruption_cut * (lv["corruption"] - 0.5)) * (
            1.0 - p.division_cut * (lv["political_division"] - 0.5))
        militia = 1.0 + p.pmf_combat_weight * self._pmf * (st.militia.militia_strength - 1.0)
        collapse = 1.0 - p.collapse_depth * st.territory.collapsed
        s.host = np.maximum(s.capability * presence * quality * militia * collapse, 0.02)
        sim.record("host_strength", t, s.host)
        sim.record("host_capability", t, s.capability)
        sim.record("be_coordination", t, s.be_coord)
