"""The web app and HTTP API (issue #5): every endpoint through FastAPI's TestClient.

One module-scoped server runs a small run and a small compare (20 runs, 20 weeks, default
parameters) in its worker pool; other tests start their own app on a fresh data directory.
"""

from __future__ import annotations

import io
import json
import os
import time
import warnings
import zipfile
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

with warnings.catch_warnings():  # newer Starlette suggests httpx2 over httpx: not an error
    warnings.simplefilter("ignore")
    from fastapi.testclient import TestClient

from resurgence.web import Settings, SettingsError, create_app
from resurgence.web.catalogue import Catalogue
from resurgence.web.specs import (
    ApiError,
    CompareRequest,
    run_scenarios,
)

BASE = "http://127.0.0.1:8000"
SMALL = {"runs": 20, "weeks": 20, "posterior": "none", "seed": 3}
TOKEN = "t0ken-for-the-tests-123"


@contextmanager
def serve(data_dir: Path, base_url: str = BASE, **kw: Any) -> Iterator[TestClient]:
    app = create_app(Settings(data_dir=data_dir, **kw))
    with TestClient(app, base_url=base_url) as client:
        yield client


def wait(client: TestClient, job_id: str, timeout: float = 180.0) -> dict[str, Any]:
    t0 = time.monotonic()
    while time.monotonic() - t0 < timeout:
        job = client.get(f"/api/jobs/{job_id}").json()
        if job["status"] not in ("queued", "running"):
            return job
        assert 0.0 <= job["progress"] <= 1.0
        time.sleep(0.2)
    raise AssertionError(f"job {job_id} did not finish in {timeout} s")


def error_of(r) -> str:
    body = r.json()
    assert set(body) == {"error"}, body
    msg = body["error"]
    assert isinstance(msg, str) and msg and "\n" not in msg and "Traceback" not in msg
    return msg


@pytest.fixture(scope="module")
def server(tmp_path_factory) -> Iterator[dict[str, Any]]:
    data = tmp_path_factory.mktemp("web")
    with serve(data) as client:
        run = client.post("/api/runs", json={"scenario": "announced-2500", **SMALL})
        cmp = client.post("/api/compare", json={"a": "announced-2500", "b": "full-withdrawal",
                                                **SMALL})
        post = client.post("/api/compare", json={"a": "announced-2500", "b": "full-withdrawal",
                                                 **SMALL, "posterior": "shipped"})
        assert run.status_code == 202 and cmp.status_code == 202, (run.text, cmp.text)
        assert post.status_code == 202, post.text
        jobs = {"run": wait(client, run.json()["id"]), "compare": wait(client, cmp.json()["id"]),
                "compare_shipped": wait(client, post.json()["id"])}
        yield {"client": client, "data": data, **jobs}


# ---------------------------------------------------------------------------- read endpoints

def test_health_meta_scenarios_claims_geo(server) -> None:
    c = server["client"]
    h = c.get("/api/health").json()
    assert h["status"] == "ok" and h["auth_required"] is False
    assert h["limits"]["max_runs"] == 2000 and h["limits"]["max_weeks"] == 520
    meta = c.get("/api/meta").json()
    assert "troops" in meta["levers"] and "strike" in meta["shock_kinds"]
    assert len(meta["regions"]) == 18 and meta["national_code"] == "IQ"
    names = [s["name"] for s in c.get("/api/scenarios").json()]
    assert {"announced-2500", "full-withdrawal", "stay-3000"} <= set(names)
    sc = c.get("/api/scenarios/full-withdrawal").json()
    assert sc["name"] == "full-withdrawal" and sc["schedules"]["troops"][-1][1] == 0
    assert c.get("/api/scenarios/../../etc/passwd").status_code == 404
    r = c.get("/api/scenarios/nope")
    assert r.status_code == 404 and "nope" in error_of(r)
    claims = c.get("/api/claims").json()
    assert {"id", "quote", "carried_by", "check"} <= set(claims[0]) and len(claims) >= 20
    geo = c.get("/api/geo").json()
    assert geo["type"] == "FeatureCollection" and len(geo["features"]) == 18
    assert {f["properties"]["code"] for f in geo["features"]} == {r["code"] for r in meta["regions"]}


