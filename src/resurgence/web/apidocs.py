"""Local API docs: Swagger UI from the ``swagger-ui-bundle`` package, no CDN.

That package ships Swagger UI 4, which reads OpenAPI 3.0 but not the 3.1 that FastAPI
writes; :func:`openapi_30` rewrites the few 3.1 forms FastAPI uses (``anyOf`` with
``null``, ``const``, numeric ``exclusiveMinimum``/``exclusiveMaximum``, schema ``examples``)
for the docs page only. ``/openapi.json`` stays the canonical 3.1 document.
"""

from __future__ import annotations

import copy
from pathlib import Path
from typing import Any

from fastapi import FastAPI
from fastapi.openapi.docs import get_swagger_ui_html
from fastapi.responses import HTMLResponse
from fastapi.staticfiles import StaticFiles

NULL = {"type": "null"}


def _conv(x: Any) -> Any:
    if isinstance(x, list):
        return [_conv(v) for v in x]
    if not isinstance(x, dict):
        return x
    x = {k: (v if k == "examples" and isinstance(v, dict) else _conv(v)) for k, v in x.items()}
    for key in ("anyOf", "oneOf"):
        opts = x.get(key)
        if isinstance(opts, list) and NULL in opts:
            rest = [o for o in opts if o != NULL]
            del x[key]
            if len(rest) == 1 and "$ref" not in rest[0]:
                x = {**rest[0], **x}
            elif rest:
                x["allOf" if len(rest) == 1 else key] = rest
            x["nullable"] = True
    if "const" in x:
        x["enum"] = [x.pop("const")]
    for bound, plain in (("exclusiveMinimum", "minimum"), ("exclusiveMaximum", "maximum")):
        v = x.get(bound)
        if isinstance(v, int | float) and not isinstance(v, bool):
            x[plain], x[bound] = v, True
    if isinstance(x.get("examples"), list) and "schema" not in x:
        ex = x.pop("examples")
        if ex:
            x["example"] = ex[0]
    return x


def openapi_30(doc: dict[str, Any]) -> dict[str, Any]:
    out = _conv(copy.deepcopy(doc))
    out["openapi"] = "3.0.3"
    return out


ERROR_SCHEMA = {"type": "object", "required": ["error"], "title": "Error",
                "properties": {"error": {"type": "string", "description": "what went wrong, "
                                         "in one line"}}}


def _swap_refs(x: Any) -> Any:
    if isinstance(x, dict):
        if x.get("$ref") == "#/components/schemas/HTTPValidationError":
            return {"$ref": "#/components/schemas/Error"}
        return {k: _swap_refs(v) for k, v in x.items()}
    if isinstance(x, list):
        return [_swap_refs(v) for v in x]
    return x


def error_schema(app: FastAPI) -> None:
    """Document errors as they are: ``{"error": "one line"}`` (not FastAPI's default 422 list)."""
    base = app.openapi

    def openapi() -> dict[str, Any]:
        if app.openapi_schema is None:
            doc = _swap_refs(base())
            schemas = doc.setdefault("components", {}).setdefault("schemas", {})
            schemas.pop("HTTPValidationError", None)
            schemas.pop("ValidationError", None)
            schemas["Error"] = ERROR_SCHEMA
            app.openapi_schema = doc
        return app.openapi_schema

    app.openapi = openapi  # type: ignore[method-assign]


def swagger_dir(find: Any) -> Path | None:
    root = find("swagger_ui_bundle", "vendor")
    if root is None:
        return None
    found = sorted(p for p in root.glob("swagger-ui-*") if (p / "swagger-ui-bundle.js").is_file())
    return found[-1] if found else None


def register(app: FastAPI, find: Any) -> None:
    """``/docs`` (and, with local assets, ``/static/swagger/*`` and ``/docs/openapi-3.0.json``)."""
    error_schema(app)
    swagger = swagger_dir(find)
    if swagger is not None:
        app.mount("/static/swagger", StaticFiles(directory=swagger), name="swagger")

        @app.get("/docs/openapi-3.0.json", include_in_schema=False)
        def openapi_for_docs() -> dict[str, Any]:
            return openapi_30(app.openapi())

    @app.get("/docs", include_in_schema=False)
    def docs() -> HTMLResponse:
        if swagger is None:  # FastAPI's default page (its assets come from a CDN)
            return get_swagger_ui_html(openapi_url="/openapi.json", title="resurgence API")
        return get_swagger_ui_html(
            openapi_url="/docs/openapi-3.0.json", title="resurgence API",
            swagger_js_url="/static/swagger/swagger-ui-bundle.js",
            swagger_css_url="/static/swagger/swagger-ui.css",
            swagger_favicon_url="/static/swagger/favicon-32x32.png")
