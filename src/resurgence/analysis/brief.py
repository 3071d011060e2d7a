"""The brief: answer "How could the US drawdown in Iraq aid IS and Iran?" with numbers.

``compute_brief`` runs the shipped scenarios and the claim-check variants on the shipped
posterior with common random numbers, writes the results bundle, and assembles every table
and series the brief shows (:class:`BriefData`); ``resurgence.brief_render`` turns it into
figures, a self-contained HTML page and a PDF. Every number in the brief is a median with
an 80% interval across runs (paired differences for effects), traceable to the bundle's
manifest (seed, scenario and parameter hashes, data hashes).
"""

from __future__ import annotations

import datetime as dt
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pandas as pd

from resurgence.analysis.claims import (
    CLAIMS,
    RAMP,
    VARIANTS,
    evaluate,
    learning_ratios,
    run_params,
    scenarios_needed,
)
from resurgence.analysis.contrasts import contrast
from resurgence.calibration.cases import case_observations, get_case
from resurgence.calibration.posterior import Posterior, full_specs, resolve_posterior
from resurgence.core.version import __version__
from resurgence.model.params import DEFAULTS_VERSION
from resurgence.results.bundle import Bundle
from resurgence.runs.ensemble import resolve, run_ensemble
from resurgence.scenario.schema import Scenario
from resurgence.theatre.theatre import load_theatre

SHIPPED = ["stay-3000", "announced-2500", "full-withdrawal", "enablers-over-horizon",
           "no-mediation", "pandemic-protests-worse", "escalation"]
REFERENCE = "announced-2500"
BUNDLE_METRICS = ["is_attacks", "is_fighters", "is_villages", "militia_attacks_us",
                  "iran_influence", "host_strength", "isr_coverage", "us_troops", "bases_open",
                  "us_leverage", "political_pressure", "is_holds_ground", "be_coordination"]
FAN_METRICS = ["is_attacks", "is_fighters", "militia_attacks_us", "iran_influence"]
FAN_SCENARIOS = ["stay-3000", "announced-2500", "enablers-over-horizon", "full-withdrawal"]
ENABLERS = {"ISR": "no-isr", "air support": "no-air", "training": "no-training",
            "planning": "no-planning", "mediation": "no-mediation"}

PATHWAYS = [
    ("1. Security could worsen", [("is_attacks_y1", "IS attacks, first year"),
                                  ("is_attacks_y2", "IS attacks, second year"),
                                  ("is_attacks_liberated_y1", "IS attacks in liberated areas, first year")]),
    ("2. Militants could become more resilient", [
        ("is_fighters_end", "IS fighters after two years"),
        ("is_villages_end", "contested villages after two years"),
        ("holds_ground_6m", "probability that IS holds ground within 6 months"),
        ("holds_ground_12m", "probability that IS holds ground within 12 months"),
        ("holds_ground_24m", "probability that IS holds ground within 24 months")]),
    ("3. Iran's influence could deepen", [
        ("iran_influence_end", "Iranian influence index (0-1) after two years"),
        ("militia_attacks_us", "militia attacks on US sites, two years"),
        ("us_leverage_end", "US leverage index after two years")]),
]

Stage = Callable[[str], None]


@dataclass
class BriefData:
    meta: dict
    scenarios: pd.DataFrame
    pathways: pd.DataFrame
    enablers: pd.DataFrame
    claims: pd.DataFrame
    fan: pd.DataFrame
    maps: pd.DataFrame
    fit_rows: pd.DataFrame | None = None
    fit_draws: np.ndarray | None = None
    fit_coverage: pd.DataFrame | None = None
    forecast: pd.DataFrame | None = None
    sensitivity: pd.DataFrame | None = None
    observed: pd.DataFrame | None = None
    params: pd.DataFrame = field(default_factory=pd.DataFrame)
    provenance: dict = field(default_factory=dict)
    bundle: Path | None = None
    figures: dict[str, Path] = field(default_factory=dict)

    def headline(self) -> pd.DataFrame:
        """The pathway effects of full withdrawal against the announced plan."""
        p = self.pathways
        return p[p["scenario"] == "full-withdrawal"][
            ["pathway", "label", "ref_mid", "mid", "effect_mid", "effect_lo", "effect_hi", "kind"]]


def all_scenarios() -> list[Scenario]:
    out = [resolve(n) for n in SHIPPED]
    for name in [*scenarios_needed(), *ENABLERS.values()]:
        if name in VARIANTS and name not in {s.name for s in out}:
            out.append(resolve(name))
    return out