def test_page_static_and_docs(server) -> None:
    c = server["client"]
    page = c.get("/")
    assert page.status_code == 200 and "/static/plotly.min.js" in page.text
    assert "https://" not in page.text.split("<body>")[0]  # no CDN in the head
    assert "default-src 'self'" in page.headers["content-security-policy"]
    js = c.get("/static/plotly.min.js")
    assert js.status_code == 200 and "plotly" in js.text[:400].lower()
    for f in ("app.js", "charts.js", "style.css", "topojson/world_110m.json"):
        assert c.get(f"/static/{f}").status_code == 200, f
    docs = c.get("/docs")
    assert docs.status_code == 200 and "/static/swagger/swagger-ui-bundle.js" in docs.text
    assert c.get("/static/swagger/swagger-ui-bundle.js").status_code == 200
    assert c.get("/docs/openapi-3.0.json").json()["openapi"].startswith("3.0")
    spec = c.get("/openapi.json").json()
    for path in ("/api/runs", "/api/compare", "/api/jobs/{job_id}/quantiles", "/api/geo",
                 "/api/scenarios/validate", "/api/jobs/{job_id}/bundle", "/api/claims"):
        assert path in spec["paths"], path
    r = c.get("/nowhere")
    assert r.status_code == 404 and "no such endpoint" in error_of(r)


# ---------------------------------------------------------------------------- validation

VALID = {"name": "t-cut", "base": "announced-2500", "title": "cut further",
         "schedules": {"troops": [["2021-02-01", 2500], ["2021-06-01", 1000]]},
         "shocks": [{"date": "2021-03-01", "kind": "is_surge", "region": "IQ-NI"}]}


def test_validate_json_toml_and_errors(server) -> None:
    c = server["client"]
    r = c.post("/api/scenarios/validate", json=VALID)
    assert r.status_code == 200, r.text
    sc = r.json()["scenario"]
    assert sc["schedules"]["troops"][-1] == ["2021-06-01", 1000.0] and sc["weeks"] == 104
    toml = 'name = "x"\nbase = "full-withdrawal"\nweeks = 30\n'
    for kw in ({"json": {"toml": toml}},
               {"content": toml, "headers": {"content-type": "text/plain; charset=utf-8"}}):
        r = c.post("/api/scenarios/validate", **kw)
        assert r.status_code == 200 and r.json()["scenario"]["weeks"] == 30, r.text
    bad = [
        ({"json": {**VALID, "weeks": "abc"}}, 422, "field 'weeks'"),
        ({"json": {**VALID, "base": "../secrets.toml"}}, 422, "field 'base'"),
        ({"json": {**VALID, "base": "/etc/passwd"}}, 422, "expected one of"),
        ({"json": {**VALID, "shocks": [{"date": "2021-03-01", "kind": "strike",
                                        "region": "IQ-XX"}]}}, 422, "region"),
        ({"json": {**VALID, "params": {"no_such_param": 1}}}, 422, "unknown parameter"),
        ({"json": {**VALID, "schedules": {"isr": [["2021-01-01", 9]]}}}, 422, "outside"),
        ({"json": {**VALID, "bases": [{"name": "Nowhere Base"}]}}, 422, "bases.0.name"),
        ({"json": {**VALID, "start": "2300-01-01"}}, 422, "start"),
        ({"json": {**VALID, "extra": 1}}, 422, "extra"),
        ({"json": {"toml": "name = "}}, 422, "TOML syntax error"),
        ({"json": {"toml": 5}}, 422, "field 'toml'"),
        ({"json": [1, 2]}, 422, "expected a JSON object"),
        ({"content": b"{not json", "headers": {"content-type": "application/json"}}, 400, "JSON"),
        ({"content": b"\xff\xfe", "headers": {"content-type": "text/plain"}}, 400, "UTF-8"),
        ({"content": b"x", "headers": {"content-type": "image/png"}}, 415, "content type"),
        ({"content": "[" * 100_000, "headers": {"content-type": "application/json"}}, 400, "JSON"),
    ]
    for kw, status, needle in bad:
        r = c.post("/api/scenarios/validate", **kw)
        assert r.status_code == status, (kw, r.text)
        assert needle in error_of(r), (needle, r.text)


# ---------------------------------------------------------------------------- runs and results

