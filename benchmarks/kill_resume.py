"""Kill -9 a real `resurgence run` at random points, `--resume` it, compare with an
uninterrupted run (issue #12): identical Parquet files (sha256), identical manifest but for
``created``/``wall_time_s``, nothing left beside the bundle.

    nice -n 10 .venv/bin/python benchmarks/kill_resume.py --runs 3000 --kills 20 --json k.json

Each trial starts the command, sends SIGKILL after a uniformly random delay in (0, T), where
T is the uninterrupted run's wall time, then runs the same command with ``--resume`` to the
end and compares. The kill times come from ``--seed``.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

from resurgence.core.atomic import sha256_file


def _cmd(a: argparse.Namespace, out: Path, *more: str) -> list[str]:
    return [sys.executable, "-c", "from resurgence.cli.app import main; main()", "run", a.scenario,
            "--runs", str(a.runs), "--weeks", str(a.weeks), "--seed", "1", "--posterior",
            a.posterior, "--out", str(out), *more]


def _digest(out: Path) -> tuple[dict[str, str], dict]:
    files = {str(p.relative_to(out)): sha256_file(p) for p in sorted(out.rglob("*.parquet"))}
    man = json.loads((out / "manifest.json").read_text())
    return files, {k: v for k, v in man.items() if k not in ("created", "wall_time_s")}


def _committed(out: Path) -> int:
    n = 0
    for d in out.parent.glob(f"{out.name}.tmp-*"):
        with contextlib.suppress(OSError):
            n = max(n, (d / "journal.jsonl").read_bytes().count(b'"file"'))
    return n


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--runs", type=int, default=3000)
    ap.add_argument("--weeks", type=int, default=104)
    ap.add_argument("--scenario", default="announced-2500")
    ap.add_argument("--posterior", default="none")
    ap.add_argument("--kills", type=int, default=20)
    ap.add_argument("--seed", type=int, default=1)
    ap.add_argument("--json", type=Path)
    a = ap.parse_args(argv)
    env = {**os.environ, "NO_COLOR": "1"}
    load0 = os.getloadavg()
    root = Path(tempfile.mkdtemp(prefix="bench-kill-"))
    t0 = time.perf_counter()
    subprocess.run(_cmd(a, root / "ref"), env=env, check=True, capture_output=True)
    t_ref = time.perf_counter() - t0
    ref = _digest(root / "ref")
    rng = np.random.default_rng(a.seed)
    trials = []
    for k in range(a.kills):
        d = root / f"t{k}"
        d.mkdir()
        out = d / "bundle"
        delay = float(rng.uniform(0, t_ref))
        p = subprocess.Popen(_cmd(a, out), env=env, stdout=subprocess.DEVNULL,
                             stderr=subprocess.DEVNULL)
        time.sleep(delay)
        finished = p.poll() is not None
        p.send_signal(signal.SIGKILL)
        p.wait()
        chunks = _committed(out)
        t1 = time.perf_counter()
        r = subprocess.run(_cmd(a, out, "--resume"), env=env, capture_output=True, text=True)
        if finished or (out.exists() and r.returncode == 2):  # done before the kill
            same = _digest(out) == ref
        else:
            same = r.returncode == 0 and _digest(out) == ref
        debris = sorted(p.name for p in d.iterdir() if p.name != "bundle")
        trials.append({"kill_after_s": round(delay, 2), "finished_before_kill": finished,
                       "chunks_committed_at_kill": chunks, "resume_exit": r.returncode,
                       "resume_s": round(time.perf_counter() - t1, 2), "bit_identical": same,
                       "debris": debris})
        print(trials[-1], file=sys.stderr)
        shutil.rmtree(d)
    shutil.rmtree(root)
    res = {"command": " ".join(["resurgence", *_cmd(a, Path("DIR"))[3:]]),
           "uninterrupted_s": round(t_ref, 2), "kills": a.kills,
           "bit_identical": sum(t["bit_identical"] for t in trials),
           "with_debris": sum(bool(t["debris"]) for t in trials), "trials": trials,
           "loadavg_start": [round(x, 2) for x in load0],
           "loadavg_end": [round(x, 2) for x in os.getloadavg()]}
    print(json.dumps({k: v for k, v in res.items() if k != "trials"}, indent=1))
    if a.json:
        a.json.write_text(json.dumps(res, indent=1) + "\n")
    return 0 if res["bit_identical"] == a.kills and not res["with_debris"] else 1


if __name__ == "__main__":
    raise SystemExit(main())
