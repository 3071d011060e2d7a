"""Engine benchmark (issue #2, item 9): throughput, memory, RNG floor, Mesa reference, profile.

Measures, for one scenario (default ``announced-2500``) on the packaged Iraq theatre:

1. engine throughput, single process: ``simulate_chunk`` per chunk of ``--chunk-size`` runs
   with ``default_params(len(ids))``, outputs touched then discarded (what an ensemble worker
   does); then ``run_ensemble`` without a bundle with ``workers=1`` and ``workers=2``, each in
   a fresh subprocess that also reports its peak resident memory (``ru_maxrss``);
2. the cost of writing a results bundle for a smaller ensemble (``--bundle-runs``);
3. the RNG floor: (a) the engine's own uniform blocks (same per-run generators, same shapes)
   and (b) NumPy's native vectorised count samplers drawing as many count variates as the
   model does, at the model's typical means;
4. the Mesa reference (``benchmarks/mesa_reference.py``): seconds per region-week, the
   engine's speed-up over it, and agreement of mean national outcomes;
5. a cProfile of one ``--profile-runs`` chunk (top 15 by tottime).

Prints a table; ``--json OUT`` writes every figure. Usage::

    .venv/bin/python benchmarks/engine.py --runs 10000 --weeks 104 --chunk-size 500 \\
        --mesa-runs 4 --json bench-engine.json
"""

from __future__ import annotations

import argparse
import cProfile
import datetime as dt
import io
import json
import os
import platform
import pstats
import resource
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

from resurgence.core.rng import run_generator
from resurgence.model.sim import Sim, default_params, simulate_chunk
from resurgence.runs.ensemble import chunks, resolve, run_ensemble
from resurgence.scenario.drivers import compile_drivers
from resurgence.theatre.theatre import load_theatre

HERE = Path(__file__).resolve().parent
TARGET_MEMORY_MB = 1024.0
TARGET_FLOOR_MULTIPLE = 1.5
TARGET_MESA_SPEEDUP = 100.0
TARGET_AGREEMENT = 0.10


# --- helpers ------------------------------------------------------------------------------
def machine() -> dict:
    cpu = "unknown"
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    versions = {"python": platform.python_version(), "numpy": np.__version__}
    for mod in ("numba", "scipy", "mesa"):
        try:
            versions[mod] = __import__(mod).__version__
        except ImportError:
            versions[mod] = None
    try:
        usable = len(os.sched_getaffinity(0))
    except AttributeError:
        usable = os.cpu_count()
    try:
        mem_gb = os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES") / 2**30
    except (ValueError, OSError):
        mem_gb = None
    return {"cpu": cpu, "cores": os.cpu_count(), "usable_cores": usable,
            "memory_gb": round(mem_gb, 1) if mem_gb else None,
            "platform": platform.platform(), **versions,
            "date": dt.datetime.now().astimezone().isoformat(timespec="seconds")}


def maxrss_mb(who: int = resource.RUSAGE_SELF) -> float:
    """Peak resident set size in MiB (Linux reports ru_maxrss in KiB)."""
    return resource.getrusage(who).ru_maxrss / 1024.0


def cpu_s(who: int = resource.RUSAGE_SELF) -> float:
    r = resource.getrusage(who)
    return r.ru_utime + r.ru_stime


def loadavg() -> list[float] | None:
    try:
        return [round(x, 2) for x in os.getloadavg()]
    except OSError:
        return None


def dir_size(path: Path) -> tuple[int, int]:
    files = [p for p in path.rglob("*") if p.is_file()]
    return sum(p.stat().st_size for p in files), len(files)


def inputs(scenario: str, weeks: int):
    sc = resolve(scenario, weeks)
    th = load_theatre("iraq")
    return sc, th, compile_drivers(sc, th)


# Engine arrays -> the national series the Mesa reference tracks (regional sums or
# unweighted regional means, national metrics as they are); see mesa_reference.OUTCOMES.
SERIES = {"is_attacks": "sum", "is_fighters": "sum", "is_villages": "sum",
          "militia_attacks_us": "sum", "grievance": "mean", "iran_influence": "mean",
          "host_strength": "mean", "isr_coverage": "mean", "political_pressure": None,
          "us_leverage": None}
REQUIRED_OUTCOMES = ("is_attacks_per_week_y1", "is_fighters_end")


def reference():
    if str(HERE) not in sys.path:
        sys.path.insert(0, str(HERE))
    import mesa_reference

    return mesa_reference