def test_small_run_completes_with_results(server) -> None:
    c, job = server["client"], server["run"]
    assert job["status"] == "done" and job["progress"] == 1.0 and job["error"] is None
    assert job["scenarios"] == ["announced-2500"] and job["runs"] == 20 and job["weeks"] == 20
    assert (server["data"] / "bundles" / job["id"] / "manifest.json").is_file()
    assert job["id"] in [j["id"] for j in c.get("/api/jobs").json()]
    s = c.get(f"/api/jobs/{job['id']}/summary").json()
    assert s["kind"] == "run" and s["runs"] == 20
    row = {o["summary"]: o for o in s["outcomes"]["announced-2500"]}["is_attacks_y1"]
    assert row["lo"] <= row["mid"] <= row["hi"] and row["mid"] > 0 and row["unit"] == "attacks"
    q = c.get(f"/api/jobs/{job['id']}/quantiles", params={"metric": "is_fighters"}).json()
    series = q["scenarios"]["announced-2500"]
    assert q["unit"] == "fighters" and q["region"] == "IQ" and len(series["q50"]) == 20
    assert all(a <= b <= d for a, b, d in zip(series["q05"], series["q50"], series["q95"],
                                                strict=True))
    assert series["date"][0] == "2020-12-01"
    q = c.get(f"/api/jobs/{job['id']}/quantiles",
              params={"metric": "is_attacks", "region": "IQ-NI"}).json()
    assert q["region"] == "IQ-NI" and len(q["scenarios"]["announced-2500"]["mean"]) == 20
    m = c.get(f"/api/jobs/{job['id']}/map", params={"metric": "is_attacks"}).json()
    assert m["week"] == 19 and len(m["values"]) == 18 and m["date"] == "2021-04-13"
    assert all(v["value"] is not None and v["value"] >= 0 for v in m["values"])
    m0 = c.get(f"/api/jobs/{job['id']}/map", params={"metric": "iran_influence", "week": 0}).json()
    assert m0["week"] == 0 and 0 <= m0["min"] <= m0["max"] <= 1
    z = c.get(f"/api/jobs/{job['id']}/bundle")
    assert z.status_code == 200 and z.headers["content-type"] == "application/zip"
    names = zipfile.ZipFile(io.BytesIO(z.content)).namelist()
    assert f"{job['id']}/manifest.json" in names and f"{job['id']}/quantiles.parquet" in names
    assert any(n.startswith(f"{job['id']}/series/") for n in names)
    assert c.get(f"/api/jobs/{job['id']}/bundle").content == z.content  # cached zip


def test_compare_gives_paired_contrasts(server) -> None:
    c, job = server["client"], server["compare"]
    assert job["status"] == "done" and job["scenarios"] == ["announced-2500", "full-withdrawal"]
    s = c.get(f"/api/jobs/{job['id']}/summary").json()
    assert s["kind"] == "compare" and s["a"] == "announced-2500" and s["b"] == "full-withdrawal"
    troops = {x["summary"]: x for x in s["contrasts"]}["us_troops_end"]
    assert troops["a_mid"] == 2500 and troops["b_mid"] < 2500  # 20 weeks: still withdrawing
    assert troops["diff_mid"] == troops["b_mid"] - 2500 and troops["p_increase"] == 0
    q = c.get(f"/api/jobs/{job['id']}/quantiles", params={"metric": "is_attacks"}).json()
    assert set(q["scenarios"]) == {"announced-2500", "full-withdrawal"}
    # default posterior "none": the blend weights are for the calibrated posterior
    assert q["levels"] == "simulator" and "posterior" in q["levels_note"]
    q = c.get(f"/api/jobs/{job['id']}/quantiles",
              params={"metric": "is_attacks", "scenario": "full-withdrawal"}).json()
    assert set(q["scenarios"]) == {"full-withdrawal"}
    m = c.get(f"/api/jobs/{job['id']}/map", params={"scenario": "announced-2500"}).json()
    assert m["scenario"] == "announced-2500"


