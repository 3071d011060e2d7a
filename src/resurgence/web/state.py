"""What the routes share: settings, the catalogue, the job manager and read caches."""

from __future__ import annotations

import functools
import json
from pathlib import Path
from typing import Any

from fastapi import Request

from resurgence.web.catalogue import Catalogue
from resurgence.web.jobs import JobManager, clean
from resurgence.web.settings import Settings
from resurgence.web.specs import ApiError


class WebState:
    def __init__(self, settings: Settings) -> None:
        self.settings = settings
        self.catalogue = Catalogue(settings.data_dir)
        self.interrupted = self.catalogue.recover()
        self.jobs = JobManager(settings, self.catalogue)

    def close(self) -> None:
        self.jobs.shutdown()
        self.catalogue.close()

    def job(self, job_id: str) -> dict[str, Any]:
        job = self.catalogue.get(job_id) if len(job_id) <= 64 else None
        if job is None:
            raise ApiError(404, f"no job {job_id[:64]!r}")
        return job

    def job_view(self, job: dict[str, Any]) -> dict[str, Any]:
        """The public view of a job: status, progress fraction, error and links."""
        view: dict[str, Any] = {k: job.get(k) for k in (
            "id", "kind", "label", "scenarios", "runs", "seed", "weeks", "posterior", "status",
            "created", "started", "finished", "error")}
        prog = self.jobs.progress(job["id"])
        if prog is not None:
            running, frac, stage = prog
            view["status"] = "running" if running else "queued"
            view["progress"] = round(frac, 4)
            if stage:
                view["stage"] = stage
        else:
            view["progress"] = 1.0 if job["status"] == "done" else 0.0
        base = f"/api/jobs/{job['id']}"
        view["links"] = {"self": base}
        if view["status"] == "done":
            view["links"].update(summary=f"{base}/summary", quantiles=f"{base}/quantiles",
                                 map=f"{base}/map", bundle=f"{base}/bundle")
            if job["kind"] == "brief":
                view["links"]["brief"] = f"{base}/brief"
        return view

    def done_bundle(self, job_id: str) -> tuple[dict[str, Any], Path]:
        job = self.job(job_id)
        if job["status"] != "done":
            status = self.job_view(job)["status"]
            raise ApiError(409, f"job {job_id!r} is {status}: no results"
                           + (" yet" if status in ("queued", "running") else ""))
        path = self.catalogue.bundle_path(job)
        if path is None or not (path / "manifest.json").is_file():
            raise ApiError(410, f"job {job_id!r}: its results bundle is missing from the store")
        return job, path


def get_state(request: Request) -> WebState:
    return request.app.state.web


@functools.lru_cache(maxsize=32)
def manifest(path: str) -> dict[str, Any]:
    return json.loads((Path(path) / "manifest.json").read_text(encoding="utf-8"))


def json_safe(x: Any) -> Any:
    return clean(x)
