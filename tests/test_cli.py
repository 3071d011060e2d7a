"""The ``resurgence`` command line: scenarios, model, run, compare, and how it fails."""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

import duckdb
import pytest
from typer.testing import CliRunner

from resurgence.cli.app import app
from resurgence.model.sim import PLAN, all_params
from resurgence.results.bundle import Bundle
from resurgence.results.outcomes import OUTCOMES
from resurgence.scenario.schema import shipped_names

CASE_2020 = ["announced-2500", "enablers-over-horizon", "escalation", "full-withdrawal",
             "iraq-2020", "no-mediation", "pandemic-protests-worse", "stay-3000"]


@pytest.fixture(scope="module")
def cli():
    runner = CliRunner()

    def invoke(*args: str):
        return runner.invoke(app, [str(a) for a in args])

    return invoke


def _cli_command() -> list[str]:
    exe = Path(sys.executable).with_name("resurgence")
    if exe.exists() or shutil.which("resurgence"):
        return [str(exe) if exe.exists() else "resurgence"]
    return [sys.executable, "-c", "from resurgence.cli.app import app; app()"]


def _rows(text: str, ncols: int) -> list[list[str]]:
    """First cells of a rich table's body rows (continuation rows have an empty first cell)."""
    out = []
    for line in text.splitlines():
        if line.startswith("│"):
            cells = [c.strip() for c in line.strip("│").split("│")]
            if cells[0]:
                out.append(cells[:ncols])
    return out


def test_version(cli) -> None:
    r = cli("version")
    assert r.exit_code == 0
    assert re.match(r"resurgence \d+\.\d+\.\d+ \(defaults [\w.]+\)", r.stdout)


def test_scenarios_list(cli) -> None:
    r = cli("scenarios", "list")
    assert r.exit_code == 0, r.output
    rows = _rows(r.stdout, 2)
    names = [name for name, _ in rows]
    assert names == shipped_names()  # every scenario file, in order
    assert set(CASE_2020) <= set(names)
    bases = dict(rows)
    assert bases["iraq-2020"] == ""
    assert bases["stay-3000"] == "iraq-2020" and bases["full-withdrawal"] == "announced-2500"


def test_scenarios_show(cli) -> None:
    r = cli("scenarios", "show", "announced-2500")
    assert r.exit_code == 0, r.output
    assert "announced-2500: Announced cut to 2,500" in r.stdout
    assert "base: iraq-2020" in r.stdout
    assert "2021-01-15: 2500" in r.stdout  # the cut
    assert "2020-09-30: 3000" in r.stdout  # history from the base
    assert "shock 2020-01-03 strike" in r.stdout
    assert "policy: responsive=False" in r.stdout
    j = cli("scenarios", "show", "announced-2500", "--json")
    assert j.exit_code == 0
    sc = json.loads(j.stdout)
    assert sc["schedules"]["troops"][-2:] == [["2020-11-17", 3000.0], ["2021-01-15", 2500.0]]
    assert sc["schedules"]["troops"][0] == ["2018-01-01", 5200.0]


def test_scenarios_show_unknown_is_exit_2(cli) -> None:
    r = cli("scenarios", "show", "stay-4000")
    assert r.exit_code == 2
    assert "unknown scenario 'stay-4000'" in r.stderr
    assert r.stdout == ""


def test_model_plan_lists_every_module_in_order(cli) -> None:
    r = cli("model", "plan")
    assert r.exit_code == 0, r.output
    rows = _rows(r.stdout, 2)
    assert rows == [[str(i), m.name] for i, m in enumerate(PLAN, 1)]
    assert [m for _, m in rows] == ["coalition", "host", "militia", "insurgency", "territory",
                                    "grievance", "politics"]
    assert f"{len(PLAN)} modules, {len(all_params())} parameters" in r.stdout


def test_model_params_lists_parameters(cli) -> None:
    r = cli("model", "params")
    assert r.exit_code == 0, r.output
    rows = _rows(r.stdout, 3)
    params = all_params()
    assert [row[0] for row in rows] == [p.name for p in params]
    for (name, module, default), p in zip(rows, params, strict=True):
        assert module == p.module and default == f"{p.default:g}", name
    host = cli("model", "params", "--module", "host")
    names = [row[0] for row in _rows(host.stdout, 1)]
    assert names == [p.name for p in params if p.module == "host"] and "be_floor" in names


def test_model_outcomes(cli) -> None:
    r = cli("model", "outcomes")
    assert r.exit_code == 0
    assert [row[0] for row in _rows(r.stdout, 1)] == [s.name for s in OUTCOMES]