def test_national_is_attacks_levels_come_from_the_blend(server) -> None:
    """A job on the calibrated posterior that ran the reference: national IS attacks with the
    blend's levels, saying so; levels=simulator, regions and other metrics keep the
    simulator's."""
    c, job = server["client"], server["compare_shipped"]
    assert job["status"] == "done", job
    q = c.get(f"/api/jobs/{job['id']}/quantiles", params={"metric": "is_attacks"}).json()
    assert q["levels"] == "blend" and "blended level" in q["levels_note"]
    assert set(q["scenarios"]) == {"announced-2500", "full-withdrawal"}
    for s in q["scenarios"].values():
        assert len(s["q50"]) == 20 and s["date"][0] == "2020-12-01"
        assert all(a <= b <= d for a, b, d in zip(s["q10"], s["q50"], s["q90"], strict=True))
    sim = c.get(f"/api/jobs/{job['id']}/quantiles",
                params={"metric": "is_attacks", "levels": "simulator"}).json()
    assert sim["levels"] == "simulator" and sim["scenarios"] != q["scenarios"]
    for params in ({"metric": "is_attacks", "region": "IQ-NI"}, {"metric": "is_fighters"}):
        assert c.get(f"/api/jobs/{job['id']}/quantiles", params=params).json()["levels"] == "simulator"
    r = c.get(f"/api/jobs/{job['id']}/quantiles", params={"metric": "is_attacks", "levels": "x"})
    assert r.status_code == 422


def test_brief_job(server) -> None:
    c = server["client"]
    for body, needle in (({"runs": 5}, "runs"), ({"runs": 5000}, "at most 2000"),
                         ({"runs": 10, "case": "x"}, "case")):
        r = c.post("/api/brief", json=body)
        assert r.status_code == 422 and needle in error_of(r), r.text
    r = c.post("/api/brief", json={"runs": 10, "posterior": "none"})
    assert r.status_code == 202, r.text
    job = wait(c, r.json()["id"], 600)
    assert job["status"] == "done", job
    assert job["links"]["brief"].endswith("/brief")
    page = c.get(job["links"]["brief"])
    assert page.status_code == 200 and "<h1>" in page.text and "data:image/png" in page.text
    s = c.get(job["links"]["summary"]).json()
    assert s["kind"] == "brief" and {"C1", "C22"} <= {x["id"] for x in s["claims"]}
    q = c.get(job["links"]["quantiles"], params={"metric": "is_attacks"}).json()
    assert {"announced-2500", "full-withdrawal"} <= set(q["scenarios"])
    # without the calibrated posterior the blend weights do not apply: the simulator's level
    assert q["levels"] == "simulator" and "posterior" in q["levels_note"]
    r = c.get(f"/api/jobs/{server['run']['id']}/brief")
    assert r.status_code == 404 and "not a brief" in error_of(r)


def test_result_queries_errors(server) -> None:
    c, jid = server["client"], server["run"]["id"]
    for path, params, status, needle in [
        ("quantiles", {"metric": "nope"}, 422, "metric"),
        ("quantiles", {"metric": "is_attacks", "region": "XX"}, 422, "region"),
        ("quantiles", {"metric": "is_attacks", "scenario": "other"}, 422, "scenario"),
        ("quantiles", {"metric": "us_troops", "region": "IQ-AN"}, 422, "national"),
        ("map", {"metric": "us_troops"}, 422, "national"),
        ("map", {"week": 20}, 422, "week"),
        ("map", {"week": -21}, 422, "week"),
        ("map", {"week": "x"}, 422, "week"),
    ]:
        r = c.get(f"/api/jobs/{jid}/{path}", params=params)
        assert r.status_code == status, (path, params, r.text)
        assert needle in error_of(r)
    for suffix in ("", "/summary", "/quantiles", "/map", "/bundle"):
        r = c.get(f"/api/jobs/0123456789abcdef{suffix}")
        assert r.status_code == 404 and "no job" in error_of(r)
    state = c.app.state.web
    state.catalogue.add("feedfacefeedface", "run", ["x"], 1, 1, 1, "none")
    state.catalogue.finish("feedfacefeedface", "failed", error="boom")
    r = c.get("/api/jobs/feedfacefeedface/quantiles")
    assert r.status_code == 409 and "failed" in error_of(r)
    assert c.get("/api/jobs/feedfacefeedface").json()["error"] == "boom"


def test_same_scenario_twice_and_grid_mismatch(server) -> None:
    s = server["client"].app.state.web.settings
    a, b = run_scenarios(CompareRequest(a="stay-3000", b="stay-3000", **SMALL), s)
    assert (a.name, b.name) == ("stay-3000", "stay-3000-b")
    with pytest.raises(ApiError, match="share 'start' and 'weeks'"):
        run_scenarios(CompareRequest(a="announced-2500", b={**VALID, "weeks": 50}), s)


