"""Render a :class:`~resurgence.briefing.BriefData` as a self-contained HTML page and a PDF."""

from __future__ import annotations

import base64
import html
import json
from pathlib import Path

import numpy as np
import pandas as pd

from resurgence.analysis.brief import BriefData
from resurgence.core.atomic import atomic_output_path, atomic_write_text
from resurgence.report import figures as bf

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
    "Backtests show the model beats persistence on UCDP series but misses the spring 2020 surge "
    "in CTC attacks when the pandemic was not foreseen; see the calibration docs.",
]


def _fmt(v: float, kind: str = "quantiles") -> str:
    if kind == "probability":
        return f"{v:.0%}"
    if abs(v) >= 100:
        return f"{v:,.0f}"
    return f"{v:.2f}" if abs(v) < 10 else f"{v:.1f}"


def _cell(mid, lo, hi, kind) -> str:
    return f"{_fmt(mid, kind)} [{_fmt(lo, kind)}, {_fmt(hi, kind)}]"


def figures(data: BriefData, folder: Path) -> dict[str, Path]:
    folder.mkdir(parents=True, exist_ok=True)
    figs = {"fan": bf.fan_chart(data.fan, folder / "fan.png"),
            "maps": bf.maps(data.maps, "full-withdrawal", folder / "map_full_withdrawal.png"),
            "maps_oth": bf.maps(data.maps, "enablers-over-horizon", folder / "map_over_horizon.png"),
            "enablers": bf.enablers(data.enablers, folder / "enablers.png")}
    if data.forecast is not None:
        figs["forecast"] = bf.forecast_vs_observed(data.forecast, data.observed, folder / "forecast.png")
    if data.fit_rows is not None:
        from resurgence.report.diagnostics import fit_figure

        figs["fit"] = fit_figure(data.fit_rows, data.fit_draws, folder / "fit.png")
    data.figures = figs
    return figs


def pathway_table(data: BriefData) -> pd.DataFrame:
    p = data.pathways
    rows = []
    for (pathway, label), g in p.groupby(["pathway", "label"], sort=False):
        first = g.iloc[0]
        row = {"pathway": pathway, "outcome": label,
               data.meta["reference"]: _cell(first["ref_mid"], first["ref_lo"], first["ref_hi"], first["kind"])}
        for _, r in g.iterrows():
            if r["scenario"] in ("stay-3000", "enablers-over-horizon", "full-withdrawal"):
                row[f"{r['scenario']} (effect)"] = _cell(r["effect_mid"], r["effect_lo"], r["effect_hi"], r["kind"])
        rows.append(row)
    return pd.DataFrame(rows)


def sensitivity_table(data: BriefData) -> pd.DataFrame | None:
    """Total-order (first-order) Sobol indices of each outcome to each policy lever."""
    df = data.sensitivity
    if df is None or df.empty:
        return None
    df = df.assign(cell=[f"{st:.2f} ({s1:.2f})" if np.isfinite(st) else "n/a"
                         for st, s1 in zip(df["ST"], df["S1"], strict=True)])
    return df.pivot(index="factor", columns="output", values="cell").reset_index().rename(
        columns={"factor": "lever"})


