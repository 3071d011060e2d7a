"""What the brief says, as text and tables, read from :class:`BriefData` (shared by the HTML
and the PDF). Every number in the prose comes from the data it states: effects from the
paired contrasts, schedules from the scenarios' troop schedules, dates from the variants."""

from __future__ import annotations

import datetime as dt

import pandas as pd

from resurgence.analysis.brief import BriefData
from resurgence.analysis.claims import CATEGORIES, FINDINGS, headline_counts
from resurgence.report import fmt

TITLE = "How could the US drawdown in Iraq aid IS and Iran?"
EFFECT_SCENARIOS = ("stay-3000", "enablers-over-horizon", "full-withdrawal")

LIMITS = [
    "The model is built from the source's own account; where a claim is 'model-implied' the "
    "result restates the mechanism, it is not independent evidence for the claim.",
    "Calibration uses sparse, patchy data (UCDP monthly national series, CTC Sentinel yearly and "
    "quarterly counts, Musings on Iraq snapshots, one militia count); most mechanism strengths "
    "keep their literature priors, and the posterior barely narrows many of them.",
    "Several governorate attributes (reconstruction gap, Iranian affinity, militia footprint) "
    "are documented judgements; the Baghdad polygon covers only the city.",
    "'IS holds ground' is a definition (a regional collapse, or contested villages above a "
    "threshold), not an observed quantity; the 2011 case tests it only qualitatively.",
    "Policy levers are exogenous except the optional responsive exit; no US or Iraqi reaction "
    "to rising violence (e.g. troops returning, as in 2014) is modelled in these scenarios.",
    fmt.FIXED_NOTE,
]


def backtest_sentence(case: str = "iraq-2020") -> str:
    """What the rolling-origin backtest found for the default forecast, source by source,
    from the verdict stored with the blend weights (``resurgence backtest``)."""
    from resurgence.calibration.blend import packaged_weights

    pw = packaged_weights(case)
    rows = pw.get("verdict") or []
    if not rows:
        return ("No backtest of the default forecast is stored with the package "
                "(`resurgence backtest`); its skill against naive rules is unknown.")
    origins = pw.get("origins") or []
    span = f" ({len(origins)} origins, {origins[0][:7]} to {origins[-1][:7]})" if origins else ""
    parts = []
    for r in rows:
        label = str(r["label"])
        if r.get("met") is None:
            parts.append(f"{label} not scored ({r['n']} target{'s' if r['n'] != 1 else ''} "
                         "after the source's first publication)")
            continue
        better = "better" if r["crps_met"] else "worse"
        cov = "" if r["coverage_met"] else ", outside the 70-90% asked"
        parts.append(f"{label} {better}, mean CRPS {r['crps']:.1f} against {r['best_naive_crps']:.1f} "
                     f"({r['best_naive']}), 80% intervals covering {r['cover80']:.0%} of "
                     f"{r['n']} targets{cov}")
    return ("The default forecast (the blend) against the best naive rule in the rolling-origin "
            f"backtest{span}, each origin seeing only what had been published before it (mean "
            "CRPS in the target's own counts, lower is better): "
            + "; ".join(parts) + ". See docs/calibration.md.")


def limits(case: str = "iraq-2020") -> list[str]:
    """The brief's limits, the backtest's finding among them."""
    return [*LIMITS[:-1], backtest_sentence(case), LIMITS[-1]]

#: series and scales: every number in the brief is on one of these
SCALES = [
    ("IS attacks (model)", "the model's count of IS attacks of any size, on CTC Sentinel's "
     "scale by convention (the observation model's CTC reporting rate has a tight prior around "
     "1). The Iraqi commander's 'five to six attacks every week' is a narrower count of "
     "significant attacks, not this scale."),
    ("CTC Sentinel", "IS attacks in Iraq as counted by CTC Sentinel (yearly and quarterly "
     "totals, 2018-2020), the anchor of the model's attack scale."),
    ("Musings on Iraq", "media-reported security incidents (IS and militia together) in "
     "snapshots; the model sees them as a reporting rate times IS plus militia attacks."),
    ("UCDP", "state-based conflict deaths per month in Iraq (UCDP GED and country-month "
     "series), including conflict not involving IS such as Turkey-PKK."),
    ("militia attacks on US sites", "the model's count of militia attacks on US bases, convoys "
     "and the embassy, fitted to the Knights (Washington Institute) counts of January-July 2020."),
    ("Iranian influence index", "0-1, a population-weighted mean over governorates; a model "
     "construct with no observed series."),
    ("US leverage index", "a model construct (index) with no observed series."),
    ("IS holds ground", "a defined event (a regional collapse of host forces, or contested "
     "villages above a threshold); its probability is the share of runs in which it happens."),
    ("share of paired runs with B > A", "in how many of the paired runs (same random numbers, "
     "same parameter draw) scenario B ends above A. It describes the spread of the ensemble; "
     "it is not the chance that a claim is true."),
    ("percentage points (pp)", "differences of probabilities: 1% to 21% is +20 pp."),
]