# ---------------------------------------------------------------------------- limits

def test_limits_give_4xx(tmp_path) -> None:
    with serve(tmp_path, max_runs=100, max_weeks=52, max_jobs=1, queue=0,
               max_body=4096) as c:
        r = c.post("/api/runs", json={"scenario": "announced-2500", "runs": 50000})
        assert r.status_code == 422 and error_of(r) == "field 'runs' = 50000: at most 100"
        r = c.post("/api/runs", json={"scenario": "announced-2500", "runs": 10, "weeks": 60})
        assert r.status_code == 422 and error_of(r) == "field 'weeks' = 60: at most 52"
        r = c.post("/api/runs", json={"scenario": "announced-2500", "runs": 10})
        assert r.status_code == 422 and "at most 52" in error_of(r)  # its own 104 weeks
        for body in ({"scenario": "announced-2500", "runs": 0}, {"scenario": "x", "runs": 1},
                     {"scenario": "announced-2500", "runs": "10"},
                     {"scenario": "announced-2500", "posterior": "/tmp/post.csv"},
                     {"scenario": "announced-2500", "bogus": 1}, {}):
            r = c.post("/api/runs", json=body)
            assert r.status_code == 422, (body, r.text)
            error_of(r)
        r = c.post("/api/scenarios/validate", content=b"x" * 5000,
                   headers={"content-type": "text/plain"})
        assert r.status_code == 413 and "at most 4096" in error_of(r)

        def chunks():
            for _ in range(10):
                yield b"x" * 1000

        r = c.post("/api/scenarios/validate", content=chunks(),
                   headers={"content-type": "text/plain"})
        assert r.status_code == 413, r.text
        ok = c.post("/api/runs", json={"scenario": "announced-2500", "runs": 100, "weeks": 52})
        assert ok.status_code == 202, ok.text
        full = c.post("/api/runs", json={"scenario": "announced-2500", "runs": 5, "weeks": 5})
        assert full.status_code == 503 and "queue is full" in error_of(full)
        assert full.headers["retry-after"]
        assert c.get("/api/health").json()["jobs"]["capacity"] == 1


def test_settings_validation() -> None:
    with pytest.raises(SettingsError, match="needs a token"):
        create_app(Settings(host="0.0.0.0"))
    with pytest.raises(SettingsError, match="16 characters"):
        Settings(host="0.0.0.0", token="short")
    with pytest.raises(SettingsError, match="max_runs"):
        Settings(max_runs=0)
    assert Settings(host="::1").loopback and Settings(host="localhost").loopback
    assert not Settings(host="10.0.0.1", token=TOKEN).loopback


def test_serve_command_refuses_unsafe_binds(tmp_path) -> None:
    import typer
    from typer.testing import CliRunner

    from resurgence.cli.app import user_errors
    from resurgence.cli.serve import serve_cmd

    app = typer.Typer()
    app.command("serve")(user_errors(serve_cmd))
    app.command("other")(lambda: None)
    env = {"RESURGENCE_TOKEN": ""}
    r = CliRunner().invoke(app, ["serve", "--host", "0.0.0.0", "--data-dir", str(tmp_path)],
                           env=env)
    assert r.exit_code == 2 and "needs a token" in r.output
    r = CliRunner().invoke(app, ["serve", "--host", "0.0.0.0", "--token", "short"], env=env)
    assert r.exit_code == 2 and "16 characters" in r.output


# ---------------------------------------------------------------------------- security

def test_auth_required_when_configured(tmp_path) -> None:
    with serve(tmp_path, token=TOKEN) as c:
        assert c.get("/api/health").json()["auth_required"] is True
        assert c.get("/api/scenarios").status_code == 200  # reads stay open
        for headers in ({}, {"Authorization": "Bearer wrong-token-xxxxxxxx"},
                        {"Authorization": f"Basic {TOKEN}"}):
            for path, body in (("/api/scenarios/validate", VALID),
                               ("/api/runs", {"scenario": "announced-2500", **SMALL}),
                               ("/api/compare", {"a": "stay-3000", "b": "announced-2500"}),
                               ("/api/brief", {"runs": 10})):
                r = c.post(path, json=body, headers=headers)
                assert r.status_code == 401, (path, headers, r.text)
                assert "Bearer" in error_of(r) and r.headers["www-authenticate"] == "Bearer"
        r = c.post("/api/scenarios/validate", json=VALID,
                   headers={"Authorization": f"Bearer {TOKEN}"})
        assert r.status_code == 200


