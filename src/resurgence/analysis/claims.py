"""The claims registry: every claim of the source (DESIGN section 2), what in the model
carries it, an executable check with an expected direction, and a verdict that says how it
was reached.

A check is either a *contrast* (scenario B against scenario A, paired by run under common
random numbers; the effect is B - A) or a *behaviour* (a property of one scenario's runs).

**Category: how the verdict was reached** (:func:`classify`, code, not hand labels). Each
claim carries an *intended* basis (``definition``, ``fitted`` = its observable consequence
is in the fit data, ``model-implied``) and the parameters meant to drive it; the code checks
the label against evidence before it names the category:

* ``tested out of sample``: an out-of-sample test that scores the claim's observable
  consequence on data the fit did not see (the 2011 case, :func:`case2011_evidence`) was
  supplied; its finding is ``held`` or ``failed``.
* ``consistent with the fit``: intended ``fitted`` and the data narrowed the parameters that
  drive the check: no stated driver is fixed at its default, and parameters whose
  posterior sd is below ``INFORMED`` (80%) of the prior's carry at least half of the
  check's across-run variance explained by its drivers (squared rank correlations over the
  posterior runs, :func:`attribute`: a cheap given-data first-order sensitivity; the stated
  drivers plus any parameter found with r² >= 0.1 at p < 0.01), on at least ``MIN_RUNS``
  runs.
* ``model-implied``: everything else: built into the structure or the priors, the data did
  not inform it (e.g. a driver fixed, or its posterior ~ its prior). A model-implied check
  is never "supported"; when it comes out as expected its finding is ``as built``.
* ``definition``: a scenario lever; true by construction.

**Finding.** ``as claimed`` (``as built`` for model-implied, ``held`` out of sample) when at
least ``EXPECT`` (80%) of paired runs move in the expected direction (bootstrap replicates
of the mean for event probabilities; the behaviour holds in 80% of runs);
``contradicted`` when at least 80% move the opposite way (a behaviour: fails in 80% of
runs); ``uncertain`` otherwise (the 80% interval straddles zero or the claimed range).

**Defects.** A zero-width 80% interval on a check that is not a definition (a stochastic
model with uncertain parameters cannot know a contrast exactly) is flagged in ``defect``:
its uncertainty is missing, usually because the parameters behind it are held fixed.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd

from resurgence.analysis.claim_evidence import (  # noqa: F401 (re-exported: the claims' API)
    CASE2011_DATE,
    CASE2011_REGION,
    CASE2011_TAIL,
    CATEGORIES,
    DRIVES,
    EXPECT,
    FINDINGS,
    INFORMED,
    INTENDED,
    MIN_RUNS,
    SIGNIFICANT,
    Driver,
    OutOfSample,
    _finding,
    attribute,
    case2011_evidence,
    classify,
    drivers_of,
    informed_share,
    learning_ratios,
    run_params,
    zero_width,
)
from resurgence.results.outcomes import OUTCOME_BY_NAME
from resurgence.scenario.schema import variant_names

Summ = dict[str, dict[str, np.ndarray]]

#: the claim-check variants (``scenario/variants/*.toml``, each overlaying announced-2500)
VARIANTS: tuple[str, ...] = tuple(variant_names())
#: the enabler ramp of the ``no-<enabler>`` variants (their TOML schedules; a test checks they agree)
RAMP: tuple[str, str] = ("2021-01-15", "2021-06-30")


@dataclass(frozen=True)
class Claim:
    id: str
    quote: str
    carried_by: str
    check: str  # human-readable statement of the check
    kind: str  # "contrast" | "behaviour"
    a: str | None  # reference scenario (contrast)
    b: str  # scenario under test
    summary: str
    direction: int = 1  # expected sign of B - A (contrast)
    predicate: Callable[[np.ndarray], np.ndarray] | None = None  # behaviour: per-run bool
    relative: bool = False
    basis: str = "model-implied"  # the INTENDED basis (hand label); the code checks it
    evidence: str = ""
    drivers: tuple[str, ...] = ()  # parameters meant to drive the check
    oos: str = ""  # the out-of-sample test that can score it ("case2011") or ""


def _c(id_, quote, carried, check, a, b, summary, direction=1, *, relative=False,
       basis="model-implied", evidence="", drivers=(), oos="") -> Claim:
    return Claim(id_, quote, carried, check, "contrast", a, b, summary, direction, None, relative,
                 basis, evidence, tuple(drivers), oos)


def _b(id_, quote, carried, check, b, summary, predicate, *, basis="model-implied",
       evidence="", drivers=(), oos="") -> Claim:
    return Claim(id_, quote, carried, check, "behaviour", None, b, summary, 0, predicate, False,
                 basis, evidence, tuple(drivers), oos)


A, S, F, OTH = "announced-2500", "stay-3000", "full-withdrawal", "enablers-over-horizon"

CLAIMS: list[Claim] = [
    _c("C1", "cleared ~90 villages ... relied heavily on U.S. intelligence, coalition flights and planning",
       "territory: clearing support from ISR, air, planning", "villages contested at the end rise without ISR",
       A, "no-isr", "is_villages_end", drivers=("clear_rate",)),
    _b("C2", "drawdown from 3,000 to 2,500 by mid-January", "coalition: dated troop schedule",
       "announced-2500 ends with 2,500 US troops", A, "us_troops_end",
       lambda x: np.abs(x - 2500) < 1, basis="definition",
       evidence="a lever: the scenario sets it, nothing is estimated"),
    _c("C3", "further withdrawals could set the stage for another resurgence",
       "insurgency + territory under deeper cuts", "full withdrawal raises IS attacks in year 2",
       A, F, "is_attacks_y2", drivers=("detect_isr", "isr_deterrence", "remove_air")),
    _b("C4", "Iraqi forces have become more independent in combat missions",
       "host: capability growth (cap_growth)", "host capability grows over two years (>1)",
       A, "host_capability_end", lambda x: x > 1.0, drivers=("cap_growth", "cap_growth_training")),
    _c("C5", "protests, rampant corruption and political divisions that reach into the security apparatus",
       "host: presence and quality reducers", "worse protests and division alone lower host strength",
       A, "protests-division-worse", "host_strength_mean", -1,
       drivers=("protest_presence_cut", "division_cut")),
    _c("C6", "IS exploits security gaps widened by a year of protests and the pandemic",
       "insurgency: attack_space, recruit_space", "worse pandemic and protests raise IS attacks",
       A, "pandemic-protests-worse", "is_attacks_y1", basis="fitted",
       evidence="the fit covers the 2020 lockdown quarter (CTC Q2 2020 +43%)",
       drivers=("pandemic_presence_cut", "attack_space")),
    _c("C7", "collapse in 2014 allowed IS to seize a third of the country",
       "territory: collapse; the iraq-2011 case", "full withdrawal raises the chance IS holds ground in 24 months",
       A, F, "holds_ground_24m", evidence="see the iraq-2011 case (`resurgence case2011`)",
       drivers=("infiltration", "collapse_density"), oos="case2011"),
    _c("C8", "U.S.-led coalition provided crucial air support", "insurgency: remove_air; territory: clear_air",
       "removing air support raises IS fighters", A, "no-air", "is_fighters_end", drivers=("remove_air",)),
    _b("C9", "factions loyal to Iran ... have stepped up attacks on U.S. interests",
       "militia: campaigns and attacks on bases, convoys, embassy",
       "militia attacks on US sites average 4-15 a month (the Knights count's range)", A,
       "militia_attacks_us_monthly", lambda x: (x >= 4) & (x <= 15), basis="fitted",
       evidence="fitted to Knights (Washington Institute) Jan-Jul 2020 counts",
       drivers=("attack_rate_base", "attack_rate_convoy")),
    _c("C10", "the withdrawal of 500 American troops will have little, if any, impact",
       "coalition: enablers mostly decoupled from headcount", "the 500-troop cut changes national IS attacks by < 5%",
       S, A, "is_attacks_y1", 0, relative=True, drivers=("elast_isr",)),
    _c("C11", "we still need training, support with intelligence gathering",
       "coalition: training coverage; host: cap_growth_training", "ending training raises IS fighters",
       A, "no-training", "is_fighters_end", drivers=("cap_growth_training",)),
    _c("C12", "rely on U.S. air cover, reconnaissance and intelligence gathering for the foreseeable future",
       "coalition: over-the-horizon ISR/air", "over-the-horizon enablers cut IS attacks vs full withdrawal",
       F, OTH, "is_attacks_y2", -1, drivers=("oth_effectiveness",)),
    _c("C13", "poor coordination among different branches", "host: branch_coordination",
       "weaker coordination raises IS fighters", A, "poor-coordination", "is_fighters_end", drivers=("branch_coordination",)),
    _b("C14", "Iran-backed Shiite militias ... have accumulated more and more power",
       "militia: strength growth towards a ceiling", "militia strength grows (>1 after two years)",
       A, "militia_strength_end", lambda x: x > 1.0, drivers=("militia_growth", "militia_ceiling")),
    _c("C15", "reduced its troop presence in some areas because of the coronavirus pandemic",
       "host: pandemic_presence_cut", "a worse pandemic alone lowers host strength",
       A, "pandemic-worse", "host_strength_mean", -1, basis="fitted",
       evidence="pandemic_presence_cut fitted to the 2020 attack surge", drivers=("pandemic_presence_cut",)),
    _c("C16", "withdrawn from some northern bases after rocket attacks blamed on Iran-backed groups",
       "coalition: closure hazard per militia attack", "the attack feedback closes bases",
       "no-closure-feedback", A, "bases_open_end", -1, drivers=("closure_hazard_per_attack",)),
    _b("C17", "hit-and-run attacks on Iraqi forces across a wide stretch of territory in the north",
       "insurgency: attacks without holding ground; movement", "most IS attacks fall in the liberated north",
       A, "is_attacks_liberated_share", lambda x: x > 0.5, basis="fitted",
       evidence="fitted to GED 2018 IS events and Musings incidents by governorate",
       drivers=("move_rate", "move_pressure")),
    _c("C18", "dispute between the central government and the semi-autonomous Kurdish authority ... The U.S. has long served as a mediator",
       "host: Baghdad-Erbil coordination relaxes to a mediation-set level", "no mediation raises IS fighters",
       A, "no-mediation", "is_fighters_end", drivers=("seam_share", "be_floor")),
    _b("C19", "IS has also struck further south ... rocket attack that temporarily halted oil production",
       "insurgency: attacks outside the core; infra_share", "attacks outside the northern belt and on infrastructure occur",
       A, "is_attacks_infra", lambda x: x > 0, drivers=("infra_share",)),
    _b("C20", "the country sees five to six attacks every week",
       "observation model: each source's reporting rate", "IS attacks in the first year average 110-270 a month, CTC Sentinel's 2020 range (the model's attacks are on CTC's scale)",
       A, "is_attacks_y1_monthly", lambda x: (x >= 110) & (x <= 270), basis="fitted",
       evidence="CTC 2018-2020 counts in the fit; the commander's 5-6 'attacks' are a narrower count",
       drivers=("attack_rate", "rate_ctc")),
    _c("C21", "a previous incarnation exploited the chaos in neighboring Syria to seize large parts of both countries",
       "insurgency: inflow across the Syrian border", "renewed Syrian chaos raises IS fighters",
       A, "syria-chaos", "is_fighters_end", drivers=("syria_inflow",)),
    _c("C22", "a wider American withdrawal would also enable Iran to deepen its influence",
       "politics: influence_vacuum", "full withdrawal raises Iranian influence", A, F, "iran_influence_end",
       drivers=("influence_vacuum", "influence_militia")),
    _c("C23", "the U.S. strike that killed ... Soleimani ... parliament ... calling for the expulsion",
       "shocks: strike, expulsion_vote", "a strike and expulsion vote raise pressure to expel US forces",
       A, "escalation", "pressure_mean", drivers=("pressure_tension", "pressure_attacks")),
    _b("C24", "Kadhimi still faces pressure from Iran-aligned groups to eject U.S. forces",
       "coalition: responsive-policy exit", "under escalation the government orders US forces out",
       "escalation", "exit_ordered", lambda x: x > 0, drivers=("pressure_rate", "pressure_militia")),
    _c("C25", "maximum pressure campaign against Iran", "exogenous US-Iran tension",
       "detente lowers militia attacks on US sites", A, "detente", "militia_attacks_us", -1, drivers=("militia_tension",)),
    _c("C26", "a significant drawdown ... could reduce his leverage", "politics: US leverage",
       "full withdrawal lowers US leverage", A, F, "us_leverage_end", -1, drivers=("bases_ref", "influence_vacuum")),
]


PROBABILITIES = {"holds_ground_6m", "holds_ground_12m", "holds_ground_24m", "collapse_any",
                 "exit_ordered"}


def scenarios_needed() -> list[str]:
    names: list[str] = []
    for c in CLAIMS:
        for n in (c.a, c.b):
            if n and n not in names:
                names.append(n)
    return names


DERIVED_UNITS = {"is_attacks_liberated_share": "share of IS attacks",
                 "militia_attacks_us_monthly": "militia attacks on US sites per month",
                 "is_attacks_y1_monthly": "IS attacks per month (CTC Sentinel scale)"}


def unit_of(claim: Claim) -> str:
    """The unit of a claim's effect column (for contrasts: of the difference B - A)."""
    if claim.relative:
        return "relative change"
    if claim.summary in PROBABILITIES:
        return "probability (difference in percentage points)" if claim.kind == "contrast" \
            else "probability"
    if claim.summary in DERIVED_UNITS:
        return DERIVED_UNITS[claim.summary]
    return OUTCOME_BY_NAME[claim.summary].unit


