"""Coalition presence: troops, bases, enabler coverage (ISR, air, training, planning), mediation.

Troops follow the scenario schedule, cut further by a responsive-policy exit (C24). Bases
are open on their scheduled dates unless closed by the attack-driven hazard (C16), which
acts only after the known record (``driver.closure_hazard``): a run spun up through
2018-2020 keeps the real base configuration, handovers included once, up to its origin. Each
enabler's national capacity reaches a region through the nearest open base, falling off
with distance; the over-the-horizon share of ISR and air does not need bases (C12).

``posture_response`` is the posture switch of the structure comparison (docs/model.md §4.1):
1 (the default) lets coverage follow troops, bases and levers; 0 freezes every enabler at
its reference coverage (troops at ``troops_ref``, levers 1, every site of the theatre
open, whatever the scenario's schedule), so that posture changes nothing the other modules see through coverage.
"""

from __future__ import annotations

import numba
import numpy as np

from resurgence.core import nbmath
from resurgence.model.module import M, Module, P, S
from resurgence.model.params import beta, lognormal, uniform
from resurgence.scenario.schema import REFERENCE_TROOPS

N = "coalition"


class Coalition(Module):
    name = N
    title = "US/coalition troops, bases, enablers and mediation"
    claims = ("C1", "C2", "C8", "C10", "C11", "C12", "C16", "C18", "C24")
    reads = ("lever.troops", "lever.isr", "lever.air", "lever.training", "lever.planning",
             "lever.mediation", "lever.isr_over_horizon", "lever.air_over_horizon",
             "driver.base_open", "driver.policy", "driver.closure_hazard",
             "militia.militia_attacks_us",  # last week's (militia steps later)
             "politics.pressure")  # last week's
    params = (
        P(N, "troops_ref", REFERENCE_TROOPS, "troops", "headcount at which enabler levels equal 1 (late 2020)",
          claims=("C2",), source="DoD, Sept 2020 cut to 3,000"),
        P(N, "elast_isr", 0.15, "1", "elasticity of in-country ISR capacity to troop headcount",
          uniform(0.0, 0.5), ("C12",), "LITERATURE: headcount elasticity -0.05..-0.3; most via enablers"),
        P(N, "elast_air", 0.15, "1", "elasticity of in-country air support to headcount",
          uniform(0.0, 0.5), ("C8", "C12")),
        P(N, "elast_training", 1.0, "1", "elasticity of training/advice to headcount (advisers are troops)",
          uniform(0.5, 1.2), ("C11",)),
        P(N, "elast_planning", 0.5, "1", "elasticity of planning support to headcount",
          uniform(0.2, 1.0), ("C1",)),
        P(N, "elast_mediation", 0.2, "1", "elasticity of mediation effectiveness to headcount",
          uniform(0.0, 0.6), ("C18",), "seed: mediation 'difficult to fill if it were to completely withdraw'"),
        P(N, "reach_isr_km", 350.0, "km", "e-folding distance of ISR coverage from a base",
          lognormal(350, 0.3), ("C12",)),
        P(N, "reach_air_km", 500.0, "km", "e-folding distance of air support from a base",
          lognormal(500, 0.3), ("C8",)),
        P(N, "reach_training_km", 150.0, "km", "e-folding distance of training/advice from a base",
          lognormal(150, 0.3), ("C11",)),
        P(N, "reach_planning_km", 250.0, "km", "e-folding distance of planning support from a base",
          lognormal(250, 0.3), ("C1",)),
        P(N, "oth_effectiveness", 0.6, "1", "coverage delivered by over-the-horizon ISR/air per unit capacity",
          beta(6, 4), ("C12",), "judgement: slower, thinner coverage from outside"),
        P(N, "posture_response", 1.0, "1", "share of a posture change that reaches enabler coverage (1 = posture matters, 0 = posture-neutral)",
          claims=("C1", "C12"), source="structure switch: 0 in the posture-neutral overlay (model.structures)"),
        P(N, "closure_hazard_per_attack", 0.004, "1/attack", "weekly closure hazard of a base per militia attack in its governorate last week",
          lognormal(0.004, 0.6), ("C16",), "seed: US left northern bases after rocket attacks"),
    )
    states = (
        S("troops", "national", "troops", "US troops in Iraq after any forced exit"),
        S("troop_ratio", "national", "1", "troops relative to the late-2020 reference troops_ref"),
        S("exit_started", "national", "bool", "the government has ordered US forces out (C24)"),
        S("exit_frac", "national", "1", "share of scheduled presence left after a responsive exit"),
        S("base_closed", "national", "bool (n,B)", "bases closed by the attack hazard"),
        S("base_open", "national", "bool (n,B)", "bases open this week (schedule, closures, presence)"),
        S("isr", "region", "0-1.5", "ISR coverage"), S("air", "region", "0-1.5", "air coverage"),
        S("training", "region", "0-1.5", "training/advice coverage"),
        S("planning", "region", "0-1.5", "planning coverage"),
        S("mediation", "national", "0-1", "effective US mediation"),
        S("isr_ref", "region", "0-1.5", "ISR coverage at the reference posture"),
        S("air_ref", "region", "0-1.5", "air coverage at the reference posture"),
        S("training_ref", "region", "0-1.5", "training coverage at the reference posture"),
        S("planning_ref", "region", "0-1.5", "planning coverage at the reference posture"),
    )
    metrics = (
        M("us_troops", "troops", "US troops in Iraq", "national"),
        M("bases_open", "bases", "open US/coalition bases", "national"),
        M("mediation", "0-1", "effective US mediation between Baghdad and Erbil", "national"),
        M("isr_coverage", "0-1.5", "partner ISR coverage", agg="popmean"),
        M("air_coverage", "0-1.5", "coalition air-support coverage", agg="popmean"),
        M("training_coverage", "0-1.5", "training/advice coverage", agg="popmean"),
        M("planning_coverage", "0-1.5", "planning support coverage", agg="popmean"),
    )

    def n_draws(self, theatre) -> tuple[int, int]:
        return 0, len(theatre.bases)  # one uniform per base per week (closure hazard)

    def init(self, sim) -> None:
        n, B = sim.n, sim.n_bases
        s = sim.state.coalition
        s.exit_frac = np.ones((n, 1))
        s.exit_started = np.zeros((n, 1), dtype=bool)
        s.base_closed = np.zeros((n, B), dtype=bool)
        dist = sim.theatre.base_distance_km()  # (R, B)
        p = sim.params.coalition
        # distance-decay weights per run (reach parameters vary by run), and a cache of the
        # reach for the last open-base pattern of each run (bases change rarely)
        self._w = {e: np.exp(-dist[None, :, :] / getattr(p, f"reach_{e}_km")[:, :, None])
                   for e in ("isr", "air", "training", "planning")}
        self._open: np.ndarray | None = None
        self._reach_cache: dict[str, np.ndarray] = {}
        self._P: np.ndarray | None = None  # per-run parameters of the kernel (first step)
        self._base_region = np.array([sim.theatre.index(b.region) for b in sim.theatre.bases],
                                     dtype=int)
        # reference coverage (posture-neutral structure): levers 1, troops_ref and every
        # site of the theatre, whatever the scenario's base schedule
        for e, w in self._w.items():
            setattr(s, f"{e}_ref", np.max(w, axis=2) if B else np.zeros((n, sim.n_regions)))

    def invalidate(self) -> None:
        self._open = None  # the reach is recomputed from the open bases at the next step

    def _update_reach(self, open_: np.ndarray) -> None:
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

    def step(self, sim, t: int) -> None:
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
            s.base_closed |= sim.u_national(N, t)[:, : s.base_closed.shape[1]] < hz
        open_ = sim.drivers.base_open[t][None, :] & ~s.base_closed & present
        s.base_open = open_
        self._update_reach(open_)
        reach = self._reach_cache
        s.troop_ratio = troops / p.troops_ref
        rel = np.clip(s.troop_ratio, 0.0, 2.0)
        base = np.where(rel > 0, rel, 1.0)
        # the elasticity terms stay in NumPy: its power and the C library's can differ in the
        # last bit; the rest of the week is one kernel
        tf = np.column_stack([(base ** getattr(p, f"elast_{e}"))[:, 0] for e in _ENABLERS])
        if self._P is None:  # per-run parameters of the kernel (built at the first step)
            self._P = np.ascontiguousarray(np.column_stack([getattr(p, k)[:, 0] for k in _KERNEL_PARAMS]))
        levers = nbmath.columns({k: lv[k] for k in _KERNEL_LEVERS}, sim.n)
        s.isr, s.air, s.training, s.planning, s.mediation = _cells(
            self._P, levers, tf, present, reach["isr"], reach["air"], reach["training"],
            reach["planning"], s.isr_ref, s.air_ref, s.training_ref, s.planning_ref,
            bool((p.posture_response != 1.0).any()), sim.out("isr_coverage", t),
            sim.out("air_coverage", t), sim.out("training_coverage", t),
            sim.out("planning_coverage", t), sim.out("mediation", t))
        sim.record("us_troops", t, troops)
        sim.record("bases_open", t, open_.sum(axis=1, keepdims=True).astype(float))


