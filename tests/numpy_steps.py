"""The engine's former NumPy module steps, verbatim, as references for the fused kernels.

Each function is the ``step`` of a mechanism module as it was before its flows were fused into
Numba kernels (commit 72388ee); ``insurgency_step`` keeps the former IS kernel too
(``_cells_ref``). ``tests/test_module_kernels.py`` puts them back in place and checks that the
engine's results are bit for bit the same. They read the attributes the modules' ``init`` sets.
"""

# ruff: noqa: E501
from __future__ import annotations

import numba
import numpy as np

from resurgence.core import samplers
from resurgence.core.linalg import rowdot
from resurgence.model.mechanisms.insurgency import _KERNEL_PARAMS, _lead_factor


def _coalition_update_reach(self, open_: np.ndarray) -> None:
    if self._open is None:
        rows: slice | np.ndarray = slice(None)
    else:
        changed = (open_ != self._open).any(axis=1)
        if not changed.any():
            return
        rows = np.flatnonzero(changed)
    for e, w in self._w.items():
        r = (np.max(np.where(open_[rows][:, None, :], w[rows], 0.0), axis=2)
             if w.shape[2] else np.zeros((open_[rows].shape[0], w.shape[1])))
        if self._open is None:
            self._reach_cache[e] = r
        else:
            self._reach_cache[e][rows] = r
    self._open = open_.copy()


def _host_be_target(p, lv, mediation):
    div = 1.0 - 0.5 * (lv["political_division"] - 0.5)
    return p.be_floor + (1.0 - p.be_floor) * np.clip(mediation * div, 0.0, 1.0)


def _grievance_target(self, p, militia, harm, presence=0.0):
    return np.clip(p.grievance_base + p.grievance_reconstruction * self._rec
                   + p.grievance_militia * self._mil * militia + p.harm_weight * harm
                   + p.presence_grievance * presence, 0.0, 1.0)


# --- coalition (former Coalition.step etc., verbatim) ---
def coalition_step(self, sim, t: int) -> None:
    s, p, lv = sim.state.coalition, sim.params.coalition, sim.levers(t)
    pol = sim.drivers.policy
    if pol.responsive and sim.elapsed(t) > 0:
        trigger = sim.state.politics.pressure >= pol.expel_threshold
        s.exit_started |= trigger
        s.exit_frac = np.where(s.exit_started,
                               np.maximum(s.exit_frac - 1.0 / pol.exit_weeks, 0.0), s.exit_frac)
    troops = lv["troops"] * s.exit_frac
    s.troops = troops
    present = troops > 0
    hazard = sim.drivers.closure_hazard
    if sim.elapsed(t) > 0 and s.base_closed.shape[1] and (hazard is None or hazard[t]):
        attacks = sim.state.militia.militia_attacks_us[:, self._base_region]  # last week's, (n, B)
        hz = 1.0 - np.exp(-p.closure_hazard_per_attack * attacks)
        s.base_closed |= sim.u_national("coalition", t)[:, : s.base_closed.shape[1]] < hz
    open_ = sim.drivers.base_open[t][None, :] & ~s.base_closed & present
    s.base_open = open_
    _coalition_update_reach(self, open_)
    reach = self._reach_cache
    s.troop_ratio = troops / p.troops_ref
    rel = np.clip(s.troop_ratio, 0.0, 2.0)

    def tf(el):
        return np.where(rel > 0, rel, 1.0) ** el * present

    oth_isr, oth_air = lv["isr_over_horizon"], lv["air_over_horizon"]
    # a forced exit acts through the troop count (tf), like any other drawdown
    s.isr = lv["isr"] * ((1 - oth_isr) * tf(p.elast_isr)
                         * reach["isr"] + oth_isr * p.oth_effectiveness)
    s.air = lv["air"] * ((1 - oth_air) * tf(p.elast_air)
                         * reach["air"] + oth_air * p.oth_effectiveness)
    s.training = lv["training"] * tf(p.elast_training) * reach["training"]
    s.planning = lv["planning"] * tf(p.elast_planning) * reach["planning"]
    s.mediation = lv["mediation"] * tf(p.elast_mediation)
    w = p.posture_response
    if (w != 1.0).any():  # the posture-neutral structure (or a blend of the two)
        s.isr = w * s.isr + (1.0 - w) * s.isr_ref
        s.air = w * s.air + (1.0 - w) * s.air_ref
        s.training = w * s.training + (1.0 - w) * s.training_ref
        s.planning = w * s.planning + (1.0 - w) * s.planning_ref
        s.mediation = w * s.mediation + (1.0 - w) * 1.0
    sim.record("us_troops", t, troops)
    sim.record("bases_open", t, open_.sum(axis=1, keepdims=True).astype(float))
    sim.record("mediation", t, s.mediation)
    sim.record("isr_coverage", t, s.isr)
    sim.record("air_coverage", t, s.air)
    sim.record("training_coverage", t, s.training)
    sim.record("planning_coverage", t, s.planning)


# --- host (former Coalition.step etc., verbatim) ---
def host_step(self, sim, t: int) -> None:
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
    s.be_coord = s.be_coord + p.be_rate * (_host_be_target(p, lv, c.mediation) - s.be_coord)
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