def national_outcomes(out: dict[str, np.ndarray]) -> dict[str, np.ndarray]:
    """Per-run national outcomes, as :func:`mesa_reference.outcomes` computes them."""
    series = {}
    for k, how in SERIES.items():
        v = out[k].astype(np.float64)
        series[k] = v.sum(axis=2) if how == "sum" else v.mean(axis=2) if how == "mean" else v
    res = {}
    for name, k, how in reference().OUTCOMES:
        x = series[k]
        res[name] = (x[:, -1] if how == "end" else x[:, :52].mean(axis=1) if how == "mean_y1"
                     else x.mean(axis=1))
    return res


# --- 1. engine, single process ------------------------------------------------------------
def bench_engine(scenario: str, weeks: int, runs: int, chunk_size: int, seed: int) -> dict:
    sc, th, _ = inputs(scenario, weeks)
    simulate_chunk(sc, th, default_params(2), [0, 1], seed)  # warm-up: Numba cache, imports
    parts: dict[str, list[np.ndarray]] = {}
    touched = 0.0
    pilot = None
    wall = cpu = 0.0
    for ids in chunks(runs, chunk_size):
        c0, t0 = time.process_time(), time.perf_counter()
        out = simulate_chunk(sc, th, default_params(len(ids)), ids, seed)
        for v in out.values():  # touch every output, then let it go
            touched += float(v[-1, -1].sum())
        wall += time.perf_counter() - t0
        cpu += time.process_time() - c0
        for k, v in national_outcomes(out).items():  # untimed: for the Mesa agreement check
            parts.setdefault(k, []).append(v)
        if pilot is None:
            pilot = out
        del out
    rw = runs * th.n_regions * sc.weeks
    oc = {k: np.concatenate(v) for k, v in parts.items()}
    return {"wall_s": wall, "cpu_s": cpu, "region_weeks": rw, "region_weeks_per_s": rw / wall,
            "us_per_region_week": wall / rw * 1e6, "runs": runs, "regions": th.n_regions,
            "weeks": sc.weeks, "chunk_size": chunk_size, "touched": touched,
            "outcomes": {k: {"mean": float(v.mean()), "sd": float(v.std())} for k, v in oc.items()},
            "_pilot": pilot}


# --- 3. RNG floors ------------------------------------------------------------------------
def bench_uniform_floor(scenario: str, weeks: int, runs: int, chunk_size: int, seed: int) -> dict:
    """(a) The uniforms the engine draws: per-run generator, (weeks, columns) float32 block."""
    sc, th, drivers = inputs(scenario, weeks)
    columns = Sim(sc, th, default_params(1), [0], seed, drivers).columns
    c0, t0 = time.process_time(), time.perf_counter()
    for ids in chunks(runs, chunk_size):
        U = np.empty((len(ids), sc.weeks, columns), dtype=np.float32)
        for i, run in enumerate(ids):
            run_generator(seed, int(run)).random(out=U[i], dtype=np.float32)
        del U
    wall, cpu = time.perf_counter() - t0, time.process_time() - c0
    return {"wall_s": wall, "cpu_s": cpu, "columns": columns, "uniforms": runs * sc.weeks * columns}


def typical_means(pilot: dict[str, np.ndarray], p: dict[str, float]) -> list[tuple]:
    """The model's count laws at their typical per-region means, from a pilot chunk.

    One entry per count variate the engine draws each region-week (militia attacks; IS
    removals, attacks, infrastructure hits, recruits+inflow; villages cleared, infiltrated).
    """
    def m(name):
        return pilot[name].mean(axis=(0, 1), dtype=np.float64)

    fighters, villages = m("is_fighters"), m("is_villages")
    V = pilot["is_villages"].astype(np.float64)
    infil = (V[:, 1:] - V[:, :-1] + pilot["villages_cleared"][:, 1:]).mean(axis=(0, 1))
    att = m("is_attacks")
    return [
        ("negbin", "militia attacks on US sites", m("militia_attacks_us"), p["militia_dispersion"]),
        ("binomial", "IS removals", np.floor(fighters),
         m("is_removed") / np.maximum(fighters, 1e-9)),
        ("negbin", "IS attacks", att, p["attack_dispersion"]),
        ("binomial", "IS attacks on infrastructure", np.round(att), p["infra_share"]),
        ("poisson", "IS recruits and inflow", m("is_recruits") + m("is_inflow"), None),
        ("binomial", "villages cleared", np.floor(villages),
         m("villages_cleared") / np.maximum(villages, 1e-9)),
        ("poisson", "villages infiltrated", np.maximum(infil, 0.0), None),
    ]