def headline_sentences(data: BriefData) -> list[str]:
    p = data.pathways
    fw = p[p["scenario"] == "full-withdrawal"].set_index("outcome")
    st = p[p["scenario"] == "stay-3000"].set_index("outcome")
    oth = p[p["scenario"] == "enablers-over-horizon"].set_index("outcome")

    def eff(df, o):
        r = df.loc[o]
        return _cell(r["effect_mid"], r["effect_lo"], r["effect_hi"], r["kind"])

    a = fw.loc["is_attacks_y2"]
    rel = a["effect_mid"] / max(a["ref_mid"], 1)
    return [
        f"The announced cut to 2,500 changes little: against staying at 3,000 it adds "
        f"{_fmt(-st.loc['is_attacks_y1', 'effect_mid'])} IS attacks in the first year "
        f"(80% interval {_fmt(-st.loc['is_attacks_y1', 'effect_hi'])} to "
        f"{_fmt(-st.loc['is_attacks_y1', 'effect_lo'])}), as Baghdad's officials said.",
        f"1. Security could worsen: a full withdrawal by mid-2021 adds {eff(fw, 'is_attacks_y2')} "
        f"IS attacks in the second year (about {rel:+.0%} on the announced plan); keeping ISR and "
        f"air support from over the horizon cuts that to {eff(oth, 'is_attacks_y2')}.",
        f"2. Militants could become more resilient: full withdrawal adds {eff(fw, 'is_fighters_end')} "
        f"fighters and {eff(fw, 'is_villages_end')} contested villages after two years; the "
        f"probability that IS holds ground within 24 months rises by {eff(fw, 'holds_ground_24m')}.",
        f"3. Iran's influence could deepen: the influence index rises by "
        f"{eff(fw, 'iran_influence_end')} and US leverage changes by {eff(fw, 'us_leverage_end')} "
        f"under full withdrawal; militia attacks on US sites fall ({eff(fw, 'militia_attacks_us')}) "
        f"because there is less to attack, not because militias weaken.",
    ]


def _table(df: pd.DataFrame, cls: str = "") -> str:
    return df.to_html(index=False, classes=cls, border=0, escape=True, na_rep="")


def _img(path: Path, alt: str) -> str:
    b64 = base64.b64encode(Path(path).read_bytes()).decode()
    return f'<figure><img alt="{html.escape(alt)}" src="data:image/png;base64,{b64}"/><figcaption>{html.escape(alt)}</figcaption></figure>'


CSS = """body{font-family:Georgia,serif;max-width:1100px;margin:2em auto;padding:0 1em;color:#222;line-height:1.45}
h1{font-size:1.7em}h2{border-bottom:1px solid #ccc;padding-bottom:.2em;margin-top:1.6em}
table{border-collapse:collapse;font-size:.82em;margin:.6em 0;width:100%}th,td{padding:.3em .5em;border-bottom:1px solid #e3e3e3;text-align:left;vertical-align:top}
th{background:#f3f3f3}figure{margin:1em 0}img{max-width:100%}figcaption{font-size:.85em;color:#555}
.note{background:#f7f7ef;border-left:4px solid #E69F00;padding:.6em 1em;font-size:.92em}
.supported{color:#006d2c}.uncertain{color:#8c6d00}.not{color:#b30000}code{font-size:.9em}"""


