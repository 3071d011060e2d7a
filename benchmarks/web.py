"""Load test of ``resurgence serve`` on loopback (issue #5): requests/s, latency, errors, RSS.

Starts the server in a subprocess on 127.0.0.1 (a free port, a fresh data directory), runs
one small warm-up job, then drives ``--clients`` concurrent clients (asyncio + httpx) for
``--duration`` seconds over the read endpoints (health, scenarios, a job's status, summary,
quantiles and map, the GeoJSON, the claims, and scenario validation), while one more client
submits ``--jobs`` small runs and polls them to the end. It samples the server's resident
memory (the server process plus its worker processes) every 0.5 s. Bounded: at most 64
clients and 300 s; only 127.0.0.1 is contacted; the server is stopped at the end.

    .venv/bin/python benchmarks/web.py --clients 8 --duration 30 --jobs 4 --json bench-web.json
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import platform
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import httpx

SMALL = {"runs": 20, "weeks": 20, "posterior": "none"}
JOB = {"scenario": "announced-2500", "runs": 200, "weeks": 104, "posterior": "none"}


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def rss_mb(pid: int) -> float:
    """Resident memory of ``pid`` and its children (MB), from /proc or psutil."""
    try:
        import psutil

        p = psutil.Process(pid)
        procs = [p, *p.children(recursive=True)]
        return sum(q.memory_info().rss for q in procs if q.is_running()) / 2**20
    except ImportError:
        total = 0
        for q in [pid, *_children(pid)]:
            try:
                for line in Path(f"/proc/{q}/status").read_text().splitlines():
                    if line.startswith("VmRSS:"):
                        total += int(line.split()[1]) * 1024
            except OSError:
                pass
        return total / 2**20
    except Exception:
        return float("nan")


def _children(pid: int) -> list[int]:
    try:
        kids = Path(f"/proc/{pid}/task/{pid}/children").read_text().split()
    except OSError:
        return []
    out = [int(k) for k in kids]
    for k in list(out):
        out += _children(k)
    return out


def start_server(port: int, data_dir: str, max_jobs: int) -> subprocess.Popen:
    code = ("from resurgence.cli.serve import serve_cmd; from pathlib import Path; "
            f"serve_cmd(host='127.0.0.1', port={port}, data_dir=Path({data_dir!r}), "
            f"max_jobs={max_jobs}, queue=8, log_level='warning')")
    env = {k: v for k, v in os.environ.items() if k != "RESURGENCE_TOKEN"}
    return subprocess.Popen([sys.executable, "-c", code], env=env,
                            stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)


async def wait_job(c: httpx.AsyncClient, job_id: str, limit: float) -> dict:
    t0 = time.monotonic()
    while time.monotonic() - t0 < limit:
        j = (await c.get(f"/api/jobs/{job_id}")).json()
        if j["status"] not in ("queued", "running"):
            return j
        await asyncio.sleep(0.25)
    raise TimeoutError(f"job {job_id} did not finish in {limit} s")


def read_mix(job: str) -> list[tuple[str, str, dict | None]]:
    return [("GET", "/api/health", None), ("GET", "/api/scenarios", None),
            ("GET", "/api/scenarios/announced-2500", None), ("GET", f"/api/jobs/{job}", None),
            ("GET", f"/api/jobs/{job}/summary", None),
            ("GET", f"/api/jobs/{job}/quantiles?metric=is_attacks&region=IQ", None),
            ("GET", f"/api/jobs/{job}/quantiles?metric=iran_influence&region=IQ-BG", None),
            ("GET", f"/api/jobs/{job}/map?metric=is_attacks&week=-1", None),
            ("GET", "/api/geo", None), ("GET", "/api/claims", None),
            ("POST", "/api/scenarios/validate",
             {"name": "x", "base": "announced-2500",
              "schedules": {"troops": [["2021-02-01", 1500]]}})]


async def reader(c: httpx.AsyncClient, mix: list, stop: float, k: int, lat: dict, errors: list):
    i = k
    while time.monotonic() < stop:
        method, path, body = mix[i % len(mix)]
        i += 1
        t0 = time.perf_counter()
        try:
            r = await c.request(method, path, json=body)
            ok = r.status_code < 400
            await r.aread()
        except httpx.HTTPError as exc:
            ok, r = False, exc
        dt = time.perf_counter() - t0
        key = path.split("?")[0].replace(mix[3][1].rsplit("/", 1)[-1], "{id}")
        lat.setdefault(key, []).append(dt)
        if not ok:
            errors.append(f"{method} {path}: {getattr(r, 'status_code', r)}")


async def submitter(c: httpx.AsyncClient, n: int, limit: float, out: list, errors: list):
    for _ in range(n):
        t0 = time.perf_counter()
        r = await c.post("/api/runs", json=JOB)
        if r.status_code != 202:
            errors.append(f"POST /api/runs: {r.status_code} {r.text[:80]}")
            continue
        j = await wait_job(c, r.json()["id"], limit)
        out.append({"status": j["status"], "seconds": round(time.perf_counter() - t0, 2)})


async def sampler(pid: int, stop: float, rss: list) -> None:
    while time.monotonic() < stop:
        rss.append(rss_mb(pid))
        await asyncio.sleep(0.5)


def pct(xs: list[float], p: float) -> float:
    xs = sorted(xs)
    return xs[min(len(xs) - 1, int(round(p / 100 * (len(xs) - 1))))] if xs else float("nan")


async def drive(base: str, pid: int, clients: int, duration: float, jobs: int) -> dict:
    limits = httpx.Limits(max_connections=clients + 2)
    async with httpx.AsyncClient(base_url=base, timeout=60, limits=limits) as c:
        t0 = time.perf_counter()
        warm = (await c.post("/api/runs", json={"scenario": "announced-2500", **SMALL})).json()
        done = await wait_job(c, warm["id"], 180)
        warm_s = time.perf_counter() - t0
        assert done["status"] == "done", done
        mix = read_mix(warm["id"])
        idle_rss = rss_mb(pid)
        lat: dict[str, list[float]] = {}
        errors: list[str] = []
        job_runs: list[dict] = []
        rss: list[float] = []
        start = time.monotonic()
        stop = start + duration
        tasks = [reader(c, mix, stop, k, lat, errors) for k in range(clients)]
        tasks.append(sampler(pid, stop, rss))
        tasks.append(submitter(c, jobs, duration + 120, job_runs, errors))
        await asyncio.gather(*tasks)
        wall = time.monotonic() - start
    all_lat = [x for v in lat.values() for x in v]
    n = len(all_lat)
    return {
        "clients": clients, "duration_s": duration, "wall_s": round(wall, 1),
        "requests": n, "requests_per_s": round(n / duration, 1),
        "p50_ms": round(1000 * pct(all_lat, 50), 1), "p99_ms": round(1000 * pct(all_lat, 99), 1),
        "mean_ms": round(1000 * statistics.fmean(all_lat), 1) if n else None,
        "errors": len(errors), "error_samples": errors[:5],
        "per_endpoint": {k: {"n": len(v), "p50_ms": round(1000 * pct(v, 50), 1),
                             "p99_ms": round(1000 * pct(v, 99), 1)} for k, v in sorted(lat.items())},
        "jobs": job_runs, "warmup_job_s": round(warm_s, 2),
        "rss_idle_mb": round(idle_rss, 1), "rss_max_mb": round(max(rss, default=idle_rss), 1),
    }


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--clients", type=int, default=8)
    ap.add_argument("--duration", type=float, default=30.0)
    ap.add_argument("--jobs", type=int, default=4, help="small runs submitted during the load")
    ap.add_argument("--max-jobs", type=int, default=2, help="server worker processes")
    ap.add_argument("--json", type=Path, default=None)
    a = ap.parse_args()
    if not 1 <= a.clients <= 64 or not 1 <= a.duration <= 300 or not 0 <= a.jobs <= 20:
        ap.error("bounded: 1-64 clients, 1-300 s, 0-20 jobs")
    port = free_port()
    with tempfile.TemporaryDirectory(prefix="resurgence-bench-web-") as data:
        proc = start_server(port, data, a.max_jobs)
        base = f"http://127.0.0.1:{port}"
        try:
            t0 = time.monotonic()
            while True:
                try:
                    if httpx.get(base + "/api/health", timeout=1).status_code == 200:
                        break
                except httpx.HTTPError:
                    pass
                if proc.poll() is not None or time.monotonic() - t0 > 60:
                    raise SystemExit(f"server did not start: {proc.stderr.read().decode()[-2000:]}")
                time.sleep(0.1)
            startup = time.monotonic() - t0
            res = asyncio.run(drive(base, proc.pid, a.clients, a.duration, a.jobs))
        finally:
            proc.terminate()
            try:
                proc.wait(timeout=30)
            except subprocess.TimeoutExpired:
                proc.kill()
    res.update(startup_s=round(startup, 2), max_jobs=a.max_jobs, python=platform.python_version(),
               cpus=os.cpu_count(), command=" ".join(["benchmarks/web.py", *sys.argv[1:]]))
    text = json.dumps(res, indent=1)
    print(text)
    if a.json:
        a.json.write_text(text + "\n")


if __name__ == "__main__":
    main()
