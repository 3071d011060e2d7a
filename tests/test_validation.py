"""The one validation layer for scenario content (issue #12): parameter support, finite
numbers, the date window, the spin-up bound, TOML limits before parsing, overlay confinement,
cycles and chain depth; every refusal one line naming the file or field."""

from __future__ import annotations

import datetime as dt
import json
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from resurgence.core import jitcache
from resurgence.core.errors import ScenarioError
from resurgence.model.params import check_overrides
from resurgence.model.sim import all_params, default_params
from resurgence.runs.ensemble import run_ensemble, scenario_params
from resurgence.scenario import toml_limits
from resurgence.scenario.schema import (
    MAX_BASE_CHAIN,
    MAX_SPINUP_WEEKS,
    check_spinup,
    load_scenario,
    scenario_from_dict,
)

SPECS = {p.name: p for p in all_params()}


def write(folder: Path, name: str, text: str) -> Path:
    p = folder / name
    p.parent.mkdir(parents=True, exist_ok=True)
    p.write_text(text, encoding="utf-8")
    return p


def one_line(exc: pytest.ExceptionInfo) -> str:
    msg = str(exc.value)
    assert "\n" not in msg and "Traceback" not in msg, msg
    return msg


# --- parameters -------------------------------------------------------------------------

def test_every_default_is_inside_its_support() -> None:
    for p in all_params():
        assert p.problem(p.default) is None, p.name


@pytest.mark.parametrize(("name", "value", "expect"), [
    ("attack_rate", float("nan"), "finite"),
    ("attack_rate", float("inf"), "finite"),
    ("attack_rate", 1e308, "expected a value in"),
    ("attack_rate", -0.1, "expected a value in"),
    ("attack_dispersion", 0.0, "divisor"),
    ("militia_dispersion", 0.0, "divisor"),
    ("is_capacity", 0.0, "ceiling"),
    ("is_capacity", -1e-6, "ceiling"),
    ("infra_share", 1.5, "beta prior"),
    ("isr_deterrence", 1.5, "truncated-normal prior"),
    ("move_rate", 2.0, "1/week"),
])
def test_bad_override_is_refused_in_one_line(name, value, expect) -> None:
    with pytest.raises(ScenarioError) as e:
        check_overrides(SPECS, {name: value}, "mine")
    msg = one_line(e)
    assert msg.startswith(f"mine: field 'params.{name}'") and expect in msg, msg


def test_zero_switches_a_mechanism_off_and_is_allowed() -> None:
    assert check_overrides(SPECS, {"closure_hazard_per_attack": 0.0, "attack_rate": 0.0}) == {
        "closure_hazard_per_attack": 0.0, "attack_rate": 0.0}


@pytest.mark.filterwarnings("ignore::RuntimeWarning")  # x / 0 -> inf, then clipped: finite
def test_every_parameter_at_its_bounds_gives_finite_outcomes() -> None:
    """The support is what the model survives: each parameter at its upper bound (and at
    its lower bound where that is not 0) gives finite outcomes."""
    sc = load_scenario("stay-3000").model_copy(update={"weeks": 26, "name": "edge"})
    for p in all_params():
        lo, hi, lo_open, _ = p.support()
        for v in [hi] + ([lo] if not lo_open else [lo + 1e-9 * max(1.0, abs(hi))]):
            res = run_ensemble([sc.model_copy(update={"params": {p.name: v}})], 2, 1)
            for k, x in res.outcomes["edge"].items():
                assert np.all(np.isfinite(np.asarray(x, float))), (p.name, v, k)


def test_scenario_params_uses_the_shared_check(tmp_path) -> None:
    path = write(tmp_path, "nan.toml", 'name = "bad"\n[params]\nis_capacity = 0\n')
    sc = load_scenario(path)
    with pytest.raises(ScenarioError, match="params.is_capacity"):
        scenario_params(sc, default_params(2))
    with pytest.raises(ScenarioError, match="params.is_capacity"):
        run_ensemble([sc], 2, 1, weeks=4, out=tmp_path / "out")
    assert not (tmp_path / "out").exists()


