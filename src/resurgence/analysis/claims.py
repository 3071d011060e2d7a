"""The claims registry: every claim of the source (DESIGN section 2), what in the model
carries it, and an executable check with an expected direction.

A check is either a *contrast* (scenario B against scenario A, paired by run under common
random numbers; the effect is B - A) or a *behaviour* (a property of one scenario's runs).
Verdicts: ``supported`` when at least 80% of paired runs move in the expected direction
(or the behaviour holds in at least 80% of runs), ``not supported`` when at most 20% do,
``uncertain`` otherwise. For event probabilities (e.g. IS holds ground) a single run can
only move by 0 or 1, so the change in probability is bootstrapped over runs and the share
is that of bootstrap replicates in the expected direction.

Basis, stated honestly. ``data-tested``: the check compares the model with observations
(the fit to 2018-2020 data, the backtest, or the 2011 case). ``model-implied``: the result
follows from mechanisms that were built from the source itself, so it is a consistency
check of the model, NOT independent evidence for the claim. For model-implied claims the
table also reports whether the parameters that drive the check were informed by the data
(posterior spread < 80% of the prior's).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import numpy as np
import pandas as pd

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
    basis: str = "model-implied"
    evidence: str = ""
    drivers: tuple[str, ...] = ()  # parameters whose posterior learning is reported


def _c(id_, quote, carried, check, a, b, summary, direction=1, *, relative=False,
       basis="model-implied", evidence="", drivers=()) -> Claim:
    return Claim(id_, quote, carried, check, "contrast", a, b, summary, direction, None, relative,
                 basis, evidence, tuple(drivers))


def _b(id_, quote, carried, check, b, summary, predicate, *, basis="model-implied",
       evidence="", drivers=()) -> Claim:
    return Claim(id_, quote, carried, check, "behaviour", None, b, summary, 0, predicate, False,
                 basis, evidence, tuple(drivers))


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
       A, "host_capability_end", lambda x: x > 1.0),
    _c("C5", "protests, rampant corruption and political divisions that reach into the security apparatus",
       "host: presence and quality reducers", "worse protests and division alone lower host strength",
       A, "protests-division-worse", "host_strength_mean", -1),
    _c("C6", "IS exploits security gaps widened by a year of protests and the pandemic",
       "insurgency: attack_space, recruit_space", "worse pandemic and protests raise IS attacks",
       A, "pandemic-protests-worse", "is_attacks_y1", basis="data-tested",
       evidence="the fit covers the 2020 lockdown quarter (CTC Q2 2020 +43%)",
       drivers=("pandemic_presence_cut", "attack_space")),
    _c("C7", "collapse in 2014 allowed IS to seize a third of the country",
       "territory: collapse; the iraq-2011 case", "full withdrawal raises the chance IS holds ground in 24 months",
       A, F, "holds_ground_24m", evidence="see the iraq-2011 case (`resurgence case2011`)",
       drivers=("infiltration", "collapse_density")),
    _c("C8", "U.S.-led coalition provided crucial air support", "insurgency: remove_air; territory: clear_air",
       "removing air support raises IS fighters", A, "no-air", "is_fighters_end", drivers=("remove_air",)),
    _b("C9", "factions loyal to Iran ... have stepped up attacks on U.S. interests",
       "militia: campaigns and attacks on bases, convoys, embassy",
       "militia attacks on US sites average 4-15 a month (the Knights count's range)", A,
       "militia_attacks_us_monthly", lambda x: (x >= 4) & (x <= 15), basis="data-tested",
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
       "weaker coordination raises IS fighters", A, "poor-coordination", "is_fighters_end"),
    _b("C14", "Iran-backed Shiite militias ... have accumulated more and more power",
       "militia: strength growth towards a ceiling", "militia strength grows (>1 after two years)",
       A, "militia_strength_end", lambda x: x > 1.0),
    _c("C15", "reduced its troop presence in some areas because of the coronavirus pandemic",
       "host: pandemic_presence_cut", "a worse pandemic alone lowers host strength",
       A, "pandemic-worse", "host_strength_mean", -1, basis="data-tested",
       evidence="pandemic_presence_cut fitted to the 2020 attack surge", drivers=("pandemic_presence_cut",)),
    _c("C16", "withdrawn from some northern bases after rocket attacks blamed on Iran-backed groups",
       "coalition: closure hazard per militia attack", "the attack feedback closes bases",
       "no-closure-feedback", A, "bases_open_end", -1),
    _b("C17", "hit-and-run attacks on Iraqi forces across a wide stretch of territory in the north",
       "insurgency: attacks without holding ground; movement", "most IS attacks fall in the liberated north",
       A, "is_attacks_liberated_share", lambda x: x > 0.5, basis="data-tested",
       evidence="fitted to GED 2018 IS events and Musings incidents by governorate"),
    _c("C18", "dispute between the central government and the semi-autonomous Kurdish authority ... The U.S. has long served as a mediator",
       "host: Baghdad-Erbil coordination relaxes to a mediation-set level", "no mediation raises IS fighters",
       A, "no-mediation", "is_fighters_end", drivers=("seam_share", "be_floor")),
    _b("C19", "IS has also struck further south ... rocket attack that temporarily halted oil production",
       "insurgency: attacks outside the core; infra_share", "attacks outside the northern belt and on infrastructure occur",
       A, "is_attacks_infra", lambda x: x > 0),
    _b("C20", "the country sees five to six attacks every week",
       "observation model: each source's reporting rate", "IS attacks in the first year average 110-270 a month, CTC Sentinel's 2020 range (the model's attacks are on CTC's scale)",
       A, "is_attacks_y1_monthly", lambda x: (x >= 110) & (x <= 270), basis="data-tested",
       evidence="CTC 2018-2020 counts in the fit; the commander's 5-6 'attacks' are a narrower count",
       drivers=("attack_rate", "rate_ctc")),
    _c("C21", "a previous incarnation exploited the chaos in neighboring Syria to seize large parts of both countries",
       "insurgency: inflow across the Syrian border", "renewed Syrian chaos raises IS fighters",
       A, "syria-chaos", "is_fighters_end", drivers=("syria_inflow",)),
    _c("C22", "a wider American withdrawal would also enable Iran to deepen its influence",
       "politics: influence_vacuum", "full withdrawal raises Iranian influence", A, F, "iran_influence_end",
       drivers=("influence_vacuum",)),
    _c("C23", "the U.S. strike that killed ... Soleimani ... parliament ... calling for the expulsion",
       "shocks: strike, expulsion_vote", "a strike and expulsion vote raise pressure to expel US forces",
       A, "escalation", "pressure_mean"),
    _b("C24", "Kadhimi still faces pressure from Iran-aligned groups to eject U.S. forces",
       "coalition: responsive-policy exit", "under escalation the government orders US forces out",
       "escalation", "exit_ordered", lambda x: x > 0),
    _c("C25", "maximum pressure campaign against Iran", "exogenous US-Iran tension",
       "detente lowers militia attacks on US sites", A, "detente", "militia_attacks_us", -1),
    _c("C26", "a significant drawdown ... could reduce his leverage", "politics: US leverage",
       "full withdrawal lowers US leverage", A, F, "us_leverage_end", -1),
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


def evaluate(summaries: Summ, learning: dict[str, float] | None = None) -> pd.DataFrame:
    """Run every check on per-run summaries keyed by scenario name."""
    rows = []
    for c in CLAIMS:
        xb = _derived(summaries[c.b], c.summary)
        if c.kind == "contrast":
            assert c.a is not None  # a contrast names its reference scenario
            xa = _derived(summaries[c.a], c.summary)
            d = (xb - xa) / np.maximum(np.abs(xa), 1e-9) if c.relative else xb - xa
            if c.summary in PROBABILITIES:  # an event probability: bootstrap its mean change
                rng = np.random.default_rng(0)
                means = d[rng.integers(0, len(d), (2000, len(d)))].mean(axis=1)
                share = float((np.sign(means) == c.direction).mean())
                lo, mid, hi = (float(v) for v in (*np.quantile(means, [0.1]), d.mean(),
                                                   *np.quantile(means, [0.9])))
            elif c.direction == 0:  # "little, if any, impact": |relative effect| < 5%
                share = float((np.abs(d) < 0.05).mean())
            else:
                share = float((np.sign(d) == c.direction).mean())
            if c.summary not in PROBABILITIES:
                lo, mid, hi = (float(v) for v in np.quantile(d, [0.1, 0.5, 0.9]))
        else:
            assert c.predicate is not None  # a behaviour check carries its predicate
            ok = c.predicate(xb)
            share = float(np.mean(ok))
            lo, mid, hi = (float(v) for v in np.quantile(xb, [0.1, 0.5, 0.9]))
        verdict = "supported" if share >= 0.8 else "not supported" if share <= 0.2 else "uncertain"
        learned = [k for k in c.drivers if learning and learning.get(k, 1.0) < 0.8]
        rows.append({"id": c.id, "quote": c.quote, "carried_by": c.carried_by, "check": c.check,
                     "scenarios": f"{c.b} vs {c.a}" if c.a else c.b, "outcome": c.summary,
                     "unit": unit_of(c), "kind": c.kind,
                     "effect_median": mid, "effect_p10": lo, "effect_p90": hi,
                     "share_as_expected": share, "verdict": verdict, "basis": c.basis,
                     "evidence": c.evidence,
                     "data_informed_parameters": ", ".join(learned)})
    return pd.DataFrame(rows)


def learning_ratios(posterior, specs, priors=None) -> dict[str, float]:
    """Posterior sd / prior sd (log scale for log-normal priors) for each calibrated
    parameter, against the case's prior where it overrides the declared one."""
    out = {}
    priors = priors or {}
    for name in posterior.draws.columns:
        p = specs.get(name)
        if p is None or not p.uncertain:
            continue
        prior = priors.get(name, p.prior)
        prior_sd = float(prior.dist().std()) if prior.kind != "lognormal" else float(prior.b)
        post = posterior.draws[name].to_numpy(float)
        post_sd = float(np.std(np.log(post))) if prior.kind == "lognormal" else float(np.std(post))
        out[name] = post_sd / prior_sd if prior_sd > 0 else 1.0
    return out
