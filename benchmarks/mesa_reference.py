"""The resurgence model written the way a Mesa 3 user would write it: a reference for speed.

One :class:`mesa.Model` per run, one :class:`mesa.Agent` per governorate and per US/coalition
base, stepping weekly through the same module order as :data:`resurgence.model.sim.PLAN`
(coalition, host, militia, insurgency, territory, grievance, politics) with the same
equations and default parameters as ``src/resurgence/model/mechanisms/*.py``, the decline
mechanisms included (Allee recruitment, leadership attrition and recovery, backlash through
remembered violence, the Syrian pool; host adaptation; foreign presence as a grievance).
The posture switch (``posture_response``) is left out: at its default of 1 it changes
nothing. Everything is scalar
Python: each agent keeps its own state in attributes, stochastic flows are per-agent draws
from the model's generators (``self.random`` for uniforms, ``self.rng`` for counts, with
exact NumPy samplers rather than the engine's inversion; no common random numbers), and a
:class:`mesa.DataCollector` records the same 30 metrics every week, as the engine does.

Only the inputs come from the package: the theatre (regions, bases, adjacency), the
scenario compiled to weekly drivers, and the parameters' declared defaults. All dynamics are
re-implemented here, so agreement of mean outcomes with the engine is a real check.

Run it alone::

    .venv/bin/python benchmarks/mesa_reference.py --runs 4
"""

from __future__ import annotations

import argparse
import math
import time

import mesa
import numpy as np

from resurgence.model.sim import all_params
from resurgence.runs.ensemble import resolve
from resurgence.scenario.drivers import compile_drivers
from resurgence.theatre.theatre import load_theatre

REGIONAL_METRICS = (
    "isr_coverage", "air_coverage", "training_coverage", "planning_coverage", "host_strength",
    "militia_attacks_us", "is_attacks", "is_attacks_infra", "is_fighters", "is_removed",
    "is_removed_air", "is_recruits", "is_inflow", "is_villages", "villages_cleared", "collapsed",
    "grievance", "iran_influence",
)
NATIONAL_METRICS = (
    "us_troops", "bases_open", "mediation", "host_capability", "be_coordination",
    "militia_strength", "militia_campaign", "is_holds_ground", "political_pressure",
    "us_leverage", "exit_ordered", "us_iran_tension",
)
ENABLERS = ("isr", "air", "training", "planning")


def clip(x: float, lo: float, hi: float) -> float:
    return lo if x < lo else hi if x > hi else x


class Base(mesa.Agent):
    """A US/coalition base: scheduled open/closed, closed for good by the attack hazard."""

    def __init__(self, model: ResurgenceModel, index: int, region: Governorate,
                 distance_km: list[float]):
        super().__init__(model)
        self.index, self.region = index, region
        self.distance_km = distance_km  # to each governorate's point
        self.closed = False
        self.open = False

    def step_coalition(self) -> None:
        m, p = self.model, self.model.p
        if m.t > 0:  # closure hazard from last week's militia attacks in its governorate
            hz = 1.0 - math.exp(-p["closure_hazard_per_attack"] * self.region.militia_attacks_us)
            if self.random.random() < hz:
                self.closed = True
        self.open = bool(m.drivers.base_open[m.t, self.index]) and not self.closed and m.troops > 0