def _native_draws(rng: np.random.Generator, laws, size) -> None:
    """NumPy's native samplers at the model's means: one array per law (the floor (b))."""
    for kind, _label, a, b in laws:
        if kind == "poisson":
            rng.poisson(a, size=size)
        elif kind == "negbin":
            rng.negative_binomial(b, b / (b + np.maximum(a, 1e-12)), size=size)
        else:
            rng.binomial(a.astype(np.int64), np.clip(b, 0.0, 1.0), size=size)

def bench_count_floor(laws: list[tuple], runs: int, weeks: int, chunk_size: int,
                      seed: int) -> dict:
    """(b) NumPy's native samplers, one vectorised call per law per chunk."""
    R = len(laws[0][2])
    c0, t0 = time.process_time(), time.perf_counter()
    for c, ids in enumerate(chunks(runs, chunk_size)):
        rng = np.random.default_rng([seed, c])
        size = (len(ids), weeks, R)
        _native_draws(rng, laws, size)
    wall, cpu = time.perf_counter() - t0, time.process_time() - c0
    return {"wall_s": wall, "cpu_s": cpu, "variates": runs * weeks * R * len(laws),
            "laws": [{"law": k, "flow": lbl, "mean_national": float(np.sum(a * b) if k == "binomial"
                                                                   else np.sum(a))}
                     for k, lbl, a, b in laws]}


def bench_samplers(laws: list[tuple], rows: int = 20_000, scipy_rows: int = 2_000,
                   seed: int = 0) -> list[dict]:
    """Per-variate cost of each count law at the model's typical means: the engine's
    inversion samplers (``resurgence.samplers``, one pre-drawn uniform per cell), NumPy's
    native samplers, and SciPy's ``ppf`` (the obvious per-cell-uniform alternative)."""
    from scipy import stats

    from resurgence.core import samplers

    rng = np.random.default_rng(seed)
    R = len(laws[0][2])
    out = []
    for kind, label, a, b in laws:
        u = rng.random((rows, R))
        A = np.broadcast_to(a, (rows, R))
        s = slice(0, scipy_rows)
        if kind == "poisson":
            calls = {"engine": (samplers.poisson, (A, u)), "numpy": (rng.poisson, (A,)),
                     "scipy_ppf": (stats.poisson.ppf, (u[s], A[s]))}
        elif kind == "negbin":
            pr = b / (b + np.maximum(A, 1e-12))
            calls = {"engine": (samplers.negbin, (A, b, u)),
                     "numpy": (rng.negative_binomial, (b, pr)),
                     "scipy_ppf": (stats.nbinom.ppf, (u[s], b, pr[s]))}
        else:
            pb = np.broadcast_to(np.clip(b, 0.0, 1.0), (rows, R))
            calls = {"engine": (samplers.binomial, (A, pb, u)),
                     "numpy": (rng.binomial, (A.astype(np.int64), pb)),
                     "scipy_ppf": (stats.binom.ppf, (u[s], A[s], pb[s]))}
        fn, args = calls["engine"]
        fn(*args)  # warm-up (Numba)
        row = {"law": kind, "flow": label}
        for name, (fn, args) in calls.items():
            t0 = time.perf_counter()
            fn(*args)
            n = scipy_rows if name == "scipy_ppf" else rows
            row[f"{name}_ns"] = (time.perf_counter() - t0) / (n * R) * 1e9
        out.append(row)
    return out


# --- 1b/2. ensembles in fresh subprocesses ---------------------------------------------------
def child_ensemble(a: argparse.Namespace) -> None:
    sc, th, _ = inputs(a.scenario, a.weeks)
    simulate_chunk(sc, th, default_params(2), [0, 1], a.seed)  # as in the direct benchmark
    c0, k0 = cpu_s(), cpu_s(resource.RUSAGE_CHILDREN)
    t0 = time.perf_counter()
    res = run_ensemble([sc], a.runs, a.seed, weeks=a.weeks, workers=a.workers,
                       chunk_size=a.chunk_size, out=a.out)
    wall = time.perf_counter() - t0
    s = res.outcomes[sc.name]
    print(json.dumps({"wall_s": wall, "runs": a.runs, "workers": a.workers,
                      "cpu_self_s": cpu_s() - c0,
                      "cpu_children_s": cpu_s(resource.RUSAGE_CHILDREN) - k0,
                      "maxrss_self_mb": maxrss_mb(resource.RUSAGE_SELF),
                      "maxrss_children_mb": maxrss_mb(resource.RUSAGE_CHILDREN),
                      "is_attacks_y1_mean": float(np.mean(s["is_attacks_y1"])),
                      "is_fighters_end_mean": float(np.mean(s["is_fighters_end"]))}))


BLAS_ONE = {"OPENBLAS_NUM_THREADS": "1", "OMP_NUM_THREADS": "1", "MKL_NUM_THREADS": "1"}


