"""HTTP API, part 1: health, metadata, scenarios, validation, job submission, claims, geo."""

from __future__ import annotations

import asyncio
import functools
import json
import secrets
from concurrent.futures import ThreadPoolExecutor
from typing import Annotated, Any
from typing import get_args as _get_args

from fastapi import APIRouter, Depends, Request, Response
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer

from resurgence.core.version import __version__
from resurgence.scenario.schema import (
    SCHEDULES,
    ShockKind,
    scenario_from_dict,
    shipped_names,
)
from resurgence.web.jobs import QueueFull
from resurgence.web.specs import (
    ApiError,
    CompareRequest,
    JobAccepted,
    RunRequest,
    check_scenario,
    resolve_spec,
    run_scenarios,
    toml_scenario,
)
from resurgence.web.state import WebState, get_state

router = APIRouter(prefix="/api")
bearer = HTTPBearer(auto_error=False, description="needed for POST requests when the server "
                    "was started with a token")
State = Annotated[WebState, Depends(get_state)]


def require_token(request: Request,
                  cred: Annotated[HTTPAuthorizationCredentials | None, Depends(bearer)]) -> None:
    """Write endpoints: the bearer token, when the server has one."""
    token = get_state(request).settings.token
    if token is None:
        return
    given = cred.credentials if cred is not None and cred.scheme.lower() == "bearer" else ""
    if not secrets.compare_digest(given.encode(), token.encode()):
        raise ApiError(401, "this server needs 'Authorization: Bearer <token>' for write requests",
                       {"WWW-Authenticate": "Bearer"})


Write = [Depends(require_token)]


def _err(description: str) -> dict[str, Any]:
    return {"description": description, "content": {"application/json": {
        "schema": {"$ref": "#/components/schemas/Error"}}}}


@router.get("/health", summary="Liveness, version, queue and limits")
def health(state: State) -> dict[str, Any]:
    s = state.settings
    return {"status": "ok", "version": __version__, "jobs": state.jobs.counts(),
            "auth_required": s.token is not None,
            "limits": {"max_runs": s.max_runs, "max_weeks": s.max_weeks, "max_jobs": s.max_jobs,
                       "queue": s.queue, "max_body_bytes": s.max_body}}


@functools.lru_cache(maxsize=1)
def _meta() -> dict[str, Any]:
    from resurgence.model.sim import all_metrics
    from resurgence.results.outcomes import OUTCOMES
    from resurgence.web.specs import iraq_theatre

    th = iraq_theatre()
    return {
        "levers": {k: {"default": d, "min": lo, "max": hi, "meaning": m}
                   for k, (d, lo, hi, m) in SCHEDULES.items()},
        "shock_kinds": list(_get_args(ShockKind)),
        "regions": [{"code": c, "name": n} for c, n in zip(th.codes, th.names, strict=True)],
        "national_code": th.national_code,
        "bases": [b.name for b in th.bases],
        "metrics": [{"name": m.name, "unit": m.unit, "description": m.description,
                     "level": m.level} for m in all_metrics()],
        "outcomes": [{"name": s.name, "unit": s.unit, "description": s.description}
                     for s in OUTCOMES],
        "posteriors": ["shipped", "none"],
    }


@router.get("/meta", summary="Levers, shock kinds, regions, metrics and outcomes (for editors)")
def meta(state: State) -> dict[str, Any]:
    return _meta()


@router.get("/scenarios", summary="The shipped scenarios")
def scenarios() -> list[dict[str, Any]]:
    out = []
    for name in shipped_names():
        sc = resolve_spec(name, "name")
        out.append({"name": name, "title": sc.title, "description": sc.description,
                    "base": sc.base, "claims": sc.claims, "start": sc.start.isoformat(),
                    "weeks": sc.weeks})
    return out


@router.get("/scenarios/{name}", summary="One shipped scenario, its base resolved")
def scenario(name: str) -> dict[str, Any]:
    if name not in shipped_names():
        raise ApiError(404, f"no shipped scenario {name[:64]!r}; expected one of "
                       f"{', '.join(shipped_names())}")
    return resolve_spec(name, "name").model_dump(mode="json")


