"""IS insurgency: detection, removals, attacks, recruitment, inflow from Syria, movement.

Fighters are counted per region. Each week: host intelligence, partner ISR and planning
detect cells, better where coordination is good (C1, C11, C13, C18); detected fighters are
removed by ground operations and air strikes (C1, C8). Attacks are an overdispersed count
per fighter, seasonal, deterred by persistent ISR (Mir & Moore) and larger where host
presence has thinned (C6, C17, C20); a share hits infrastructure (C19). Recruitment grows
towards a regional capacity that rises with grievance and with thin host presence (C6,
C10); fighters cross the Syrian border (C21) and drift towards neighbouring regions under
less pressure (C17).

Mechanisms by which the insurgency can decline (issue #9, item 4), each of them one term
below: recruitment needs a critical mass (an Allee factor: per-capita recruitment falls when
IS is very small); leadership capacity, depleted by removals and recovering slowly, scales
attack effectiveness; IS violence against the population feeds a backlash that lowers
recruitment (or, with a negative ``backlash``, momentum that raises it: the prior covers
both); and arrivals from Syria scale with a Syrian pool whose excess over the lever's level
decays (the post-Baghuz surplus of 2018-19).
"""

from __future__ import annotations

import numba
import numpy as np

from resurgence.core import nbmath, samplers
from resurgence.model.module import M, Module, P, S
from resurgence.model.params import beta, lognormal, truncnormal, uniform

N = "insurgency"


