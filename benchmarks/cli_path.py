"""The path users run (issue #10): a whole `resurgence run` per phase, against its RNG floor.

Phases of ``resurgence run SCENARIO --runs N --weeks W --seed 1 --workers 1 --out DIR``,
invoked in this process (the Typer app, as the console script does), each timed by wrapping
the function that does it: import (the CLI and the modules the command imports), simulate
(``Sim.begin/advance/outputs``), reduce (the per-run summaries), write (encoding and writing
the chunk files, on the writer thread, overlapping simulation; and the time the main thread
waited for it), quantiles, and the rest (prepare: scenario, posterior, drivers, parameters,
manifest). Then, in the same process, the RNG floor of the draws that run makes: (a) its
uniform blocks exactly as the engine draws them (same runs, spin-up weeks included) and (b)
NumPy's native count samplers for the same number of count variates at the model's means.
Optionally: reducers-only ensembles at growing run counts (fresh subprocesses: time and
peak RSS) and ``resurgence brief`` with defaults. Prints JSON; ``--json`` writes it.

    nice -n 10 .venv/bin/python benchmarks/cli_path.py --runs 5000 --weeks 104 \\
        --scale 10000,100000 --brief --json bench-cli.json
"""

from __future__ import annotations

import argparse
import contextlib
import functools
import json
import shutil
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
T_START = time.perf_counter()


class Phases:
    """Wall time and CPU time of the calling thread (``time.thread_time``) per phase: on a
    shared machine a thread's wall time includes the time it waited for a core."""

    def __init__(self) -> None:
        self.s: dict[str, float] = {}
        self.cpu: dict[str, float] = {}
        self.lock = threading.Lock()

    def wrap(self, owner, name: str, phase: str) -> None:
        fn = getattr(owner, name)

        @functools.wraps(fn)
        def timed(*a, **k):
            t0, c0 = time.perf_counter(), time.thread_time()
            try:
                return fn(*a, **k)
            finally:
                with self.lock:
                    self.s[phase] = self.s.get(phase, 0.0) + time.perf_counter() - t0
                    self.cpu[phase] = self.cpu.get(phase, 0.0) + time.thread_time() - c0
        setattr(owner, name, timed)


def cli_run(a: argparse.Namespace) -> dict:
    t0 = time.perf_counter()
    import resurgence.analysis.contrasts  # noqa: F401  - what `run` imports when it runs
    import resurgence.calibration.posterior  # noqa: F401
    import resurgence.cli.app as cli
    import resurgence.runs.ensemble  # noqa: F401
    t_import = time.perf_counter() - t0
    import resurgence.results.writer as writer
    import resurgence.runs.executors as executors
    from resurgence.model.sim import Sim

    ph = Phases()
    for m in ("begin", "advance", "outputs"):
        ph.wrap(Sim, m, "simulate")
    ph.wrap(executors, "run_outcomes", "reduce")
    ph.wrap(writer.BundleWriter, "_encode_and_commit", "write (writer thread)")
    ph.wrap(writer.BundleWriter, "write_chunk", "write_chunk (main thread, incl. queue wait)")
    ph.wrap(writer, "bundle_quantiles", "quantiles")
    ph.wrap(writer.BundleWriter, "close", "close (quantiles, manifest, rename)")
    tmp = Path(tempfile.mkdtemp(prefix="bench-cli-"))
    out = tmp / "bundle"
    args = ["run", a.scenario, "--runs", str(a.runs), "--weeks", str(a.weeks), "--seed", "1",
            "--workers", "1", "--out", str(out), *a.extra]
    t0, c0 = time.perf_counter(), time.process_time()
    with contextlib.redirect_stdout(open("/dev/null", "w")):  # noqa: SIM115
        try:
            cli.app(args, standalone_mode=False)
        except SystemExit as e:
            if e.code:
                raise
    wall, cpu = time.perf_counter() - t0, time.process_time() - c0
    size = sum(p.stat().st_size for p in out.rglob("*") if p.is_file())
    man = json.loads((out / "manifest.json").read_text())
    old_q = old_quantiles_s(out, man) if a.old_quantiles else None
    shutil.rmtree(tmp)
    phases = {k: round(v, 3) for k, v in ph.s.items()}
    inner = ph.s.get("simulate", 0) + ph.s.get("reduce", 0) + ph.s.get(
        "write_chunk (main thread, incl. queue wait)", 0) + ph.s.get(
        "close (quantiles, manifest, rename)", 0)
    phases["prepare and other (command wall - the above on the main thread)"] = round(wall - inner, 3)
    rw = a.runs * a.weeks * 18
    return {"command": "resurgence " + " ".join(args[:-2] + ["--out", "DIR"]),
            "import_s": round(t_import, 3), "command_wall_s": round(wall, 3),
            "command_cpu_s (all threads)": round(cpu, 3),
            "phases_thread_cpu_s": {k: round(v, 3) for k, v in ph.cpu.items()},
            "wall_with_import_s": round(wall + t_import, 3), "phases_s": phases,
            "output_region_weeks": rw, "region_weeks_per_s": round(rw / (wall + t_import)),
            "bundle_bytes": size, "bundle_files": len(man["files"]), "metrics": len(man["metrics"]),
            "quantiles_before_s (one DuckDB query per metric, the former writer)": old_q}


