"""The notebook (docs/tutorial.py, jupytext percent format) runs end to end at reduced size."""

from __future__ import annotations

import runpy
from pathlib import Path

TUTORIAL = Path(__file__).resolve().parents[1] / "docs" / "tutorial.py"


def test_tutorial_runs(tmp_path, monkeypatch):
    monkeypatch.setenv("RESURGENCE_TUTORIAL_RUNS", "6")
    monkeypatch.setenv("RESURGENCE_TUTORIAL_WEEKS", "40")
    monkeypatch.setenv("RESURGENCE_TUTORIAL_OUT", str(tmp_path / "out"))
    monkeypatch.setenv("MPLBACKEND", "Agg")
    ns = runpy.run_path(str(TUTORIAL), run_name="__main__")
    assert len(ns["table"]) == 4 and "share of paired runs with B > A" in ns["table"].columns
    assert len(ns["per_region"]) == 18
    assert (tmp_path / "out" / "fan.png").stat().st_size > 5_000
    assert (tmp_path / "out" / "map.png").stat().st_size > 5_000
    assert (tmp_path / "out" / "bundle" / "manifest.json").is_file()
    text = TUTORIAL.read_text()
    assert text.count("# %%") >= 10  # a percent-format notebook, cells marked