class Insurgency(Module):
    name = N
    title = "IS: detection, removals, attacks, recruitment, inflow, movement"
    claims = ("C1", "C3", "C6", "C8", "C10", "C11", "C17", "C19", "C20", "C21")
    reads = ("host.host", "host.coord", "coalition.isr", "coalition.air", "coalition.planning",
             "grievance.grievance",  # last week's
             "lever.syria_instability", "driver.season_doy", "driver.is_surge")
    draws_region = 4  # removals, attacks, infrastructure share, recruitment+inflow
    params = (
        P(N, "is_fighters_0", 3000.0, "fighters", "IS fighters in Iraq at the start",
          lognormal(3000, 0.35), ("C3", "C17"), "LITERATURE: 2,500-3,000 (Iraqi intelligence, AP May 2020); 4,000-5,000 (KRG)"),
        P(N, "detect_host", 0.5, "1/week", "detection intensity from host intelligence at H = 1",
          lognormal(0.5, 0.4), ("C11",)),
        P(N, "tips_grievance", 0.5, "1", "loss of host intelligence (tips) per unit grievance",
          beta(5, 5), ("C10",), "Shaver & Shapiro 2021: tips fall after coalition-caused harm"),
        P(N, "detect_isr", 0.5, "1/week", "detection intensity from full partner ISR coverage",
          truncnormal(0.5, 0.35, 0.0, 2.0), ("C1", "C12"),
          "seed: operations 'relied heavily on US intelligence'; prior reaches 0 (no effect)"),
        P(N, "detect_planning", 0.2, "1/week", "detection intensity from full planning support",
          truncnormal(0.2, 0.2, 0.0, 1.0), ("C1",), "judgement; prior reaches 0 (no effect)"),
        P(N, "remove_ground", 0.012, "1/week", "share of detected fighters removed per unit host strength",
          lognormal(0.012, 0.35), ("C1",)),
        P(N, "remove_air", 0.006, "1/week", "share of detected fighters removed per unit air coverage",
          truncnormal(0.006, 0.004, 0.0, 0.03), ("C8",),
          "LITERATURE: 1-3 IS killed per strike, 9-20 strikes/month mid-2020; prior reaches 0"),
        P(N, "attack_rate", 0.0175, "attacks/fighter/week", "IS attacks per fighter per week before deterrence",
          lognormal(0.0175, 0.3), ("C17", "C20"), "LITERATURE: CTC 1,669 attacks in 2019; 110-270/month 2020"),
        P(N, "isr_deterrence", 0.5, "1", "share of attacks deterred under full persistent ISR",
          truncnormal(0.5, 0.3, -0.5, 0.9), ("C12",),
          "Mir & Moore 2019: -43..-62% attacks under drone surveillance; reversed values "
          "(< 0: surveillance provokes attacks) for Mahmood & Jetter 2022 blowback"),
        P(N, "attack_space", 1.6, "1", "rise in attacks per unit host presence lost",
          lognormal(1.6, 0.4), ("C6",), "LITERATURE: lockdown quarter attacks x1.4-1.5"),
        P(N, "attack_dispersion", 3.0, "1", "negative-binomial size of weekly attacks per region",
          lognormal(3.0, 0.5), ("C17",)),
        P(N, "season_amp", 0.2, "1", "amplitude of the annual attack cycle",
          uniform(0.05, 0.35), ("C20",), "LITERATURE: spring offensive x1.3-1.5; winter x0.5-0.8"),
        P(N, "season_peak_doy", 130.0, "day of year", "peak of the annual attack cycle",
          uniform(90, 160), ("C20",)),
        P(N, "infra_share", 0.05, "1", "share of IS attacks that hit infrastructure",
          beta(2, 38), ("C19",), "seed: rocket attack halted a refinery north of Baghdad"),
        P(N, "recruit_rate", 0.0213, "1/week", "intrinsic recruitment per fighter",
          lognormal(0.0213, 0.3), ("C6",)),
        P(N, "is_capacity", 6000.0, "fighters", "national recruitment capacity at baseline grievance",
          lognormal(6000, 0.4), ("C6", "C10")),
        P(N, "capacity_grievance", 1.5, "1", "rise of capacity per unit grievance above 0.3",
          uniform(0.0, 3.0), ("C10",)),
        P(N, "recruit_space", 1.0, "1", "rise in recruitment per unit host presence lost",
          uniform(0.0, 2.0), ("C6",), "seed: 'IS exploits security gaps widened by protests and the pandemic'"),
        P(N, "syria_inflow", 2.5, "fighters/week", "fighters crossing from Syria per border governorate",
          lognormal(2.5, 0.6), ("C21",)),
        P(N, "interdiction", 0.5, "1", "share of border crossings stopped under full ISR",
          truncnormal(0.5, 0.3, 0.0, 1.0), ("C21",), "judgement; prior reaches 0 (no effect)"),
        P(N, "syria_excess_0", 0.0, "1", "Syrian pool above the syria_instability level at the first simulated week",
          truncnormal(0.5, 0.5, -0.5, 3.0), ("C21",),
          "default 0: a run starting in late 2020 starts at the lever's level; prior for a "
          "January-2018 start, after Baghuz (Lead IG 14,000-18,000 in Iraq and Syria, 2019)"),
        P(N, "syria_excess_decay", 0.02, "1/week", "decay of the Syrian pool's excess (SDF detention, attrition)",
          truncnormal(0.02, 0.015, 0.0, 0.1), ("C21",), "judgement: half-life ~8 months"),
        P(N, "allee_fighters", 150.0, "fighters", "national IS strength at which per-capita recruitment is halved (Allee)",
          truncnormal(150, 250, 0.0, 2000), ("C6",),
          "judgement: recruiting needs networks; 0 = no critical mass (logistic only)"),
        P(N, "lead_recovery", 0.03, "1/week", "recovery of leadership capacity towards 1",
          truncnormal(0.03, 0.02, 0.002, 0.2), ("C8",), "judgement: Jordan 2014, groups recover within 1-2 years"),
        P(N, "decap_rate", 2.0, "1", "leadership lost per unit share of fighters removed (targeting of leaders)",
          truncnormal(2.0, 1.5, 0.0, 8.0), ("C1", "C8"), "judgement; 0 = no decapitation"),
        P(N, "lead_weight", 0.4, "1", "share of attack effectiveness lost at zero leadership",
          truncnormal(0.4, 0.3, 0.0, 1.0), ("C8",),
          "Johnston 2012 (decapitation lowers violence) vs Jordan 2014 (religious groups resilient): reaches 0"),
        P(N, "lead_removal_ref", 0.011, "1/week", "removal share at which leadership is at its reference level",
          claims=("C8",), source="model: mean weekly removal share of stay-3000 at the default parameters"),
        P(N, "backlash", 0.05, "1 per attack/M/week", "loss of log recruitment per IS attack per million people per week above violence_ref",
          truncnormal(0.05, 0.08, -0.1, 0.4), ("C10",),
          "Condra & Shapiro 2012 (insurgent-caused deaths followed by less violence), Shaver & "
          "Shapiro 2021 (tips rise after insurgent harm); < 0: momentum (success attracts recruits)"),
        P(N, "violence_ref", 0.8, "attacks/M/week", "IS violence at which backlash is neutral",
          claims=("C10",), source="LITERATURE: CTC 1,669 attacks in 2019 over ~40 M people"),
        P(N, "violence_memory", 0.15, "1/week", "weight of this week in remembered IS violence",
          truncnormal(0.15, 0.1, 0.02, 0.6), ("C10",), "Condra & Shapiro 2012: effects within ~4 weeks"),
        P(N, "move_rate", 0.02, "1/week", "share of fighters relocating to a neighbouring region",
          lognormal(0.02, 0.5), ("C17",)),
        P(N, "move_pressure", 2.0, "1", "preference for neighbours under less detection pressure",
          uniform(0.0, 4.0), ("C17",)),
    )
    states = (
        S("fighters", "region", "fighters", "IS fighters"),
        S("is_attacks", "region", "attacks/week", "IS attacks this week"),
        S("detect", "region", "1/week", "detection intensity"),
        S("leadership", "national", "0-1", "IS leadership capacity"),
        S("violence", "region", "attacks/M/week", "remembered IS violence per million people"),
        S("syria_excess", "national", "1", "Syrian pool above the syria_instability level"),
    )
    metrics = (
        M("is_attacks", "attacks/week", "IS attacks (model truth, before any reporting filter)"),
        M("is_attacks_infra", "attacks/week", "IS attacks on infrastructure (oil, power)"),
        M("is_fighters", "fighters", "IS fighters (end of week)"),
        M("is_removed", "fighters/week", "IS fighters killed or captured"),
        M("is_removed_air", "fighters/week", "expected IS fighters removed by air strikes"),
        M("is_recruits", "fighters/week", "IS recruits"),
        M("is_inflow", "fighters/week", "IS fighters arriving from Syria"),
        M("is_leadership", "0-1", "IS leadership capacity", "national"),
    )

    def init(self, sim) -> None:
        th, p, s = sim.theatre, sim.params.insurgency, sim.state.insurgency
        self._presence = th.attrs["is_presence"][None, :]
        self._border = th.flags["syria_border"][None, :].astype(float)
        self._adj = th.adjacency.astype(float)
        self._P: np.ndarray | None = None  # per-run parameter matrix for the fused kernel (built at first step)
        self._Q: np.ndarray | None = None  # the same for the movement kernel
        self._lead_den: np.ndarray | None = None
        s.fighters = p.is_fighters_0 * self._presence
        s.is_attacks = np.zeros((sim.n, sim.n_regions))
        s.detect = np.zeros((sim.n, sim.n_regions))
        s.leadership = _lead_ref(p) * np.ones((sim.n, 1))
        self._pop_m = th.population / 1e6
        # remembered violence starts at the expected attacks at half ISR cover and H = 1
        s.violence = (p.attack_rate * s.fighters * (1.0 - 0.5 * p.isr_deterrence)
                      / self._pop_m[None, :])
        s.syria_excess = p.syria_excess_0 * np.ones((sim.n, 1))

    def step(self, sim, t: int) -> None:
        s, p, lv = sim.state.insurgency, sim.params.insurgency, sim.levers(t)
        h, c = sim.state.host, sim.state.coalition
        u = np.ascontiguousarray(sim.u_region(N, t))  # C order whatever the chunk: one kernel signature
        F = s.fighters
        if self._P is None:
            self._P = np.ascontiguousarray(np.column_stack([getattr(p, k)[:, 0] for k in _KERNEL_PARAMS]))
        if self._lead_den is None:  # the leadership factor's denominator (per run, constant)
            self._lead_den = np.maximum(1.0 - p.lead_weight * (1.0 - _lead_ref(p)), 1e-12)
        lead = ((1.0 - p.lead_weight * (1.0 - s.leadership)) / self._lead_den)[:, 0]  # _lead_factor
        syria = nbmath.columns({"syria": lv["syria_instability"]}, sim.n)[:, 0] * (1.0 + s.syria_excess[:, 0])
        D, removed, attacks, infra, new, share_in, air_share, means = _cells(
            F, h.host, h.coord, sim.state.grievance.grievance, c.isr, c.planning, c.air, u,
            self._presence[0], self._border[0], float(sim.drivers.season_doy[t]),
            np.ascontiguousarray(syria, dtype=float), lead, s.violence, self._P)
        if min(removed.min(), attacks.min(), new.min()) < 0:  # large means: rare
            samplers.fix_large(2, removed, F, means[0], u[..., 0])
            samplers.fix_large(1, attacks, means[1], p.attack_dispersion, u[..., 1])
            # infrastructure hits of the cells whose attacks were just drawn (the others are
            # the kernel's, the same numbers samplers.binomial gives)
            _infra(infra, attacks, self._P[:, _KERNEL_PARAMS.index("infra_share")], u[..., 2])
            samplers.fix_large(2, infra, attacks, p.infra_share, u[..., 2])
            samplers.fix_large(0, new, means[2], 0.0, u[..., 3])
        s.detect = D
        if self._Q is None:
            self._Q = np.ascontiguousarray(np.column_stack([getattr(p, k)[:, 0] for k in _MOVE_PARAMS]))
        # movement towards neighbours under less detection pressure (mean-field flow); the
        # exp stays in NumPy (its vectorised exp and the C library's can differ in the last bit)
        pull = np.exp(-p.move_pressure * D)
        rec = tuple(sim.out(m, t) for m in ("is_fighters", "is_leadership", "is_attacks",
                                            "is_attacks_infra", "is_removed", "is_removed_air",
                                            "is_recruits", "is_inflow"))
        s.fighters, s.leadership, s.violence, s.syria_excess = _moves(
            F, removed, new, attacks, infra, pull, air_share, share_in, sim.drivers.is_surge[t],
            s.leadership, s.violence, s.syria_excess, self._adj, self._pop_m, self._Q, *rec)
        s.is_attacks = attacks


