"""The brief as a PDF (reportlab, landscape A4): same order as the HTML, page numbers in the
footer, headings kept with what follows them, tables with set column widths."""

from __future__ import annotations

import html
from pathlib import Path

import pandas as pd

from resurgence.analysis.brief import BriefData
from resurgence.core.atomic import atomic_output_path
from resurgence.report import content as ct


def render_pdf(data: BriefData, folder: Path) -> Path:
    from reportlab.lib import colors
    from reportlab.lib.pagesizes import A4, landscape
    from reportlab.lib.styles import getSampleStyleSheet
    from reportlab.lib.units import cm
    from reportlab.platypus import (
        CondPageBreak,
        Image,
        KeepTogether,
        Paragraph,
        SimpleDocTemplate,
        Spacer,
        Table,
        TableStyle,
    )

    from resurgence.report.figures import brief_figures as figures

    figs = data.figures or figures(data, folder / "figures")
    st = getSampleStyleSheet()
    body = st["BodyText"]
    small = body.clone("small", fontSize=7.5, leading=9)
    head = body.clone("head", fontSize=7.5, leading=9, fontName="Helvetica-Bold")
    h2 = st["Heading2"].clone("h2", keepWithNext=1)
    page_w = landscape(A4)[0] - 3 * cm

    def p(text: str, style=body):
        return Paragraph(html.escape(text), style)

    def table(df: pd.DataFrame, widths: list[float] | None = None):
        cells = [[Paragraph(html.escape(str(c)), head) for c in df.columns]]
        cells += [[Paragraph(html.escape(str(v)), small) for v in row]
                  for row in df.itertuples(index=False)]
        if widths is not None:
            total = sum(widths)
            widths = [w * page_w / total for w in widths]
        t = Table(cells, colWidths=widths, repeatRows=1)
        t.setStyle(TableStyle([("BACKGROUND", (0, 0), (-1, 0), colors.HexColor("#eeeeee")),
                               ("VALIGN", (0, 0), (-1, -1), "TOP"),
                               ("LINEBELOW", (0, 0), (-1, -1), 0.25, colors.HexColor("#cccccc"))]))
        return t

    def image(path, width=25 * cm, max_h=16.5 * cm):
        from PIL import Image as PImage

        w, h = PImage.open(path).size
        width = min(width, max_h * w / h)
        return Image(str(path), width=width, height=width * h / w)

    def section(title: str, *flow):
        """A heading that never sits alone at the foot of a page."""
        return [CondPageBreak(4 * cm), KeepTogether([Paragraph(html.escape(title), h2), flow[0]]),
                *flow[1:]]

    pt = ct.pathway_table(data)
    vc = ct.verdict_counts(data)
    story = [Paragraph(html.escape(ct.TITLE), st["Title"]),
             *section("Bottom line", p(ct.bottom_line(data), body.clone("b", fontSize=11,
                                                                       leading=14))),
             *section("The three pathways", *(p(s) for s in ct.pathway_sentences(data)),
                      Spacer(1, 6), table(pt, [3.0, 5.0, 3.5] + [3.5] * (len(pt.columns) - 3)),
                      p(ct.levels_sentence(data), small)),
             *section("Limits", *(p("• " + s) for s in ct.limits())),
             *section("The source's claims, checked", p(ct.verdict_headline(data)),
                      table(vc, [3.0, 14.0] + [2.0] * (len(vc.columns) - 2)),
                      *(p(f"{k}: {v}.", small) for k, v in ct.VERDICTS.items()), Spacer(1, 6),
                      table(ct.claims_table(data), [1, 7, 7, 5, 1.8, 2, 2.3])),
             *section("Details", p(ct.intro(data))),
             *section("National outcomes over time", image(figs["fan"])),
             *section("Where: governorate maps of the change", image(figs["maps"], max_h=8 * cm),
                      image(figs["maps_oth"], max_h=8 * cm)),
             *section("Which enablers matter most", p(ct.ramp_sentence(data)),
                      table(ct.enabler_table(data)), image(figs["enablers"], max_h=8 * cm))]
    sens = ct.sensitivity_table(data)
    if sens is not None:
        story += section("Sensitivity of outcomes to the policy levers",
                         p(ct.sobol_sentence()), table(sens))
    if "fit" in figs:
        story += section("Fit to history", image(figs["fit"], 17 * cm))
        story += section("Forecast under the announced plan", image(figs["forecast"]))
    story += section("Scales: what each number counts",
                     *(p(f"{a}: {b}", small) for a, b in ct.SCALES))
    story += section("Provenance", p(f"Seed {data.meta['seed']}, {data.meta['runs']} runs per "
                                     f"scenario; results bundle {data.bundle}; scenario, parameter "
                                     "and data hashes in brief-manifest.json and the bundle's "
                                     "manifest.json."))

    def footer(canvas, doc):
        canvas.saveState()
        canvas.setFont("Helvetica", 8)
        canvas.drawRightString(landscape(A4)[0] - 1.5 * cm, 0.7 * cm, f"page {doc.page}")
        canvas.drawString(1.5 * cm, 0.7 * cm, f"resurgence {data.meta['version']} · {ct.TITLE}")
        canvas.restoreState()

    path = folder / "brief.pdf"
    with atomic_output_path(path) as tmp:
        SimpleDocTemplate(str(tmp), pagesize=landscape(A4), leftMargin=1.5 * cm,
                          rightMargin=1.5 * cm, topMargin=1.2 * cm, bottomMargin=1.4 * cm,
                          title="resurgence brief").build(story, onFirstPage=footer,
                                                          onLaterPages=footer)
    return path