class Governorate(mesa.Agent):
    """One governorate: enabler coverage, host forces, IS fighters, villages, grievance."""

    def __init__(self, model: ResurgenceModel, index: int, code: str):
        super().__init__(model)
        th, p = model.theatre, model.p
        i = index
        self.index, self.code = index, code
        self.population = float(th.population[i])
        self.pop_m = self.population / 1e6
        self.weight = self.population / float(th.population.sum())
        self.federal = not bool(th.flags["kurdistan"][i])
        self.disputed = bool(th.flags["disputed"][i])
        self.border = 1.0 if th.flags["syria_border"][i] else 0.0
        self.reconstruction_gap = float(th.attrs["reconstruction_gap"][i])
        self.iran_affinity = float(th.attrs["iran_affinity"][i])
        self.pmf = float(th.attrs["pmf_presence"][i])
        self.convoy = float(th.attrs["convoy_route"][i])
        self.is_presence = float(th.attrs["is_presence"][i])
        self.capital = i == int(np.argmax(th.population))
        self.neighbours: list[Governorate] = []  # filled in by the model
        self.bases_here: list[Base] = []
        # distance-decay weight of each base, per enabler (reach parameters are per run)
        self.base_weight: dict[str, list[float]] = {}
        # states
        self.isr = self.air = self.training = self.planning = 0.0
        self.coord = self.host = 0.0
        self.militia_attacks_us = 0.0
        self.fighters = p["is_fighters_0"] * self.is_presence
        self.is_attacks = 0.0
        self.detect = 0.0
        self.villages = p["villages_0"] * self.is_presence
        self.collapsed = 0.0
        self.grievance = self.grievance_target(1.0, 0.0)
        # remembered IS violence per million people: the expected attacks at half ISR cover
        self.violence = (p["attack_rate"] * self.fighters * (1.0 - 0.5 * p["isr_deterrence"])
                         / self.pop_m)
        # recorded flows
        self.is_attacks_infra = self.is_removed = self.is_removed_air = 0.0
        self.is_recruits = self.is_inflow = self.villages_cleared = 0.0
        self.iran_influence = 0.0
        self._out = self._pull = self._denom = 0.0
        self._harm0 = 0.0

    # -- coalition ---------------------------------------------------------------------
    def step_coalition(self) -> None:
        m, p, lv = self.model, self.model.p, self.model.lv
        open_bases = m.open_bases
        reach = {e: max((self.base_weight[e][b.index] for b in open_bases), default=0.0)
                 for e in ENABLERS}
        tf = m.troop_factor  # a forced exit acts through the troop count, like any drawdown
        oth_isr, oth_air = lv["isr_over_horizon"], lv["air_over_horizon"]
        self.isr = lv["isr"] * ((1 - oth_isr) * tf["elast_isr"] * reach["isr"]
                                + oth_isr * p["oth_effectiveness"])
        self.air = lv["air"] * ((1 - oth_air) * tf["elast_air"] * reach["air"]
                                + oth_air * p["oth_effectiveness"])
        self.training = lv["training"] * tf["elast_training"] * reach["training"]
        self.planning = lv["planning"] * tf["elast_planning"] * reach["planning"]

    # -- host --------------------------------------------------------------------------
    def step_host(self) -> None:
        m, p, lv = self.model, self.model.p, self.model.lv
        seam = 1.0 - p["seam_share"] * (1.0 - m.be_coord)
        self.coord = p["branch_coordination"] * (seam if self.disputed else 1.0)
        presence = (1.0 - p["pandemic_presence_cut"] * lv["pandemic"]) * (
            1.0 - p["protest_presence_cut"] * lv["protests"] * self.federal)
        quality = (1.0 - p["corruption_cut"] * (lv["corruption"] - 0.5)) * (
            1.0 - p["division_cut"] * (lv["political_division"] - 0.5))
        militia = 1.0 + p["pmf_combat_weight"] * self.pmf * (m.militia_strength - 1.0)
        collapse = 1.0 - p["collapse_depth"] * self.collapsed
        self.host = max(m.capability * presence * quality * militia * collapse, 0.02)

    # -- militia -----------------------------------------------------------------------
    def step_militia(self) -> None:
        m, p, lv = self.model, self.model.p, self.model.lv
        n_open = sum(1 for b in self.bases_here if b.open)
        target = (p["attack_rate_base"] * n_open
                  + p["attack_rate_convoy"] * self.convoy * (m.troops > 0)
                  + p["attack_rate_embassy"] * self.capital)
        mean = (target * m.militia_strength * (0.5 + 0.5 * lv["us_iran_tension"])
                * (1.0 if m.campaign else p["truce_intensity"]))
        self.militia_attacks_us = m.negbin(mean, p["militia_dispersion"])

    # -- insurgency --------------------------------------------------------------------
    def step_insurgency(self) -> None:
        m, p, lv = self.model, self.model.p, self.model.lv
        F, H = self.fighters, self.host
        D = self.coord * (p["detect_host"] * H * (1.0 - p["tips_grievance"] * self.grievance)
                          + p["detect_isr"] * self.isr + p["detect_planning"] * self.planning)
        self.detect = D
        ground, air = p["remove_ground"] * H, p["remove_air"] * self.air
        p_rem = 1.0 - math.exp(-D * (ground + air))
        removed = m.binomial(F, p_rem)
        gap = max(1.0 - H, 0.0)
        mean_att = (p["attack_rate"] * F * m.season * m.lead_factor * (1.0 + p["attack_space"] * gap)
                    * (1.0 - p["isr_deterrence"] * min(self.isr, 1.0)))
        attacks = m.negbin(mean_att, p["attack_dispersion"])
        self.is_attacks_infra = m.binomial(attacks, p["infra_share"])
        cap = p["is_capacity"] * self.is_presence * max(
            1.0 + p["capacity_grievance"] * (self.grievance - 0.3), 0.1)
        a_j = p["allee_fighters"] * self.is_presence  # recruiting needs a critical mass
        allee = F / (F + a_j) if a_j > 0 else 1.0
        backlash = clip(math.exp(-p["backlash"] * (self.violence - p["violence_ref"])), 0.25, 4.0)
        rec_mean = (p["recruit_rate"] * F * max(1.0 - F / cap, 0.0) if cap > 0 else 0.0) * (
            (1.0 + p["recruit_space"] * gap) * (1.0 + self.grievance - 0.3)) * allee * backlash
        inflow_mean = (p["syria_inflow"] * self.border * lv["syria_instability"]
                       * (1.0 + m.syria_excess) * (1.0 - p["interdiction"] * min(self.isr, 1.0)))
        new = m.poisson(rec_mean + inflow_mean)
        share_in = inflow_mean / max(rec_mean + inflow_mean, 1e-12)
        self.violence += p["violence_memory"] * (attacks / self.pop_m - self.violence)
        self.fighters = max(F - removed, 0.0) + new + m.drivers.is_surge[m.t, self.index]
        self._fighters_before = F
        self.is_attacks = attacks
        self.is_removed = removed
        self.is_removed_air = removed * air / max(ground + air, 1e-12)
        self.is_recruits = new * (1.0 - share_in)
        self.is_inflow = new * share_in
        self._pull = math.exp(-p["move_pressure"] * D)

    def move_out(self) -> None:
        """Movement, phase 1 (after every region's pull is known): who leaves."""
        self._denom = sum(nb._pull for nb in self.neighbours)
        self._out = self.model.p["move_rate"] * self.fighters if self._denom > 0 else 0.0

    def move_in(self) -> None:
        """Movement, phase 2: arrivals from neighbours, split by their pull."""
        arrive = sum(nb._out / max(nb._denom, 1e-12) for nb in self.neighbours)
        self.fighters = self.fighters - self._out + self._pull * arrive

    # -- territory ---------------------------------------------------------------------
    def step_territory(self) -> None:
        m, p = self.model, self.model.p
        V, F, H = self.villages, self.fighters, self.host
        support = (p["clear_unsupported"] + p["clear_isr"] * min(self.isr, 1.0)
                   + p["clear_air"] * min(self.air, 1.0)
                   + p["clear_planning"] * min(self.planning, 1.0))
        p_clear = 1.0 - math.exp(-p["clear_rate"] * H * self.coord * support)
        cleared = m.binomial(V, p_clear)
        inf_mean = (p["infiltration"] * F * (1.0 + self.grievance)
                    / (1.3 * max(H * self.coord, 0.2)))
        self.villages = V - cleared + m.poisson(inf_mean)
        self.villages_cleared = cleared
        ratio = F / (p["collapse_density"] * H * self.pop_m)
        if self.collapsed > 0:
            hz = p["recover_rate"] if ratio < 0.5 else 0.0
        else:
            hz = 1.0 - math.exp(-p["collapse_rate"] * max(ratio - 1.0, 0.0) ** 2)
        if self.random.random() < hz:
            self.collapsed = 1.0 - self.collapsed

    # -- grievance ---------------------------------------------------------------------
    def grievance_target(self, militia: float, harm: float, presence: float = 0.0) -> float:
        p = self.model.p
        return clip(p["grievance_base"] + p["grievance_reconstruction"] * self.reconstruction_gap
                    + p["grievance_militia"] * self.pmf * (1.0 - self.iran_affinity) * militia
                    + p["harm_weight"] * harm + p["presence_grievance"] * presence, 0.0, 1.0)

    def step_grievance(self) -> None:
        p = self.model.p
        info = self.detect / (self.detect + p["harm_info_half"])
        harm = (self.host + self.air) * (1.0 - info)
        if self.model.t == 0:  # harm is measured against the first simulated week's operations
            self._harm0 = harm
        harm -= self._harm0
        presence = clip(self.model.troops / p["troops_ref"], 0.0, 2.0) - 1.0  # foreign presence
        target = self.grievance_target(self.model.militia_strength, harm, presence)
        self.grievance += p["grievance_rate"] * (target - self.grievance)

    # -- politics ----------------------------------------------------------------------
    def step_politics(self) -> None:
        m = self.model
        self.iran_influence = clip(m.influence * m.influence_shape[self.index]
                                   * (1.0 + 0.5 * self.pmf * (m.militia_strength - 1.0)), 0.0, 1.0)