# --- numbers, dates, horizon, spin-up --------------------------------------------------

@pytest.mark.parametrize(("body", "field"), [
    ("[params]\nattack_rate = nan\n", "params.attack_rate"),
    ("[params]\nattack_rate = inf\n", "params.attack_rate"),
    ("[schedules]\ntroops = [[2021-01-01, nan]]\n", "schedules.troops"),
    ("start = 9999-12-01\n", "start"),
    ("start = 1900-01-01\n", "start"),
    ("[[shocks]]\ndate = 2200-01-01\nkind = \"strike\"\n", "shocks.0.date"),
    ("[schedules]\nisr = [[1999-12-31, 1.0]]\n", "schedules.isr"),
    ("weeks = 100000\n", "weeks"),
])
def test_non_finite_numbers_and_dates_out_of_window_are_one_line(tmp_path, body, field) -> None:
    path = write(tmp_path, "x.toml", f'name = "x"\n{body}')
    with pytest.raises(ScenarioError) as e:
        load_scenario(path)
    msg = one_line(e)
    assert msg.startswith(f"{path}:") and f"field '{field}" in msg, msg


def test_spin_up_bound_is_shared() -> None:
    sc = scenario_from_dict({"name": "far", "start": "2060-12-01"})
    with pytest.raises(ScenarioError, match=f"at most {MAX_SPINUP_WEEKS} weeks"):
        check_spinup(sc, dt.date(2018, 1, 1))
    check_spinup(sc, None)
    check_spinup(sc, dt.date(2055, 1, 1))


# --- TOML limits before parsing ----------------------------------------------------------

@pytest.mark.parametrize(("text", "expect"), [
    ("x = " + "[" * 600 + "]" * 600, "nested more than"),
    ("x = " + "{a = " * 100 + "1" + "}" * 100, "nested more than"),
    (".".join(["a"] * 100_000) + " = 1", "dotted key"),
    ("[" + ".".join(["a"] * 40) + "]\nb = 1", "dotted key"),
    ("\n".join(f"k{i} = 1" for i in range(10_001)), "keys"),
])
def test_shapes_that_break_tomllib_are_refused_before_parsing(text, expect) -> None:
    with pytest.raises(ScenarioError) as e:
        toml_limits.loads(text, "src")
    assert expect in one_line(e)


def test_strings_and_comments_do_not_count() -> None:
    text = ('a = "[[[[{{{{ . . . . = = ="\nb = \'\'\'\n' + "[" * 100 + "\n'''\n"
            + "# " + "[" * 100 + "\n" + 'c = """ \\""" ' + "." * 100 + '"""\nd = 1.5\n')
    assert toml_limits.loads(text, "src")["d"] == 1.5


def test_shipped_scenarios_pass_the_limits() -> None:
    from importlib import resources

    for f in (resources.files("resurgence.scenario") / "shipped").iterdir():
        if f.name.endswith(".toml"):
            toml_limits.check_shape(f.read_text(encoding="utf-8"), f.name)


def test_too_large_and_binary_files_name_the_file(tmp_path) -> None:
    big = tmp_path / "big.toml"
    big.write_bytes(b"# " + b"x" * (toml_limits.MAX_BYTES + 10))
    with pytest.raises(ScenarioError) as e:
        load_scenario(big)
    assert one_line(e).startswith(f"{big}:")
    binary = tmp_path / "bin.toml"
    binary.write_bytes(b"name = \xff\xfe\x00\x01")
    with pytest.raises(ScenarioError) as e:
        load_scenario(binary)
    assert one_line(e).startswith(f"{binary}:") and "UTF-8" in str(e.value)


def test_os_errors_carry_the_path(tmp_path) -> None:
    (tmp_path / "dir.toml").mkdir()
    with pytest.raises(ScenarioError, match="a directory"):
        load_scenario(tmp_path / "dir.toml")
    long = tmp_path / ("a" * 300 + ".toml")
    with pytest.raises(OSError) as e:
        load_scenario(long)
    assert e.value.filename and str(long.name[:100]) in str(e.value.filename)


