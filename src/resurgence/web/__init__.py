"""The web app and HTTP API of ``resurgence serve`` (issue #5).

:func:`create_app` builds the FastAPI application from :class:`Settings`; ensembles run one
process per job behind a bounded queue, finished runs live in a results store
(``data_dir/bundles/<job id>/`` plus the DuckDB catalogue ``data_dir/catalogue.duckdb``).
"""

from __future__ import annotations

from resurgence.web.settings import Settings, SettingsError

__all__ = ["Settings", "SettingsError", "create_app"]


def create_app(settings: Settings | None = None):  # noqa: ANN201 - FastAPI is imported lazily
    from resurgence.web.app import create_app as _create

    return _create(settings)
