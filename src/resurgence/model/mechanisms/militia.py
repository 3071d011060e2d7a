"""Iran-backed militias: strength, bursty campaigns and attacks on US sites.

Militia strength grows towards a ceiling that rises when US presence thins and US-Iran
tension is high (C14, C22). Attacks on US interests come in campaigns separated by truces
(a two-state Markov chain; truces of about five weeks, LITERATURE), are aimed at open
bases, supply convoys and the embassy (C9, C16), and scale with strength and tension (C25).
A strike shock forces a campaign; a truce shock forces a pause (C23).
"""

from __future__ import annotations

import numba
import numpy as np

from resurgence.core import nbmath, samplers
from resurgence.core.linalg import rowdot
from resurgence.model.module import M, Module, P, S
from resurgence.model.params import beta, lognormal, truncnormal, uniform

N = "militia"


class Militia(Module):
    name = N
    title = "Iran-backed militias: strength, campaigns, attacks on US sites"
    claims = ("C9", "C14", "C16", "C23", "C25")
    reads = ("lever.us_iran_tension", "driver.campaign_force", "coalition.troops",
             "coalition.troop_ratio", "coalition.base_open")
    draws_region = 1
    draws_national = 1
    params = (
        P(N, "militia_growth", 0.3, "1/yr", "growth rate of militia strength towards its ceiling",
          uniform(0.05, 0.6), ("C14",), "seed: militias 'have accumulated more and more power'"),
        P(N, "militia_ceiling", 1.1, "1", "militia strength ceiling with US presence at the late-2020 level",
          uniform(0.9, 1.4), ("C14",)),
        P(N, "militia_vacuum", 0.3, "1", "rise of the ceiling when US presence is gone",
          truncnormal(0.3, 0.3, -0.4, 1.0), ("C14", "C22"),
          "seed: militias fill the vacuum; < 0: US presence itself mobilises them (their "
          "stated reason to stay armed)"),
        P(N, "militia_tension", 0.15, "1", "rise of the ceiling per unit US-Iran tension above 1",
          uniform(0.0, 0.4), ("C25",)),
        P(N, "campaign_on", 0.15, "1/week", "weekly chance a truce turns into a campaign (tension = 1)",
          beta(3, 17), ("C9",), "LITERATURE: truces of ~5 weeks"),
        P(N, "campaign_off", 0.12, "1/week", "weekly chance a campaign ends",
          beta(3, 22), ("C9",)),
        P(N, "truce_intensity", 0.2, "1", "attack rate during a truce relative to a campaign",
          beta(2, 8), ("C9",)),
        P(N, "attack_rate_base", 0.4, "attacks/week", "campaign attacks per open base per week",
          lognormal(0.4, 0.4), ("C9", "C16"), "LITERATURE: ~4 rocket attacks/month, Jan-Jul 2020"),
        P(N, "attack_rate_convoy", 0.35, "attacks/week", "campaign attacks per convoy-route governorate per week",
          lognormal(0.35, 0.4), ("C9",), "LITERATURE: ~7 convoy attacks/month, Jan-Jul 2020"),
        P(N, "attack_rate_embassy", 0.3, "attacks/week", "campaign attacks on the embassy/capital per week",
          lognormal(0.3, 0.5), ("C9",), "LITERATURE: 19 attacks on embassy and troops Oct 2019-Feb 2020"),
        P(N, "militia_dispersion", 1.0, "1", "negative-binomial size of weekly militia attacks (bursty)",
          lognormal(1.0, 0.5), ("C9",)),
    )
    states = (
        S("militia_strength", "national", "1", "militia strength, 1 = late 2020"),
        S("campaign", "national", "bool", "an attack campaign is under way"),
        S("militia_attacks_us", "region", "attacks/week", "militia attacks on US sites"),
    )
    metrics = (
        M("militia_attacks_us", "attacks/week", "attacks by Iran-backed groups on US sites and convoys"),
        M("militia_strength", "1 = late 2020", "strength of Iran-aligned militias", "national"),
        M("militia_campaign", "0/1", "a militia attack campaign is under way", "national"),
    )

    def init(self, sim) -> None:
        s = sim.state.militia
        s.militia_strength = np.ones((sim.n, 1))
        s.campaign = np.zeros((sim.n, 1), dtype=bool)
        s.militia_attacks_us = np.zeros((sim.n, sim.n_regions))
        th = sim.theatre
        self._convoy = th.attrs["convoy_route"][None, :]
        cap = np.zeros(th.n_regions)
        cap[int(np.argmax(th.population))] = 1.0  # the capital: embassy and government
        self._capital = cap[None, :]
        self._base_region = np.zeros((len(th.bases), th.n_regions))
        for j, b in enumerate(th.bases):
            self._base_region[j, th.index(b.region)] = 1.0
        self._base_index = np.array([th.index(b.region) for b in th.bases], dtype=np.int64)
        self._P: np.ndarray | None = None  # per-run parameters of the kernel (first step)

    def step(self, sim, t: int) -> None:
        s, p, lv = sim.state.militia, sim.params.militia, sim.levers(t)
        c = sim.state.coalition
        if self._P is None:  # per-run parameters of the kernel (built at the first step)
            self._P = np.ascontiguousarray(np.column_stack([getattr(p, k)[:, 0] for k in _KERNEL_PARAMS]))
        tension = nbmath.columns({"us_iran_tension": lv["us_iran_tension"]}, sim.n)[:, 0]
        u = np.ascontiguousarray(sim.u_region(N, t)[..., 0])  # C order: one kernel signature
        strength, camp, attacks, flagged = _cells(
            self._P, tension, np.asarray(c.troops, dtype=np.float64),
            np.asarray(c.troop_ratio, dtype=np.float64), np.asarray(c.base_open),
            s.militia_strength, s.campaign, np.ascontiguousarray(sim.u_national(N, t)[:, 0]), u,
            float(sim.drivers.campaign_force[t]), self._base_index, self._convoy[0], self._capital[0],
            sim.out("militia_strength", t), sim.out("militia_campaign", t))
        if flagged:  # large means (rare): the moment-matched gamma quantile, as samplers do
            mean = self._mean(p, tension, c, strength, camp)
            samplers.fix_large(1, attacks, mean, p.militia_dispersion, u)
        s.militia_strength = strength
        s.campaign = camp
        s.militia_attacks_us = attacks
        sim.record("militia_attacks_us", t, attacks)  # strength and campaign: by the kernel

    def _mean(self, p, tension, c, strength, camp) -> np.ndarray:
        """The mean attacks the kernel draws from (the former NumPy expression)."""
        tension = tension[:, None]
        present = (c.troops > 0).astype(float)
        targets = (p.attack_rate_base * rowdot(c.base_open.astype(float), self._base_region)
                   + p.attack_rate_convoy * self._convoy * present
                   + p.attack_rate_embassy * self._capital)
        return (targets * strength * (0.5 + 0.5 * tension)
                * np.where(camp, 1.0, p.truce_intensity))


