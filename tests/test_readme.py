"""The README's Python example gives the CLI's numbers (at reduced runs)."""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest
from typer.testing import CliRunner

import resurgence
from resurgence.cli.app import app

README = Path(__file__).resolve().parents[1] / "README.md"


def _example() -> str:
    text = README.read_text()
    blocks = re.findall(r"```python\n(.*?)```", text, re.S)
    assert blocks, "the README has a Python example"
    return blocks[0]


def test_readme_python_example_matches_the_cli(tmp_path, monkeypatch):
    code = _example()
    m = re.search(r'resurgence\.compare\("([^"]+)", "([^"]+)", runs=(\d+), seed=(\d+)\)', code)
    assert m, "the example calls resurgence.compare(a, b, runs=..., seed=...)"
    a, b, _, seed = m.groups()
    assert f"resurgence compare {a} {b} --runs {m.group(3)} --seed {seed}" in code
    # run the example itself at reduced size, in a scratch directory
    small = code.replace(f"runs={m.group(3)}", "runs=8")
    monkeypatch.chdir(tmp_path)
    printed: list[tuple] = []
    exec(compile(small, "README.md", "exec"), {"print": lambda *x: printed.append(x)})  # noqa: S102
    r = CliRunner().invoke(app, ["compare", a, b, "--runs", "8", "--seed", seed, "--json"])
    assert r.exit_code == 0, r.output
    cli = {c["summary"]: (c["diff_lo"], c["diff_mid"], c["diff_hi"])
           for c in json.loads(r.output)["contrasts"]}
    assert len(printed) == len(cli)
    for name, diff in printed:
        assert diff == pytest.approx(cli[name], rel=1e-9, abs=1e-12), name
    assert (tmp_path / "runs" / "x").is_dir()


def test_python_api_defaults_to_the_shipped_posterior():
    shipped = resurgence.compare("announced-2500", "full-withdrawal", runs=4, seed=2, weeks=30)
    none = resurgence.compare("announced-2500", "full-withdrawal", runs=4, seed=2, weeks=30,
                              posterior="none")
    assert [c.diff for c in shipped] != [c.diff for c in none]