def render_html(data: BriefData, folder: Path) -> Path:
    figs = data.figures or figures(data, folder / "figures")
    m = data.meta
    post = m.get("posterior") or {}
    claims = data.claims[["id", "quote", "carried_by", "check", "scenarios", "effect_median",
                          "effect_p10", "effect_p90", "share_as_expected", "verdict", "basis",
                          "evidence", "data_informed_parameters"]].copy()
    for c in ("effect_median", "effect_p10", "effect_p90", "share_as_expected"):
        claims[c] = claims[c].map(lambda v: f"{v:.3g}")
    en = data.enablers.copy()
    en["effect"] = [_cell(r.effect_mid, r.effect_lo, r.effect_hi, r.kind) for r in en.itertuples()]
    en = en.pivot(index=["rank", "enabler"], columns="outcome", values="effect").reset_index()
    params = data.params[["name", "module", "units", "basis", "value", "p10", "p90", "prior",
                          "claims", "source"]].copy()
    for c in ("value", "p10", "p90"):
        params[c] = params[c].map(lambda v: f"{v:.4g}")
    man = data.provenance.get("bundle_manifest", {})
    prov = {"bundle": str(data.bundle), "seed": m["seed"], "runs per scenario": m["runs"],
            "package version": m["version"], "default parameters": m["defaults_version"],
            "posterior": post, "scenario hashes": man.get("scenario_hashes", {}),
            "parameter digest": man.get("params", {}), "data hashes": man.get("data_hashes", {})}
    parts = [
        "<h1>How could the US drawdown in Iraq aid IS and Iran?</h1>",
        f"<p>A quantified answer to the AP's question of 3 December 2020, from <code>resurgence</code> "
        f"{html.escape(m['version'])}: {m['runs']} paired Monte Carlo runs per scenario (common random "
        f"numbers, seed {m['seed']}), {m['weeks']} weeks from {m['start']}, on "
        + (f"{post.get('draws')} posterior draws fitted by {html.escape(post.get('method', ''))} to data up to {post.get('until')}"
           if post else "default parameters") +
        ". Every number is a median with an 80% interval across runs; effects are paired "
        "differences against the announced plan (3,000 to 2,500 troops by 15 January 2021).</p>",
        "<h2>Summary</h2><ul>" + "".join(f"<li>{html.escape(s)}</li>" for s in headline_sentences(data)) + "</ul>",
        "<h2>The three pathways</h2>", _table(pathway_table(data)),
        _img(figs["fan"], "National outcomes by scenario: medians and 80% bands across runs."),
        "<h2>Where: governorate maps of the change</h2>",
        _img(figs["maps"], "Paired median change per governorate, full withdrawal against the announced plan."),
        _img(figs["maps_oth"], "The same with ISR and air support continuing from over the horizon."),
        "<h2>Which enablers matter most</h2>",
        "<p>Each enabler is removed alone (ramped to zero between 15 January and 30 June 2021) from the announced plan.</p>",
        _table(en), _img(figs["enablers"], "Paired effects of removing one enabler at a time."),
        *([("<p>Global sensitivity to the policy levers (Sobol indices, SALib; each lever a "
            "multiplier from 0 to 1.2 of its late-2020 level from 15 January 2021, all varied "
            "together around announced-2500 on the posterior): total-order index (first-order "
            "in brackets), the share of an outcome's variance the lever accounts for. The "
            "remainder is parameter and run-to-run uncertainty. Indices of the rare 'holds ground' "
            "event are noisy.</p>"), _table(sensitivity_table(data))]
          if sensitivity_table(data) is not None else []),
        "<h2>The source's claims, checked</h2>",
        '<p class="note"><b>Read the basis column.</b> <i>data-tested</i>: the check is confronted with '
        "observations (the fit to 2018-2020 data, the backtest or the 2011 case). <i>model-implied</i>: "
        "the result follows from mechanisms built from the article itself, so it shows the model is "
        "consistent with the claim, not that the world confirms it. <i>definition</i>: a scenario "
        "lever. The last column lists driving parameters the data narrowed (posterior spread under 80% of the prior's).</p>",
        _table(claims),
    ]
    if "fit" in figs:
        parts += ["<h2>Fit to history and forecast</h2>",
                  "<p>Posterior predictive intervals against every observation series the calibration used "
                  "(coverage of the central intervals by series):</p>", _table(data.fit_coverage.round(2)),
                  _img(figs["fit"], "Posterior predictive fit, 2018-2020."),
                  _img(figs["forecast"], "Monthly forecast under the announced plan against the last observed data.")]
    parts += ["<h2>Assumptions and parameter sources</h2>",
              "<p>Calibrated parameters show posterior medians and 80% intervals; the others keep their "
              "versioned defaults (see <code>docs/model.md</code> and <code>docs/parameters.md</code>).</p>",
              _table(params),
              "<h2>Scenarios</h2>", _table(data.scenarios),
              "<h2>Data and provenance</h2>",
              "<p>Data: geoBoundaries (CC0), CSO/COSIT population, UCDP GED and country-month series (CC BY 4.0), "
              "CTC Sentinel, Musings on Iraq, Iraq Body Count and a press-report base timeline, all dated "
              "on or before 2020-11-30 (<code>src/resurgence/data/iraq/README.md</code>, <code>OBSERVATIONS.md</code>). "
              "The results bundle below holds every per-run series behind these numbers; its manifest records:</p>",
              f"<pre>{html.escape(json.dumps(prov, indent=1, default=str))}</pre>",
              "<h2>Limits</h2><ul>" + "".join(f"<li>{html.escape(s)}</li>" for s in LIMITS) + "</ul>"]
    page = (f"<!doctype html><html lang='en'><head><meta charset='utf-8'><title>resurgence brief</title>"
            f"<style>{CSS}</style></head><body>{''.join(parts)}</body></html>")
    path = folder / "brief.html"
    atomic_write_text(path, page)
    return path


