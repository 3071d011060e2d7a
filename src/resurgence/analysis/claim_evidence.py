"""The evidence behind a claim's verdict: which parameters drive its check, how much the data
narrowed them, whether an out-of-sample test scored it; and the rule (:func:`classify`) that
turns that evidence into a category. The claims and their checks are in
:mod:`resurgence.analysis.claims`, which uses this rule.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import numpy as np
from scipy import stats

if TYPE_CHECKING:
    from resurgence.analysis.claims import Claim

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


def run_params(post, runs: int) -> dict[str, np.ndarray]:
    """The value of every varied parameter in runs 0..runs-1 on ``post`` (run i takes draw
    i mod D, as :meth:`Posterior.paramset`); ``{}`` without a posterior."""
    if post is None:
        return {}
    idx = np.arange(runs) % post.size
    return {c: post.draws[c].to_numpy(float)[idx] for c in post.draws}
