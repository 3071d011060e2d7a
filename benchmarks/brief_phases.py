"""`resurgence brief` by phase (issue #10): compute (simulation, contrasts, Sobol, fit,
forecast), each figure, the HTML page and the PDF, timed in one process.

``--save DATA.pkl`` keeps the computed :class:`BriefData` so that ``--load DATA.pkl`` can time
the figures and documents alone (what a change to the figures moves) without simulating again.

    nice -n 10 .venv/bin/python benchmarks/brief_phases.py --save /tmp/brief-data.pkl
    .venv/bin/python benchmarks/brief_phases.py --load /tmp/brief-data.pkl --repeat 3
"""

from __future__ import annotations

import argparse
import json
import os
import pickle
import tempfile
import time
from pathlib import Path


def _timed(phases: dict[str, float], name: str, fn, *a, **k):
    t0 = time.perf_counter()
    out = fn(*a, **k)
    phases[name] = round(phases.get(name, 0.0) + time.perf_counter() - t0, 3)
    return out


def render(data, folder: Path) -> dict[str, float]:
    """Time each figure of ``brief_figures`` and the two documents."""
    import resurgence.report.diagnostics as diag
    import resurgence.report.figures as figs
    from resurgence.report.html import render_html
    from resurgence.report.pdf import render_pdf

    ph: dict[str, float] = {}
    originals = {}
    for owner, name in ((figs, "fan_chart"), (figs, "maps_figures"), (figs, "enablers"),
                        (figs, "forecast_vs_observed"), (diag, "fit_figure")):
        fn = getattr(owner, name)
        originals[(owner, name)] = fn

        def timed(*a, _fn=fn, _name=name, **k):
            return _timed(ph, "figure " + _name, _fn, *a, **k)
        setattr(owner, name, timed)
    try:
        data.figures = {}
        _timed(ph, "figures (all)", figs.brief_figures, data, folder / "figures")
    finally:
        for (owner, name), fn in originals.items():
            setattr(owner, name, fn)
    _timed(ph, "html", render_html, data, folder)
    _timed(ph, "pdf", render_pdf, data, folder)
    ph["figure bytes"] = sum(p.stat().st_size for p in data.figures.values())
    return ph


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--runs", type=int, default=300)
    ap.add_argument("--save", type=Path, help="pickle the computed brief data here")
    ap.add_argument("--load", type=Path, help="time only figures and documents of this data")
    ap.add_argument("--repeat", type=int, default=1, help="render this many times (best kept)")
    ap.add_argument("--json", type=Path)
    a = ap.parse_args(argv)
    res: dict = {"load_start": os.getloadavg()[0]}
    folder = Path(tempfile.mkdtemp(prefix="bench-brief-"))
    t0 = time.perf_counter()
    import resurgence.report.render  # noqa: F401
    from resurgence.analysis.brief import compute_brief
    res["import_s"] = round(time.perf_counter() - t0, 3)
    if a.load:
        with open(a.load, "rb") as f:
            data = pickle.load(f)  # noqa: S301 - our own file
    else:
        stages: dict[str, float] = {}
        last = [None, time.perf_counter()]

        def stage(msg: str) -> None:
            now = time.perf_counter()
            if last[0] is not None:
                stages[str(last[0])] = round(now - float(last[1]), 3)  # type: ignore[arg-type]
            last[0], last[1] = msg, now
        t0 = time.perf_counter()
        data = compute_brief(runs=a.runs, out=folder, stage=stage)
        stage("")
        res["compute_s"] = round(time.perf_counter() - t0, 3)
        res["compute_stages"] = stages
        if a.save:
            data.figures = {}
            with open(a.save, "wb") as f:
                pickle.dump(data, f)
    best = None
    for _ in range(a.repeat):
        ph = render(data, folder)
        if best is None or ph["figures (all)"] < best["figures (all)"]:
            best = ph
    res["render"] = best
    res["total_s"] = round(time.perf_counter() - t0, 3)
    res["load_end"] = os.getloadavg()[0]
    txt = json.dumps(res, indent=1)
    print(txt)
    if a.json:
        a.json.write_text(txt)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