class ResurgenceModel(mesa.Model):
    """One run of one scenario: governorate and base agents, national state on the model."""

    def __init__(self, scenario: str = "announced-2500", theatre: str = "iraq",
                 weeks: int | None = None, seed: int | None = None, collect: bool = True,
                 params: dict[str, float] | None = None):
        super().__init__(seed=seed)
        self.scenario = resolve(scenario, weeks)
        self.theatre = th = load_theatre(theatre)
        self.drivers = compile_drivers(self.scenario, th)
        self.weeks = self.drivers.grid.weeks
        self.p = {q.name: q.default for q in all_params()} | dict(params or {})
        self.policy = self.scenario.policy
        self._levers = [{k: float(v[t]) for k, v in self.drivers.levers.items()}
                        for t in range(self.weeks)]
        self.t = 0
        self.lv = self._levers[0]
        p = self.p
        # national state (module order: coalition, host, militia, insurgency, territory,
        # grievance, politics)
        self.exit_frac, self.exit_started = 1.0, False
        self.troops = 0.0
        self.mediation = 0.0
        self.troop_factor: dict[str, float] = {}
        self.open_bases: list[Base] = []
        self.capability = 1.0
        self.adaptation, self.train_ref = 0.0, None  # host adaptation to lost training
        self.be_coord = self._be_target(self.lv["mediation"])
        # IS leadership capacity starts at its reference level; the Syrian pool's excess
        lr, decap = p["lead_recovery"], p["decap_rate"]
        self.lead_ref = lr / max(lr + decap * p["lead_removal_ref"], 1e-12)
        self.leadership = self.lead_ref
        self.lead_factor = 1.0
        self.syria_excess = p["syria_excess_0"]
        self.militia_strength, self.campaign = 1.0, False
        self.is_holds_ground = 0.0
        self.pressure, self.influence, self.leverage = p["pressure_0"], p["influence_0"], 0.0
        self.season = 1.0
        # agents
        self.governorates = [Governorate(self, i, c) for i, c in enumerate(th.codes)]
        for g in self.governorates:
            g.neighbours = [self.governorates[j] for j in np.flatnonzero(th.adjacency[:, g.index])]
        dist = th.base_distance_km()  # (R, B)
        self.bases = [Base(self, j, self.governorates[th.index(b.region)], list(dist[:, j]))
                      for j, b in enumerate(th.bases)]
        for b in self.bases:
            b.region.bases_here.append(b)
        for g in self.governorates:
            g.base_weight = {e: [math.exp(-dist[g.index, j] / p[f"reach_{e}_km"])
                                 for j in range(len(self.bases))] for e in ENABLERS}
        aff = th.attrs["iran_affinity"]
        w = th.population / th.population.sum()
        self.influence_shape = [float(x) for x in (0.4 + 0.8 * aff) / float(((0.4 + 0.8 * aff) * w).sum())]
        self._federal_weight = max(sum(g.weight for g in self.governorates if g.federal), 1e-9)
        self.collect = collect
        if collect:
            self.datacollector = mesa.DataCollector(
                model_reporters={k: k for k in NATIONAL_METRICS},
                agenttype_reporters={Governorate: {k: k for k in REGIONAL_METRICS}})

    # -- samplers: scalar draws from the model's NumPy generator ------------------------
    def poisson(self, mean: float) -> float:
        return float(self.rng.poisson(mean)) if mean > 0 else 0.0

    def negbin(self, mean: float, k: float) -> float:
        return float(self.rng.negative_binomial(k, k / (k + mean))) if mean > 0 else 0.0

    def binomial(self, n: float, prob: float) -> float:
        n = math.floor(max(n, 0.0))
        return float(self.rng.binomial(n, clip(prob, 0.0, 1.0 - 1e-12))) if n > 0 else 0.0

    # -- national parts of the modules --------------------------------------------------
    def _be_target(self, mediation: float) -> float:
        p, lv = self.p, self.lv
        div = 1.0 - 0.5 * (lv["political_division"] - 0.5)
        return p["be_floor"] + (1.0 - p["be_floor"]) * clip(mediation * div, 0.0, 1.0)

    def _coalition(self) -> None:
        p, lv, pol = self.p, self.lv, self.policy
        if pol.responsive and self.t > 0:
            self.exit_started = self.exit_started or self.pressure >= pol.expel_threshold
            if self.exit_started:
                self.exit_frac = max(self.exit_frac - 1.0 / pol.exit_weeks, 0.0)
        self.troops = lv["troops"] * self.exit_frac
        present = self.troops > 0
        rel = clip(self.troops / p["troops_ref"], 0.0, 2.0)
        self.troop_factor = {e: ((rel if rel > 0 else 1.0) ** p[e]) * present
                             for e in ("elast_isr", "elast_air", "elast_training",
                                       "elast_planning", "elast_mediation")}
        self.agents_by_type[Base].do("step_coalition")
        self.open_bases = [b for b in self.bases if b.open]
        self.agents_by_type[Governorate].do("step_coalition")
        self.mediation = lv["mediation"] * self.troop_factor["elast_mediation"]

    def _host(self) -> None:
        p = self.p
        train = sum(g.training * g.weight for g in self.governorates if g.federal) / self._federal_weight
        if self.train_ref is None:  # training in the first simulated week
            self.train_ref = max(train, 1e-9)
        lost = clip(1.0 - train / self.train_ref, 0.0, 1.0)
        self.adaptation += p["adaptation_rate"] * (lost - self.adaptation)
        g = (p["cap_growth"] + p["cap_growth_training"] * min(train, 1.0)
             + p["host_adaptation"] * self.adaptation) / 52.0
        self.capability += g * self.capability * (1.0 - self.capability / p["cap_max"])
        self.be_coord += p["be_rate"] * (self._be_target(self.mediation) - self.be_coord)
        self.agents_by_type[Governorate].do("step_host")

    def _militia(self) -> None:
        p, lv = self.p, self.lv
        tension = lv["us_iran_tension"]
        vacuum = 1.0 - clip(self.troops / p["troops_ref"], 0.0, 1.0)
        ceiling = p["militia_ceiling"] * (1 + p["militia_vacuum"] * vacuum
                                          + p["militia_tension"] * (tension - 1.0))
        m = self.militia_strength
        self.militia_strength = m + p["militia_growth"] / 52.0 * m * (1.0 - m / ceiling)
        u = self.random.random()
        p_on = clip(p["campaign_on"] * tension, 0.0, 1.0)
        flip = u < p["campaign_off"] if self.campaign else u < p_on
        self.campaign = self.campaign != flip
        force = self.drivers.campaign_force[self.t]
        if force:
            self.campaign = bool(force > 0)
        self.militia_campaign = float(self.campaign)
        self.agents_by_type[Governorate].do("step_militia")

    def _insurgency(self) -> None:
        p = self.p
        doy = float(self.drivers.season_doy[self.t])
        self.season = 1.0 + p["season_amp"] * math.cos(2 * math.pi * (doy - p["season_peak_doy"]) / 365.25)
        lw = p["lead_weight"]  # attack effectiveness from leadership, 1 at its reference level
        self.lead_factor = (1.0 - lw * (1.0 - self.leadership)) / max(
            1.0 - lw * (1.0 - self.lead_ref), 1e-12)
        govs = self.agents_by_type[Governorate]
        govs.do("step_insurgency")
        # leadership: depleted by this week's removal share, recovering towards 1
        share = (sum(g.is_removed for g in govs)
                 / max(sum(g._fighters_before for g in govs), 1.0))
        L = self.leadership
        self.leadership = clip(L + p["lead_recovery"] * (1.0 - L) - p["decap_rate"] * share * L,
                               0.0, 1.0)
        self.syria_excess *= 1.0 - p["syria_excess_decay"]
        govs.do("move_out")
        govs.do("move_in")

    def _territory(self) -> None:
        govs = self.agents_by_type[Governorate]
        govs.do("step_territory")
        self.is_holds_ground = float(any(g.collapsed > 0 for g in govs)
                                     or govs.agg("villages", sum) >= self.p["hold_villages"])

    def _politics(self) -> None:
        p, lv = self.p, self.lv
        govs = self.agents_by_type[Governorate]
        attacks = govs.agg("militia_attacks_us", sum)
        target = (p["pressure_0"] + p["pressure_militia"] * (self.militia_strength - 1.0)
                  + p["pressure_attacks"] * (attacks - 2.0)
                  + p["pressure_tension"] * (lv["us_iran_tension"] - 1.0))
        self.pressure = clip(self.pressure + p["pressure_rate"] * (target - self.pressure)
                             + float(self.drivers.pressure_jump[self.t]), 0.0, 1.0)
        presence = clip(self.troops / p["troops_ref"], 0.0, 1.0)
        target_i = (p["influence_0"] + p["influence_vacuum"] * (1.0 - presence)
                    + p["influence_militia"] * (self.militia_strength - 1.0)
                    + p["influence_pressure"] * (self.pressure - p["pressure_0"]))
        self.influence = clip(self.influence + p["influence_rate"] * (target_i - self.influence),
                              0.0, 1.0)
        govs.do("step_politics")
        bases = len(self.open_bases) / p["bases_ref"]
        self.leverage = max(0.4 * math.sqrt(presence) + 0.3 * min(bases, 1.5)
                            + 0.3 * self.mediation - (self.influence - p["influence_0"]), 0.0)

    # -- one week ----------------------------------------------------------------------
    def step(self) -> None:
        self.t = self.steps - 1  # Mesa counts steps from 1
        self.lv = self._levers[self.t]
        self._coalition()
        self._host()
        self._militia()
        self._insurgency()
        self._territory()
        self.agents_by_type[Governorate].do("step_grievance")
        self._politics()
        # national metrics, under the engine's names
        self.us_troops = self.troops
        self.bases_open = float(len(self.open_bases))
        self.host_capability = self.capability
        self.be_coordination = self.be_coord
        self.political_pressure = self.pressure
        self.us_leverage = self.leverage
        self.exit_ordered = float(self.exit_started)
        self.us_iran_tension = self.lv["us_iran_tension"]
        for g in self.governorates:  # regional metrics under the engine's names
            g.isr_coverage, g.air_coverage = g.isr, g.air
            g.training_coverage, g.planning_coverage = g.training, g.planning
            g.host_strength, g.is_fighters, g.is_villages = g.host, g.fighters, g.villages
        if self.collect:
            self.datacollector.collect(self)
        # national series the benchmark compares with the engine (see OUTCOMES)
        gs, tr = self.governorates, self.tracked
        R = len(gs)
        tr["is_attacks"].append(sum(g.is_attacks for g in gs))
        tr["is_fighters"].append(sum(g.fighters for g in gs))
        tr["is_villages"].append(sum(g.villages for g in gs))
        tr["militia_attacks_us"].append(sum(g.militia_attacks_us for g in gs))
        tr["grievance"].append(sum(g.grievance for g in gs) / R)
        tr["iran_influence"].append(sum(g.iran_influence for g in gs) / R)
        tr["host_strength"].append(sum(g.host for g in gs) / R)
        tr["isr_coverage"].append(sum(g.isr for g in gs) / R)
        tr["political_pressure"].append(self.pressure)
        tr["us_leverage"].append(self.leverage)

    def run(self) -> ResurgenceModel:
        self.tracked: dict[str, list[float]] = {k: [] for k in TRACKED}
        for _ in range(self.weeks):
            self.step()
        return self