def _pathways(summ: dict[str, dict[str, np.ndarray]]) -> pd.DataFrame:
    rows = []
    for pathway, items in PATHWAYS:
        names = [n for n, _ in items]
        labels = dict(items)
        for sc in ["stay-3000", "enablers-over-horizon", "full-withdrawal", "no-mediation",
                   "pandemic-protests-worse", "escalation"]:
            for c in contrast(summ[REFERENCE], summ[sc], names):
                rows.append({"pathway": pathway, "outcome": c.summary, "label": labels[c.summary],
                             "scenario": sc, "kind": c.kind, "ref_lo": c.a[0], "ref_mid": c.a[1],
                             "ref_hi": c.a[2], "lo": c.b[0], "mid": c.b[1], "hi": c.b[2],
                             "effect_lo": c.diff[0], "effect_mid": c.diff[1],
                             "effect_hi": c.diff[2], "p_increase": c.p_increase})
    return pd.DataFrame(rows)


def _enablers(summ) -> pd.DataFrame:
    rows = []
    for label, sc in ENABLERS.items():
        for c in contrast(summ[REFERENCE], summ[sc], ["is_attacks_y2", "is_fighters_end",
                                                        "holds_ground_24m"]):
            rows.append({"enabler": label, "scenario": sc, "outcome": c.summary, "kind": c.kind,
                         "effect_lo": c.diff[0], "effect_mid": c.diff[1], "effect_hi": c.diff[2],
                         "ref_mid": c.a[1], "p_increase": c.p_increase})
    df = pd.DataFrame(rows)
    order = (df[df["outcome"] == "is_attacks_y2"].sort_values("effect_mid", ascending=False)["enabler"])
    df["rank"] = df["enabler"].map({e: i + 1 for i, e in enumerate(order)})
    return df.sort_values(["rank", "outcome"]).reset_index(drop=True)


def _maps(bundle: Bundle) -> pd.DataFrame:
    """Per-governorate medians of second-year IS attacks and end-of-horizon Iranian
    influence, and paired effects against the reference, from the bundle."""
    q = bundle.query(
        "SELECT scenario, region, run, sum(CASE WHEN week >= 52 THEN is_attacks END) AS attacks_y2,"
        " max(CASE WHEN week = (SELECT max(week) FROM series) THEN iran_influence END) AS influence"
        " FROM series WHERE region <> 'IQ' GROUP BY ALL")
    q["scenario"] = q["scenario"].astype(str)
    q["region"] = q["region"].astype(str)
    ref = q[q["scenario"] == REFERENCE].set_index(["region", "run"])
    rows = []
    for sc, sub in q.groupby("scenario"):
        s = sub.set_index(["region", "run"])
        d = s[["attacks_y2", "influence"]] - ref[["attacks_y2", "influence"]]
        for metric in ("attacks_y2", "influence"):
            med = s[metric].groupby(level=0).median()
            eff = d[metric].groupby(level=0).median()
            for region in med.index:
                rows.append({"scenario": sc, "region": region, "metric": metric,
                             "median": float(med[region]), "effect": float(eff[region])})
    return pd.DataFrame(rows)


def _params_table(post: Posterior | None) -> pd.DataFrame:
    """Each parameter's value (posterior 10/50/90%) and basis: ``posterior`` (fitted, among
    the case's identifiable parameters), ``prior (propagated)`` (sampled with the fit but
    where the data say little: its spread is the prior's) or ``default`` (a constant)."""
    rows = []
    ident = set(post.meta.get("identifiable", post.draws.columns)) if post is not None else set()
    for p in full_specs():
        calibrated = post is not None and p.name in post.draws
        if post is not None and calibrated:
            v = post.draws[p.name].to_numpy(float)
            lo, mid, hi = np.quantile(v, [0.1, 0.5, 0.9])
        else:
            lo = mid = hi = p.default
        rows.append({"name": p.name, "module": p.module, "units": p.units,
                     "value": mid, "p10": lo, "p90": hi,
                     "basis": ("posterior" if p.name in ident else "prior (propagated)")
                     if calibrated else "default",
                     "prior": p.prior.describe(), "claims": " ".join(p.claims), "source": p.source,
                     "description": p.description})
    return pd.DataFrame(rows)


def _prefit_baseline(c, sc: Scenario, runs: int, seed: int):
    """Start fitting the baseline for the brief's weeks in a thread; returns the executor."""
    from concurrent.futures import ThreadPoolExecutor

    last = sc.start + dt.timedelta(days=7 * (sc.weeks - 1))
    months = (last.year - sc.start.year) * 12 + last.month - sc.start.month + 1
    if sc.start != c.until + dt.timedelta(days=1):
        return None

    def fit() -> None:  # statsmodels is imported here, off the main thread
        from resurgence.calibration.baseline import forecast_paths

        forecast_paths(c.name, sc.start, months, runs, seed)

    pool = ThreadPoolExecutor(1, thread_name_prefix="baseline")
    pool.submit(fit)
    return pool