_VALIDATE_BODY = {"requestBody": {"required": True, "content": {
    "application/json": {"schema": {"type": "object", "description": "a scenario object (the "
                                    "fields of a scenario TOML file), or {\"toml\": \"...\"}"}},
    "text/plain": {"schema": {"type": "string", "description": "scenario TOML text"}}}}}


PARSE_SECONDS = 2.0  # the longest a body may take to parse and validate
_PARSERS = ThreadPoolExecutor(max_workers=4, thread_name_prefix="parse")


def _parse_body(raw: bytes, ctype: str) -> Any:
    """Bytes -> a scenario dict (TOML within toml_limits) or JSON; runs off the event loop."""
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError:
        raise ApiError(400, "the body is not UTF-8 text") from None
    if ctype in ("text/plain", "application/toml", "text/x-toml"):
        return toml_scenario(text)
    if ctype not in ("", "application/json"):
        raise ApiError(415, f"content type {ctype[:40]!r}: expected application/json or text/plain")
    try:
        data = json.loads(text)
    except ValueError as exc:
        raise ApiError(400, f"the body is not valid JSON: {exc}") from None
    except RecursionError:
        raise ApiError(400, "the body is not valid JSON: nested too deeply") from None
    if isinstance(data, dict) and "toml" in data:
        if len(data) != 1 or not isinstance(data["toml"], str):
            raise ApiError(422, "field 'toml': expected a string and no other fields")
        return toml_scenario(data["toml"])
    return data


async def off_loop(fn: Any, *args: Any) -> Any:
    """Run ``fn`` in a worker thread, answering 503 if it takes over PARSE_SECONDS (the
    limits of toml_limits keep the worst body of max_body bytes far below that)."""
    loop = asyncio.get_running_loop()
    try:  # an executor future, unlike anyio's threads, can be abandoned at the time limit
        return await asyncio.wait_for(loop.run_in_executor(_PARSERS, fn, *args), PARSE_SECONDS)
    except TimeoutError:
        raise ApiError(503, f"the request took over {PARSE_SECONDS:g} s to check; simplify it",
                       {"Retry-After": "10"}) from None


@router.post("/scenarios/validate", dependencies=Write, openapi_extra=_VALIDATE_BODY,
             summary="Validate a scenario (JSON object, {\"toml\": ...} or TOML text)",
             responses={422: _err("invalid scenario"), 413: _err("the body is too large")})
async def validate(request: Request, state: State) -> dict[str, Any]:
    raw = await request.body()
    ctype = request.headers.get("content-type", "").split(";")[0].strip().lower()

    def check() -> dict[str, Any]:
        data = _parse_body(raw, ctype)
        if not isinstance(data, dict):
            raise ApiError(422, f"expected a JSON object (a scenario or {{\"toml\": \"...\"}}), "
                           f"got {type(data).__name__}")
        sc = check_scenario(scenario_from_dict(data, "scenario"), state.settings, None)
        return {"valid": True, "scenario": sc.model_dump(mode="json")}

    return await off_loop(check)


def _submit(state: WebState, kind: str, body: RunRequest | CompareRequest) -> JobAccepted:
    scs = run_scenarios(body, state.settings)
    try:
        job_id = state.jobs.submit_ensemble(kind, scs, body.runs, body.seed, body.posterior,
                                            label=body.label)
    except QueueFull as exc:
        raise ApiError(503, str(exc), {"Retry-After": "10"}) from None
    return JobAccepted(id=job_id, status="queued", kind=kind, scenarios=[s.name for s in scs],
                       label=body.label, links={"self": f"/api/jobs/{job_id}"})


_SUBMIT_RESPONSES: dict[int | str, dict[str, Any]] = {
    401: _err("a token is required"), 413: _err("the body is too large"),
    422: _err("invalid scenario, or over a limit"), 503: _err("the job queue is full")}


@router.post("/runs", status_code=202, dependencies=Write, responses=_SUBMIT_RESPONSES,
             summary="Run one scenario as a Monte Carlo ensemble (a job)")