#: National series tracked each week: regional sums or (unweighted) regional means.
TRACKED = ("is_attacks", "is_fighters", "is_villages", "militia_attacks_us", "grievance",
           "iran_influence", "host_strength", "isr_coverage", "political_pressure", "us_leverage")
#: Per-run outcomes compared with the engine: (name, series, how); the first two are the
#: checks the benchmark requires, the rest are reported for information.
OUTCOMES = (
    ("is_attacks_per_week_y1", "is_attacks", "mean_y1"),
    ("is_fighters_end", "is_fighters", "end"),
    ("is_villages_end", "is_villages", "end"),
    ("militia_attacks_us_per_week", "militia_attacks_us", "mean"),
    ("grievance_end", "grievance", "end"),
    ("iran_influence_end", "iran_influence", "end"),
    ("host_strength_mean", "host_strength", "mean"),
    ("isr_coverage_mean", "isr_coverage", "mean"),
    ("political_pressure_mean", "political_pressure", "mean"),
    ("us_leverage_end", "us_leverage", "end"),
)


def reduce_series(x, how: str) -> float:
    """One run's weekly national series to a number (shared with benchmarks/engine.py)."""
    x = np.asarray(x, dtype=np.float64)
    if how == "end":
        return float(x[..., -1])
    if how == "mean_y1":
        return float(x[..., :52].mean(axis=-1))
    return float(x.mean(axis=-1))