def test_off_loopback_with_token(tmp_path) -> None:
    app = create_app(Settings(host="0.0.0.0", token=TOKEN, data_dir=tmp_path))
    with TestClient(app, base_url="http://example.org") as c:
        assert c.get("/api/health").status_code == 200  # any Host when bound off loopback
        assert c.post("/api/scenarios/validate", json=VALID).status_code == 401


def test_host_and_origin_checks(server) -> None:
    c = server["client"]
    r = c.get("/api/health", headers={"Host": "evil.example"})
    assert r.status_code == 421 and "loopback" in error_of(r)
    assert c.get("/api/health", headers={"Host": "localhost:8000"}).status_code == 200
    r = c.post("/api/scenarios/validate", json=VALID, headers={"Origin": "http://evil.example"})
    assert r.status_code == 403 and "cross-origin" in error_of(r)
    r = c.post("/api/scenarios/validate", json=VALID, headers={"Origin": "null"})
    assert r.status_code == 403
    r = c.post("/api/scenarios/validate", json=VALID, headers={"Origin": BASE})
    assert r.status_code == 200
    assert c.get("/api/health").headers["x-content-type-options"] == "nosniff"


# ---------------------------------------------------------------------------- persistence

def test_restart_keeps_finished_and_marks_interrupted(tmp_path) -> None:
    with serve(tmp_path) as c:
        done = wait(c, c.post("/api/runs", json={"scenario": "stay-3000", **SMALL}).json()["id"])
        assert done["status"] == "done"
        big = c.post("/api/runs", json={"scenario": "announced-2500", "runs": 2000,
                                        "weeks": 520, "posterior": "none"}).json()["id"]
    # a real crash (kill -9 of the server and its workers) is tests/test_web_faults.py
    with serve(tmp_path) as c:
        for jid in (big,):
            job = c.get(f"/api/jobs/{jid}").json()
            assert job["status"] == "interrupted" and "submit it again" in job["error"], job
        assert not list((tmp_path / "bundles").glob("*.tmp-*"))
        again = c.get(f"/api/jobs/{done['id']}").json()
        assert again["status"] == "done"
        q = c.get(f"/api/jobs/{done['id']}/quantiles", params={"metric": "is_attacks"})
        assert q.status_code == 200 and "stay-3000" in q.json()["scenarios"]


def test_catalogue_in_use_is_refused(tmp_path) -> None:
    from resurgence.web.catalogue import CatalogueError

    held = Catalogue(tmp_path)
    try:
        import subprocess
        import sys

        code = ("from resurgence.web.catalogue import Catalogue; import sys\n"
                f"try:\n    Catalogue({str(tmp_path)!r})\nexcept Exception as e:\n"
                "    print(type(e).__name__, e); sys.exit(3)")
        p = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                           timeout=60)
        assert p.returncode == 3 and CatalogueError.__name__ in p.stdout, p.stdout + p.stderr
    finally:
        held.close()


# ---------------------------------------------------------------------------- fuzzing

JSON = st.recursive(
    st.none() | st.booleans() | st.integers(-2**70, 2**70)
    | st.floats(allow_nan=True, allow_infinity=True) | st.text(max_size=24)
    | st.sampled_from(["announced-2500", "IQ-NI", "2021-01-01", "9999-12-31", "0001-01-01",
                       "strike", "../x.toml", "*"]),
    lambda kids: st.lists(kids, max_size=4) | st.dictionaries(st.text(max_size=12), kids,
                                                               max_size=4),
    max_leaves=16)
FIELDS = ["name", "base", "start", "weeks", "title", "schedules", "schedules.troops",
          "schedules.isr", "schedules.pandemic", "shocks", "shocks.0", "shocks.0.date",
          "shocks.0.kind", "shocks.0.region", "shocks.0.magnitude", "shocks.0.weeks", "bases",
          "bases.0.name", "bases.0.close", "policy", "policy.expel_threshold",
          "policy.exit_weeks", "params", "params.attack_rate", "claims", "unknown_field"]


