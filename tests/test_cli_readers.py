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


def test_calibrate_takes_imported_observations(tmp_path):
    import datetime as dt

    import pytest

    from resurgence.calibration.cases import get_case
    from resurgence.calibration.inference import history_setup
    from resurgence.calibration.observations import load_observations, write_observations
    from resurgence.cli.fit import case_with_observations
    from resurgence.core.errors import ArgumentError

    own = load_observations("iraq-2020")
    new = own[(own["source"] == "ctc")].head(1).copy()
    new["period_start"], new["period_end"] = pd_ts("2020-10-01"), pd_ts("2020-10-31")
    new["granularity"], new["value"], new["note"] = "month", 90.0, "imported for the test"
    if "published" in new:  # published after its period and before the fit's cut-off
        new["published"] = pd_ts("2020-11-15")
    good = tmp_path / "new.csv"
    write_observations(new, good)
    case = case_with_observations("iraq-2020", good)
    assert len(case.extra_observations) == 1 + len(get_case("iraq-2020").extra_observations)
    _, design = history_setup(case, dt.date(2020, 11, 30))
    _, plain = history_setup(get_case("iraq-2020"), dt.date(2020, 11, 30))
    assert len(design.rows) == len(plain.rows) + 1  # the imported row is fitted too
    # a row the case already holds would be counted twice: refused, naming the file
    dup = tmp_path / "dup.csv"
    write_observations(own[own["source"] == "ctc"].head(1), dup)
    with pytest.raises(ArgumentError, match="counted twice"):
        case_with_observations("iraq-2020", dup)
    # a series the observation model does not know
    odd = tmp_path / "odd.csv"
    write_observations(own[own["source"] == "constellis"], odd)
    with pytest.raises(ArgumentError, match="constellis/incidents_excl_military_action"):
        case_with_observations("iraq-2020", odd)
    r = CliRunner().invoke(app, ["calibrate", "--observations", str(odd), "--out",
                                 str(tmp_path / "c")])
    assert r.exit_code == 2 and "observation model knows" in r.output


def pd_ts(s: str):
    import pandas as pd

    return pd.Timestamp(s)
