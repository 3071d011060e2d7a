"""The FastAPI application: routes, error handlers, static page, local API docs."""

from __future__ import annotations

import importlib.util
import logging
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.middleware.gzip import GZipMiddleware
from fastapi.responses import FileResponse, JSONResponse
from fastapi.staticfiles import StaticFiles
from starlette.exceptions import HTTPException as StarletteHTTPException

from resurgence.core.version import __version__
from resurgence.results.bundle import BundleError
from resurgence.scenario.schema import ScenarioError
from resurgence.theatre.theatre import TheatreError
from resurgence.web import api, apidocs, brief_api, results_api
from resurgence.web.guard import Guard
from resurgence.web.settings import Settings
from resurgence.web.specs import ApiError, field_msg
from resurgence.web.state import WebState

log = logging.getLogger("resurgence.web")
STATIC = Path(__file__).resolve().parent / "static"
DESCRIPTION = """HTTP API of `resurgence`: scenarios, Monte Carlo runs and comparisons as jobs,
their results (quantiles, maps, bundles), the claims registry and the governorate map.
Errors are `{"error": "one line"}`. See docs/web.md."""


def package_file(package: str, *parts: str) -> Path | None:
    """A data file shipped inside an installed package, found without importing it."""
    spec = importlib.util.find_spec(package)
    if spec is None or not spec.submodule_search_locations:
        return None
    path = Path(next(iter(spec.submodule_search_locations)), *parts)
    return path if path.exists() else None


def _err(status: int, message: str, headers: dict[str, str] | None = None) -> JSONResponse:
    return JSONResponse({"error": message}, status_code=status, headers=headers)


def _one_line(exc: Exception) -> str:
    msg = exc.args[0] if isinstance(exc, KeyError) and exc.args else str(exc)
    return str(msg).splitlines()[0][:500] if str(msg) else type(exc).__name__


def _validation_message(exc: RequestValidationError) -> str:
    errors = list(exc.errors())
    if not errors:
        return "invalid request"
    e = errors[0]
    if e.get("type") == "json_invalid":
        return f"the body is not valid JSON: {(e.get('ctx') or {}).get('error', e.get('msg'))}"
    where = e.get("loc", ())
    prefix = "query " if where and where[0] == "query" else ""
    loc = ".".join(str(p) for p in where[1:]) or "(body)"
    if e.get("type") == "missing":
        return f"{prefix}field '{loc}': required"
    more = f" (+{len(errors) - 1} more)" if len(errors) > 1 else ""
    return prefix + field_msg(loc, e.get("input"), e.get("msg", "invalid")) + more


def _handlers(app: FastAPI) -> None:
    @app.exception_handler(ApiError)
    async def api_error(request: Request, exc: ApiError) -> JSONResponse:
        return _err(exc.status, exc.message, exc.headers)

    @app.exception_handler(ScenarioError)
    @app.exception_handler(TheatreError)
    async def scenario_error(request: Request, exc: Exception) -> JSONResponse:
        return _err(422, _one_line(exc))

    @app.exception_handler(BundleError)
    async def bundle_error(request: Request, exc: BundleError) -> JSONResponse:
        log.error("bundle error on %s: %s", request.url.path, exc)
        return _err(410, "this job's results bundle is missing or damaged in the store")

    @app.exception_handler(StarletteHTTPException)
    async def http_error(request: Request, exc: StarletteHTTPException) -> JSONResponse:
        detail = exc.detail if isinstance(exc.detail, str) else "request failed"
        if exc.status_code == 404 and detail == "Not Found":
            detail = f"no such endpoint: {request.method} {request.url.path[:100]}"
        return _err(exc.status_code, detail, getattr(exc, "headers", None))

    @app.exception_handler(RequestValidationError)
    async def validation_error(request: Request, exc: RequestValidationError) -> JSONResponse:
        return _err(422, _validation_message(exc))

    @app.exception_handler(Exception)
    async def internal_error(request: Request, exc: Exception) -> JSONResponse:
        log.error("internal error on %s %s", request.method, request.url.path, exc_info=exc)
        return _err(500, "internal server error (details are in the server log)")


def _static(app: FastAPI) -> None:
    plotly_js = package_file("plotly", "package_data", "plotly.min.js")
    long_cache = {"Cache-Control": "public, max-age=86400"}

    @app.get("/", include_in_schema=False)
    def index() -> FileResponse:
        return FileResponse(STATIC / "index.html", headers={"Cache-Control": "no-cache"})

    @app.get("/static/plotly.min.js", include_in_schema=False)
    def plotly() -> FileResponse:
        if plotly_js is None:
            raise ApiError(404, "plotly is not installed: `pip install plotly` for the charts")
        return FileResponse(plotly_js, media_type="text/javascript", headers=long_cache)

    apidocs.register(app, package_file)
    app.mount("/static", StaticFiles(directory=STATIC), name="static")


def create_app(settings: Settings | None = None) -> FastAPI:
    """The app for ``settings``; the catalogue and job manager open when it starts serving
    (its lifespan) and close when it stops."""
    settings = settings or Settings()
    settings.check_bind()

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        state = WebState(settings)
        app.state.web = state
        if state.interrupted:
            log.warning("%d job(s) left unfinished by the last server were marked interrupted",
                        state.interrupted)
        try:
            yield
        finally:
            state.close()

    app = FastAPI(title="resurgence", version=__version__, description=DESCRIPTION,
                  docs_url=None, redoc_url=None, lifespan=lifespan)
    _handlers(app)
    app.include_router(api.router, tags=["api"])
    app.include_router(results_api.router, tags=["results"])
    brief_api.register(app)
    _static(app)
    app.add_middleware(GZipMiddleware, minimum_size=2048)
    app.add_middleware(Guard, settings=settings)
    return app


__all__ = ["create_app", "package_file"]
