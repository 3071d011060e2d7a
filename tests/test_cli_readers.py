"""The CLI as readers see it: --version, help text without '<bool>' and with its brackets,
one number format, probability differences in percentage points, --json listings."""

from __future__ import annotations

import json

from typer.testing import CliRunner

from resurgence.cli.app import app
from resurgence.core.version import __version__


def _run(*args: str):
    r = CliRunner().invoke(app, list(args), env={"COLUMNS": "200"})
    assert r.exit_code == 0, r.output
    return r.output


def test_version():
    assert _run("--version").startswith(f"resurgence {__version__}")


def test_help_shows_brackets_and_no_bool_placeholder():
    out = _run("run", "--help")
    assert "resurgence[ray]" in out
    assert "<bool>" not in out and "--overwrite" in out


def test_scenarios_list_json():
    rows = json.loads(_run("scenarios", "list", "--json"))
    names = {r["name"] for r in rows}
    assert {"announced-2500", "full-withdrawal"} <= names
    assert all(r["title"] and r["weeks"] > 0 for r in rows)


def test_compare_labels_shares_and_percentage_points():
    out = _run("compare", "announced-2500", "full-withdrawal", "--runs", "8", "--weeks", "60",
               "--posterior", "none")
    assert "P(B>A)" not in out and "runs with B>A" in out
    line = next(x for x in out.splitlines() if "holds_ground_12m" in x)
    assert " pp" in line
    assert "e+0" not in out  # one number format: 2,500, never 2.5e+03
