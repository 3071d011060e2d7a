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

import dataclasses
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd
from scipy import stats

from resurgence.results.outcomes import OUTCOME_BY_NAME
from resurgence.scenario.schema import variant_names

Summ = dict[str, dict[str, np.ndarray]]

#: the claim-check variants (``scenario/variants/*.toml``, each overlaying announced-2500)
VARIANTS: tuple[str, ...] = tuple(variant_names())
#: the enabler ramp of the ``no-<enabler>`` variants (their TOML schedules; a test checks they agree)
RAMP: tuple[str, str] = ("2021-01-15", "2021-06-30")

#: the categories, in the order the headline counts them
CATEGORIES: dict[str, str] = {
    "tested out of sample": "the claim's observable consequence was scored on data the fit did "
                            "not see (the 2011 withdrawal case); it held or failed",
    "consistent with the fit": "the calibrated model reproduces it in sample and the data "
                               "narrowed the parameters that drive it",
    "model-implied": "built into the model's structure or priors; the data did not inform the "
                     "parameters that drive it, so the result restates the mechanism and is "
                     "not evidence for the claim",
    "definition": "a scenario lever: true by construction, nothing is estimated",
}
#: the findings
FINDINGS: dict[str, str] = {
    "held": "out of sample, the observed outcome lay inside the model's central 80% "
            "predictive range",
    "failed": "out of sample, the observed outcome lay outside it",
    "as claimed": "at least 80% of paired runs (bootstrap replicates for probabilities) move "
                  "in the claimed direction, or the behaviour holds in at least 80% of runs",
    "as built": "the same, for a model-implied check: the model does what it was built to do",
    "by definition": "a lever set by the scenario",
    "uncertain": "neither the claimed nor the opposite direction reaches 80% (the 80% "
                 "interval straddles zero or the claimed range)",
    "contradicted": "at least 80% move in the opposite direction, or the behaviour fails in "
                    "at least 80% of runs",
}
INTENDED = ("definition", "fitted", "model-implied")
INFORMED = 0.8  # posterior sd / prior sd below this: the data narrowed the parameter
DRIVES = 0.1  # squared rank correlation at or above this: the parameter drives the check
EXPECT = 0.8  # share of runs for 'as claimed' / 'contradicted'
SIGNIFICANT = 0.01  # a parameter found by search drives a check only at p below this
MIN_RUNS = 50  # fewer runs cannot attribute a check to its parameters


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


# --- evidence -----------------------------------------------------------------------------------

@dataclass(frozen=True)
class Driver:
    """A parameter that drives (or is meant to drive) a check, and what the data did to it."""

    name: str
    share: float | None  # squared rank correlation with the per-run effect; None: not varied
    ratio: float | None  # posterior sd / prior sd; None: fixed at its default in these runs
    stated: bool  # named by the registry
    moves: bool | None = None  # one-at-a-time check (fixed drivers): does it move the check?

    @property
    def status(self) -> str:
        if self.ratio is None:
            return "fixed"
        return "narrowed" if self.ratio < INFORMED else "at prior"

    def describe(self) -> str:
        bits = [self.status if self.ratio is None else f"{self.status}, sd ratio {self.ratio:.2f}"]
        if self.moves is not None:
            bits.append("moves it one at a time" if self.moves else "does not move it one at a time")
        if self.share is not None:
            bits.append(f"r² {self.share:.2f}")
        return f"{self.name} ({'; '.join(bits)})"


@dataclass(frozen=True)
class OutOfSample:
    """The finding of an out-of-sample test of one claim's observable consequence."""

    test: str
    held: bool
    detail: str


def attribute(effect: np.ndarray, params: Mapping[str, np.ndarray]) -> dict[str, tuple[float, float]]:
    """``{parameter: (r², p-value)}``: the squared Spearman rank correlation of the per-run
    effect with every parameter that varies across the runs, and its p-value (t
    approximation). A given-data first-order sensitivity: no extra simulation."""
    y = np.asarray(effect, float)
    out: dict[str, tuple[float, float]] = {}
    ok = np.isfinite(y)
    flat = ok.sum() < 4 or np.ptp(y[ok]) == 0
    ry = stats.rankdata(y[ok]) if not flat else y[ok]
    for k, v in params.items():
        x = np.asarray(v, float)[ok]
        if np.ptp(x) == 0:
            continue
        if flat:
            out[k] = (0.0, 1.0)
            continue
        r = float(np.corrcoef(ry, stats.rankdata(x))[0, 1])
        if not np.isfinite(r):
            out[k] = (0.0, 1.0)
        elif abs(r) >= 1:
            out[k] = (1.0, 0.0)
        else:
            t = abs(r) * np.sqrt((len(ry) - 2) / (1 - r * r))
            out[k] = (r * r, float(2 * stats.t.sf(t, len(ry) - 2)))
    return out