def _lead_ref(p) -> np.ndarray:
    """Leadership at its reference level: the equilibrium of the recovery and the
    attrition at the reference removal share, ``r / (r + decap * share_ref)``."""
    return p.lead_recovery / np.maximum(p.lead_recovery + p.decap_rate * p.lead_removal_ref, 1e-12)


def _lead_factor(p, leadership: np.ndarray) -> np.ndarray:
    """Attack effectiveness from leadership, 1 at the reference level:
    ``(1 - w (1 - L)) / (1 - w (1 - L_ref))``."""
    ref = 1.0 - p.lead_weight * (1.0 - _lead_ref(p))
    return (1.0 - p.lead_weight * (1.0 - leadership)) / np.maximum(ref, 1e-12)


_KERNEL_PARAMS = ("detect_host", "tips_grievance", "detect_isr", "detect_planning",
                  "remove_ground", "remove_air", "season_amp", "season_peak_doy", "attack_rate",
                  "attack_space", "isr_deterrence", "attack_dispersion", "infra_share",
                  "is_capacity", "capacity_grievance", "recruit_rate", "recruit_space",
                  "syria_inflow", "interdiction", "allee_fighters", "backlash", "violence_ref")


@numba.njit(cache=True, nogil=True, error_model="numpy")  # x / 0 -> inf or nan, as in NumPy
def _cells(F, H, coord, G, isr, planning, air, u, presence, border, doy, syria, lead, V,
           P):  # pragma: no cover
    """The weekly IS flows of every run and region, fused (the equations of docs/model.md):
    detection D, removals ~ Binomial(F, 1 - exp(-D (r_g H + r_a air))), attacks ~
    NB(a F season lead (1 + s gap)(1 - d min(isr, 1)), k), infrastructure ~
    Binomial(attacks, s_i), new fighters ~ Poisson(recruitment x Allee x backlash + inflow).
    ``syria`` (n,) is the Syrian pool, ``lead`` (n,) the leadership factor, ``V`` (n, R)
    remembered violence. Draws use the run's pre-drawn uniforms; -1 flags a cell for the
    large-mean branch (filled in by the caller)."""
    n, R = F.shape
    D = np.empty((n, R))
    removed = np.empty((n, R))
    attacks = np.empty((n, R))
    infra = np.empty((n, R))
    new = np.empty((n, R))
    share_in = np.empty((n, R))
    air_share = np.empty((n, R))
    means = np.empty((3, n, R))
    for i in range(n):
        (det_h, tips, det_isr, det_plan, r_g, r_a, s_amp, s_peak, a_rate, a_space, isr_det,
         a_k, infra_s, cap0, cap_g, rec, rec_space, inflow0, interd, allee, back,
         v_ref) = P[i]
        season = 1.0 + s_amp * np.cos(2.0 * np.pi * (doy - s_peak) / 365.25)
        # the infrastructure share is the run's: its clamp, log1p and odds once per run
        i_pp = min(max(infra_s, 0.0), 1.0 - 1e-12)
        i_log, i_r = np.log1p(-i_pp), i_pp / (1.0 - i_pp)
        for j in range(R):
            f, h, g = F[i, j], H[i, j], G[i, j]
            isr_c = min(isr[i, j], 1.0)
            d = coord[i, j] * (det_h * h * (1.0 - tips * g) + det_isr * isr[i, j]
                               + det_plan * planning[i, j])
            D[i, j] = d
            ground, air_r = r_g * h, r_a * air[i, j]
            p_rem = 1.0 - np.exp(-d * (ground + air_r))
            removed[i, j] = samplers.binomial1(f, p_rem, u[i, j, 0])
            air_share[i, j] = air_r / max(ground + air_r, 1e-12)
            gap = max(1.0 - h, 0.0)
            m_att = (a_rate * f * season * lead[i] * (1.0 + a_space * gap)
                     * (1.0 - isr_det * isr_c))
            a = samplers.negbin1(m_att, a_k, u[i, j, 1])
            attacks[i, j] = a
            infra[i, j] = samplers.binomial1p(a, i_pp, i_log, i_r, u[i, j, 2]) if a >= 0 else -1.0
            cap = cap0 * presence[j] * max(1.0 + cap_g * (g - 0.3), 0.1)
            a_j = allee * presence[j]
            allee_f = f / (f + a_j) if a_j > 0.0 else 1.0
            backlash_f = min(max(np.exp(-back * (V[i, j] - v_ref)), 0.25), 4.0)
            m_rec = (rec * f * max(1.0 - f / cap, 0.0) * (1.0 + rec_space * gap)
                     * (1.0 + g - 0.3) * allee_f * backlash_f)
            m_in = inflow0 * border[j] * syria[i] * (1.0 - interd * isr_c)
            new[i, j] = samplers.poisson1(m_rec + m_in, u[i, j, 3])
            share_in[i, j] = m_in / max(m_rec + m_in, 1e-12)
            means[0, i, j] = p_rem
            means[1, i, j] = m_att
            means[2, i, j] = m_rec + m_in
    return D, removed, attacks, infra, new, share_in, air_share, means