def run_child(a: argparse.Namespace, runs: int, workers: int, out: Path | None = None,
              env: dict[str, str] | None = None) -> dict:
    cmd = [sys.executable, str(Path(__file__).resolve()), "--child", "ensemble",
           "--runs", str(runs), "--weeks", str(a.weeks), "--chunk-size", str(a.chunk_size),
           "--seed", str(a.seed), "--scenario", a.scenario, "--workers", str(workers)]
    if out is not None:
        cmd += ["--out", str(out)]
    t0 = time.perf_counter()
    load = loadavg()
    proc = subprocess.run(cmd, capture_output=True, text=True, check=False,
                          env={**os.environ, **(env or {})})
    if proc.returncode != 0:
        raise RuntimeError(f"child failed ({proc.returncode}): {proc.stderr[-2000:]}")
    r = json.loads(proc.stdout.strip().splitlines()[-1])
    r["process_wall_s"] = time.perf_counter() - t0  # including interpreter start and imports
    r["env"], r["loadavg_before"] = env or {}, load
    return r


# --- 3b. interleaved: engine, floor and Mesa under the same machine conditions ---------------
def bench_interleaved(scenario: str, weeks: int, chunk_size: int, seed: int, laws: list[tuple],
                      rounds: int, mesa: bool) -> dict:
    """``rounds`` times, one after the other: an engine chunk of ``chunk_size`` runs, the
    floor (a) and (b) of that chunk, and (if ``mesa``) one Mesa run, each by CPU time. On a
    shared machine the load drifts over a benchmark; ratios of these sums compare the parts
    under the same conditions (each round within about a second)."""
    sc, th, drivers = inputs(scenario, weeks)
    columns = Sim(sc, th, default_params(1), [0], seed, drivers).columns
    ref = reference() if mesa else None
    R = th.n_regions
    tot = {"engine": 0.0, "a": 0.0, "b": 0.0, "mesa": 0.0}
    mesa_rw = 0
    for r in range(rounds):
        ids = np.arange(r * chunk_size, (r + 1) * chunk_size)
        c0 = time.process_time()
        out = simulate_chunk(sc, th, default_params(len(ids)), ids, seed)
        tot["engine"] += time.process_time() - c0
        del out
        c0 = time.process_time()
        U = np.empty((len(ids), sc.weeks, columns), dtype=np.float32)
        for i, run in enumerate(ids):
            run_generator(seed, int(run)).random(out=U[i], dtype=np.float32)
        del U
        tot["a"] += time.process_time() - c0
        rng = np.random.default_rng([seed, r])
        size = (len(ids), weeks, R)
        c0 = time.process_time()
        _native_draws(rng, laws, size)
        tot["b"] += time.process_time() - c0
        if ref is not None:
            m = ref.run_reference(1, scenario, weeks, seed=seed + 7919 * r)
            tot["mesa"] += m["cpu_s"]
            mesa_rw += m["region_weeks"]
    rw = rounds * chunk_size * weeks * R
    out = {"rounds": rounds, "chunk_size": chunk_size, "cpu_s": tot,
           "engine_over_a_plus_b": tot["engine"] / (tot["a"] + tot["b"]),
           "engine_us_per_region_week": tot["engine"] / rw * 1e6}
    if ref is not None:
        out["mesa_us_per_region_week"] = tot["mesa"] / mesa_rw * 1e6
        out["mesa_speedup"] = out["mesa_us_per_region_week"] / out["engine_us_per_region_week"]
    return out


# --- 4. Mesa --------------------------------------------------------------------------------
def bench_mesa(a: argparse.Namespace) -> dict:
    ref = reference()
    ref.run_reference(1, a.scenario, a.weeks, seed=10**6)  # warm-up, not timed
    timed = ref.run_reference(a.mesa_runs, a.scenario, a.weeks, seed=a.seed)
    no_dc = ref.run_reference(a.mesa_runs, a.scenario, a.weeks, seed=a.seed, collect=False)
    extra = max(a.mesa_check_runs - a.mesa_runs, 0)
    more = (ref.run_reference(extra, a.scenario, a.weeks, seed=a.seed + a.mesa_runs)
            if extra else {"per_run": [], "wall_s": 0.0, "region_weeks": 0})
    per_run = timed["per_run"] + more["per_run"]
    out = {k: v for k, v in timed.items() if k != "per_run"}
    out["no_datacollector_s_per_region_week"] = no_dc["s_per_region_week"]
    out["check_runs"] = len(per_run)
    out["check_cpu_s_per_region_week"] = ((timed["cpu_s"] + more.get("cpu_s", 0.0))
                                          / (timed["region_weeks"] + more["region_weeks"]))
    out["check_s_per_region_week"] = ((timed["wall_s"] + more["wall_s"])
                                      / (timed["region_weeks"] + more["region_weeks"]))
    out["outcomes"] = {}
    for k in per_run[0]:
        x = np.array([r[k] for r in per_run])
        out["outcomes"][k] = {"mean": float(x.mean()), "sd": float(x.std(ddof=1)) if len(x) > 1
                              else 0.0, "se": float(x.std(ddof=1) / np.sqrt(len(x)))
                              if len(x) > 1 else 0.0}
    return out