def drivers_of(claim: Claim, attribution: Mapping[str, tuple[float, float]],
               ratios: Mapping[str, float],
               oat: Mapping[tuple[str, str], bool] | None = None) -> list[Driver]:
    """The stated drivers (with their r², whatever its significance: they are named in
    advance) plus every other varied parameter with r² >= ``DRIVES`` and p < ``SIGNIFICANT``
    (found by search, so held to significance), strongest first. A varied parameter without
    a learning ratio was drawn from its prior (ratio 1)."""
    found = sorted((k for k, (r2, p) in attribution.items()
                    if r2 >= DRIVES and p < SIGNIFICANT and k not in claim.drivers),
                   key=lambda k: -attribution[k][0])
    out = []
    for k in [*claim.drivers, *found]:
        varied = k in attribution
        ratio = float(ratios.get(k, 1.0)) if varied else None
        out.append(Driver(k, attribution[k][0] if varied else None, ratio, k in claim.drivers,
                          (oat or {}).get((claim.id, k))))
    return out


def informed_share(drivers: list[Driver]) -> float:
    """Share of the drivers' explained variance (r²) carried by narrowed parameters."""
    tot = sum(d.share or 0.0 for d in drivers)
    if tot <= 0:
        return 0.0
    return sum(d.share or 0.0 for d in drivers if d.status == "narrowed") / tot


def classify(claim: Claim, drivers: list[Driver], oos: OutOfSample | None = None,
             runs: int | None = None) -> tuple[str, str]:
    """The category of a claim's verdict and why (see the module docstring); ``runs``: how
    many runs the attribution saw (below ``MIN_RUNS`` it cannot support 'consistent with
    the fit')."""
    if claim.basis not in INTENDED:
        raise ValueError(f"field 'basis' = {claim.basis!r}: expected one of {', '.join(INTENDED)}")
    if claim.basis == "definition":
        return "definition", "a scenario lever"
    if oos is not None:
        return "tested out of sample", f"{oos.test}: {oos.detail}"
    fixed = [d.name for d in drivers if d.stated and d.status == "fixed" and d.moves is not False]
    share = informed_share(drivers)
    if claim.basis == "fitted":
        if fixed:
            return "model-implied", (f"meant to be fitted, but {', '.join(fixed)} "
                                     f"{'is' if len(fixed) == 1 else 'are'} fixed at the default")
        if share < 0.5:
            return "model-implied", (f"meant to be fitted, but narrowed parameters carry only "
                                     f"{share:.0%} of its explained variance")
        if runs is not None and runs < MIN_RUNS:
            return "model-implied", (f"meant to be fitted, but {runs} runs are too few to "
                                     f"attribute it (at least {MIN_RUNS})")
        return "consistent with the fit", (f"narrowed parameters carry {share:.0%} of its "
                                           "explained variance")
    why = "no observable consequence in the fit data"
    if fixed:
        why += f"; {', '.join(fixed)} fixed"
    return "model-implied", why + f"; narrowed parameters carry {share:.0%} of its explained variance"


def zero_width(lo: float, hi: float, mid: float) -> bool:
    """True when an 80% interval has no width (to 1e-9 relative)."""
    return bool(np.isfinite(lo) and np.isfinite(hi)
                and abs(hi - lo) <= 1e-9 * max(1.0, abs(mid)))


def _finding(share: float, opposite: float, category: str) -> str:
    if share >= EXPECT:
        return "as built" if category == "model-implied" else "as claimed"
    if opposite >= EXPECT:
        return "contradicted"
    return "uncertain"


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


OAT_MOVES = 0.05  # a driver moves a check when its low-to-high swing changes the median by 5%


def _oat_range(p) -> tuple[float, float]:
    """The 10th and 90th percentiles of the prior, or for a fixed parameter half and one and
    a half times its default, inside its support."""
    lo, hi, _, _ = p.support()
    if p.uncertain:
        a, b = (float(v) for v in p.prior.ppf(np.array([0.1, 0.9]), p.default))
    elif p.default != 0:
        a, b = sorted((0.5 * p.default, 1.5 * p.default))
    else:
        a, b = 0.0, 0.5
    return float(np.clip(a, lo, hi)), float(np.clip(b, lo, hi))


