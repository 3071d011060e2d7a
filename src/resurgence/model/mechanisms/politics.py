"""Politics: pressure to expel US forces, Iranian influence, US leverage.

Pressure to expel foreign troops relaxes towards a level raised by militia strength and
attacks and by US-Iran tension, with jumps at strikes and expulsion votes (C9, C23, C24,
C25); under a responsive policy it can force an exit (see coalition). Iranian influence
deepens towards a level raised by the US vacuum, militia strength and pressure (C22), and
is reported by region through each governorate's affinity and militia footprint. US
leverage (C26) is an output: presence, open bases and mediation, less Iranian influence.
"""

from __future__ import annotations

import numba
import numpy as np

from resurgence.core import nbmath
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
        self._P: np.ndarray | None = None  # per-run parameters of the kernel (first step)

    def step(self, sim, t: int) -> None:
        s, p, lv = sim.state.politics, sim.params.politics, sim.levers(t)
        c, mil = sim.state.coalition, sim.state.militia
        if self._P is None:  # per-run parameters of the kernel (built at the first step)
            self._P = np.ascontiguousarray(np.column_stack([getattr(p, k)[:, 0] for k in _KERNEL_PARAMS]))
        tension = nbmath.columns({"us_iran_tension": lv["us_iran_tension"]}, sim.n)
        s.pressure, s.influence, s.leverage = _cells(
            self._P, tension[:, 0], float(sim.drivers.pressure_jump[t]),
            np.asarray(mil.militia_attacks_us, dtype=np.float64),
            np.asarray(mil.militia_strength, dtype=np.float64),
            np.asarray(c.troop_ratio, dtype=np.float64), np.asarray(c.base_open),
            np.asarray(c.mediation, dtype=np.float64), s.pressure, s.influence,
            self._shape[0], self._pmf[0], sim.out("political_pressure", t),
            sim.out("iran_influence", t), sim.out("us_leverage", t))
        sim.record("exit_ordered", t, c.exit_started.astype(float))
        sim.record("us_iran_tension", t, tension)


_KERNEL_PARAMS = ("pressure_0", "pressure_militia", "pressure_attacks", "pressure_tension",
                  "pressure_rate", "influence_0", "influence_vacuum", "influence_militia",
                  "influence_pressure", "influence_rate", "bases_ref")


@numba.njit(cache=True, nogil=True, error_model="numpy")  # x / 0 -> inf or nan, as in NumPy
def _cells(P, tension, jump, attacks, strength, troop_ratio, base_open, mediation, pressure,
           influence, shape, pmf, rec_pressure, rec_influence, rec_leverage):  # pragma: no cover - compiled
    """The week's politics of every run, fused (the same operations in the same order as the
    former NumPy step): pressure, national and regional Iranian influence (recorded, with
    pressure and leverage, into ``rec_*``), US leverage."""
    n, R = attacks.shape
    B = base_open.shape[1]
    new_p = np.empty((n, 1))
    new_i = np.empty((n, 1))
    lev = np.empty((n, 1))
    for i in range(n):
        (p0, p_mil, p_att, p_ten, p_rate, i0, i_vac, i_mil, i_press, i_rate, bases_ref) = P[i]
        ms = strength[i, 0]
        total = nbmath.pairwise_sum(attacks[i])
        target = p0 + p_mil * (ms - 1.0) + p_att * (total - 2.0) + p_ten * (tension[i] - 1.0)
        pr = pressure[i, 0]
        pr = nbmath.clip(pr + p_rate * (target - pr) + jump, 0.0, 1.0)
        new_p[i, 0] = pr
        rec_pressure[i, 0] = pr
        presence = nbmath.clip(troop_ratio[i, 0], 0.0, 1.0)
        target_i = (i0 + i_vac * (1.0 - presence) + i_mil * (ms - 1.0)
                    + i_press * (pr - p0))
        inf = influence[i, 0]
        inf = nbmath.clip(inf + i_rate * (target_i - inf), 0.0, 1.0)
        new_i[i, 0] = inf
        for j in range(R):
            rec_influence[i, j] = nbmath.clip(inf * shape[j] * (1.0 + 0.5 * pmf[j] * (ms - 1.0)),
                                         0.0, 1.0)
        n_open = 0
        for b in range(B):
            if base_open[i, b]:
                n_open += 1
        bases = n_open / bases_ref
        lv = nbmath.maximum(0.4 * np.sqrt(presence) + 0.3 * nbmath.minimum(bases, 1.5)
                            + 0.3 * mediation[i, 0] - (inf - i0), 0.0)
        lev[i, 0] = lv
        rec_leverage[i, 0] = lv
    return new_p, new_i, lev
