"""Real kill -9 of `resurgence run`, then `--resume`: the bundle is the uninterrupted one's."""

from __future__ import annotations

import contextlib
import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest

from resurgence.core.atomic import sha256_file
from resurgence.results.bundle import Bundle

ARGS = ["run", "announced-2500", "--runs", "240", "--weeks", "30", "--chunk-size", "20",
        "--seed", "5", "--metrics", "is_attacks,iran_influence,us_troops,is_holds_ground"]


def _cli(*args: str | Path) -> list[str]:
    return [sys.executable, "-c", "from resurgence.cli.app import main; main()", *map(str, args)]


def _env() -> dict[str, str]:
    return {**os.environ, "COLUMNS": "200", "NO_COLOR": "1"}


def _committed(out: Path) -> int:
    n = 0
    for tmp in out.parent.glob(f"{out.name}.tmp-*"):
        with contextlib.suppress(OSError):
            n = max(n, (tmp / "journal.jsonl").read_bytes().count(b'"file"'))
    return n


def _kill_after(out: Path, chunks: int) -> int:
    p = subprocess.Popen(_cli(*ARGS, "--out", out), env=_env(), stdout=subprocess.DEVNULL,
                         stderr=subprocess.DEVNULL)
    t0 = time.monotonic()
    while _committed(out) < chunks and p.poll() is None and time.monotonic() - t0 < 120:
        time.sleep(0.002)
    p.send_signal(signal.SIGKILL)
    p.wait()
    return _committed(out)


def _data(path: Path) -> dict[str, str]:
    return {str(p.relative_to(path)): sha256_file(p) for p in sorted(path.rglob("*.parquet"))}


def _stable(m: dict) -> dict:
    return {k: v for k, v in m.items() if k not in ("created", "wall_time_s")}


@pytest.fixture(scope="module")
def reference(tmp_path_factory) -> tuple[Path, str]:
    out = tmp_path_factory.mktemp("ref") / "bundle"
    r = subprocess.run(_cli(*ARGS, "--out", out), env=_env(), capture_output=True, text=True)
    assert r.returncode == 0, r.stderr
    return out, r.stdout


@pytest.mark.parametrize("seed", [1])
def test_kill_9_then_resume_is_bit_identical(tmp_path: Path, reference: tuple[Path, str],
                                             seed: int) -> None:
    ref, ref_stdout = reference
    chunks = int(np.random.default_rng(seed).integers(1, 10))  # of 24
    out = tmp_path / "bundle"
    done = _kill_after(out, chunks)
    assert not out.exists() and done >= 1  # killed mid-run: nothing looks complete
    r = subprocess.run(_cli(*ARGS, "--out", out, "--resume"), env=_env(), capture_output=True,
                       text=True)
    assert r.returncode == 0, r.stderr
    assert _data(out) == _data(ref)
    assert _stable(Bundle.open(out, verify=True).manifest) == _stable(Bundle.open(ref).manifest)
    assert [p.name for p in tmp_path.iterdir()] == ["bundle"]  # no debris
    # the printed summaries include the chunks that were not simulated again
    assert r.stdout.split("results bundle")[0] == ref_stdout.split("results bundle")[0]


def test_a_new_run_removes_a_dead_runs_debris(tmp_path: Path) -> None:
    out = tmp_path / "bundle"
    _kill_after(out, 1)
    assert any(p.name.startswith("bundle.tmp-") for p in tmp_path.iterdir())
    r = subprocess.run(_cli(*ARGS[:2], "--runs", "20", "--weeks", "4", "--out", out),
                       env=_env(), capture_output=True, text=True)
    assert r.returncode == 0, r.stderr
    assert [p.name for p in tmp_path.iterdir()] == ["bundle"]
    assert json.loads((out / "manifest.json").read_text())["runs"] == 20
