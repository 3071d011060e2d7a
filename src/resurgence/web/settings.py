"""Server settings: where results live, the limits on requests, and who may write."""

from __future__ import annotations

import ipaddress
from dataclasses import dataclass
from pathlib import Path

LOOPBACK_NAMES = ("localhost",)


class SettingsError(ValueError):
    """Settings that cannot be served safely (one-line message)."""


def is_loopback(host: str) -> bool:
    """True for 127.0.0.0/8, ::1 and 'localhost' (the only binds that need no token)."""
    if host.lower() in LOOPBACK_NAMES:
        return True
    try:
        return ipaddress.ip_address(host.strip("[]")).is_loopback
    except ValueError:
        return False


@dataclass(frozen=True)
class Settings:
    """Everything :func:`resurgence.web.create_app` needs.

    ``token``: when set, write endpoints (POST) need ``Authorization: Bearer <token>``; it is
    required when ``host`` is not a loopback address. ``max_runs``/``max_weeks`` bound one
    request, ``max_jobs`` is the number of worker processes (jobs running at once) and
    ``queue`` the number of jobs that may wait for one; ``max_body`` is in bytes.
    ``read_token_required`` (default off, needs a token): reads under ``/api`` (job lists,
    results, scenarios) need the token too; ``/api/health``, the page and the docs stay open.
    """

    host: str = "127.0.0.1"
    port: int = 8000
    token: str | None = None
    data_dir: Path = Path("resurgence-data")
    max_runs: int = 2000
    max_weeks: int = 520
    max_jobs: int = 2
    queue: int = 8
    max_body: int = 256 * 1024
    chunk_size: int = 250
    read_token_required: bool = False

    def __post_init__(self) -> None:
        object.__setattr__(self, "data_dir", Path(self.data_dir))
        if self.token is not None and not self.token.strip():
            object.__setattr__(self, "token", None)
        for name in ("max_runs", "max_weeks", "max_jobs", "max_body", "chunk_size"):
            if getattr(self, name) < 1:
                raise SettingsError(f"setting '{name}' = {getattr(self, name)}: expected at least 1")
        if self.queue < 0:
            raise SettingsError(f"setting 'queue' = {self.queue}: expected at least 0")
        if self.max_weeks > 1040:
            raise SettingsError(f"setting 'max_weeks' = {self.max_weeks}: at most 1040")
        if not 0 <= self.port <= 65535:
            raise SettingsError(f"setting 'port' = {self.port}: expected 0 to 65535")
        if self.read_token_required and self.token is None:
            raise SettingsError("setting 'read_token_required': needs a token (--token or "
                                "RESURGENCE_TOKEN)")
        if self.token is not None and len(self.token) < 16:
            raise SettingsError("setting 'token': use at least 16 characters "
                                "(e.g. `python -c 'import secrets; print(secrets.token_urlsafe())'`)")

    @property
    def loopback(self) -> bool:
        return is_loopback(self.host)

    def check_bind(self) -> None:
        """Refuse to serve beyond this machine without a token."""
        if not self.loopback and self.token is None:
            raise SettingsError(f"refusing to bind {self.host}: a non-loopback address needs a token "
                                "(--token or RESURGENCE_TOKEN); write requests then need "
                                "'Authorization: Bearer <token>'")