# --- 5. profile -------------------------------------------------------------------------------
def profile_chunk(scenario: str, weeks: int, runs: int, seed: int, top: int = 15) -> dict:
    sc, th, _ = inputs(scenario, weeks)
    simulate_chunk(sc, th, default_params(2), [0, 1], seed)
    prof = cProfile.Profile()
    t0 = time.perf_counter()
    prof.enable()
    simulate_chunk(sc, th, default_params(runs), np.arange(runs), seed)
    prof.disable()
    wall = time.perf_counter() - t0
    st = pstats.Stats(prof)
    total = st.total_tt
    rows = []
    for (fn, line, name), (_cc, nc, tt, ct, _callers) in sorted(
            st.stats.items(), key=lambda kv: -kv[1][2])[:top]:
        short = fn if fn.startswith("<") or fn == "~" else "/".join(Path(fn).parts[-2:])
        rows.append({"function": f"{short}:{line}({name})", "ncalls": nc, "tottime_s": tt,
                     "cumtime_s": ct, "share": tt / total if total else 0.0})
    # inclusive time per module step and per count law (samplers called from the steps)
    by_part: dict[str, float] = {}
    for (fn, _line, name), (_cc, _nc, _tt, ct, _callers) in st.stats.items():
        path = Path(fn)
        if path.parent.name == "modules" and name == "step":
            by_part[f"{path.stem}.step"] = ct
        elif path.name == "samplers.py" and name in ("poisson", "negbin", "binomial"):
            by_part[f"samplers.{name}"] = ct
        elif path.name == "engine.py" and name in ("draw_uniforms", "record"):
            by_part[f"engine.{name}"] = ct
    buf = io.StringIO()
    pstats.Stats(prof, stream=buf).sort_stats("tottime").print_stats(top)
    return {"runs": runs, "wall_s": wall, "profiled_total_s": total, "top": rows,
            "inclusive": dict(sorted(by_part.items(), key=lambda kv: -kv[1])),
            "text": buf.getvalue()}


