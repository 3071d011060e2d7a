"""The results API for readers: paired differences B - A over time and by governorate, and
CSV exports of quantiles and outcomes (a small compare through FastAPI's TestClient)."""

from __future__ import annotations

import io
import time
import warnings
from typing import Any

import numpy as np
import pandas as pd
import pytest

with warnings.catch_warnings():
    warnings.simplefilter("ignore")
    from fastapi.testclient import TestClient

from resurgence.results.bundle import Bundle
from resurgence.web import Settings, create_app

SMALL = {"runs": 12, "weeks": 16, "posterior": "none", "seed": 5}


@pytest.fixture(scope="module")
def jobs(tmp_path_factory) -> Any:
    data = tmp_path_factory.mktemp("web-exports")
    with TestClient(create_app(Settings(data_dir=data)), base_url="http://127.0.0.1:8000") as c:
        ids = {"compare": c.post("/api/compare", json={"a": "announced-2500",
                                                       "b": "full-withdrawal", **SMALL}).json()["id"],
               "run": c.post("/api/runs", json={"scenario": "stay-3000", **SMALL}).json()["id"]}
        for i in ids.values():
            t0 = time.monotonic()
            while c.get(f"/api/jobs/{i}").json()["status"] in ("queued", "running"):
                assert time.monotonic() - t0 < 180
                time.sleep(0.2)
        yield c, ids, data


def _bundle(data, job_id) -> Bundle:
    return Bundle.open(next(p.parent for p in data.rglob("manifest.json") if job_id in str(p)))


def test_difference_series_is_the_paired_difference(jobs):
    c, ids, data = jobs
    r = c.get(f"/api/jobs/{ids['compare']}/difference?metric=is_fighters&region=IQ")
    assert r.status_code == 200, r.text
    d = r.json()
    assert (d["a"], d["b"]) == ("announced-2500", "full-withdrawal") and d["unit"]
    diff = d["difference"]
    assert len(diff["week"]) == 16 == len(diff["date"]) == len(diff["q50"])
    assert all(lo <= mid <= hi for lo, mid, hi in zip(diff["q10"], diff["q50"], diff["q90"],
                                                      strict=True))
    q = _bundle(data, ids["compare"]).query(
        "SELECT scenario::VARCHAR AS s, run, is_fighters AS v FROM series WHERE region = 'IQ' "
        "AND week = 15 ORDER BY run")
    per_run = (q[q["s"] == "full-withdrawal"]["v"].to_numpy()
               - q[q["s"] == "announced-2500"]["v"].to_numpy())
    assert diff["q50"][15] == pytest.approx(np.median(per_run))
    assert diff["share_b_above"][15] == pytest.approx(float((per_run > 0).mean()))
    assert c.get(f"/api/jobs/{ids['run']}/difference").status_code == 422


def test_difference_map(jobs):
    c, ids, _ = jobs
    m = c.get(f"/api/jobs/{ids['compare']}/diffmap?metric=is_attacks&week=-1").json()
    assert len(m["values"]) == 18 and m["week"] == 15 and m["absmax"] is not None
    assert m["absmax"] == max(abs(v["value"]) for v in m["values"])
    assert c.get(f"/api/jobs/{ids['compare']}/diffmap?metric=us_troops").status_code == 422


def test_csv_exports(jobs):
    c, ids, _ = jobs
    r = c.get(f"/api/jobs/{ids['compare']}/quantiles.csv?metric=is_attacks")
    assert r.status_code == 200 and r.headers["content-type"].startswith("text/csv")
    assert "attachment" in r.headers["content-disposition"]
    q = pd.read_csv(io.StringIO(r.text))
    assert {"scenario", "metric", "unit", "region", "week", "q50"} <= set(q.columns)
    assert set(q["scenario"]) == {"announced-2500", "full-withdrawal"}
    o = pd.read_csv(io.StringIO(c.get(f"/api/jobs/{ids['compare']}/outcomes.csv").text))
    assert set(o["row"]) == {"outcome", "paired difference B - A"}
    assert o["share_of_runs_b_above_a"].dropna().between(0, 1).all()
    assert c.get(f"/api/jobs/{ids['run']}/quantiles.csv?metric=nope").status_code == 422


def test_observed_history_beside_a_metric(jobs):
    c, ids, _ = jobs
    o = c.get(f"/api/jobs/{ids['run']}/observed?metric=is_attacks").json()
    (ctc,) = o["series"]
    assert ctc["source"] == "ctc" and "CTC Sentinel" in ctc["label"]
    assert all(r["period_end"] <= "2020-11-30" for r in ctc["rows"])
    assert all(r["per_week"] == pytest.approx(r["total"] / ((pd.Timestamp(r["period_end"])
               - pd.Timestamp(r["period_start"])).days + 1) * 7) for r in ctc["rows"])
    assert c.get(f"/api/jobs/{ids['run']}/observed?metric=is_fighters").json()["series"] == []