def compute_brief(case: str = "iraq-2020", *, runs: int = 300, seed: int = 1,
                  out: str | Path = "brief", workers: int = 1, posterior: str | Path = "shipped",
                  fit: bool = True, forecast_months: int = 24, sensitivity_n: int = 128,
                  stage: Stage | None = None,
                  progress: Callable[[int], None] | None = None) -> BriefData:
    t0 = time.perf_counter()
    c = get_case(case)
    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    post = resolve_posterior(posterior, c.name)
    say = stage or (lambda s: None)
    scs = all_scenarios()
    # the statistical baseline behind the blended levels fits while the ensemble runs (the
    # ensemble's kernels release the GIL); bundle_levels and forecast() find it cached
    prefit = _prefit_baseline(c, scs[0], runs, seed) if post is not None else None
    say(f"simulating {len(scs)} scenarios x {runs} runs")
    res = run_ensemble(scs, runs, seed, out=out / "bundle", posterior=post, workers=workers,
                       overwrite=True, metrics=BUNDLE_METRICS, progress=progress,
                       manifest_extra={"brief": {"case": c.name, "reference": REFERENCE}})
    summ = res.outcomes
    bundle = res.open()
    if prefit is not None:
        prefit.shutdown(wait=True)
    say("contrasts, claims and maps")
    learning = (learning_ratios(post, {p.name: p for p in full_specs()}, c.prior_overrides)
                if post else {})
    claims = evaluate(summ, learning, run_params(post, runs))
    fan = bundle.quantiles(FAN_METRICS, scenario=FAN_SCENARIOS, region="IQ")
    # IS attacks: blended levels (baseline and simulator pooled; scenario effects paired)
    from resurgence.calibration.blend import bundle_levels

    blended, levels = bundle_levels(bundle, FAN_SCENARIOS, case=c.name, seed=seed)
    blended_years = blended.attrs.get("years", {}) if blended is not None else {}
    if blended is not None:
        fan = pd.concat([fan[fan["metric"].astype(str) != "is_attacks"], blended],
                        ignore_index=True)
    maps = _maps(bundle)
    data = BriefData(
        meta={"case": c.name, "runs": runs, "seed": seed, "version": __version__,
              "defaults_version": DEFAULTS_VERSION, "reference": REFERENCE,
              "posterior": ({"until": post.until.isoformat(), "start": post.start.isoformat(),
                             "draws": post.size, "method": post.meta.get("method", "")}
                            if post else None),
              "start": scs[0].start.isoformat(), "weeks": scs[0].weeks,
              "created": dt.datetime.now(dt.UTC).isoformat(timespec="seconds"),
              "claims": len(CLAIMS),
              "troops": {sc.name: [[d.isoformat(), float(v)] for d, v in sc.schedule("troops")]
                         for sc in scs if sc.name in SHIPPED},
              "ramp": list(RAMP), "levels": levels, "blended_attacks": blended_years},
        scenarios=pd.DataFrame([{"name": s.name, "title": s.title, "description": s.description,
                                 "hash": s.digest()} for s in scs]),
        pathways=_pathways(summ), enablers=_enablers(summ), claims=claims, fan=fan, maps=maps,
        params=_params_table(post), bundle=res.bundle,
        provenance={"bundle_manifest": bundle.manifest,
                    "theatre_hashes": load_theatre(c.theatre).file_hashes()})
    if sensitivity_n:
        from resurgence.analysis.sensitivity import sobol_indices

        say("lever sensitivity (Sobol)")
        data.sensitivity = sobol_indices(n=sensitivity_n, seed=seed, groups=["levers"],
                                         posterior=post, workers=workers)
    if fit and post is not None:
        from resurgence.calibration.forecast import forecast
        from resurgence.calibration.predictive import coverage_table, predictive

        say("fit to history and forecast")
        rows, draws = predictive(post, runs=min(runs, post.size), seed=seed + 1, workers=workers)
        data.fit_rows, data.fit_draws = rows, draws
        data.fit_coverage = coverage_table(rows, draws)
        fc = forecast(c.name, REFERENCE, start=dt.date(2020, 12, 1), months=forecast_months,
                      runs=runs, seed=seed, posterior=post, workers=workers, method="blend")
        data.meta["forecast_method"] = "blend"
        data.meta["blend_weights"] = fc.attrs.get("blend_weights", "")
        nat = fc[fc["region"] == "IQ"]
        data.forecast = (nat.groupby(["series", "period_start"], observed=True)["value"]
                         .quantile([0.1, 0.25, 0.5, 0.75, 0.9]).unstack().reset_index())
        obs = case_observations(c, c.until)
        data.observed = obs[(obs["region"] == "IQ") & obs["source"].isin(["ged_cm", "ctc"])
                            & (obs["period_start"] >= pd.Timestamp("2018-01-01"))]
    data.meta["wall_time_s"] = round(time.perf_counter() - t0, 1)
    return data
