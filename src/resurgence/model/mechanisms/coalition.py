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
        self._P: np.ndarray | None = None  # per-run parameters of the kernels (first step)
        self._pre: np.ndarray | None = None
        self._no_hz = np.zeros((n, 0))
        self._tf: np.ndarray | None = None  # the elasticity terms and the troop ratios behind them
        self._tf_base: np.ndarray | None = None
        self._base_region = np.array([sim.theatre.index(b.region) for b in sim.theatre.bases],
                                     dtype=int)
        # reference coverage (posture-neutral structure): levers 1, troops_ref and every
        # site of the theatre, whatever the scenario's base schedule
        for e, w in self._w.items():
            setattr(s, f"{e}_ref", np.max(w, axis=2) if B else np.zeros((n, sim.n_regions)))

    def invalidate(self) -> None:
        self._open = None  # the reach is recomputed from the open bases at the next step
        self._tf = None

    def _update_reach(self, open_: np.ndarray, changed: np.ndarray) -> None:
        """The reach of each enabler from the nearest open base, recomputed for the runs whose
        open bases changed (all of them at the first step)."""
        if self._open is None:
            for e, w in self._w.items():
                self._reach_cache[e] = np.empty(w.shape[:2])
        _reach(open_, changed, self._w["isr"], self._w["air"], self._w["training"],
               self._w["planning"], self._reach_cache["isr"], self._reach_cache["air"],
               self._reach_cache["training"], self._reach_cache["planning"])
        self._open = open_.copy()

    def step(self, sim, t: int) -> None:
        s, p, lv = sim.state.coalition, sim.params.coalition, sim.levers(t)
        pol = sim.drivers.policy
        B = s.base_closed.shape[1]
        hazard = sim.drivers.closure_hazard
        hz = self._no_hz
        if sim.elapsed(t) > 0 and B and (hazard is None or hazard[t]):
            attacks = sim.state.militia.militia_attacks_us[:, self._base_region]  # last week's, (n, B)
            hz = np.ascontiguousarray(  # NumPy's exp, as before (C order: one kernel signature)
                1.0 - np.exp(-p.closure_hazard_per_attack * attacks))
        if self._pre is None:  # per-run parameters of the kernels (built at the first step)
            self._pre = np.ascontiguousarray(p.troops_ref[:, 0])
        responsive = bool(pol.responsive and sim.elapsed(t) > 0)
        (s.exit_started, s.exit_frac, s.troops, s.base_closed, open_, changed, s.troop_ratio,
         base) = _presence(
            responsive, np.asarray(sim.state.politics.pressure, dtype=np.float64),
            float(pol.expel_threshold), 1.0 / pol.exit_weeks if responsive else 0.0,
            s.exit_started, s.exit_frac, nbmath.columns({"troops": lv["troops"]}, sim.n)[:, 0],
            self._pre, s.base_closed, hz, np.ascontiguousarray(sim.u_national(N, t)),
            sim.drivers.base_open[t],
            self._open if self._open is not None else open_placeholder(sim.n, B),
            self._open is None, sim.out("us_troops", t), sim.out("bases_open", t))
        s.base_open = open_
        if changed.any():  # every run at the first step
            self._update_reach(open_, changed)
        reach = self._reach_cache
        present = s.troops > 0
        # the elasticity terms stay in NumPy (its power and the C library's can differ in the
        # last bit), computed again only when the troop ratio moves; the rest is one kernel
        if self._tf is None or self._tf_base is None or not np.array_equal(base, self._tf_base):
            self._tf = np.column_stack([(base ** getattr(p, f"elast_{e}"))[:, 0] for e in _ENABLERS])
            self._tf_base = base
        tf = self._tf
        if self._P is None:  # per-run parameters of the kernel (built at the first step)
            self._P = np.ascontiguousarray(np.column_stack([getattr(p, k)[:, 0] for k in _KERNEL_PARAMS]))
        levers = nbmath.columns({k: lv[k] for k in _KERNEL_LEVERS}, sim.n)
        s.isr, s.air, s.training, s.planning, s.mediation = _cells(
            self._P, levers, tf, present, reach["isr"], reach["air"], reach["training"],
            reach["planning"], s.isr_ref, s.air_ref, s.training_ref, s.planning_ref,
            bool((p.posture_response != 1.0).any()), sim.out("isr_coverage", t),
            sim.out("air_coverage", t), sim.out("training_coverage", t),
            sim.out("planning_coverage", t), sim.out("mediation", t))