#: what each finding and each category of a claim's verdict means (from the claims module)
VERDICTS = FINDINGS
BASES = CATEGORIES


def long_date(iso: str | dt.date) -> str:
    d = dt.date.fromisoformat(iso) if isinstance(iso, str) else iso
    return f"{d.day} {d:%B %Y}"


def troop_plan(points: list[list], start: str) -> str:
    """'3,000 to 2,500 by 15 January 2021' from a scenario's troop schedule (from its start)."""
    if not points:
        return "troop numbers unchanged"
    before = [p for p in points if p[0] <= start]
    v0 = before[-1][1] if before else points[0][1]
    final = points[-1][1]
    j = len(points) - 1
    while j > 0 and points[j - 1][1] == final:
        j -= 1
    if final == v0 or points[j][0] <= start:
        return f"held at {fmt.num(final)}"
    return f"{fmt.num(v0)} to {fmt.num(final)} by {long_date(points[j][0])}"


def _rows(data: BriefData, scenario: str) -> pd.DataFrame:
    p = data.pathways
    return p[p["scenario"] == scenario].set_index("outcome")


def effect(r: pd.Series) -> str:
    return fmt.interval(r["effect_mid"], r["effect_lo"], r["effect_hi"], r["kind"], diff=True)


def level(r: pd.Series, prefix: str = "") -> str:
    return fmt.interval(r[f"{prefix}mid"], r[f"{prefix}lo"], r[f"{prefix}hi"], r["kind"])


def _plans(data: BriefData) -> tuple[str, str]:
    m = data.meta
    troops = m.get("troops", {})
    ref = troop_plan(troops.get(m["reference"], []), m["start"])
    fw = troops.get("full-withdrawal", [])
    fw_date = next((p[0] for p in fw if p[1] == 0), None)
    return ref, (f"all US troops out by {long_date(fw_date)}" if fw_date else "full withdrawal")


def bottom_line(data: BriefData) -> str:
    """One paragraph a policy reader can quote: what changes, by how much, how sure, under
    which assumptions."""
    m = data.meta
    fw, oth, st = (_rows(data, s) for s in ("full-withdrawal", "enablers-over-horizon", "stay-3000"))
    ref_plan, fw_plan = _plans(data)
    a2 = fw.loc["is_attacks_y2"]
    rel = a2["effect_mid"] / max(a2["ref_mid"], 1.0)
    # the plan's level: the blend's where the brief made it (as in the pathway table)
    y2 = ((m.get("blended_attacks") or {}).get(m["reference"]) or {}).get("y2")
    plan_level = (f"{fmt.num(y2[1])} (the blend's level)" if y2
                  else fmt.num(a2["ref_mid"]))
    hg = fw.loc["holds_ground_24m"]
    infl = fw.loc["iran_influence_end"]
    infl_txt = (f"rises by {fmt.num(infl['effect_mid'])} on its 0-1 scale (no spread across "
                "runs: the parameters behind it are held fixed, so its uncertainty is not shown)"
                if fmt.degenerate(infl["effect_lo"], infl["effect_hi"], infl["effect_mid"])
                else f"rises by {fmt.num(infl['effect_mid'])} on its 0-1 scale (80% interval "
                     f"{fmt.num(infl['effect_lo'])} to {fmt.num(infl['effect_hi'])})")
    a1 = st.loc["is_attacks_y1"]
    post = m.get("posterior")
    basis = (f"{fmt.num(m['runs'])} paired runs per scenario on {fmt.num(post['draws'])} parameter "
             f"draws fitted to "
             f"data up to {post['until']}" if post else
             f"{m['runs']} paired runs per scenario on the versioned default parameters")
    return (
        f"Against the announced plan (US troops {ref_plan}), {fw_plan} would add about "
        f"{fmt.num(a2['effect_mid'])} IS attacks in the second year (80% interval "
        f"{fmt.num(a2['effect_lo'])} to {fmt.num(a2['effect_hi'])}; {rel:+.0%} on the plan's "
        f"{plan_level}, counted on the model's CTC Sentinel scale); attacks rise in "
        f"{fmt.prob(a2['p_increase'])} of paired runs. The probability that IS holds ground "
        f"somewhere within two years goes from {fmt.prob(hg['ref_mid'])} to {fmt.prob(hg['mid'])} "
        f"({fmt.pp(hg['effect_mid'])}, 80% interval {fmt.pp(hg['effect_lo'])} to "
        f"{fmt.pp(hg['effect_hi'])}), and Iran's influence index {infl_txt}. Keeping ISR and air "
        f"support from over the horizon cuts the second-year rise to "
        f"{fmt.num(oth.loc['is_attacks_y2', 'effect_mid'])} attacks (80% interval "
        f"{fmt.num(oth.loc['is_attacks_y2', 'effect_lo'])} to "
        f"{fmt.num(oth.loc['is_attacks_y2', 'effect_hi'])}). The announced cut itself changes "
        f"little: {fmt.num(-a1['effect_mid'], signed=True)} IS attacks in the first year against "
        f"staying at 3,000. Basis: {basis}. These numbers assume the troop and enabler schedules "
        "of the scenarios (no US return if violence rises), and most mechanisms come from the "
        "source's own account rather than from data (see Limits)."
    )