def _derived(summ: dict[str, np.ndarray], name: str) -> np.ndarray:
    if name == "militia_attacks_us_monthly":  # whole 104-week horizon = 24 months
        return summ["militia_attacks_us"] / 24.0
    if name == "is_attacks_y1_monthly":
        return summ["is_attacks_y1"] / 12.0
    if name == "is_attacks_liberated_share":
        return summ["is_attacks_liberated_y1"] / np.maximum(summ["is_attacks_y1"], 1.0)
    return summ[name]


def check(claim: Claim, summaries: Summ) -> tuple[np.ndarray, dict[str, float]]:
    """The per-run effect (contrast: B - A, relative when asked; behaviour: B's value) and
    the statistics of the check: share as expected, share opposite, P10, median, P90."""
    xb = _derived(summaries[claim.b], claim.summary)
    if claim.kind == "behaviour":
        assert claim.predicate is not None  # a behaviour check carries its predicate
        ok = claim.predicate(xb)
        share = float(np.mean(ok))
        lo, mid, hi = (float(v) for v in np.quantile(xb, [0.1, 0.5, 0.9]))
        return xb, {"share": share, "opposite": 1.0 - share, "lo": lo, "mid": mid, "hi": hi}
    assert claim.a is not None  # a contrast names its reference scenario
    xa = _derived(summaries[claim.a], claim.summary)
    d = (xb - xa) / np.maximum(np.abs(xa), 1e-9) if claim.relative else xb - xa
    if claim.summary in PROBABILITIES:  # an event probability: bootstrap its mean change
        rng = np.random.default_rng(0)
        means = d[rng.integers(0, len(d), (2000, len(d)))].mean(axis=1)
        sgn = np.sign(means)
        lo, hi = (float(v) for v in np.quantile(means, [0.1, 0.9]))
        mid = float(d.mean())
    else:
        sgn = np.sign(d)
        lo, mid, hi = (float(v) for v in np.quantile(d, [0.1, 0.5, 0.9]))
    if claim.direction == 0:  # "little, if any, impact": |relative effect| < 5%
        share = float((np.abs(d) < 0.05).mean())
        opposite = 1.0 - share
    else:
        share = float((sgn == claim.direction).mean())
        opposite = float((sgn == -claim.direction).mean())
    return d, {"share": share, "opposite": opposite, "lo": lo, "mid": mid, "hi": hi}


