"""Faults of the web server with real processes (issue #12): kill -9 of the server (its
workers die with it; a restarted server marks the job interrupted, collects its debris and
refuses late results) and kill -9 of one worker (only its job fails). Linux only: the tests
find worker processes in /proc."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import httpx
import pytest

pytestmark = pytest.mark.skipif(not Path("/proc/self/stat").exists(), reason="needs /proc")

BIG = {"scenario": "announced-2500", "runs": 2000, "weeks": 520, "posterior": "none"}
SMALL = {"scenario": "stay-3000", "runs": 20, "weeks": 20, "posterior": "none"}
RESURGENCE = str(Path(sys.executable).parent / "resurgence")


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _alive(pid: int) -> bool:
    try:
        state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except OSError:
        return False
    return state not in ("Z", "X")  # a zombie has died (no init to reap it in a container)


def workers_of(pid: int) -> list[int]:
    """Pids of the job processes the server ``pid`` spawned (not its resource tracker)."""
    out = []
    for d in Path("/proc").iterdir():
        if not d.name.isdigit():
            continue
        try:
            stat = (d / "stat").read_text()
            cmd = (d / "cmdline").read_bytes()
        except OSError:
            continue
        if int(stat.rsplit(")", 1)[1].split()[1]) == pid and b"spawn_main" in cmd \
                and _alive(int(d.name)):
            out.append(int(d.name))
    return sorted(out)


@contextmanager
def server(data: Path, *args: str) -> Iterator[tuple[subprocess.Popen, httpx.Client]]:
    port = _free_port()
    env = {**os.environ, "RESURGENCE_TOKEN": ""}
    proc = subprocess.Popen([RESURGENCE, "serve", "--port", str(port), "--data-dir", str(data),
                             "--log-level", "warning", *args], env=env,
                            stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    client = httpx.Client(base_url=f"http://127.0.0.1:{port}", timeout=30)
    try:
        for _ in range(300):
            try:
                if client.get("/api/health").status_code == 200:
                    break
            except httpx.TransportError:
                time.sleep(0.1)
        else:
            raise AssertionError("the server did not start")
        yield proc, client
    finally:
        client.close()
        if proc.poll() is None:
            proc.send_signal(signal.SIGINT)
            try:
                proc.wait(timeout=30)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait()
        if proc.stderr:
            proc.stderr.close()


def until(pred, timeout: float = 120.0, what: str = "") -> Any:
    t0 = time.monotonic()
    while time.monotonic() - t0 < timeout:
        v = pred()
        if v:
            return v
        time.sleep(0.2)
    raise AssertionError(f"timed out waiting for {what}")


def status(c: httpx.Client, job_id: str) -> str:
    return c.get(f"/api/jobs/{job_id}").json()["status"]


def test_kill_9_of_the_server_kills_its_workers_and_a_restart_cleans_up(tmp_path) -> None:
    with server(tmp_path) as (proc, c):
        done = c.post("/api/runs", json=SMALL).json()["id"]
        until(lambda: status(c, done) == "done", what="the small job")
        big = c.post("/api/runs", json=BIG).json()["id"]
        until(lambda: status(c, big) == "running", what="the big job to start")
        (worker,) = until(lambda: workers_of(proc.pid), what="its worker")
        proc.kill()  # kill -9: no shutdown code runs in the server
        proc.wait()
        until(lambda: not _alive(worker), timeout=15, what="the worker to die with the server")
    # an orphan's late result, as a surviving worker on a system without prctl would leave it
    late = tmp_path / "bundles" / big
    late.mkdir(parents=True, exist_ok=True)
    (late / "manifest.json").write_text("{}", encoding="utf-8")
    with server(tmp_path) as (_, c):
        job = c.get(f"/api/jobs/{big}").json()
        assert job["status"] == "interrupted" and "submit it again" in job["error"], job
        assert not late.exists()
        assert not list((tmp_path / "bundles").glob("*.tmp-*"))
        assert c.get(f"/api/jobs/{big}/summary").status_code == 409
        assert c.get(f"/api/jobs/{done}").json()["status"] == "done"
        r = c.get(f"/api/jobs/{done}/quantiles", params={"metric": "is_attacks"})
        assert r.status_code == 200


def test_kill_9_of_one_worker_fails_only_its_job(tmp_path) -> None:
    with server(tmp_path, "--max-jobs", "2") as (proc, c):
        victim = c.post("/api/runs", json=BIG).json()["id"]
        until(lambda: status(c, victim) == "running", what="the victim to start")
        (pid,) = until(lambda: workers_of(proc.pid), what="its worker")
        other = c.post("/api/runs", json={**SMALL, "runs": 100, "weeks": 52}).json()["id"]
        queued = [c.post("/api/runs", json={**SMALL, "seed": i}).json()["id"] for i in range(2)]
        until(lambda: status(c, other) == "running", what="the other job to start")
        os.kill(pid, signal.SIGKILL)
        job = until(lambda: (j := c.get(f"/api/jobs/{victim}").json())["status"] == "failed"
                    and j, what="the victim to fail")
        assert "worker process died" in job["error"] and "signal 9" in job["error"], job
        for jid in (other, *queued):
            until(lambda jid=jid: status(c, jid) == "done", timeout=300, what=f"job {jid}")
        assert not (tmp_path / "bundles" / victim).exists()
        assert not list((tmp_path / "bundles").glob(f"{victim}*"))
        assert c.get("/api/health").json()["jobs"]["running"] == 0


def test_cancel_kills_the_worker_and_stopping_the_server_leaves_none(tmp_path) -> None:
    with server(tmp_path, "--max-jobs", "1") as (proc, c):
        big = c.post("/api/runs", json=BIG).json()["id"]
        until(lambda: status(c, big) == "running", what="the big job to start")
        (pid,) = until(lambda: workers_of(proc.pid), what="its worker")
        r = c.post(f"/api/jobs/{big}/cancel")
        assert r.status_code == 200 and r.json()["status"] == "cancelled", r.text
        until(lambda: not _alive(pid), timeout=15, what="the cancelled worker to die")
        assert c.post(f"/api/jobs/{big}/cancel").status_code == 409
        until(lambda: not list((tmp_path / "bundles").glob(f"{big}*")), timeout=15,
              what="its files to go")
        again = c.post("/api/runs", json=BIG).json()["id"]
        until(lambda: status(c, again) == "running", what="the next job to start")
        (pid,) = until(lambda: workers_of(proc.pid), what="its worker")
        proc.send_signal(signal.SIGINT)  # a graceful stop: workers killed, job interrupted
        proc.wait(timeout=60)
        until(lambda: not _alive(pid), timeout=15, what="the worker to stop with the server")