def pathway_sentences(data: BriefData) -> list[str]:
    fw, oth = _rows(data, "full-withdrawal"), _rows(data, "enablers-over-horizon")
    hg = fw.loc["holds_ground_24m"]
    return [
        f"1. Security could worsen: full withdrawal adds {effect(fw.loc['is_attacks_y2'])} IS "
        f"attacks (model count, CTC Sentinel scale) in the second year; with ISR and air support "
        f"from over the horizon the change is {effect(oth.loc['is_attacks_y2'])}.",
        f"2. Militants could become more resilient: full withdrawal adds "
        f"{effect(fw.loc['is_fighters_end'])} IS fighters and {effect(fw.loc['is_villages_end'])} "
        f"contested villages after two years; the probability that IS holds ground within 24 "
        f"months goes from {fmt.prob(hg['ref_mid'])} to {fmt.prob(hg['mid'])}, a change of "
        f"{effect(hg)}.",
        f"3. Iran's influence could deepen: the influence index (0-1) changes by "
        f"{effect(fw.loc['iran_influence_end'])} and the US leverage index by "
        f"{effect(fw.loc['us_leverage_end'])} under full withdrawal; militia attacks on US sites "
        f"over two years change by {effect(fw.loc['militia_attacks_us'])} because there is less "
        "to attack, not because militias weaken.",
    ]


UNITS = {"attacks": "model count, CTC Sentinel scale", "fighters": "fighters",
         "villages": "villages", "probability": "probability", "0-1": "index 0-1",
         "index": "index"}


def _unit(outcome: str) -> str:
    from resurgence.results.outcomes import OUTCOME_BY_NAME

    u = OUTCOME_BY_NAME[outcome].unit
    if outcome == "militia_attacks_us":
        return "model count"
    return UNITS.get(u, u)


def levels_sentence(data: BriefData) -> str:
    """Where the brief's levels come from: effects are the simulator's paired contrasts; the
    IS attacks level is the blend's (baseline and simulator pooled) where it could be made."""
    yrs = data.meta.get("blended_attacks") or {}
    ref = data.meta.get("reference", "announced-2500")
    base = ("Effects are the simulator's paired contrasts (common random numbers); the levels "
            "in this table are the simulator's")
    if ref not in yrs or "y1" not in yrs[ref]:
        return base + (f". IS attacks in the fan chart: "
                       f"{data.meta.get('levels') or 'simulator level'}.")
    base += ", except the national IS attacks by year, marked (blend)."
    y1 = yrs[ref]["y1"]
    y2 = yrs[ref].get("y2")
    more = (f", second year {y2[1]:,.0f} [{y2[0]:,.0f}-{y2[2]:,.0f}]" if y2 else "")
    return (base + f" The forecast's level of IS attacks (CTC Sentinel scale) is the blend's "
            f"(the statistical baseline and the simulator pooled by their backtest, "
            f"docs/calibration.md), as in the fan chart: under {ref}, first year "
            f"{y1[1]:,.0f} [{y1[0]:,.0f}-{y1[2]:,.0f}]{more}.")