def verdict(claim: Claim, summaries: Summ, params: Mapping[str, np.ndarray] | None = None,
            learning: Mapping[str, float] | None = None, oos: OutOfSample | None = None,
            oat: Mapping[tuple[str, str], bool] | None = None) -> dict[str, Any]:
    """One claim's row: effect, finding, category with its reason, drivers, defect."""
    eff, st = check(claim, summaries)
    drivers = drivers_of(claim, attribute(eff, params or {}), learning or {}, oat)
    category, reason = classify(claim, drivers, oos, len(eff) if params else None)
    if category == "definition":
        finding = "by definition" if st["share"] >= EXPECT else _finding(st["share"],
                                                                         st["opposite"], category)
    elif oos is not None:
        finding = "held" if oos.held else "failed"
    else:
        finding = _finding(st["share"], st["opposite"], category)
    event_behaviour = claim.kind == "behaviour" and claim.summary in PROBABILITIES
    defect = ""
    if category != "definition" and not event_behaviour and zero_width(st["lo"], st["hi"], st["mid"]):
        fixed = [d.name for d in drivers if d.status == "fixed" and d.moves is not False]
        defect = ("zero-width 80% interval: its uncertainty is missing"
                  + (f" ({', '.join(fixed)} fixed)" if fixed else ""))
    in_model = _finding(st["share"], st["opposite"], "consistent with the fit")
    return {"id": claim.id, "quote": claim.quote, "carried_by": claim.carried_by,
            "check": claim.check,
            "scenarios": f"{claim.b} vs {claim.a}" if claim.a else claim.b,
            "outcome": claim.summary, "unit": unit_of(claim), "kind": claim.kind,
            "effect_median": st["mid"], "effect_p10": st["lo"], "effect_p90": st["hi"],
            "share_as_expected": st["share"], "share_opposite": st["opposite"],
            "finding": finding, "category": category, "basis": category,
            "verdict": f"{category}: {finding}", "intended": claim.basis,
            "category_reason": reason, "in_model": in_model,
            "drivers": "; ".join(d.describe() for d in drivers),
            "informed_share": informed_share(drivers),
            "data_informed_parameters": ", ".join(d.name for d in drivers
                                                  if d.status == "narrowed"),
            "out_of_sample": f"{oos.test}: {oos.detail}" if oos else "",
            "evidence": claim.evidence, "defect": defect}


