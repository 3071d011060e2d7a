"""``resurgence serve``: the web app and HTTP API (registered on the main app in cli.py)."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from resurgence.core.errors import ArgumentError


def serve_cmd(
    host: Annotated[str, typer.Option(help="Address to bind. Anything but loopback (127.0.0.1, "
                                      "::1, localhost) needs a token.")] = "127.0.0.1",
    port: Annotated[int, typer.Option(help="TCP port.")] = 8000,
    token: Annotated[str | None, typer.Option(
        envvar="RESURGENCE_TOKEN", show_default=False,
        help="Bearer token that write requests (POST) must carry; required off loopback. "
             "Prefer the RESURGENCE_TOKEN environment variable to the command line.")] = None,
    data_dir: Annotated[Path, typer.Option("--data-dir", help="Results store: bundles/<job id>/ "
                                           "and catalogue.duckdb.")] = Path("resurgence-data"),
    max_runs: Annotated[int, typer.Option(help="Most runs per scenario one request may ask for.")] = 2000,
    max_weeks: Annotated[int, typer.Option(help="Longest horizon (weeks) one request may ask for.")] = 520,
    max_jobs: Annotated[int, typer.Option(help="Jobs running at once (worker processes).")] = 2,
    queue: Annotated[int, typer.Option(help="Jobs that may wait for a worker; more get 503.")] = 8,
    read_token_required: Annotated[bool, typer.Option(
        "--read-token-required", help="Reads under /api (jobs, results) need the token too "
        "(all but /api/health); needs --token.")] = False,
    log_level: Annotated[str, typer.Option(help="uvicorn log level.")] = "info",
) -> None:
    """Serve the web app (scenario editor, runs with progress, charts, map, comparison,
    downloads) and its HTTP API (/api, docs at /docs)."""
    import logging

    import uvicorn

    from resurgence.web import Settings, create_app
    from resurgence.web.catalogue import Catalogue, CatalogueError
    from resurgence.web.settings import SettingsError

    try:
        settings = Settings(host=host, port=port, token=token, data_dir=data_dir,
                            max_runs=max_runs, max_weeks=max_weeks, max_jobs=max_jobs,
                            queue=queue, read_token_required=read_token_required)
        settings.check_bind()
        Catalogue(settings.data_dir).close()  # fail now, with one line, if it is in use
        app = create_app(settings)
    except (SettingsError, CatalogueError) as exc:
        raise ArgumentError(str(exc)) from None
    logging.basicConfig(level=log_level.upper(), format="%(levelname)s: %(name)s: %(message)s")
    shown = f"[{host}]" if ":" in host else host
    typer.echo(f"resurgence serve: http://{shown}:{port}/ (API docs /docs, results in "
               f"{settings.data_dir}); Ctrl-C stops it", err=True)
    uvicorn.run(app, host=host, port=port, log_level=log_level, server_header=False,
                proxy_headers=False, timeout_graceful_shutdown=5)