#: pathway outcomes whose reference level the blend gives (national IS attacks by year)
BLENDED_OUTCOMES = {"is_attacks_y1": "y1", "is_attacks_y2": "y2"}


def pathway_table(data: BriefData) -> pd.DataFrame:
    """Pathway outcomes: the reference's level and the paired effects of three scenarios.
    The national IS attacks of the first and second year take the blend's level (marked)
    where the brief could make it; every other level, and every effect, is the simulator's."""
    ref = data.meta["reference"]
    yrs = (data.meta.get("blended_attacks") or {}).get(ref, {})
    rows = []
    for (pathway, outcome), g in data.pathways.groupby(["pathway", "outcome"], sort=False):
        first = g.iloc[0]
        lev = level(first, "ref_")
        if BLENDED_OUTCOMES.get(outcome) in yrs:
            lo, mid, hi = yrs[BLENDED_OUTCOMES[outcome]]
            lev = fmt.interval(mid, lo, hi, first["kind"]) + " (blend)"
        row = {"pathway": pathway, "outcome": f"{first['label']} ({_unit(outcome)})",
               f"{ref}: median [80% interval]": lev}
        for _, r in g.iterrows():
            if r["scenario"] in EFFECT_SCENARIOS:
                row[f"{r['scenario']} minus {ref}"] = effect(r)
            if r["scenario"] == "full-withdrawal":
                row["share of paired runs with full-withdrawal > " + ref] = fmt.prob(r["p_increase"])
        rows.append(row)
    return pd.DataFrame(rows)


def verdict_counts(data: BriefData | pd.DataFrame) -> pd.DataFrame:
    """Claims by category (rows, with their meaning) and finding (columns)."""
    c = data if isinstance(data, pd.DataFrame) else data.claims
    counts = headline_counts(c)
    cols = [f for f in FINDINGS if (c["finding"] == f).any()]
    rows = [{"category": cat, "what it means": CATEGORIES.get(cat, ""),
             **{f: n.get(f, 0) for f in cols}, "claims": sum(n.values())}
            for cat, n in counts.items()]
    return pd.DataFrame(rows)


def verdict_headline(data: BriefData | pd.DataFrame) -> str:
    """Counts by how each verdict was reached, never a bare 'N supported'; the defects."""
    c = data if isinstance(data, pd.DataFrame) else data.claims
    parts = []
    for cat, n in headline_counts(c).items():
        total = sum(n.values())
        inner = ", ".join(f"{k} {f}" for f, k in n.items())
        parts.append(f"{total} {cat}" + (f" ({inner})" if inner else ""))
    defects = c[c["defect"].astype(bool)] if "defect" in c else c.iloc[:0]
    tail = (f" Defects: {', '.join(f'{r.id} ({r.defect})' for r in defects.itertuples())}."
            if len(defects) else "")
    return (f"{len(c)} claims of the source checked, by how the verdict was reached: "
            + "; ".join(parts) + ". Model-implied checks restate the model's own mechanisms: "
            "they are not evidence for the claims." + tail)


def claims_table(data: BriefData | pd.DataFrame) -> pd.DataFrame:
    """Readable on a page: claim, what was checked, effect with interval and unit, the
    verdict (category: finding) and how it was reached (from the brief or from
    :func:`resurgence.analysis.claims.evaluate`'s table)."""
    c = data if isinstance(data, pd.DataFrame) else data.claims
    rows = []
    for r in c.itertuples():
        prob = "probability" in str(getattr(r, "unit", ""))
        kind = "probability" if prob else "quantiles"
        diff = r.scenarios.count(" vs ") > 0
        eff = fmt.interval(r.effect_median, r.effect_p10, r.effect_p90, kind, diff=diff)
        if getattr(r, "unit", "") == "relative change":
            eff = (f"{r.effect_median:+.1%} [{r.effect_p10:+.1%}, {r.effect_p90:+.1%}]"
                   if f"{r.effect_p10:+.1%}" != f"{r.effect_p90:+.1%}"
                   else f"{r.effect_median:+.1%} ({fmt.FIXED})")
        unit = str(getattr(r, "unit", ""))
        if unit.startswith("probability (difference"):
            unit = "difference of probabilities"
        how = str(getattr(r, "category_reason", ""))
        if getattr(r, "defect", ""):
            how += f"; DEFECT: {r.defect}"
        rows.append({"id": r.id, "the source says": f"“{r.quote}”",
                     "what was checked": f"{r.check} ({r.scenarios})",
                     "result (median [80% interval], unit)": f"{eff} {unit}".strip(),
                     "share of paired runs as expected": fmt.prob(r.share_as_expected),
                     "verdict": r.verdict, "how it was reached": how})
    return pd.DataFrame(rows)