def old_quantiles_s(out: Path, man: dict) -> float:
    """The former writer's quantiles on the same bundle: one DuckDB query per metric."""
    import duckdb

    from resurgence.results.quantiles import QUANTILES

    t0 = time.perf_counter()
    con = duckdb.connect()
    q_sql = ", ".join(f"qs[{i + 1}] AS q{round(q * 100):02d}" for i, q in enumerate(QUANTILES))
    src = f"read_parquet('{out}/series/*.parquet')"
    for m in man["metrics"]:
        con.sql(f"""SELECT scenario::VARCHAR, '{m}', week, date, region::VARCHAR, mean, {q_sql}, n
                    FROM (SELECT scenario, week, date, region, avg(v) AS mean,
                          quantile_cont(v, {list(QUANTILES)}) AS qs, count(v) AS n
                          FROM (SELECT scenario, week, date, region, "{m}"::DOUBLE AS v FROM {src}
                                WHERE "{m}" IS NOT NULL) GROUP BY ALL)""").fetchall()
    con.close()
    return round(time.perf_counter() - t0, 3)


def rng_floor(a: argparse.Namespace) -> dict:
    """The draws of the run above: its uniforms (a) and count variates at NumPy speed (b)."""
    sys.path.insert(0, str(HERE))
    import engine as eng
    import numpy as np

    from resurgence.calibration.posterior import resolve_posterior
    from resurgence.core.rng import run_generator
    from resurgence.model.sim import Sim, simulate_chunk
    from resurgence.runs.ensemble import chunks, resolve, spun_up
    from resurgence.theatre.theatre import load_theatre

    post = resolve_posterior("shipped")
    # the weeks the run simulates: from the origin states where the posterior carries them
    carried = post.carried(np.arange(1))
    sc, _ = spun_up(resolve(a.scenario, a.weeks), carried.date if carried else post.start)
    th = load_theatre("iraq")
    columns = Sim(sc, th, post.paramset(np.arange(1)), [0], 1).columns
    t0, c0 = time.perf_counter(), time.process_time()
    for ids in chunks(a.runs, 250):
        U = np.empty((len(ids), sc.weeks, columns), dtype=np.float32)
        for i, run in enumerate(ids):
            run_generator(1, int(run)).random(out=U[i], dtype=np.float32)
        del U
    ua, ua_cpu = time.perf_counter() - t0, time.process_time() - c0
    pilot = simulate_chunk(sc, th, post.paramset(np.arange(200)), np.arange(200), 1)
    laws = eng.typical_means(pilot, {k: float(v.mean()) for k, v in
                                     post.paramset(np.arange(200)).values.items()})
    cb = eng.bench_count_floor(laws, a.runs, sc.weeks, 250, 1)
    return {"simulated_weeks_per_run": sc.weeks, "uniforms": a.runs * sc.weeks * columns,
            "uniform_floor_s": round(ua, 3), "count_variates": cb["variates"],
            "count_floor_s": round(cb["wall_s"], 3), "floor_s": round(ua + cb["wall_s"], 3),
            "floor_cpu_s": round(ua_cpu + cb["cpu_s"], 3)}