def evaluate(summaries: Summ, learning: Mapping[str, float] | None = None,
             params: Mapping[str, np.ndarray] | None = None,
             out_of_sample: Mapping[str, OutOfSample] | None = None,
             oat: Mapping[tuple[str, str], bool] | None = None) -> pd.DataFrame:
    """Run every check on per-run summaries keyed by scenario name. ``params``: the value
    of every parameter in each run (run i in row i; :func:`run_params`), ``learning``: the
    posterior/prior sd ratios (:func:`learning_ratios`), ``out_of_sample``: findings by
    claim id (:func:`case2011_evidence`), ``oat``: whether each fixed stated driver moves
    its check, by (claim id, parameter) (:func:`one_at_a_time`)."""
    oos = out_of_sample or {}
    return pd.DataFrame([verdict(c, summaries, params, learning, oos.get(c.id), oat)
                         for c in CLAIMS])


def headline_counts(df: pd.DataFrame) -> dict[str, dict[str, int]]:
    """Claims by category, then by finding: {category: {finding: n}}, in the order of
    CATEGORIES and FINDINGS."""
    out: dict[str, dict[str, int]] = {}
    for cat in [*CATEGORIES, *(c for c in df["category"].unique() if c not in CATEGORIES)]:
        g = df[df["category"] == cat]
        n = g["finding"].value_counts()
        out[cat] = {f: int(n[f]) for f in [*FINDINGS, *(f for f in n.index if f not in FINDINGS)]
                    if f in n.index}
    return out

