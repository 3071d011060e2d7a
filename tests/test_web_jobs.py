"""The jobs API contract (issue #12): labels, cancel, delete, listing; read_token_required;
same-named scenarios; large bodies of hostile shapes answered with one line."""

from __future__ import annotations

import time
import warnings
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import pytest

with warnings.catch_warnings():
    warnings.simplefilter("ignore")
    from fastapi.testclient import TestClient

from resurgence.web import Settings, SettingsError, create_app

BASE = "http://127.0.0.1:8000"
SMALL = {"scenario": "stay-3000", "runs": 20, "weeks": 20, "posterior": "none"}
BIG = {"scenario": "announced-2500", "runs": 2000, "weeks": 520, "posterior": "none"}
TOKEN = "t0ken-for-the-tests-123"


@contextmanager
def serve(data_dir: Path, **kw: Any) -> Iterator[TestClient]:
    with TestClient(create_app(Settings(data_dir=data_dir, **kw)), base_url=BASE) as client:
        yield client


def wait(c: TestClient, job_id: str, until=("done", "failed", "cancelled", "interrupted"),
         timeout: float = 180.0) -> dict[str, Any]:
    t0 = time.monotonic()
    while time.monotonic() - t0 < timeout:
        job = c.get(f"/api/jobs/{job_id}").json()
        if job["status"] in until:
            return job
        time.sleep(0.2)
    raise AssertionError(f"job {job_id} not {until} in {timeout} s")


def error_of(r) -> str:
    body = r.json()
    assert set(body) == {"error"}, body
    assert "\n" not in body["error"] and "Traceback" not in body["error"]
    return body["error"]


def test_labels_cancel_delete_and_list(tmp_path) -> None:
    with serve(tmp_path, max_jobs=1) as c:
        r = c.post("/api/runs", json={**SMALL, "label": "my first run"})
        assert r.status_code == 202 and r.json()["label"] == "my first run", r.text
        small = r.json()["id"]
        big = c.post("/api/runs", json={**BIG, "label": "big"}).json()["id"]
        queued = c.post("/api/compare", json={"a": "stay-3000", "b": "announced-2500",
                                              "runs": 20, "weeks": 20, "posterior": "none",
                                              "label": "queued compare"}).json()["id"]
        done = wait(c, small)
        assert done["status"] == "done" and done["label"] == "my first run"
        listed = {j["id"]: j for j in c.get("/api/jobs").json()}
        assert listed[queued]["label"] == "queued compare" and listed[big]["label"] == "big"
        # a queued job is cancelled at once
        r = c.post(f"/api/jobs/{queued}/cancel")
        assert r.status_code == 200 and r.json()["status"] == "cancelled", r.text
        assert r.json()["label"] == "queued compare"
        # a running one: its process is killed and its files removed
        wait(c, big, until=("running",))
        assert c.delete(f"/api/jobs/{big}").status_code == 409
        r = c.post(f"/api/jobs/{big}/cancel")
        assert r.status_code == 200 and r.json()["status"] == "cancelled"
        assert c.get(f"/api/jobs/{big}").json()["status"] == "cancelled"
        for jid in (big, queued, small):
            r = c.post(f"/api/jobs/{jid}/cancel")
            assert r.status_code == 409 and "can be cancelled" in error_of(r)
        assert c.post("/api/jobs/ffffffffffffffff/cancel").status_code == 404
        assert c.delete("/api/jobs/ffffffffffffffff").status_code == 404
        # delete a done job: row and files go
        bundle = tmp_path / "bundles" / small
        assert bundle.is_dir()
        assert c.get(f"/api/jobs/{small}/bundle").status_code == 200
        r = c.delete(f"/api/jobs/{small}")
        assert r.status_code == 204 and r.content == b""
        assert not bundle.exists() and not (tmp_path / "downloads" / f"{small}.zip").exists()
        assert c.get(f"/api/jobs/{small}").status_code == 404
        t0 = time.monotonic()
        while list((tmp_path / "bundles").glob(f"{big}*")) and time.monotonic() - t0 < 15:
            time.sleep(0.2)
        assert not list((tmp_path / "bundles").glob(f"{big}*"))
        assert c.delete(f"/api/jobs/{big}").status_code == 204
        assert c.delete(f"/api/jobs/{queued}").status_code == 204
        assert c.get("/api/jobs").json() == []
        assert c.get("/api/health").json()["jobs"]["running"] == 0