_CHILD = """
import json, resource, sys, time
t0 = time.perf_counter()
from resurgence.runs.ensemble import run_ensemble
res = run_ensemble(["announced-2500"], int(sys.argv[1]), 1, weeks=int(sys.argv[2]), chunk_size=1000)
print(json.dumps({"wall_s": round(time.perf_counter() - t0, 2),
                  "peak_rss_mib": round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024)}))
"""


def scale(counts: list[int], weeks: int) -> list[dict]:
    rows = []
    for n in counts:
        r = subprocess.run([sys.executable, "-c", _CHILD, str(n), str(weeks)], capture_output=True,
                           text=True, check=True)
        rows.append({"runs": n, "weeks": weeks, "posterior": "none", **json.loads(r.stdout)})
        print(rows[-1], file=sys.stderr)
    return rows


def startup(repeats: int = 3) -> dict:
    """Import time of `resurgence --help` and `scenarios list` (``python -X importtime``: the
    sum of the top-level imports' cumulative times), best of ``repeats``."""
    import re

    out = {}
    for cmd in (["--help"], ["scenarios", "list"]):
        code = f"from resurgence.cli.app import app\ntry:\n    app({cmd!r})\nexcept SystemExit:\n    pass"
        best = None
        for _ in range(repeats):
            r = subprocess.run([sys.executable, "-X", "importtime", "-c", code], capture_output=True,
                               text=True)
            us = sum(int(m[1]) for m in re.finditer(r"import time:\s+\d+ \|\s+(\d+) \| (?=\S)",
                                                  r.stderr))
            best = us if best is None else min(best, us)
        out["resurgence " + " ".join(cmd)] = round(best / 1e6, 3)
    return out


def brief() -> dict:
    tmp = Path(tempfile.mkdtemp(prefix="bench-brief-"))
    exe = Path(sys.executable).with_name("resurgence")
    t0 = time.perf_counter()
    r = subprocess.run([str(exe), "brief", "--out", str(tmp / "brief")], capture_output=True, text=True)
    wall = time.perf_counter() - t0
    shutil.rmtree(tmp, ignore_errors=True)
    return {"command": "resurgence brief --out DIR", "wall_s": round(wall, 1), "exit": r.returncode}


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--runs", type=int, default=5000)
    ap.add_argument("--weeks", type=int, default=104)
    ap.add_argument("--scenario", default="announced-2500")
    ap.add_argument("--extra", nargs="*", default=[], help="more `run` options, e.g. --metrics all")
    ap.add_argument("--scale", default="", help="comma list of run counts, reducers only, 52 weeks")
    ap.add_argument("--brief", action="store_true", help="also time `resurgence brief` (defaults)")
    ap.add_argument("--old-quantiles", action="store_true",
                    help="also time the former per-metric DuckDB quantiles on the same bundle")
    ap.add_argument("--json", type=Path)
    ap.add_argument("--startup-only", action="store_true", help="only the import times")
    a = ap.parse_args(argv)
    if a.startup_only:
        print(json.dumps(startup(), indent=1))
        return 0
    import os
    import resource

    load0 = os.getloadavg()
    res: dict = {"import_s": startup(), "run": cli_run(a)}
    res["peak_rss_mib_run"] = round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024)
    res["floor"] = rng_floor(a)
    total = res["run"]["wall_with_import_s"]
    res["run_over_floor"] = round(total / res["floor"]["floor_s"], 2)
    if a.scale:
        res["scale"] = scale([int(x) for x in a.scale.split(",")], 52)
    if a.brief:
        res["brief"] = brief()
    res["loadavg_start"], res["loadavg_end"] = [round(x, 2) for x in load0], [
        round(x, 2) for x in os.getloadavg()]
    text = json.dumps(res, indent=1)
    print(text)
    if a.json:
        a.json.write_text(text + "\n")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
