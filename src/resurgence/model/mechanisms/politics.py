"""Politics: pressure to expel US forces, Iranian influence, US leverage.

Pressure to expel foreign troops relaxes towards a level raised by militia strength and
attacks and by US-Iran tension, with jumps at strikes and expulsion votes (C9, C23, C24,
C25); under a responsive policy it can force an exit (see coalition). Iranian influence
deepens towards a level raised by the US vacuum, militia strength and pressure (C22), and
is reported by region through each governorate's affinity and militia footprint. US
leverage (C26) is an output: presence, open bases and mediation, less Iranian influence.
"""

from __future__ import annotations

import numpy as np

from resurgence.model.module import M, Module, P, S
from resurgence.model.params import beta, lognormal, truncnormal, uniform

N = "politics"


class Politics(Module):
    name = N
    title = "Expulsion pressure, Iranian influence, US leverage"
    claims = ("C9", "C22", "C23", "C24", "C25", "C26")
    reads = ("militia.militia_strength", "militia.militia_attacks_us", "coalition.troop_ratio",
             "coalition.base_open", "coalition.mediation", "coalition.exit_started",
             "lever.us_iran_tension", "driver.pressure_jump")
    params = (
        P(N, "pressure_0", 0.45, "0-1", "pressure to expel US forces at the start",
          beta(9, 11), ("C9", "C24"), "seed: PM 'still faces pressure from Iran-aligned groups'"),
        P(N, "pressure_rate", 0.05, "1/week", "speed of pressure adjustment", lognormal(0.05, 0.4)),
        P(N, "pressure_militia", 0.3, "0-1", "pressure per unit militia strength above 1",
          uniform(0.0, 0.6), ("C9", "C14")),
        P(N, "pressure_attacks", 0.02, "0-1 per attack/week", "pressure per weekly militia attack above 2",
          uniform(0.0, 0.05), ("C9",)),
        P(N, "pressure_tension", 0.15, "0-1", "pressure per unit US-Iran tension above 1",
          uniform(0.0, 0.3), ("C25",)),
        P(N, "influence_0", 0.6, "0-1", "Iranian influence index at the start",
          beta(12, 8), ("C22",), "seed: 'strong political, economic and security ties' since 2003"),
        P(N, "influence_rate", 0.02, "1/week", "speed of influence adjustment", lognormal(0.02, 0.4)),
        P(N, "influence_vacuum", 0.15, "0-1", "influence gained when US presence is gone",
          truncnormal(0.15, 0.12, -0.15, 0.45), ("C22",),
          "seed: 'a wider American withdrawal would also enable Iran'; < 0: presence "
          "strengthens Iran's hand (a rallying cause)"),
        P(N, "influence_militia", 0.2, "0-1", "influence per unit militia strength above 1",
          uniform(0.0, 0.4), ("C14", "C22")),
        P(N, "bases_ref", 3.0, "bases", "open US bases at which the leverage term equals 1 (late 2020)",
          claims=("C26",), source="bases table: Ain al-Asad, Erbil, Baghdad after the 2020 handovers"),
        P(N, "influence_pressure", 0.1, "0-1", "influence per unit pressure above its start",
          uniform(0.0, 0.3), ("C24",)),
    )
    states = (
        S("pressure", "national", "0-1", "political pressure to expel US forces"),
        S("influence", "national", "0-1", "national Iranian influence"),
        S("leverage", "national", "0-1", "US leverage"),
    )
    metrics = (
        M("political_pressure", "0-1", "pressure to expel US forces", "national"),
        M("iran_influence", "0-1", "Iranian influence index", agg="popmean"),
        M("us_leverage", "1 = late 2020", "US leverage over Iraq and Iran", "national"),
        M("exit_ordered", "0/1", "the government has ordered US forces out", "national"),
        M("us_iran_tension", "1 = 2019-20", "US-Iran tension (exogenous)", "national"),
    )

    def init(self, sim) -> None:
        s, p, th = sim.state.politics, sim.params.politics, sim.theatre
        s.pressure = p.pressure_0 * np.ones((sim.n, 1))
        s.influence = p.influence_0 * np.ones((sim.n, 1))
        self._aff = th.attrs["iran_affinity"][None, :]
        self._pmf = th.attrs["pmf_presence"][None, :]
        w = th.population / th.population.sum()
        self._shape = (0.4 + 0.8 * self._aff) / float(((0.4 + 0.8 * self._aff[0]) * w).sum())

    def step(self, sim, t: int) -> None:
        s, p, lv = sim.state.politics, sim.params.politics, sim.levers(t)
        c, mil = sim.state.coalition, sim.state.militia
        attacks = mil.militia_attacks_us.sum(axis=1, keepdims=True)
        target = (p.pressure_0 + p.pressure_militia * (mil.militia_strength - 1.0)
                  + p.pressure_attacks * (attacks - 2.0)
                  + p.pressure_tension * (lv["us_iran_tension"] - 1.0))
        s.pressure = np.clip(s.pressure + p.pressure_rate * (target - s.pressure)
                             + sim.drivers.pressure_jump[t], 0.0, 1.0)
        presence = np.clip(c.troop_ratio, 0.0, 1.0)
        target_i = (p.influence_0 + p.influence_vacuum * (1.0 - presence)
                    + p.influence_militia * (mil.militia_strength - 1.0)
                    + p.influence_pressure * (s.pressure - p.pressure_0))
        s.influence = np.clip(s.influence + p.influence_rate * (target_i - s.influence), 0.0, 1.0)
        # regional index: the national level shaped by affinity (population mean = national)
        # and raised where militias are strong
        regional = np.clip(s.influence * self._shape
                           * (1.0 + 0.5 * self._pmf * (mil.militia_strength - 1.0)), 0.0, 1.0)
        bases = c.base_open.sum(axis=1, keepdims=True) / p.bases_ref
        s.leverage = np.maximum(0.4 * np.sqrt(presence) + 0.3 * np.minimum(bases, 1.5)
                                + 0.3 * c.mediation - (s.influence - p.influence_0), 0.0)
        sim.record("political_pressure", t, s.pressure)
        sim.record("iran_influence", t, regional)
        sim.record("us_leverage", t, s.leverage)
        sim.record("exit_ordered", t, c.exit_started.astype(float))
        sim.record("us_iran_tension", t, np.full((sim.n, 1), lv["us_iran_tension"]))
