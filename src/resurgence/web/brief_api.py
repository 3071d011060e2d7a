"""The brief over HTTP: ``POST /api/brief`` queues :func:`resurgence.briefing.compute_brief`
(the shipped scenarios and claim checks on one paired ensemble) and renders its HTML with
:func:`resurgence.brief_render.render_html`; ``GET /api/jobs/{id}/brief`` serves the page.
The brief's results bundle (``data_dir/briefs/<id>/bundle``) answers the usual result
endpoints (quantiles, map, bundle download) like any other job.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Annotated, Any, Literal

from fastapi import APIRouter, Depends, FastAPI
from fastapi.responses import HTMLResponse
from pydantic import BaseModel, ConfigDict, Field

from resurgence.web.api import Write
from resurgence.web.jobs import QueueFull
from resurgence.web.specs import SEED_MAX, ApiError, JobAccepted
from resurgence.web.state import WebState, get_state
from resurgence.web.workers import report

State = Annotated[WebState, Depends(get_state)]
CASE = "iraq-2020"


class BriefRequest(BaseModel):
    model_config = ConfigDict(extra="forbid")
    runs: Annotated[int, Field(strict=True, ge=10, description="paired runs per scenario")] = 300
    seed: Annotated[int, Field(strict=True, ge=0, le=SEED_MAX)] = 1
    posterior: Literal["shipped", "none"] = "shipped"
    fit: bool = Field(False, description="also the fit to history and the forecast (slower)")


def execute_brief(job_id: str, out: str, runs: int, seed: int, posterior: str,
                  fit: bool) -> dict[str, Any]:
    """Worker: compute and render the brief into ``out``; returns its JSON summary."""
    from functools import partial

    from resurgence.analysis.brief import ENABLERS, SHIPPED, compute_brief
    from resurgence.analysis.claims import scenarios_needed
    from resurgence.report.render import render_html

    report(job_id, "start")
    n = len(set(SHIPPED) | set(scenarios_needed()) | set(ENABLERS.values()))
    report(job_id, "total", n * runs)
    folder = Path(out)
    data = compute_brief(CASE, runs=runs, seed=seed, out=folder, posterior=posterior, fit=fit,
                         progress=partial(report, job_id, "progress"),
                         stage=partial(report, job_id, "stage"))
    report(job_id, "stage", "rendering the brief")
    render_html(data, folder)
    records = json.loads(data.headline().to_json(orient="records"))
    claims = json.loads(data.claims[["id", "verdict", "category", "finding", "share_as_expected",
                                     "basis", "defect"]]
                        .to_json(orient="records"))
    meta = json.loads(json.dumps(data.meta, default=str))
    return {"kind": "brief", "scenarios": list(data.scenarios["name"]), "headline": records,
            "claims": claims, "meta": meta}


def register(app: FastAPI) -> None:
    router = APIRouter(prefix="/api")

    @router.post("/brief", status_code=202, dependencies=Write,
                 summary="Compute the brief (shipped scenarios, claim checks, maps) as a job")
    def submit_brief(body: BriefRequest, state: State) -> JobAccepted:
        if body.runs > state.settings.max_runs:
            raise ApiError(422, f"field 'runs' = {body.runs}: at most {state.settings.max_runs}")
        from resurgence.scenario.schema import load_scenario

        weeks = load_scenario("announced-2500").weeks
        try:
            job_id = state.jobs.submit("brief", [CASE], body.runs, body.seed, weeks,
                                       body.posterior, execute_brief,
                                       (body.runs, body.seed, body.posterior, body.fit),
                                       total=body.runs, out_rel="briefs/{id}",
                                       bundle_rel="briefs/{id}/bundle")
        except QueueFull as exc:
            raise ApiError(503, str(exc), {"Retry-After": "10"}) from None
        return JobAccepted(id=job_id, status="queued", kind="brief", scenarios=[CASE],
                           links={"self": f"/api/jobs/{job_id}"})

    @router.get("/jobs/{job_id}/brief", response_class=HTMLResponse,
                summary="The brief of a finished brief job (self-contained HTML)")
    def brief_page(job_id: str, state: State) -> HTMLResponse:
        job, bundle = state.done_bundle(job_id)
        if job["kind"] != "brief":
            raise ApiError(404, f"job {job_id!r} is a {job['kind']}, not a brief")
        page = bundle.parent / "brief.html"
        if not page.is_file():
            raise ApiError(410, f"job {job_id!r}: its brief is missing from the store")
        return HTMLResponse(page.read_text(encoding="utf-8"),
                            headers={"Content-Security-Policy": "default-src 'none'; "
                                     "img-src data:; style-src 'unsafe-inline'"})

    app.include_router(router, tags=["brief"])