def one_at_a_time(claims: list[Claim] | None = None, runs: int = 20, seed: int = 1,
                  posterior=None, varied: set[str] | None = None, workers: int = 1,
                  progress: Callable[[int], None] | None = None) -> pd.DataFrame:
    """A reduced one-at-a-time check of every stated driver that the runs do not vary
    (the attribution cannot see those) and that no scenario of the check sets itself (that
    is the check's lever, e.g. ``branch_coordination`` in ``poor-coordination``): the
    check's median effect with the driver at the low and at the high end of
    :func:`_oat_range`, all settings in one paired ensemble.
    ``moves``: the swing is at least ``OAT_MOVES`` of the larger median (and not zero)."""
    from resurgence.calibration.posterior import full_specs
    from resurgence.model.sim import all_params
    from resurgence.runs.ensemble import run_ensemble
    from resurgence.runs.prepare import resolve

    specs = {p.name: p for p in full_specs()}
    model = {p.name for p in all_params()}  # observation-model rates never act on a run
    varied = varied if varied is not None else (set(posterior.draws.columns) if posterior
                                                else set())
    def lever(c: Claim, k: str) -> bool:  # a scenario of the check sets it: not a driver
        return any(k in resolve(n).params for n in (c.a, c.b) if n)

    todo = [(c, k) for c in (claims if claims is not None else CLAIMS) for k in c.drivers
            if k not in varied and k in model and not lever(c, k)]
    scs: dict[str, Any] = {}
    for c, k in todo:
        for tag, v in zip(("lo", "hi"), _oat_range(specs[k]), strict=True):
            for n in (c.a, c.b):
                if n and f"{n}@{k}:{tag}" not in scs:
                    base = resolve(n)
                    scs[f"{n}@{k}:{tag}"] = base.model_copy(update={
                        "name": f"{n}@{k}:{tag}", "params": {**base.params, k: v}})
    if not scs:
        return pd.DataFrame(columns=["claim", "parameter", "low", "high", "effect_low",
                                     "effect_high", "moves"])
    res = run_ensemble(list(scs.values()), runs, seed, posterior=posterior, workers=workers,
                       progress=progress)
    rows = []
    for c, k in todo:
        lo, hi = _oat_range(specs[k])
        mids = []
        for tag in ("lo", "hi"):
            cc = dataclasses.replace(c, a=f"{c.a}@{k}:{tag}" if c.a else None, b=f"{c.b}@{k}:{tag}")
            mids.append(check(cc, res.outcomes)[1]["mid"])
        swing = abs(mids[1] - mids[0])
        moves = swing > 1e-12 and swing >= OAT_MOVES * max(abs(mids[0]), abs(mids[1]))
        rows.append({"claim": c.id, "parameter": k, "low": lo, "high": hi,
                     "effect_low": mids[0], "effect_high": mids[1], "moves": bool(moves)})
    return pd.DataFrame(rows)


def oat_map(table: pd.DataFrame) -> dict[tuple[str, str], bool]:
    """{(claim id, parameter): moves} from :func:`one_at_a_time`'s table."""
    return {(r.claim, r.parameter): bool(r.moves) for r in table.itertuples()}


def run_params(post, runs: int) -> dict[str, np.ndarray]:
    """The value of every varied parameter in runs 0..runs-1 on ``post`` (run i takes draw
    i mod D, as :meth:`Posterior.paramset`); ``{}`` without a posterior."""
    if post is None:
        return {}
    idx = np.arange(runs) % post.size
    return {c: post.draws[c].to_numpy(float)[idx] for c in post.draws}


#: the 2011 case's observed events for claim C7 (Fallujah fell on 3 January 2014, Mosul on
#: 10 June 2014 when Nineveh's forces collapsed)
CASE2011_REGION = "IQ-NI"
CASE2011_DATE = "2014-06-30"
CASE2011_TAIL = 0.1  # an event that happened "held" when the model gave it at least 10%


def case2011_evidence(doc: Mapping[str, Any]) -> dict[str, OutOfSample]:
    """C7's out-of-sample test from a saved 2011 case (``case2011.json`` of
    ``resurgence case2011 --out DIR``): fitted on data up to the 2011 withdrawal, the model
    must give IS holding ground by the fall of Mosul and the collapse of Nineveh's forces by
    30 June 2014 each at least 10% (the observed events inside its central 80% range)."""
    try:
        p_hold = float(doc["first_hold"]["p_by_mosul"])
        p_col = next(float(r["probability"]) for r in doc["collapse"]
                     if r["region"] == CASE2011_REGION and str(r["date"])[:10] == CASE2011_DATE)
    except (KeyError, TypeError, StopIteration, ValueError) as e:
        from resurgence.core.errors import ArgumentError

        raise ArgumentError(f"field 'case2011' = {type(e).__name__}: not a saved 2011 case "
                            "(case2011.json)") from None
    held = p_hold >= CASE2011_TAIL and p_col >= CASE2011_TAIL
    detail = (f"P(IS holds ground by the fall of Mosul, 2014-06-10) = {p_hold:.0%}, "
              f"P(Nineveh's forces collapse by {CASE2011_DATE}) = {p_col:.1%}; "
              f"both happened; held needs >= {CASE2011_TAIL:.0%} each")
    st = doc.get("settings") or {}
    fit = f"fitted to data up to {st['until']}" if st.get("until") else "fitted before the withdrawal"
    return {"C7": OutOfSample(f"iraq-2011 case ({fit}, scored on 2012-14)", held, detail)}


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