def test_run_writes_a_bundle_duckdb_can_query(cli, tmp_path, theatre) -> None:
    out = tmp_path / "bundle"
    r = cli("run", "stay-3000", "--runs", 20, "--weeks", 20, "--seed", 5, "--out", out,
            "--chunk-size", 8)
    assert r.exit_code == 0, r.output
    assert "stay-3000: 20 runs, seed 5, 20 weeks from 2020-12-01" in r.stdout
    assert "is_attacks_y1" in r.stdout and "results bundle:" in r.stdout
    b = Bundle.open(out, verify=True)
    assert b.scenarios == ["stay-3000"]
    assert b.manifest["seed"] == 5 and b.manifest["runs"] == 20 and b.manifest["weeks"] == 20
    rows_expected = 20 * 20 * (theatre.n_regions + 1)
    assert b.query("SELECT count(*) AS n FROM series")["n"][0] == rows_expected
    con = duckdb.connect()
    try:
        n, runs, weeks = con.execute(
            f"SELECT count(*), count(DISTINCT run), max(week) + 1 "
            f"FROM read_parquet('{out}/series/*.parquet')").fetchone()
        troops = con.execute(
            f"SELECT min(us_troops), max(us_troops) FROM read_parquet('{out}/series/*.parquet') "
            "WHERE region = 'IQ'").fetchone()
        nat = con.execute(
            f"SELECT sum(is_attacks) FROM read_parquet('{out}/series/*.parquet') WHERE region = 'IQ'"
        ).fetchone()[0]
        reg = con.execute(
            f"SELECT sum(is_attacks) FROM read_parquet('{out}/series/*.parquet') WHERE region <> 'IQ'"
        ).fetchone()[0]
    finally:
        con.close()
    assert (n, runs, weeks) == (rows_expected, 20, 20)
    assert troops == (3000.0, 3000.0)
    assert nat == pytest.approx(reg) and nat > 20 * 20 * 25  # > 25 IS attacks a week
    q = b.quantiles("is_attacks", region="IQ")
    assert len(q) == 20 and (q["n"] == 20).all()


def test_run_without_out_is_reducers_only_and_prints_the_same_outcomes(cli, tmp_path) -> None:
    args = ("run", "stay-3000", "--runs", 12, "--weeks", 12, "--seed", 5, "--posterior", "none",
            "--chunk-size", 5)
    with_bundle = cli(*args, "--out", tmp_path / "b")
    alone = cli(*args)
    assert alone.exit_code == 0, alone.output
    assert "no results bundle (reducers only" in alone.stdout
    assert not any(tmp_path.glob("*.tmp-*")) and sorted(p.name for p in tmp_path.iterdir()) == ["b"]

    def table(out: str) -> list[str]:
        return [ln for ln in out.splitlines() if ln.startswith("│")]
    assert table(alone.stdout) == table(with_bundle.stdout) and len(table(alone.stdout)) > 10
    r = cli(*args, "--resume")
    assert r.exit_code == 2 and "'--resume' needs '--out'" in r.output


def test_bad_scenario_file_exits_2_with_one_line(tmp_path) -> None:
    bad = tmp_path / "bad.toml"
    bad.write_text('name = "bad"\nbase = "stay-3000"\n[schedules]\n'
                   "troops = [[2021-01-01, 3000], [2021-02-01, -5]]\n", encoding="utf-8")
    out = tmp_path / "out"
    env = {**os.environ, "COLUMNS": "80", "NO_COLOR": "1"}
    p = subprocess.run([*_cli_command(), "run", str(bad), "--runs", "5", "--out", str(out)],
                       capture_output=True, text=True, env=env, cwd=tmp_path, timeout=120)
    assert p.returncode == 2, p.stderr
    lines = p.stderr.strip().splitlines()
    assert len(lines) == 1, p.stderr
    assert "field 'schedules.troops'" in lines[0] and "-5" in lines[0] and str(bad) in lines[0]
    assert "Traceback" not in p.stderr and p.stdout == ""
    assert not out.exists()
    assert sorted(x.name for x in tmp_path.iterdir()) == ["bad.toml"]


def test_bad_scenario_file_in_process(cli, tmp_path) -> None:
    bad = tmp_path / "bad.toml"
    bad.write_text('name = "bad"\nweeks = 5\ncolour = "red"\n', encoding="utf-8")
    for args in (("run", bad, "--out", tmp_path / "o"), ("compare", "stay-3000", bad),
                 ("scenarios", "show", bad)):
        r = cli(*args)
        assert r.exit_code == 2, (args, r.output)
        assert r.stderr.count("\n") == 1 and "field 'colour'" in r.stderr
        assert isinstance(r.exception, SystemExit)
    assert not (tmp_path / "o").exists()