# --- militia (former Coalition.step etc., verbatim) ---
def militia_step(self, sim, t: int) -> None:
    s, p, lv = sim.state.militia, sim.params.militia, sim.levers(t)
    c = sim.state.coalition
    present = (c.troops > 0).astype(float)
    vacuum = 1.0 - np.clip(c.troop_ratio, 0.0, 1.0)
    tension = lv["us_iran_tension"]
    ceiling = p.militia_ceiling * (1 + p.militia_vacuum * vacuum
                                   + p.militia_tension * (tension - 1.0))
    m = s.militia_strength
    s.militia_strength = m + p.militia_growth / 52.0 * m * (1.0 - m / ceiling)
    u = sim.u_national("militia", t)[:, :1]
    p_on = np.clip(p.campaign_on * tension, 0.0, 1.0)
    flip = np.where(s.campaign, u < p.campaign_off, u < p_on)
    camp = s.campaign ^ flip
    force = sim.drivers.campaign_force[t]
    if force:
        camp = np.full_like(camp, force > 0)
    s.campaign = camp
    targets = (p.attack_rate_base * rowdot(c.base_open.astype(float), self._base_region)
               + p.attack_rate_convoy * self._convoy * present
               + p.attack_rate_embassy * self._capital)
    mean = (targets * s.militia_strength * (0.5 + 0.5 * tension)
            * np.where(camp, 1.0, p.truce_intensity))
    s.militia_attacks_us = samplers.negbin(mean, p.militia_dispersion, sim.u_region("militia", t)[..., 0])
    sim.record("militia_attacks_us", t, s.militia_attacks_us)
    sim.record("militia_strength", t, s.militia_strength)
    sim.record("militia_campaign", t, camp.astype(float))


# --- politics (former Coalition.step etc., verbatim) ---
def politics_step(self, sim, t: int) -> None:
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


# --- grievance (former Coalition.step etc., verbatim) ---
def grievance_step(self, sim, t: int) -> None:
    s, p, st = sim.state.grievance, sim.params.grievance, sim.state
    detect = st.insurgency.detect
    info = detect / (detect + p.harm_info_half)
    harm = (st.host.host + st.coalition.air) * (1.0 - info)
    if sim.elapsed(t) == 0:  # harm is measured against the run's first simulated week
        s.harm_ref = harm
    harm = harm - s.harm_ref
    presence = np.clip(st.coalition.troop_ratio, 0.0, 2.0) - 1.0
    target = _grievance_target(self, p, st.militia.militia_strength, harm, presence)
    s.grievance = s.grievance + p.grievance_rate * (target - s.grievance)
    sim.record("grievance", t, s.grievance)


# --- insurgency (former Coalition.step etc., verbatim) ---
def insurgency_step(self, sim, t: int) -> None:
    s, p, lv = sim.state.insurgency, sim.params.insurgency, sim.levers(t)
    h, c = sim.state.host, sim.state.coalition
    u = sim.u_region("insurgency", t)
    F = s.fighters
    if self._P is None:
        self._P = np.ascontiguousarray(np.column_stack([getattr(p, k)[:, 0] for k in _KERNEL_PARAMS]))
    lead = _lead_factor(p, s.leadership)[:, 0]
    syria = (np.broadcast_to(lv["syria_instability"], (sim.n, 1))
             * (1.0 + s.syria_excess))[:, 0]
    D, removed, attacks, infra, new, share_in, air_share, means = _cells_ref(
        F, h.host, h.coord, sim.state.grievance.grievance, c.isr, c.planning, c.air, u,
        self._presence[0], self._border[0], float(sim.drivers.season_doy[t]),
        np.ascontiguousarray(syria, dtype=float), lead, s.violence, self._P)
    if (removed < 0).any() or (attacks < 0).any() or (new < 0).any():  # large means: rare
        samplers.fix_large(2, removed, F, means[0], u[..., 0])
        samplers.fix_large(1, attacks, means[1], p.attack_dispersion, u[..., 1])
        infra = samplers.binomial(attacks, p.infra_share, u[..., 2])
        samplers.fix_large(0, new, means[2], 0.0, u[..., 3])
    s.detect = D
    # leadership: depleted by this week's removal share, recovering towards 1
    share = removed.sum(axis=1, keepdims=True) / np.maximum(F.sum(axis=1, keepdims=True), 1.0)
    s.leadership = np.clip(s.leadership + p.lead_recovery * (1.0 - s.leadership)
                           - p.decap_rate * share * s.leadership, 0.0, 1.0)
    s.violence = s.violence + p.violence_memory * (attacks / self._pop_m[None, :] - s.violence)
    s.syria_excess = s.syria_excess * (1.0 - p.syria_excess_decay)
    F = np.maximum(F - removed, 0.0) + new + sim.drivers.is_surge[t][None, :]
    # movement towards neighbours under less detection pressure (mean-field flow)
    pull = np.exp(-p.move_pressure * D)
    denom = rowdot(pull, self._adj)
    out = p.move_rate * F * (denom > 0)
    F = F - out + pull * rowdot(out / np.maximum(denom, 1e-12), self._adj)
    s.fighters = F
    s.is_attacks = attacks
    sim.record("is_attacks", t, attacks)
    sim.record("is_attacks_infra", t, infra)
    sim.record("is_fighters", t, F)
    sim.record("is_removed", t, removed)
    sim.record("is_removed_air", t, removed * air_share)
    sim.record("is_recruits", t, new * (1.0 - share_in))
    sim.record("is_inflow", t, new * share_in)
    sim.record("is_leadership", t, s.leadership)


@numba.njit(cache=True, nogil=True)
def _cells_ref(F, H, coord, G, isr, planning, air, u, presence, border, doy, syria, lead, V,
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
            infra[i, j] = samplers.binomial1(a, infra_s, u[i, j, 2]) if a >= 0 else -1.0
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