# --- main -------------------------------------------------------------------------------------
def verdict(ok: bool) -> str:
    return "met" if ok else "NOT met"


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description="resurgence engine benchmark (issue #2, item 9)")
    ap.add_argument("--runs", type=int, default=10_000)
    ap.add_argument("--weeks", type=int, default=104)
    ap.add_argument("--chunk-size", type=int, default=500)
    ap.add_argument("--mesa-runs", type=int, default=4)
    ap.add_argument("--mesa-check-runs", type=int, default=40,
                    help="Mesa runs for the agreement check (the --mesa-runs timed ones included)")
    ap.add_argument("--bundle-runs", type=int, default=1000)
    ap.add_argument("--profile-runs", type=int, default=1000)
    ap.add_argument("--scenario", default="announced-2500")
    ap.add_argument("--seed", type=int, default=20201130)
    ap.add_argument("--json", type=Path, default=None, help="write all figures here")
    ap.add_argument("--skip", default="", help="comma list of: ensemble,bundle,mesa,profile")
    ap.add_argument("--interleave", type=int, default=0,
                    help="also this many rounds of engine chunk, its floor and one Mesa run, "
                         "alternating (ratios under the same load; 0 = skip)")
    ap.add_argument("--child", choices=["ensemble"], help=argparse.SUPPRESS)
    ap.add_argument("--workers", type=int, default=1, help=argparse.SUPPRESS)
    ap.add_argument("--out", default=None, help=argparse.SUPPRESS)
    a = ap.parse_args(argv)
    if a.child == "ensemble":
        child_ensemble(a)
        return 0
    skip = {s.strip() for s in a.skip.split(",") if s.strip()}
    exe = os.path.relpath(sys.executable) if sys.executable.startswith(os.getcwd()) else sys.executable
    res: dict = {"command": " ".join([exe, *sys.argv]),
                 "argv": sys.argv[1:], "machine": machine(), "scenario": a.scenario,
                 "theatre": "iraq", "seed": a.seed}

    def log(msg):
        print(msg, file=sys.stderr, flush=True)

    res["loadavg_start"] = loadavg()
    log(f"engine: {a.runs} runs x {a.weeks} weeks, chunks of {a.chunk_size} ...")
    eng = bench_engine(a.scenario, a.weeks, a.runs, a.chunk_size, a.seed)
    pilot = eng.pop("_pilot")
    res["engine"] = eng
    rw = eng["region_weeks"]

    log("RNG floor (a): the engine's uniform blocks ...")
    fa = bench_uniform_floor(a.scenario, a.weeks, a.runs, a.chunk_size, a.seed)
    log("RNG floor (b): NumPy native count samplers ...")
    p = {k: float(v[0]) for k, v in default_params(1).values.items()}
    laws = typical_means(pilot, p)
    fb = bench_count_floor(laws, a.runs, a.weeks, a.chunk_size, a.seed)
    del pilot
    log("samplers: engine inversion vs NumPy native vs SciPy ppf ...")
    res["samplers"] = bench_samplers(laws, seed=a.seed)
    floor_ab = fa["wall_s"] + fb["wall_s"]
    res["rng_floor"] = {"a_uniforms": fa, "b_counts": fb, "a_plus_b_s": floor_ab,
                        "engine_over_a": eng["wall_s"] / fa["wall_s"],
                        "engine_over_a_plus_b": eng["wall_s"] / floor_ab,
                        "cpu_engine_over_a": eng["cpu_s"] / fa["cpu_s"],
                        "cpu_engine_over_a_plus_b": eng["cpu_s"] / (fa["cpu_s"] + fb["cpu_s"])}
    if a.interleave:
        log(f"interleaved: {a.interleave} rounds of engine chunk, floor and Mesa run ...")
        res["interleaved"] = bench_interleaved(a.scenario, a.weeks, a.chunk_size, a.seed, laws,
                                               a.interleave, "mesa" not in skip)
    # (c) for reference: floor (a) plus the engine's own inversion samplers at typical means
    inv_s = sum(r["engine_ns"] for r in res["samplers"]) * 1e-9 * rw
    res["rng_floor"]["c_a_plus_engine_samplers_s"] = fa["wall_s"] + inv_s
    res["rng_floor"]["engine_over_c"] = eng["wall_s"] / (fa["wall_s"] + inv_s)

    if "ensemble" not in skip:
        for key, w, env in (("ensemble_w1", 1, None), ("ensemble_w2", 2, None),
                            ("ensemble_w2_blas1", 2, BLAS_ONE)):
            log(f"run_ensemble workers={w}{' (BLAS threads = 1)' if env else ''} "
                f"(fresh subprocess) ...")
            r = run_child(a, a.runs, w, env=env)
            r["region_weeks_per_s"] = rw / r["wall_s"]
            res[key] = r
    if "bundle" not in skip:
        log(f"bundle: {a.bundle_runs} runs with and without a results bundle ...")
        tmp = Path(tempfile.mkdtemp(prefix="resurgence-bench-"))
        try:
            plain = run_child(a, a.bundle_runs, 1)
            bund = run_child(a, a.bundle_runs, 1, tmp / "bundle")
            size, files = dir_size(tmp / "bundle")
        finally:
            shutil.rmtree(tmp, ignore_errors=True)
        res["bundle"] = {"runs": a.bundle_runs, "no_bundle_wall_s": plain["wall_s"],
                         "bundle_wall_s": bund["wall_s"],
                         "writing_cost_s": bund["wall_s"] - plain["wall_s"],
                         "size_bytes": size, "files": files,
                         "bytes_per_region_week": size / (a.bundle_runs * eng["regions"] * a.weeks),
                         "maxrss_self_mb": bund["maxrss_self_mb"]}
    if "mesa" not in skip:
        log(f"Mesa reference: {a.mesa_runs} timed runs (+ check runs) ...")
        ms = bench_mesa(a)
        ms["speedup"] = ms["s_per_region_week"] / (eng["wall_s"] / rw)
        ms["speedup_check_runs"] = ms["check_s_per_region_week"] / (eng["wall_s"] / rw)
        ms["speedup_cpu"] = (ms["cpu_s"] / ms["region_weeks"]) / (eng["cpu_s"] / rw)
        ms["speedup_check_runs_cpu"] = ms["check_cpu_s_per_region_week"] / (eng["cpu_s"] / rw)
        ms["speedup_no_datacollector"] = ms["no_datacollector_s_per_region_week"] / (eng["wall_s"] / rw)
        agree = {}
        for k in ms["outcomes"]:
            e, m = eng["outcomes"][k]["mean"], ms["outcomes"][k]["mean"]
            agree[k] = {"engine": e, "mesa": m, "mesa_se": ms["outcomes"][k]["se"],
                        "rel_diff": (m - e) / e if e else float("nan"),
                        "required": k in REQUIRED_OUTCOMES,
                        "ok": abs(m - e) <= TARGET_AGREEMENT * abs(e)}
        ms["agreement"] = agree
        res["mesa"] = ms
    if "profile" not in skip:
        log(f"profile: one {a.profile_runs}-run chunk ...")
        res["profile"] = profile_chunk(a.scenario, a.weeks, a.profile_runs, a.seed)

    # --- targets and table ---
    targets = {"floor": {"target": f"engine <= {TARGET_FLOOR_MULTIPLE}x RNG floor",
                         "engine_over_a": res["rng_floor"]["engine_over_a"],
                         "engine_over_a_plus_b": res["rng_floor"]["engine_over_a_plus_b"],
                         "met_vs_a": res["rng_floor"]["engine_over_a"] <= TARGET_FLOOR_MULTIPLE,
                         "met_vs_a_plus_b": res["rng_floor"]["engine_over_a_plus_b"]
                         <= TARGET_FLOOR_MULTIPLE}}
    if "ensemble_w1" in res:
        peak = res["ensemble_w1"]["maxrss_self_mb"]
        w2 = res["ensemble_w2"]
        targets["memory"] = {"target": f"peak RSS <= {TARGET_MEMORY_MB:.0f} MiB (1 GiB)",
                             "workers1_mb": peak, "met": peak <= TARGET_MEMORY_MB,
                             "workers2_parent_mb": w2["maxrss_self_mb"],
                             "workers2_largest_worker_mb": w2["maxrss_children_mb"]}
    if "mesa" in res:
        targets["mesa_speedup"] = {"target": f">= {TARGET_MESA_SPEEDUP:.0f}x",
                                   "speedup": res["mesa"]["speedup"],
                                   "met": res["mesa"]["speedup"] >= TARGET_MESA_SPEEDUP}
        targets["mesa_agreement"] = {"target": f"within {TARGET_AGREEMENT:.0%}",
                                     "met": all(v["ok"] for v in res["mesa"]["agreement"].values()
                                                if v["required"]),
                                     "all_outcomes_within": all(
                                         v["ok"] for v in res["mesa"]["agreement"].values())}
    res["targets"] = targets
    res["loadavg_end"] = loadavg()

    rows = [("engine, simulate_chunk loop (1 process)", eng["wall_s"], rw / eng["wall_s"])]
    for key, label in (("ensemble_w1", "run_ensemble workers=1, no bundle"),
                       ("ensemble_w2", "run_ensemble workers=2, no bundle"),
                       ("ensemble_w2_blas1", "  same, OPENBLAS_NUM_THREADS=1")):
        if key in res:
            rows.append((label, res[key]["wall_s"], res[key]["region_weeks_per_s"]))
    rows.append(("RNG floor (a): engine uniforms", fa["wall_s"], rw / fa["wall_s"]))
    rows.append(("RNG floor (b): NumPy count samplers", fb["wall_s"], rw / fb["wall_s"]))
    rows.append(("RNG floor (a)+(b)", floor_ab, rw / floor_ab))
    if "mesa" in res:
        ms = res["mesa"]
        rows.append((f"Mesa reference ({ms['runs']} runs)", ms["wall_s"], 1 / ms["s_per_region_week"]))
    print(f"\n{a.scenario}, iraq ({eng['regions']} regions), {a.runs} runs x {a.weeks} weeks "
          f"= {rw:,} region-weeks; {res['machine']['cpu']}, {res['machine']['cores']} cores; "
          f"load average {res['loadavg_start']} at start, {res['loadavg_end']} at end")
    print(f"{'measurement':44s} {'wall s':>9s} {'region-weeks/s':>15s}")
    for name, wall, rate in rows:
        print(f"{name:44s} {wall:9.2f} {rate:15,.0f}")
    if "interleaved" in res:
        iv = res["interleaved"]
        print(f"interleaved ({iv['rounds']} rounds of a {iv['chunk_size']}-run chunk, CPU s): engine "
              f"{iv['cpu_s']['engine']:.2f}, floor (a) {iv['cpu_s']['a']:.2f}, (b) {iv['cpu_s']['b']:.2f}: "
              f"engine / (a)+(b) = {iv['engine_over_a_plus_b']:.2f}x"
              + (f"; Mesa {iv['mesa_us_per_region_week']:.1f} vs engine "
                 f"{iv['engine_us_per_region_week']:.3f} us/region-week: {iv['mesa_speedup']:.0f}x"
                 if "mesa_speedup" in iv else ""))
    fl = res["rng_floor"]
    print(f"(CPU time: engine {eng['cpu_s']:.2f} s = {rw / eng['cpu_s']:,.0f} region-weeks/s, "
          f"floor (a) {fa['cpu_s']:.2f} s, floor (b) {fb['cpu_s']:.2f} s; by CPU time engine / "
          f"(a) = {fl['cpu_engine_over_a']:.1f}x, engine / (a)+(b) = "
          f"{fl['cpu_engine_over_a_plus_b']:.1f}x)")
    print()
    print(f"engine / floor (a) = {targets['floor']['engine_over_a']:.1f}x, engine / floor (a)+(b) = "
          f"{targets['floor']['engine_over_a_plus_b']:.1f}x  (target <= {TARGET_FLOOR_MULTIPLE}x: "
          f"{verdict(targets['floor']['met_vs_a'])} vs (a), "
          f"{verdict(targets['floor']['met_vs_a_plus_b'])} vs (a)+(b))")
    print(f"floor (c) = (a) + the engine's own inversion samplers at typical means: "
          f"{fl['c_a_plus_engine_samplers_s']:.2f} s; engine / (c) = {fl['engine_over_c']:.1f}x")
    print("count samplers, ns per variate at typical means (engine inversion / NumPy native / "
          "SciPy ppf):")
    for r in res["samplers"]:
        print(f"  {r['law']:9s} {r['flow']:30s} {r['engine_ns']:7.1f} {r['numpy_ns']:7.1f} "
              f"{r['scipy_ppf_ns']:9.1f}")
    if "memory" in targets:
        t = targets["memory"]
        print(f"peak RSS, {a.runs}-run ensemble: workers=1 {t['workers1_mb']:.0f} MiB "
              f"({verdict(t['met'])}, target <= {TARGET_MEMORY_MB:.0f} MiB); workers=2 parent "
              f"{t['workers2_parent_mb']:.0f} MiB + largest worker {t['workers2_largest_worker_mb']:.0f} MiB (ru_maxrss of fresh subprocesses)")
    if "bundle" in res:
        b = res["bundle"]
        print(f"bundle, {b['runs']} runs: {b['bundle_wall_s']:.2f} s with vs {b['no_bundle_wall_s']:.2f} s "
              f"without (writing {b['writing_cost_s']:.2f} s), {b['size_bytes'] / 2**20:.1f} MiB "
              f"in {b['files']} files ({b['bytes_per_region_week']:.1f} B/region-week)")
    if "mesa" in res:
        ms = res["mesa"]
        print(f"Mesa ({ms['check_runs']} runs): {ms['check_s_per_region_week'] * 1e6:.1f} "
              f"us/region-week, speed-up {ms['speedup_check_runs']:.0f}x "
              f"(by CPU time: {ms['speedup_check_runs_cpu']:.0f}x; {ms['runs']} runs by CPU time: "
              f"{ms['speedup_cpu']:.0f}x)")
        print(f"Mesa ({ms['runs']} runs): {ms['s_per_region_week'] * 1e6:.1f} us/region-week "
              f"({ms['no_datacollector_s_per_region_week'] * 1e6:.1f} without DataCollector); "
              f"engine {eng['us_per_region_week']:.3f} us/region-week; speed-up "
              f"{ms['speedup']:.0f}x ({verdict(targets['mesa_speedup']['met'])}, target >= "
              f"{TARGET_MESA_SPEEDUP:.0f}x)")
        for k, v in ms["agreement"].items():
            print(f"  {k:28s} engine {v['engine']:9.3f}  Mesa {v['mesa']:9.3f} ± {v['mesa_se']:.3f} "
                  f"(SE, {ms['check_runs']} runs)  diff {v['rel_diff']:+6.1%}  "
                  f"{'ok' if v['ok'] else 'DISAGREE'}{'' if v['required'] else ' (info)'}")
    if "profile" in res:
        pr = res["profile"]
        print(f"\nprofile of one {pr['runs']}-run chunk ({pr['wall_s']:.2f} s under cProfile):")
        for r in pr["top"]:
            print(f"  {r['tottime_s']:7.3f} s {r['share']:6.1%} {r['ncalls']:>8d}  {r['function']}")
        print("  inclusive: " + ", ".join(f"{k} {v:.3f} s" for k, v in pr["inclusive"].items()))
    if a.json:
        a.json.parent.mkdir(parents=True, exist_ok=True)
        a.json.write_text(json.dumps(res, indent=2, default=float) + "\n")
        print(f"\nwrote {a.json}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