def test_out_must_not_exist_without_overwrite(cli, tmp_path) -> None:
    out = tmp_path / "exists"
    out.mkdir()
    (out / "keep.txt").write_text("mine")
    r = cli("run", "stay-3000", "--runs", 3, "--weeks", 3, "--out", out)
    assert r.exit_code == 2
    assert "already exists" in r.stderr and "Traceback" not in r.output
    assert (out / "keep.txt").read_text() == "mine"  # untouched
    r = cli("run", "stay-3000", "--runs", 3, "--weeks", 3, "--out", out, "--overwrite")
    assert r.exit_code == 2  # --overwrite replaces only a results bundle
    assert "not a results bundle" in r.stderr and len(r.stderr.strip().splitlines()) == 1
    assert (out / "keep.txt").read_text() == "mine"
    bundle = tmp_path / "bundle"
    assert cli("run", "stay-3000", "--runs", 2, "--weeks", 3, "--out", bundle).exit_code == 0
    r = cli("run", "stay-3000", "--runs", 3, "--weeks", 3, "--out", bundle, "--overwrite")
    assert r.exit_code == 0, r.output
    assert Bundle.open(bundle).manifest["runs"] == 3
    assert sorted(p.name for p in tmp_path.iterdir()) == ["bundle", "exists"]


def test_bad_options_exit_2(cli, tmp_path) -> None:
    r = cli("run", "stay-3000", "--runs", 0, "--out", tmp_path / "o")
    assert r.exit_code == 2 and "'runs' = 0" in r.stderr
    r = cli("run", "stay-3000", "--weeks", 5000, "--out", tmp_path / "o")
    assert r.exit_code == 2 and "'weeks' = 5000" in r.stderr
    assert not (tmp_path / "o").exists()


def test_compare_json(cli) -> None:
    r = cli("compare", "stay-3000", "announced-2500", "--runs", 30, "--weeks", 52, "--json")
    assert r.exit_code == 0, r.output
    d = json.loads(r.stdout)
    assert (d["a"], d["b"], d["runs"], d["seed"]) == ("stay-3000", "announced-2500", 30, 1)
    by = {c["summary"]: c for c in d["contrasts"]}
    assert list(by) == [s.name for s in OUTCOMES]
    att = by["is_attacks_y1"]
    assert att["kind"] == "quantiles"
    assert att["a_lo"] <= att["a_mid"] <= att["a_hi"]
    assert att["diff_mid"] > 0 and att["p_increase"] > 0.8  # fewer troops, more attacks
    # paired: the spread of the difference is far narrower than that of either scenario
    assert att["diff_hi"] - att["diff_lo"] < 0.5 * (att["a_hi"] - att["a_lo"])
    assert by["exit_ordered"]["kind"] == "probability"
    assert by["bases_open_end"]["diff_mid"] == 0


def test_compare_table(cli) -> None:
    r = cli("compare", "stay-3000", "full-withdrawal", "--runs", 12, "--weeks", 40)
    assert r.exit_code == 0, r.output
    assert "full-withdrawal vs stay-3000: 12 paired runs" in r.stdout
    assert "us_leverage_end" in r.stdout


def test_error_during_run_is_one_line_on_stderr(cli, tmp_path) -> None:
    bad = tmp_path / "param.toml"
    bad.write_text('name = "param"\nbase = "stay-3000"\n[params]\nno_such_param = 1\n')
    r = cli("run", bad, "--runs", 2, "--weeks", 2, "--out", tmp_path / "o")
    assert r.exit_code == 2 and "no_such_param" in r.stderr
    assert r.stderr.count("\n") == 1, r.stderr


def test_a_bug_shows_as_a_bug_not_as_a_user_error(cli, monkeypatch, tmp_path) -> None:
    """A non-user exception exits 70 with a crash report naming the exception and where
    it was raised; a user error of the same command exits 2 with one line."""
    import resurgence.runs.ensemble as ensemble  # the CLI imports it when a command runs

    def boom(*args, **kwargs):
        raise KeyError("internal_key")

    monkeypatch.setattr(ensemble, "run_ensemble", boom)
    r = cli("run", "stay-3000", "--runs", 2, "--weeks", 2, "--out", tmp_path / "o")
    assert r.exit_code == 70, r.output
    assert "internal error (a bug" in r.stderr and "KeyError" in r.stderr
    assert "test_cli.py" in r.stderr and "resurgence-crash-" in r.stderr


def test_library_errors_name_fields_not_flags() -> None:
    """Below the faces, messages name the library's fields (the web reuses them)."""
    root = Path(__file__).resolve().parents[1] / "src" / "resurgence"
    offenders = [str(p.relative_to(root)) for p in root.rglob("*.py")
                 if p.parts[-2] not in ("cli", "web") and "option '--" in p.read_text()]
    assert offenders == []
