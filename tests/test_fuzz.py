"""Fuzz suite (issue #12): generated scenario TOML, importer CSVs and API payloads through
the library, the CLI and the HTTP API. Every case is accepted soundly (finite outcomes, a
loadable table) or refused cleanly (exit 2 / 4xx, one line, nothing written); none is a
traceback or a hang. A few hundred cases here (RESURGENCE_FUZZ_EXAMPLES scales them);
thousands in ``benchmarks/fuzz.py``."""

from __future__ import annotations

import datetime as dt
import itertools
import json
import os
import warnings
from collections.abc import Iterator

import numpy as np
import pytest
from fuzzlib import (
    TIME_LIMIT_S,
    check_cli_run,
    check_http,
    check_import,
    check_scenario_file,
    importer_csvs,
    scenario_docs,
    scenario_texts,
)
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

with warnings.catch_warnings():
    warnings.simplefilter("ignore")
    from fastapi.testclient import TestClient

from resurgence.web import Settings, create_app

SCALE = float(os.environ.get("RESURGENCE_FUZZ_EXAMPLES", "100")) / 100


def fuzz_settings(n: int):
    return settings(max_examples=max(1, int(n * SCALE)), deadline=dt.timedelta(seconds=TIME_LIMIT_S),
                    suppress_health_check=[HealthCheck.function_scoped_fixture,
                                           HealthCheck.too_slow, HealthCheck.data_too_large],
                    derandomize=True, database=None)


_n = itertools.count()


@pytest.fixture(scope="module")
def work(tmp_path_factory):
    return tmp_path_factory.mktemp("fuzz")


@fuzz_settings(150)
@given(text=scenario_texts())
def test_fuzz_scenario_files(work, text) -> None:
    assert check_scenario_file(text, work / f"s{next(_n)}") in ("ok", "clean"), text[:300]


@fuzz_settings(20)
@given(data=st.binary(max_size=300))
def test_fuzz_binary_scenario_files(work, data) -> None:
    assert check_scenario_file(data, work / f"b{next(_n)}") in ("ok", "clean"), data[:100]


@fuzz_settings(50)
@given(text=scenario_texts())
def test_fuzz_cli_run(work, text) -> None:
    assert check_cli_run(text, work / f"c{next(_n)}") in ("ok", "clean"), text[:300]


@fuzz_settings(80)
@given(case=importer_csvs())
def test_fuzz_importers(work, case) -> None:
    kind, data = case
    assert check_import(kind, data, work / f"i{next(_n)}") in ("ok", "clean"), data[:300]


@pytest.fixture(scope="module")
def client(tmp_path_factory) -> Iterator[TestClient]:
    app = create_app(Settings(data_dir=tmp_path_factory.mktemp("fuzzweb")))
    with TestClient(app, base_url="http://127.0.0.1:8000") as c:
        submitted: list = []
        c.app.state.web.jobs.submit_ensemble = lambda kind, scs, *a, **k: (
            submitted.append(scs) or "f" * 16)
        c.submitted = submitted  # type: ignore[attr-defined]
        yield c


@fuzz_settings(100)
@given(text=scenario_texts(), ctype=st.sampled_from(["text/plain", "application/json"]))
def test_fuzz_api_toml_bodies(client, text, ctype) -> None:
    body = text.encode() if ctype == "text/plain" else json.dumps({"toml": text}).encode()
    out = check_http(client, "POST", "/api/scenarios/validate", content=body,
                     headers={"content-type": ctype})
    assert out in ("ok", "clean"), text[:300]


@fuzz_settings(100)
@given(doc=scenario_docs(), runs=st.sampled_from([1, 5, 0, -1, 10**9, "5", 2.5]),
       posterior=st.sampled_from(["none", "shipped", "bogus"]))
def test_fuzz_api_runs(client, doc, runs, posterior) -> None:
    from resurgence.runs.ensemble import run_ensemble

    client.submitted.clear()
    payload = json.dumps({"scenario": doc, "runs": runs, "posterior": posterior, "weeks": 6},
                         default=str)
    out = check_http(client, "POST", "/api/runs", content=payload.encode(),
                     headers={"content-type": "application/json"})
    assert out in ("ok", "clean"), payload[:300]
    if out == "ok":  # accepted: it runs to finite outcomes (not the server's own check)
        (scs,) = client.submitted
        res = run_ensemble(scs, 2, 1, weeks=6)
        for s in res.outcomes.values():
            for v in s.values():
                assert np.all(np.isfinite(np.asarray(v, float))), payload[:300]
