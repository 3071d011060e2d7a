"""The brief as one self-contained HTML page (figures inlined; the manifest in a linked file).

Order: bottom line, the three pathways, limits, the claims, then the details (figures,
enablers, sensitivity, fit and forecast, parameters, scenarios, scales, provenance)."""

from __future__ import annotations

import base64
import html
import json
from pathlib import Path

import pandas as pd

from resurgence.analysis.brief import BriefData
from resurgence.core.atomic import atomic_write_text
from resurgence.report import content as ct

CSS = """body{font-family:Georgia,serif;max-width:1100px;margin:2em auto;padding:0 1em;color:#222;line-height:1.45}
h1{font-size:1.7em}h2{border-bottom:1px solid #ccc;padding-bottom:.2em;margin-top:1.6em}
table{border-collapse:collapse;font-size:.82em;margin:.6em 0;width:100%}th,td{padding:.3em .5em;border-bottom:1px solid #e3e3e3;text-align:left;vertical-align:top}
th{background:#f3f3f3}figure{margin:1em 0}img{max-width:100%}figcaption{font-size:.85em;color:#555}
.bottom{font-size:1.08em;background:#f3f6fa;border-left:5px solid #0072B2;padding:.8em 1.1em}
.note{background:#f7f7ef;border-left:4px solid #E69F00;padding:.6em 1em;font-size:.92em}
dl.scales dt{font-weight:bold;margin-top:.4em}dl.scales dd{margin-left:1.2em}
.wrap{overflow-x:auto}code{font-size:.9em}
@media (max-width:600px){table{font-size:.72em}}"""

MANIFEST = "brief-manifest.json"


def _table(df: pd.DataFrame) -> str:
    return '<div class="wrap">' + df.to_html(index=False, border=0, escape=True, na_rep="") + "</div>"


def _img(path: Path, alt: str) -> str:
    b64 = base64.b64encode(Path(path).read_bytes()).decode()
    return (f'<figure><img alt="{html.escape(alt)}" src="data:image/png;base64,{b64}"/>'
            f"<figcaption>{html.escape(alt)}</figcaption></figure>")


def _p(text: str, cls: str = "") -> str:
    c = f' class="{cls}"' if cls else ""
    return f"<p{c}>{html.escape(text)}</p>"


def _ul(items: list[str]) -> str:
    return "<ul>" + "".join(f"<li>{html.escape(s)}</li>" for s in items) + "</ul>"


def render_html(data: BriefData, folder: Path) -> Path:
    from resurgence.report.figures import brief_figures as figures

    figs = data.figures or figures(data, folder / "figures")
    params = data.params[["name", "module", "units", "basis", "value", "p10", "p90", "prior",
                          "claims", "source"]].copy()
    fixed = params["basis"] != "posterior"
    for c in ("value", "p10", "p90"):
        params[c] = params[c].map(lambda v: f"{v:.4g}")
    # a default is one fixed value, not an interval: no P10/P90 printed for it
    params.loc[fixed, ["p10", "p90"]] = "fixed"
    prov = ct.manifest_summary(data)
    atomic_write_text(folder / MANIFEST, json.dumps(prov, indent=1, default=str))
    sens = ct.sensitivity_table(data)
    verdicts = "".join(f"<li><b>{html.escape(k)}</b>: {html.escape(v)}</li>"
                       for k, v in ct.VERDICTS.items())
    parts = [
        f"<h1>{html.escape(ct.TITLE)}</h1>",
        "<h2>Bottom line</h2>", _p(ct.bottom_line(data), "bottom"),
        "<h2>The three pathways</h2>", _ul(ct.pathway_sentences(data)),
        _table(ct.pathway_table(data)), _p(ct.levels_sentence(data), "note"),
        "<h2>Limits</h2>", _ul(ct.limits()),
        "<h2>The source's claims, checked</h2>", _p(ct.verdict_headline(data), "note"),
        _table(ct.verdict_counts(data)),
        f"<p>Findings (the part of a verdict after the category):</p><ul>{verdicts}</ul>",
        _table(ct.claims_table(data)),
        "<h2>Details</h2>", _p(ct.intro(data)),
        "<h3>National outcomes over time</h3>",
        _img(figs["fan"], "National outcomes by scenario, one panel per scenario against the "
             "announced plan: medians with 50% and 80% bands across runs; dashed lines mark the "
             "troop-schedule dates. IS attacks: " + (data.meta.get("levels") or "simulator level")
             + "; the other outcomes have no observed series and are the simulator's."),
        "<h3>Where: governorate maps of the change</h3>",
        _img(figs["maps"], "Paired median change per governorate, full withdrawal against the "
             "announced plan."),
        _img(figs["maps_oth"], "The same with ISR and air support continuing from over the "
             "horizon, on the same colour scale."),
        "<h3>Which enablers matter most</h3>", _p(ct.ramp_sentence(data)),
        _table(ct.enabler_table(data)),
        _img(figs["enablers"], "Paired effects of removing one enabler at a time (median, 80% interval)."),
    ]
    if sens is not None:
        parts += [_p(ct.sobol_sentence()), _table(sens)]
    if "fit" in figs:
        parts += ["<h3>Fit to history and forecast</h3>",
                  _p("Posterior predictive intervals against every observation series the "
                     "calibration used (coverage of the central intervals by series); each "
                     "series is on its source's own scale (see Scales):"),
                  _table(data.fit_coverage.round(2)) if data.fit_coverage is not None else "",
                  _img(figs["fit"], "Posterior predictive fit, 2018-2020."),
                  _img(figs["forecast"], "Monthly forecast under the announced plan (median, 50% "
                       "and 80% bands) against the last observed data; levels from the "
                       f"{data.meta.get('forecast_method', 'simulator')} (docs/calibration.md: the "
                       "statistical baseline and the simulator pooled with weights from their "
                       "backtest, scenario effects from the simulator's paired runs).")]
    parts += ["<h3>Scales: what each number counts</h3>",
              '<dl class="scales">' + "".join(f"<dt>{html.escape(a)}</dt><dd>{html.escape(b)}</dd>"
                                             for a, b in ct.SCALES) + "</dl>",
              "<h3>Assumptions and parameter sources</h3>",
              _p("Calibrated parameters show posterior medians and 80% intervals; the others keep "
                 "their versioned defaults (see docs/model.md and docs/parameters.md)."),
              _table(params),
              "<h3>Scenarios</h3>", _table(data.scenarios),
              "<h3>Data and provenance</h3>",
              _p("Data: geoBoundaries (CC0), CSO/COSIT population, UCDP GED and country-month "
                 "series (CC BY 4.0), CTC Sentinel, Musings on Iraq, Iraq Body Count and a "
                 "press-report base timeline, all dated on or before 2020-11-30. The results "
                 f"bundle ({data.bundle}) holds every per-run series behind these numbers."),
              f'<p>Seed {data.meta["seed"]}, {data.meta["runs"]} runs per scenario; scenario, '
              f'parameter and data hashes: <a href="{MANIFEST}">{MANIFEST}</a> (beside this page) '
              "and the bundle's manifest.json.</p>"]
    page = (f"<!doctype html><html lang='en'><head><meta charset='utf-8'>"
            f"<meta name='viewport' content='width=device-width, initial-scale=1'>"
            f"<title>resurgence brief</title><style>{CSS}</style></head><body>{''.join(parts)}"
            "</body></html>")
    path = folder / "brief.html"
    atomic_write_text(path, page)
    return path