def mutate(base: dict[str, Any], path: str, value: Any) -> dict[str, Any]:
    doc = json.loads(json.dumps({**base, "bases": [{"name": "*"}]}))
    keys = path.split(".")
    node: Any = doc
    for k in keys[:-1]:
        k2: Any = int(k) if k.isdigit() else k
        if isinstance(node, dict) and not isinstance(node.get(k2), dict | list):
            node[k2] = {}
        node = node[k2]
    last: Any = int(keys[-1]) if keys[-1].isdigit() else keys[-1]
    node[last] = value
    return doc


scenario_payloads = JSON | st.builds(mutate, st.just(VALID), st.sampled_from(FIELDS), JSON)


def _fuzz_client(tmp_path_factory):
    return serve(tmp_path_factory.mktemp("fuzz"))


@pytest.fixture(scope="module")
def fuzz(tmp_path_factory) -> Iterator[TestClient]:
    with _fuzz_client(tmp_path_factory) as c:
        submitted: list[Any] = []

        def fake_submit(kind, scenarios, runs, seed, posterior, label=None):  # no real work
            submitted.append(scenarios)
            return "f" * 16

        c.app.state.web.jobs.submit_ensemble = fake_submit
        c.submitted = submitted  # type: ignore[attr-defined]
        yield c


FUZZ = settings(max_examples=int(os.environ.get("RESURGENCE_FUZZ_EXAMPLES", "150")), deadline=None,
                suppress_health_check=[HealthCheck.function_scoped_fixture,
                                       HealthCheck.too_slow])


def post_json(c: TestClient, path: str, body: Any):
    """POST JSON as Python writes it (NaN and Infinity included, unlike httpx's encoder)."""
    return c.post(path, content=json.dumps(body), headers={"content-type": "application/json"})


def runs_cleanly(scenarios) -> None:
    """What acceptance promises, checked by running it (not by the server's own check): the
    accepted scenarios simulate (a few runs and weeks) to finite outcomes."""
    import numpy as np

    from resurgence.runs.ensemble import run_ensemble

    res = run_ensemble(scenarios, 2, 1, weeks=min(scenarios[0].weeks, 8))
    for name, summ in res.outcomes.items():
        for k, v in summ.items():
            assert np.all(np.isfinite(np.asarray(v, float))), (name, k)


@FUZZ
@given(payload=scenario_payloads)
def test_fuzz_validate_never_500(fuzz, payload) -> None:
    r = post_json(fuzz, "/api/scenarios/validate", payload)
    assert r.status_code != 500, r.text
    if r.status_code != 200:
        assert 400 <= r.status_code < 500
        error_of(r)


@FUZZ
@given(scenario=scenario_payloads, runs=st.one_of(st.just(20), JSON),
       weeks=st.one_of(st.just(20), JSON), extra=st.dictionaries(
           st.sampled_from(["seed", "posterior", "junk"]), JSON, max_size=2))
def test_fuzz_runs_never_500(fuzz, scenario, runs, weeks, extra) -> None:
    body = {"scenario": scenario, "runs": runs, "weeks": weeks, **extra}
    fuzz.submitted.clear()
    r = post_json(fuzz, "/api/runs", body)
    assert r.status_code != 500, r.text
    if r.status_code == 202:  # accepted: it must run, and as asked
        (scs,) = fuzz.submitted
        assert isinstance(runs, int) and 1 <= runs <= fuzz.app.state.web.settings.max_runs
        assert weeks is None or scs[0].weeks == weeks
        runs_cleanly(scs)
    else:
        assert 400 <= r.status_code < 500
        error_of(r)


@FUZZ
@given(raw=st.binary(max_size=200) | st.text(max_size=200).map(str.encode),
       ctype=st.sampled_from(["application/json", "text/plain", "", "application/toml"]))
def test_fuzz_raw_bodies(fuzz, raw, ctype) -> None:
    headers = {"content-type": ctype} if ctype else {}
    for path in ("/api/scenarios/validate", "/api/runs", "/api/compare"):
        r = fuzz.post(path, content=raw, headers=headers)
        assert 400 <= r.status_code < 500, (path, raw, r.text)
        error_of(r)