# --- overlays ----------------------------------------------------------------------------

def test_cycle_through_any_path_form_names_the_chain(tmp_path) -> None:
    write(tmp_path, "dir/self.toml", 'name = "self"\nbase = "../dir/self.toml"\n')
    with pytest.raises(ScenarioError) as e:
        load_scenario(tmp_path / "dir" / "self.toml")
    msg = one_line(e)
    assert "cycle" in msg and "self.toml -> " in msg
    write(tmp_path, "a.toml", 'name = "a"\nbase = "./sub/../b.toml"\n')
    write(tmp_path, "b.toml", 'name = "b"\nbase = "a.toml"\n')
    (tmp_path / "sub").mkdir()
    with pytest.raises(ScenarioError, match="cycle"):
        load_scenario(tmp_path / "a.toml")
    os.symlink(tmp_path / "a.toml", tmp_path / "link.toml")
    write(tmp_path, "c.toml", 'name = "c"\nbase = "link.toml"\n')
    with pytest.raises(ScenarioError, match="cycle"):
        load_scenario(tmp_path / "c.toml")


def test_long_chain_is_refused_in_one_line(tmp_path) -> None:
    n = 800
    for i in range(n):
        write(tmp_path, f"c{i}.toml", f'name = "c{i}"\n' + (f'base = "c{i + 1}.toml"\n'
                                                            if i < n - 1 else ""))
    with pytest.raises(ScenarioError) as e:
        load_scenario(tmp_path / "c0.toml")
    msg = one_line(e)
    assert f"more than {MAX_BASE_CHAIN}" in msg and "c0.toml -> " in msg and len(msg) < 1000
    # a chain at the bound loads and merges
    assert load_scenario(tmp_path / f"c{n - MAX_BASE_CHAIN}.toml").name == f"c{n - MAX_BASE_CHAIN}"


def test_base_paths_are_confined_to_the_scenario_directory(tmp_path) -> None:
    write(tmp_path, "outside.toml", 'name = "outside"\n')
    child = write(tmp_path, "inner/child.toml", 'name = "child"\nbase = "../outside.toml"\n')
    with pytest.raises(ScenarioError) as e:
        load_scenario(child)
    assert "outside the scenario's directory" in one_line(e)
    absolute = write(tmp_path, "inner/abs.toml", f'name = "abs"\nbase = "{tmp_path}/outside.toml"\n')
    with pytest.raises(ScenarioError, match="outside the scenario's directory"):
        load_scenario(absolute)
    ok = write(tmp_path, "inner/ok.toml", 'name = "ok"\nbase = "sub/b.toml"\n')
    write(tmp_path, "inner/sub/b.toml", 'name = "b"\nbase = "stay-3000"\nweeks = 30\n')
    assert load_scenario(ok).weeks == 30


def test_inline_scenarios_name_no_files() -> None:
    with pytest.raises(ScenarioError, match="field 'base'"):
        scenario_from_dict({"name": "x", "base": "/etc/passwd.toml"})


# --- numba cache -----------------------------------------------------------------------

def test_numba_cache_falls_back_when_nothing_is_writable(tmp_path) -> None:
    env = {"HOME": "/proc/self/no-home"}
    chosen = jitcache.configure(env, Path("/proc/self"))
    assert chosen is not None and env["NUMBA_CACHE_DIR"] == chosen
    assert os.access(chosen, os.W_OK)
    env = {"HOME": "/proc/self/no-home", "XDG_CACHE_HOME": str(tmp_path)}
    assert jitcache.configure(env, Path("/proc/self")) == str(tmp_path / "resurgence" / "numba")
    env = {"NUMBA_CACHE_DIR": "/mine"}
    assert jitcache.configure(env, Path("/proc/self")) is None and env["NUMBA_CACHE_DIR"] == "/mine"