@pytest.mark.parametrize("label", ["x" * 81, "two\nlines", "tab\there", 5, ["a"]])
def test_bad_labels_are_422(tmp_path, label) -> None:
    with serve(tmp_path) as c:
        r = c.post("/api/runs", json={**SMALL, "label": label})
        assert r.status_code == 422 and "label" in error_of(r)


def test_same_named_inline_scenarios(tmp_path) -> None:
    name = "n" * 64
    a = {"name": name, "base": "stay-3000"}
    b = {"name": name, "base": "full-withdrawal"}
    with serve(tmp_path) as c:
        c.app.state.web.jobs.submit_ensemble = lambda *a, **k: "f" * 16
        r = c.post("/api/compare", json={"a": a, "b": b, "runs": 10, "posterior": "none"})
        assert r.status_code == 422 and "share the name" in error_of(r)
        r = c.post("/api/compare", json={"a": a, "b": a, "runs": 10, "posterior": "none"})
        assert r.status_code == 202, r.text
        assert r.json()["scenarios"] == [name, name[:62] + "-b"]
        r = c.post("/api/compare", json={"a": "stay-3000", "b": {"name": "stay-3000",
                                         "base": "full-withdrawal"}, "runs": 10})
        assert r.status_code == 422


def test_read_token_required(tmp_path) -> None:
    with pytest.raises(SettingsError, match="read_token_required"):
        Settings(read_token_required=True)
    auth = {"Authorization": f"Bearer {TOKEN}"}
    with serve(tmp_path, token=TOKEN, read_token_required=True) as c:
        assert c.get("/api/health").status_code == 200
        assert c.get("/").status_code == 200
        for path in ("/api/jobs", "/api/scenarios", "/api/meta", "/api/jobs/x"):
            r = c.get(path)
            assert r.status_code == 401 and "reads" in error_of(r), path
            assert r.headers["www-authenticate"] == "Bearer"
            assert c.get(path, headers={"Authorization": "Bearer wrong-wrong-wrong"}
                         ).status_code == 401
        assert c.get("/api/jobs", headers=auth).status_code == 200
        assert c.get("/api/scenarios", headers=auth).status_code == 200
    with serve(tmp_path, token=TOKEN) as c:  # the default: reads stay open
        assert c.get("/api/jobs").status_code == 200


SHAPES = {
    "dotted": lambda n: ".".join(["a"] * (n // 2)) + " = 1",
    "arrays": lambda n: "x = " + "[" * (n // 2) + "]" * (n // 2),
    "tables": lambda n: "x = " + "{a = " * (n // 6) + "1" + "}" * (n // 6),
    "keys": lambda n: "\n".join(f"k{i} = 1" for i in range(n // 10)),
    "headers": lambda n: "\n".join(f"[t{i}]" for i in range(n // 8)),
    "strings": lambda n: 'name = "' + "x" * (n - 12) + '"',
}


@pytest.mark.parametrize("shape", sorted(SHAPES))
def test_a_large_body_of_any_shape_is_answered_in_one_line(tmp_path, shape) -> None:
    n = 250 * 1024
    text = SHAPES[shape](n)[:n]
    with serve(tmp_path) as c:
        r = c.post("/api/scenarios/validate", content=text.encode(),
                   headers={"content-type": "text/plain"})
        assert 400 <= r.status_code < 500, r.text[:200]
        error_of(r)
        assert c.get("/api/health").status_code == 200