def outcomes(model: ResurgenceModel) -> dict[str, float]:
    """National outcomes of one run (see OUTCOMES)."""
    return {name: reduce_series(model.tracked[series], how) for name, series, how in OUTCOMES}


def run_reference(runs: int, scenario: str = "announced-2500", weeks: int | None = None,
                  seed: int = 0, collect: bool = True) -> dict:
    """Run ``runs`` Mesa runs; returns wall time and per-run national outcomes."""
    c0, t0 = time.process_time(), time.perf_counter()
    per_run = []
    regions = weeks_run = 0
    for i in range(runs):
        m = ResurgenceModel(scenario, weeks=weeks, seed=seed + i, collect=collect).run()
        regions, weeks_run = len(m.governorates), m.weeks
        per_run.append(outcomes(m))
    wall, cpu = time.perf_counter() - t0, time.process_time() - c0
    region_weeks = runs * regions * weeks_run
    return {"runs": runs, "regions": regions, "weeks": weeks_run, "collect": collect,
            "wall_s": wall, "cpu_s": cpu, "region_weeks": region_weeks, "s_per_region_week": wall / region_weeks,
            "per_run": per_run}


def main(argv: list[str] | None = None) -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--runs", type=int, default=4)
    ap.add_argument("--weeks", type=int, default=None)
    ap.add_argument("--scenario", default="announced-2500")
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--no-collect", action="store_true", help="skip the DataCollector")
    a = ap.parse_args(argv)
    r = run_reference(a.runs, a.scenario, a.weeks, a.seed, collect=not a.no_collect)
    att = np.array([x["is_attacks_per_week_y1"] for x in r["per_run"]])
    fig = np.array([x["is_fighters_end"] for x in r["per_run"]])
    print(f"{r['runs']} runs x {r['regions']} regions x {r['weeks']} weeks: {r['wall_s']:.2f} s, "
          f"{r['s_per_region_week'] * 1e6:.1f} us per region-week")
    print(f"IS attacks/week, year 1: {att.mean():.2f}; IS fighters at the end: {fig.mean():.0f}")


if __name__ == "__main__":
    main()