def test_read_only_home_does_not_crash_the_cli(tmp_path) -> None:
    home = tmp_path / "home"
    home.mkdir()
    home.chmod(0o555)
    env = {k: v for k, v in os.environ.items() if k not in ("NUMBA_CACHE_DIR", "XDG_CACHE_HOME")}
    for h in (str(home), "/proc/self/no-home"):
        env["HOME"] = h
        r = subprocess.run([str(Path(sys.executable).parent / "resurgence"), "--help"], env=env,
                           capture_output=True, text=True, timeout=120, cwd=tmp_path)
        assert r.returncode == 0, r.stderr
        code = ("import resurgence.model.mechanisms.insurgency, resurgence.core.samplers as s;"
                "import numpy as np; print(s.USE_NUMBA)")
        r = subprocess.run([sys.executable, "-c", code], env=env, capture_output=True, text=True,
                           timeout=120, cwd=tmp_path)
        assert r.returncode == 0, r.stderr


# --- OS errors on CLI paths ---------------------------------------------------------------

def _cli(args: list[str]):
    from typer.testing import CliRunner

    from resurgence.cli.app import app

    return CliRunner().invoke(app, args)


def _one_line_exit_2(res, names: str) -> None:
    assert res.exit_code == 2, res.output
    lines = res.stderr.strip().splitlines()
    assert len(lines) == 1 and "Traceback" not in res.output and names in lines[0], res.stderr


@pytest.mark.parametrize("scenario", ["missing.toml", "dir.toml", "a" * 300 + ".toml",
                                      "bin.toml", "deep.toml"])
def test_cli_bad_scenario_paths_exit_2_naming_the_path(tmp_path, scenario) -> None:
    (tmp_path / "dir.toml").mkdir()
    (tmp_path / "bin.toml").write_bytes(b"\x89PNG\r\n\x1a\n\x00\xff")
    (tmp_path / "deep.toml").write_text("x = " + "[" * 600 + "]" * 600, encoding="utf-8")
    path = tmp_path / scenario
    res = _cli(["run", str(path), "--out", str(tmp_path / "out"), "--runs", "2"])
    _one_line_exit_2(res, str(path)[:120])
    assert not (tmp_path / "out").exists()


@pytest.mark.parametrize("target", ["/sys/resurgence-out", "/proc/self/resurgence-out"])
def test_cli_unwritable_targets_exit_2_naming_the_target(target) -> None:
    res = _cli(["run", "stay-3000", "--out", target, "--runs", "2", "--weeks", "4",
                "--posterior", "none"])
    _one_line_exit_2(res, f"{target}:")


def test_cli_brief_to_an_unwritable_target_exits_2_naming_it() -> None:
    res = _cli(["brief", "--out", "/sys/resurgence-brief", "--runs", "10", "--posterior", "none"])
    _one_line_exit_2(res, "/sys/resurgence-brief:")


def test_cli_far_start_is_one_line_not_a_spin_up(tmp_path) -> None:
    path = write(tmp_path, "far.toml", 'name = "far"\nstart = 9999-12-01\n')
    res = _cli(["run", str(path), "--out", str(tmp_path / "out"), "--runs", "2"])
    _one_line_exit_2(res, "field 'start'")
    path = write(tmp_path, "late.toml", 'name = "late"\nstart = 2060-12-01\nweeks = 4\n')
    res = _cli(["run", str(path), "--out", str(tmp_path / "out"), "--runs", "2"])
    _one_line_exit_2(res, "at most 520 weeks")
    assert not (tmp_path / "out").exists()


def test_compare_pairs_names_as_the_web_does(tmp_path) -> None:
    same = write(tmp_path, "same.toml", 'name = "stay-3000"\nbase = "full-withdrawal"\n')
    res = _cli(["compare", "stay-3000", str(same), "--runs", "2", "--weeks", "4",
                "--posterior", "none"])
    _one_line_exit_2(res, "share the name 'stay-3000'")
    res = _cli(["compare", "stay-3000", "stay-3000", "--runs", "2", "--weeks", "4",
                "--posterior", "none", "--json"])
    assert res.exit_code == 0, res.output
    assert json.loads(res.stdout)["b"] == "stay-3000-b"