def submit_run(body: RunRequest, state: State) -> JobAccepted:
    return _submit(state, "run", body)


@router.post("/compare", status_code=202, dependencies=Write, responses=_SUBMIT_RESPONSES,
             summary="Compare two scenarios with common random numbers (a job)")
def submit_compare(body: CompareRequest, state: State) -> JobAccepted:
    return _submit(state, "compare", body)


@router.get("/jobs", summary="Recent jobs, newest first")
def jobs(state: State, limit: int = 50) -> list[dict[str, Any]]:
    return [state.job_view(j) for j in state.catalogue.list(max(1, min(limit, 500)))]


@router.get("/jobs/{job_id}", summary="A job's status (queued/running/done/failed/"
            "interrupted/cancelled), progress fraction, label and error")
def job(job_id: str, state: State) -> dict[str, Any]:
    return state.job_view(state.job(job_id))


@router.post("/jobs/{job_id}/cancel", dependencies=Write,
             summary="Cancel a queued or running job (200: the job, status 'cancelled')",
             responses={404: _err("no such job"), 409: _err("the job has already finished")})
def cancel_job(job_id: str, state: State) -> dict[str, Any]:
    job = state.job(job_id)
    if not state.jobs.cancel(job_id):
        job = state.job(job_id)
        raise ApiError(409, f"job {job_id!r} is {job['status']}: only a queued or running job "
                       "can be cancelled")
    return state.job_view(state.job(job_id) or job)


@router.delete("/jobs/{job_id}", status_code=204, dependencies=Write,
               summary="Delete a finished, failed, interrupted or cancelled job and its files",
               responses={404: _err("no such job"), 409: _err("the job is queued or running")})
def delete_job(job_id: str, state: State) -> Response:
    job = state.job(job_id)
    if state.jobs.progress(job_id) is not None or not state.catalogue.delete(job_id):
        raise ApiError(409, f"job {job_id!r} is {state.job_view(job)['status']}: cancel it "
                       "first")
    return Response(status_code=204)


@router.get("/claims", summary="The claims registry (not evaluated; `basis` is the intended basis, which the evaluation checks against evidence: a brief job's claims carry the category)")
def claims() -> list[dict[str, Any]]:
    from resurgence.analysis.claims import CLAIMS

    return [{"id": c.id, "quote": c.quote, "carried_by": c.carried_by, "check": c.check,
             "kind": c.kind, "a": c.a, "b": c.b, "summary": c.summary,
             "direction": c.direction, "relative": c.relative, "basis": c.basis,
             "intended_basis": c.basis, "out_of_sample_test": c.oos or None,
             "evidence": c.evidence, "drivers": list(c.drivers)} for c in CLAIMS]


@functools.lru_cache(maxsize=1)
def _geo() -> dict[str, Any]:
    from shapely.geometry import MultiPolygon, Polygon, mapping
    from shapely.geometry.polygon import orient

    from resurgence.web.specs import iraq_theatre

    th = iraq_theatre()
    geoms = th.geometry()
    feats = []
    for code, name in zip(th.codes, th.names, strict=True):
        if code not in geoms:
            continue
        g = geoms[code].simplify(0.005, preserve_topology=True)
        # clockwise exterior rings: what d3-geo (Plotly's geo) needs, unlike RFC 7946
        if isinstance(g, Polygon):
            g = orient(g, sign=-1.0)
        elif isinstance(g, MultiPolygon):
            g = MultiPolygon([orient(p, sign=-1.0) for p in g.geoms])
        geo = json.loads(json.dumps(mapping(g)), parse_float=lambda s: round(float(s), 4))
        feats.append({"type": "Feature", "id": code, "properties": {"code": code, "name": name},
                      "geometry": geo})
    return {"type": "FeatureCollection", "features": feats}


@router.get("/geo", summary="Governorate boundaries (GeoJSON, simplified; properties.code is "
            "the ISO 3166-2 code)")
def geo() -> dict[str, Any]:
    return _geo()