_ENABLERS = ("isr", "air", "training", "planning", "mediation")
_KERNEL_PARAMS = ("oth_effectiveness", "posture_response")
_KERNEL_LEVERS = ("isr", "air", "training", "planning", "mediation", "isr_over_horizon",
                  "air_over_horizon")


@numba.njit(cache=True, nogil=True, error_model="numpy")  # x / 0 -> inf or nan, as in NumPy
def _cells(P, levers, tf, present, r_isr, r_air, r_training, r_planning, isr_ref, air_ref,
           training_ref, planning_ref, blend, rec_isr, rec_air, rec_training, rec_planning,
           rec_mediation):  # pragma: no cover - compiled
    """The week's enabler coverage of every run and region, fused (the same operations in
    the same order as the former NumPy step): ``tf`` holds ``max(troop ratio) ** elasticity``
    of ISR, air, training, planning and mediation, ``present`` whether troops are in the
    country; with ``blend`` (a posture response other than 1 in the chunk) each coverage is
    blended with its reference-posture value."""
    n, R = r_isr.shape
    isr = np.empty((n, R))
    air = np.empty((n, R))
    training = np.empty((n, R))
    planning = np.empty((n, R))
    mediation = np.empty((n, 1))
    for i in range(n):
        oth_eff, w = P[i]
        l_isr, l_air, l_tr, l_pl, l_med, oth_isr, oth_air = levers[i]
        pres = present[i, 0]
        a_isr = (1 - oth_isr) * (tf[i, 0] * pres)
        b_isr = oth_isr * oth_eff
        a_air = (1 - oth_air) * (tf[i, 1] * pres)
        b_air = oth_air * oth_eff
        f_tr = tf[i, 2] * pres
        f_pl = tf[i, 3] * pres
        med = l_med * (tf[i, 4] * pres)
        if blend:
            med = w * med + (1.0 - w) * 1.0
        mediation[i, 0] = med
        rec_mediation[i, 0] = med
        for j in range(R):
            x_isr = l_isr * (a_isr * r_isr[i, j] + b_isr)
            x_air = l_air * (a_air * r_air[i, j] + b_air)
            x_tr = l_tr * f_tr * r_training[i, j]
            x_pl = l_pl * f_pl * r_planning[i, j]
            if blend:
                x_isr = w * x_isr + (1.0 - w) * isr_ref[i, j]
                x_air = w * x_air + (1.0 - w) * air_ref[i, j]
                x_tr = w * x_tr + (1.0 - w) * training_ref[i, j]
                x_pl = w * x_pl + (1.0 - w) * planning_ref[i, j]
            isr[i, j] = x_isr
            air[i, j] = x_air
            training[i, j] = x_tr
            planning[i, j] = x_pl
            rec_isr[i, j] = x_isr
            rec_air[i, j] = x_air
            rec_training[i, j] = x_tr
            rec_planning[i, j] = x_pl
    return isr, air, training, planning, mediation
