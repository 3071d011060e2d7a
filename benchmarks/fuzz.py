"""Fuzz benchmark (issue #12): thousands of hostile inputs through the library, the CLI and
the HTTP API, counted by outcome; then the latency of 256 KB bodies of hostile shapes against
a real ``resurgence serve`` while ``/api/health`` is polled.

The inputs and the checks are those of ``tests/test_fuzz.py`` (``tests/fuzzlib.py``): each
case is ``ok`` (accepted and sound: finite outcomes, a loadable table), ``clean`` (refused:
exit 2 / 4xx, one line, nothing written), ``traceback`` (anything else) or ``hang`` (over
``fuzzlib.TIME_LIMIT_S``). Generation is derandomised, so a run is repeatable.

    nice .venv/bin/python benchmarks/fuzz.py --scale 10 --json bench-fuzz.json

``--scale 1`` is the CI size (a few hundred cases); ``--scale 10`` the recorded run.
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import os
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time
import warnings
from collections import Counter
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "tests"))

import fuzzlib  # noqa: E402
from hypothesis import HealthCheck, given, settings  # noqa: E402
from hypothesis import strategies as st  # noqa: E402

BASE = {"scenario files (library)": 150, "binary scenario files (library)": 20,
        "scenario files (CLI run)": 50, "importer CSVs (CLI data import)": 80,
        "TOML bodies (POST /api/scenarios/validate)": 100,
        "run payloads (POST /api/runs)": 100}


def _settings(n: int):
    return settings(max_examples=n, deadline=None, database=None, derandomize=True,
                    suppress_health_check=list(HealthCheck))


def run_kind(kind: str, n: int, work: Path, client) -> Counter:
    counts: Counter = Counter()
    k = iter(range(10**9))

    def note(out: str, example) -> None:
        counts[out] += 1
        if out in ("traceback", "hang") and counts[out] <= 3:
            print(f"  {out}: {str(example)[:200]!r}", flush=True)

    if kind.startswith("scenario files (library)"):
        @_settings(n)
        @given(text=fuzzlib.scenario_texts())
        def f(text):
            note(fuzzlib.check_scenario_file(text, work / f"s{next(k)}"), text)
    elif kind.startswith("binary"):
        @_settings(n)
        @given(data=st.binary(max_size=300))
        def f(data):
            note(fuzzlib.check_scenario_file(data, work / f"b{next(k)}"), data)
    elif kind.startswith("scenario files (CLI"):
        @_settings(n)
        @given(text=fuzzlib.scenario_texts())
        def f(text):
            note(fuzzlib.check_cli_run(text, work / f"c{next(k)}"), text)
    elif kind.startswith("importer"):
        @_settings(n)
        @given(case=fuzzlib.importer_csvs())
        def f(case):
            note(fuzzlib.check_import(case[0], case[1], work / f"i{next(k)}"), case[1][:200])
    elif kind.startswith("TOML"):
        @_settings(n)
        @given(text=fuzzlib.scenario_texts())
        def f(text):
            note(fuzzlib.check_http(client, "POST", "/api/scenarios/validate",
                                    content=text.encode(),
                                    headers={"content-type": "text/plain"}), text)
    else:
        @_settings(n)
        @given(doc=fuzzlib.scenario_docs(), runs=st.sampled_from([1, 5, 0, 10**9, "5"]))
        def f(doc, runs):
            body = json.dumps({"scenario": doc, "runs": runs, "posterior": "none",
                               "weeks": 6}, default=str)
            note(fuzzlib.check_http(client, "POST", "/api/runs", content=body.encode(),
                                    headers={"content-type": "application/json"}), body)
    f()
    return counts


SHAPES = {
    "dotted key": lambda n: ".".join(["a"] * (n // 2)) + " = 1",
    "nested arrays": lambda n: "x = " + "[" * (n // 2) + "]" * (n // 2),
    "nested inline tables": lambda n: "x = " + "{a = " * (n // 6) + "1" + "}" * (n // 6),
    "many keys": lambda n: "\n".join(f"k{i} = 1" for i in range(n // 10)),
    "many tables": lambda n: "\n".join(f"[t{i}]" for i in range(n // 8)),
    "long array": lambda n: "x = [" + ",".join(["1.5"] * (n // 4)) + "]",
    "long string": lambda n: 'name = "' + "x" * (n - 12) + '"',
    "schedule points": lambda n: 'name = "p"\n[schedules]\ntroops = [' + ", ".join(
        f"[2021-01-{1 + i % 28:02d}, {i}]" for i in range(n // 24)) + "]",
    "valid, 9,500 points": lambda n: 'name = "p"\nweeks = 520\n[schedules]\ntroops = [' + ", ".join(
        f"[{dt.date(2021, 1, 1) + dt.timedelta(days=i)}, {i % 3000}]"
        for i in range(9500)) + "]",
}


def web_latency(size: int) -> list[dict]:
    import httpx

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    data = tempfile.mkdtemp(prefix="fuzz-web-")
    env = {**os.environ, "RESURGENCE_TOKEN": ""}
    proc = subprocess.Popen([str(Path(sys.executable).parent / "resurgence"), "serve", "--port",
                             str(port), "--data-dir", data, "--log-level", "warning"], env=env,
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    rows = []
    try:
        c = httpx.Client(base_url=f"http://127.0.0.1:{port}", timeout=30)
        for _ in range(300):
            try:
                c.get("/api/health")
                break
            except httpx.TransportError:
                time.sleep(0.1)
        for name, make in SHAPES.items():
            body = make(size)[:size].encode()
            health: list[float] = []
            stop = threading.Event()

            def poll(health=health, stop=stop) -> None:
                with httpx.Client(base_url=f"http://127.0.0.1:{port}", timeout=30) as h:
                    while not stop.is_set():
                        t = time.perf_counter()
                        h.get("/api/health")
                        health.append(time.perf_counter() - t)
                        time.sleep(0.01)

            th = threading.Thread(target=poll)
            th.start()
            time.sleep(0.1)
            t0 = time.perf_counter()
            r = c.post("/api/scenarios/validate", content=body,
                       headers={"content-type": "text/plain"})
            took = time.perf_counter() - t0
            time.sleep(0.1)
            stop.set()
            th.join()
            err = r.json().get("error", "") if r.headers.get("content-type", "").startswith(
                "application/json") else r.text[:80]
            rows.append({"shape": name, "bytes": len(body), "status": r.status_code,
                         "answer_s": round(took, 3), "health_max_ms": round(1000 * max(health), 1),
                         "health_polls": len(health), "error": str(err)[:90]})
            print(f"  {name:22s} {r.status_code} {took:6.3f} s  health max "
                  f"{1000 * max(health):6.1f} ms  {str(err)[:70]}", flush=True)
    finally:
        proc.send_signal(signal.SIGINT)
        try:
            proc.wait(timeout=30)
        except subprocess.TimeoutExpired:
            proc.kill()
    return rows


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--scale", type=float, default=10.0, help="examples = CI size x scale")
    ap.add_argument("--body-bytes", type=int, default=256 * 1024)
    ap.add_argument("--json", type=Path)
    ap.add_argument("--skip-web", action="store_true", help="no latency run")
    ap.add_argument("--only", action="append", default=[],
                    help="only the kinds whose name contains this (repeatable)")
    args = ap.parse_args()
    warnings.simplefilter("ignore")
    from fastapi.testclient import TestClient

    from resurgence.web import Settings, create_app

    t_start, load0 = time.time(), os.getloadavg()
    results = {}
    with tempfile.TemporaryDirectory(prefix="fuzz-") as tmp:
        work = Path(tmp)
        app = create_app(Settings(data_dir=work / "web"))
        with TestClient(app, base_url="http://127.0.0.1:8000") as client:
            client.app.state.web.jobs.submit_ensemble = lambda *a, **k: "f" * 16
            for kind, base in BASE.items():
                if args.only and not any(o in kind for o in args.only):
                    continue
                n = max(1, int(base * args.scale))
                t0 = time.perf_counter()
                counts = run_kind(kind, n, work, client)
                results[kind] = {**{o: counts.get(o, 0) for o in ("ok", "clean", "traceback",
                                                                  "hang")},
                                 "tried": sum(counts.values()),
                                 "wall_s": round(time.perf_counter() - t0, 1)}
                print(f"{kind:45s} {results[kind]}", flush=True)
    latency = [] if args.skip_web else web_latency(args.body_bytes)
    out = {"command": " ".join(["benchmarks/fuzz.py", *sys.argv[1:]]),
           "date": time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime(t_start)),
           "load_start": load0, "load_end": os.getloadavg(), "cases": results,
           "web_latency": latency,
           "totals": {o: sum(r[o] for r in results.values())
                      for o in ("tried", "ok", "clean", "traceback", "hang")}}
    print(json.dumps(out["totals"]))
    if args.json:
        args.json.write_text(json.dumps(out, indent=1), encoding="utf-8")


if __name__ == "__main__":
    main()