def enabler_table(data: BriefData) -> pd.DataFrame:
    en = data.enablers.copy()
    en["effect"] = [effect(pd.Series({"effect_mid": r.effect_mid, "effect_lo": r.effect_lo,
                                      "effect_hi": r.effect_hi, "kind": r.kind}))
                    for r in en.itertuples()]
    names = {"is_attacks_y2": "extra IS attacks, second year (model count)",
             "is_fighters_end": "extra IS fighters after two years",
             "holds_ground_24m": "change in P(IS holds ground within 24 months)"}
    en["outcome"] = en["outcome"].map(lambda o: names.get(o, o))
    return en.pivot(index=["rank", "enabler"], columns="outcome", values="effect").reset_index()


def sensitivity_table(data: BriefData) -> pd.DataFrame | None:
    """Total-order (first-order) Sobol indices of each outcome to each policy lever."""
    import numpy as np

    df = data.sensitivity
    if df is None or df.empty:
        return None
    df = df.assign(cell=[f"{st:.2f} ({s1:.2f})" if np.isfinite(st) else "n/a"
                         for st, s1 in zip(df["ST"], df["S1"], strict=True)])
    return df.pivot(index="factor", columns="output", values="cell").reset_index().rename(
        columns={"factor": "lever"})


def sobol_sentence() -> str:
    from resurgence.analysis.sensitivity import BASE_SCENARIO, LEVER_FROM, LEVERS

    ranges = "; ".join(f"{k} {fmt.num(lo)} to {fmt.num(hi)}" for k, (_, lo, hi) in LEVERS.items())
    return ("Global sensitivity to the policy levers (Sobol indices, SALib): each lever is a "
            f"multiplier of its late-2020 level reached on {long_date(LEVER_FROM)} ({ranges}), "
            f"all varied together around {BASE_SCENARIO} on the posterior. Cells: total-order "
            "index (first-order in brackets), the share of an outcome's variance the lever "
            "accounts for; the remainder is parameter and run-to-run uncertainty. Indices of "
            "the rare 'holds ground' event are noisy.")


def ramp_sentence(data: BriefData) -> str:
    lo, hi = data.meta.get("ramp", ["", ""])
    return (f"Each enabler is removed alone (ramped to zero between {long_date(lo)} and "
            f"{long_date(hi)}) from the announced plan; effects are paired differences against it.")


def intro(data: BriefData) -> str:
    m = data.meta
    post = m.get("posterior") or {}
    ref_plan, _ = _plans(data)
    basis = (f"{post.get('draws')} posterior draws fitted by {post.get('method', '')} to data up "
             f"to {post.get('until')}" if post else "default parameters")
    return (f"A quantified answer to the AP's question of 3 December 2020, from resurgence "
            f"{m['version']}: {m['runs']} paired Monte Carlo runs per scenario (common random "
            f"numbers, seed {m['seed']}), {m['weeks']} weeks from {m['start']}, on {basis}. "
            "Every number is a median with an 80% interval across runs; effects are paired "
            f"differences against the announced plan (US troops {ref_plan}); differences of "
            "probabilities are in percentage points (pp).")


def manifest_summary(data: BriefData) -> dict:
    m = data.meta
    man = data.provenance.get("bundle_manifest", {})
    return {"bundle": str(data.bundle), "seed": m["seed"], "runs per scenario": m["runs"],
            "package version": m["version"], "default parameters": m["defaults_version"],
            "posterior": m.get("posterior"), "scenario hashes": man.get("scenario_hashes", {}),
            "parameter digest": man.get("params", {}), "data hashes": man.get("data_hashes", {}),
            "theatre hashes": data.provenance.get("theatre_hashes", {})}