_ENABLERS = ("isr", "air", "training", "planning", "mediation")


def open_placeholder(n: int, B: int) -> np.ndarray:
    return np.zeros((n, B), dtype=bool)


@numba.njit(cache=True, nogil=True, error_model="numpy")  # x / 0 -> inf or nan, as in NumPy
def _presence(responsive, pressure, threshold, exit_step, exit_started, exit_frac, troops_lever,
              troops_ref, base_closed, hz, u, scheduled, prev_open, first, rec_troops,
              rec_bases):  # pragma: no cover - compiled
    """The week's US presence of every run (the same operations in the same order as the
    former NumPy step): a responsive exit once pressure crosses the threshold, troops, the
    attack-driven closures (``hz``: this week's closure hazard per base, or no columns when it
    does not act), the open bases, the troop ratio and ``where(clip(ratio) > 0, clip(ratio),
    1)`` (the base of the elasticity terms). ``changed`` says which runs' open bases differ
    from ``prev_open`` (every run when ``first``). Troops and open bases are recorded into
    ``rec_*``."""
    n, B = base_closed.shape
    started = np.empty((n, 1), dtype=np.bool_)
    frac = np.empty((n, 1))
    troops = np.empty((n, 1))
    closed = np.empty((n, B), dtype=np.bool_)
    open_ = np.empty((n, B), dtype=np.bool_)
    ratio = np.empty((n, 1))
    base = np.empty((n, 1))
    hazard = hz.shape[1] > 0
    changed = np.empty(n, dtype=np.bool_)
    for i in range(n):
        st, fr = exit_started[i, 0], exit_frac[i, 0]
        if responsive:
            st = st | (pressure[i, 0] >= threshold)
            if st:
                fr = nbmath.maximum(fr - exit_step, 0.0)
        started[i, 0] = st
        frac[i, 0] = fr
        tr = troops_lever[i] * fr
        troops[i, 0] = tr
        rec_troops[i, 0] = tr
        present = tr > 0
        n_open = 0
        ch = first
        for b in range(B):
            c = base_closed[i, b]
            if hazard:
                c = c | (u[i, b] < hz[i, b])
            closed[i, b] = c
            o = scheduled[b] and not c and present
            open_[i, b] = o
            if o:
                n_open += 1
            if o != prev_open[i, b]:
                ch = True
        changed[i] = ch
        rec_bases[i, 0] = float(n_open)
        r = tr / troops_ref[i]
        ratio[i, 0] = r
        rel = nbmath.clip(r, 0.0, 2.0)
        base[i, 0] = rel if rel > 0 else 1.0
    return started, frac, troops, closed, open_, changed, ratio, base


@numba.njit(cache=True, nogil=True)
def _reach(open_, changed, w_isr, w_air, w_training, w_planning, r_isr, r_air, r_training,
           r_planning):  # pragma: no cover - compiled
    """Each enabler's coverage through the nearest open base (the largest distance-decay
    weight among open bases, 0 without any), for the runs ``changed``, in place."""
    n, R, B = w_isr.shape
    for i in range(n):
        if not changed[i]:
            continue
        for j in range(R):
            for w, r in ((w_isr, r_isr), (w_air, r_air), (w_training, r_training),
                         (w_planning, r_planning)):
                if B == 0:
                    r[i, j] = 0.0
                    continue
                m = w[i, j, 0] if open_[i, 0] else 0.0
                for b in range(1, B):
                    x = w[i, j, b] if open_[i, b] else 0.0
                    m = nbmath.maximum(m, x)
                r[i, j] = m
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