@numba.njit(cache=True, nogil=True)
def _infra(infra, attacks, share, u):  # pragma: no cover - compiled
    """Infrastructure hits ~ Binomial(attacks, share) of the cells flagged -1 (their attacks
    took the large-mean branch), in place; -1 again where this draw takes it too."""
    n, R = infra.shape
    for i in range(n):
        for j in range(R):
            if infra[i, j] < 0:
                infra[i, j] = samplers.binomial1(attacks[i, j], share[i], u[i, j])


_MOVE_PARAMS = ("lead_recovery", "decap_rate", "violence_memory", "syria_excess_decay", "move_rate")


@numba.njit(cache=True, nogil=True, error_model="numpy")  # x / 0 -> inf or nan, as in NumPy
def _moves(F, removed, new, attacks, infra, pull, air_share, share_in, surge, leadership, V,
           excess, adj, pop_m, Q, rec_F, rec_L, rec_attacks, rec_infra, rec_removed, rec_air,
           rec_recruits, rec_inflow):  # pragma: no cover - compiled
    """The rest of the week after the draws, fused (the same operations in the same order as
    the former NumPy step): leadership depleted by the removal share, remembered violence,
    the Syrian pool, removals, recruits and arrivals, then the move of a share of fighters to
    neighbours by ``pull`` (``exp(-move_pressure D)``). Sums over regions in NumPy's order
    (pairwise), products with the adjacency row by row in order (as ``rowdot``). Returns the
    fighters, leadership, violence and Syrian pool; records the week's IS series into
    ``rec_*``."""
    n, R = F.shape
    F_out = np.empty((n, R))
    L_out = np.empty((n, 1))
    V_out = np.empty((n, R))
    ex_out = np.empty((n, 1))
    F1 = np.empty(R)
    out = np.empty(R)
    q = np.empty(R)
    denom = np.empty(R)
    moved = np.empty(R)
    for i in range(n):
        lr, decap, vm, decay, mr = Q[i]
        share = nbmath.pairwise_sum(removed[i]) / nbmath.maximum(nbmath.pairwise_sum(F[i]), 1.0)
        L = leadership[i, 0]
        L = nbmath.clip(L + lr * (1.0 - L) - decap * share * L, 0.0, 1.0)
        L_out[i, 0] = L
        rec_L[i, 0] = L
        ex_out[i, 0] = excess[i, 0] * (1.0 - decay)
        for j in range(R):
            V_out[i, j] = V[i, j] + vm * (attacks[i, j] / pop_m[j] - V[i, j])
            F1[j] = nbmath.maximum(F[i, j] - removed[i, j], 0.0) + new[i, j] + surge[j]
            rec_attacks[i, j] = attacks[i, j]
            rec_infra[i, j] = infra[i, j]
            rec_removed[i, j] = removed[i, j]
            rec_air[i, j] = removed[i, j] * air_share[i, j]
            rec_recruits[i, j] = new[i, j] * (1.0 - share_in[i, j])
            rec_inflow[i, j] = new[i, j] * share_in[i, j]
        # each sum over k in order, as rowdot's einsum adds them (k outer: vectorised over m)
        for m in range(R):
            denom[m] = 0.0
            moved[m] = 0.0
        for k in range(R):
            pk = pull[i, k]
            for m in range(R):
                denom[m] += pk * adj[k, m]
        for m in range(R):
            out[m] = mr * F1[m] * (1.0 if denom[m] > 0 else 0.0)
            q[m] = out[m] / nbmath.maximum(denom[m], 1e-12)
        for k in range(R):
            qk = q[k]
            for m in range(R):
                moved[m] += qk * adj[k, m]
        for m in range(R):
            x = F1[m] - out[m] + pull[i, m] * moved[m]
            F_out[i, m] = x
            rec_F[i, m] = x
    return F_out, L_out, V_out, ex_out