def render_pdf(data: BriefData, folder: Path) -> Path:
    from reportlab.lib import colors
    from reportlab.lib.pagesizes import A4, landscape
    from reportlab.lib.styles import getSampleStyleSheet
    from reportlab.lib.units import cm
    from reportlab.platypus import (
        Image,
        PageBreak,
        Paragraph,
        SimpleDocTemplate,
        Spacer,
        Table,
        TableStyle,
    )

    figs = data.figures or figures(data, folder / "figures")
    st = getSampleStyleSheet()
    small = st["BodyText"].clone("small", fontSize=7, leading=8.5)

    def table(df: pd.DataFrame, widths=None):
        cells = [[Paragraph(html.escape(str(c)), small) for c in df.columns]]
        cells += [[Paragraph(html.escape(str(v)), small) for v in row] for row in df.itertuples(index=False)]
        t = Table(cells, colWidths=widths, repeatRows=1)
        t.setStyle(TableStyle([("BACKGROUND", (0, 0), (-1, 0), colors.HexColor("#eeeeee")),
                               ("VALIGN", (0, 0), (-1, -1), "TOP"),
                               ("LINEBELOW", (0, 0), (-1, -1), 0.25, colors.HexColor("#cccccc"))]))
        return t

    def image(path, width=25 * cm):
        from PIL import Image as PImage

        w, h = PImage.open(path).size
        return Image(str(path), width=width, height=width * h / w)

    story = [Paragraph("How could the US drawdown in Iraq aid IS and Iran?", st["Title"]),
             Paragraph(f"resurgence {data.meta['version']}: {data.meta['runs']} paired runs per scenario, "
                       f"seed {data.meta['seed']}; medians with 80% intervals.", st["BodyText"])]
    story += [Paragraph(html.escape(s), st["BodyText"]) for s in headline_sentences(data)]
    story += [Spacer(1, 6), table(pathway_table(data)), PageBreak(), image(figs["fan"]), PageBreak(),
              image(figs["maps"]), image(figs["enablers"]), PageBreak(),
              Paragraph("The source's claims, checked (basis: data-tested / model-implied / definition)", st["Heading2"]),
              *([Paragraph("Sensitivity of outcomes to the policy levers: Sobol total-order index "
                           "(first-order)", st["Heading2"]), table(sensitivity_table(data)), PageBreak()]
                if sensitivity_table(data) is not None else []),
              table(data.claims[["id", "check", "scenarios", "verdict", "share_as_expected", "basis"]]
                    .assign(share_as_expected=lambda d: d["share_as_expected"].map(lambda v: f"{v:.2f}")),
                    [1.2 * cm, 11 * cm, 6 * cm, 2.5 * cm, 2 * cm, 2.8 * cm])]
    if "fit" in figs:
        story += [PageBreak(), image(figs["fit"], 17 * cm), PageBreak(), image(figs["forecast"])]
    story += [PageBreak(), Paragraph("Limits", st["Heading2"])]
    story += [Paragraph(html.escape(s), st["BodyText"]) for s in LIMITS]
    path = folder / "brief.pdf"
    with atomic_output_path(path) as tmp:
        SimpleDocTemplate(str(tmp), pagesize=landscape(A4), leftMargin=1.5 * cm, rightMargin=1.5 * cm,
                          topMargin=1.2 * cm, bottomMargin=1.2 * cm, title="resurgence brief").build(story)
    return path
