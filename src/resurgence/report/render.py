"""Render a :class:`~resurgence.analysis.brief.BriefData`: figures (here), a self-contained
HTML page (:mod:`resurgence.report.html`) and a PDF (:mod:`resurgence.report.pdf`); the text
and tables both show come from :mod:`resurgence.report.content`."""

from __future__ import annotations

from resurgence.report.content import (  # noqa: F401  (the public face of the brief)
    LIMITS,
    bottom_line,
    claims_table,
    pathway_sentences,
    pathway_table,
    sensitivity_table,
    verdict_counts,
)
from resurgence.report.figures import brief_figures as figures  # noqa: F401
from resurgence.report.html import render_html  # noqa: F401
from resurgence.report.pdf import render_pdf  # noqa: F401