_KERNEL_PARAMS = ("militia_ceiling", "militia_vacuum", "militia_tension", "militia_growth",
                  "campaign_on", "campaign_off", "attack_rate_base", "attack_rate_convoy",
                  "attack_rate_embassy", "truce_intensity", "militia_dispersion")


@numba.njit(cache=True, nogil=True, error_model="numpy")  # x / 0 -> inf or nan, as in NumPy
def _cells(P, tension, troops, troop_ratio, base_open, strength, campaign, u_camp, u, force,
           base_index, convoy, capital, rec_strength, rec_campaign):  # pragma: no cover - compiled
    """The week's militia flows of every run, fused (the same operations in the same order as
    the former NumPy step): strength towards its ceiling, the campaign switch, then attacks ~
    NB(targets x strength x tension x campaign, k) on each region (-1: the large-mean branch,
    ``flagged``). ``base_index`` is each base's region, ``force`` the campaign forced this week
    (+1, -1 or 0). Strength and campaign are recorded into ``rec_*`` (week ``t``'s rows)."""
    n, R = u.shape
    B = base_index.shape[0]
    new_strength = np.empty((n, 1))
    camp = np.empty((n, 1), dtype=np.bool_)
    attacks = np.empty((n, R))
    bases = np.zeros(R)
    flagged = False
    for i in range(n):
        (ceil0, vac_w, ten_w, growth, c_on, c_off, r_base, r_convoy, r_emb, truce,
         k) = P[i]
        tn = tension[i]
        present = 1.0 if troops[i, 0] > 0 else 0.0
        vacuum = 1.0 - nbmath.clip(troop_ratio[i, 0], 0.0, 1.0)
        ceiling = ceil0 * (1 + vac_w * vacuum + ten_w * (tn - 1.0))
        m = strength[i, 0]
        ms = m + growth / 52.0 * m * (1.0 - m / ceiling)
        new_strength[i, 0] = ms
        rec_strength[i, 0] = ms
        p_on = nbmath.clip(c_on * tn, 0.0, 1.0)
        on = campaign[i, 0]
        flip = (u_camp[i] < c_off) if on else (u_camp[i] < p_on)
        cp = on ^ flip
        if force:
            cp = force > 0
        camp[i, 0] = cp
        rec_campaign[i, 0] = 1.0 if cp else 0.0
        for j in range(R):
            bases[j] = 0.0
        for b in range(B):
            if base_open[i, b]:
                bases[base_index[b]] += 1.0
        intensity = 1.0 if cp else truce
        for j in range(R):
            target = r_base * bases[j] + r_convoy * convoy[j] * present + r_emb * capital[j]
            a = samplers.negbin1(target * ms * (0.5 + 0.5 * tn) * intensity, k, u[i, j])
            if a < 0:
                flagged = True
            attacks[i, j] = a
    return new_strength, camp, attacks, flagged
