"""ASGI middleware: body-size limit, host and origin checks, security headers.

* bodies over ``max_body`` bytes get 413 (by Content-Length, or while streaming);
* bound to loopback, the Host header must name a loopback host (DNS-rebinding defence);
* a write request (POST, PUT, PATCH, DELETE) that carries an ``Origin`` other than the
  server's own is refused with 403 (a web page elsewhere cannot drive the API);
* with ``read_token_required``, a read under ``/api`` (all but ``/api/health``) needs the
  bearer token as writes do (401 otherwise);
* every response gets ``X-Content-Type-Options: nosniff`` and ``X-Frame-Options: DENY``, and
  the app's own pages a Content-Security-Policy that allows nothing outside this server.
"""

from __future__ import annotations

import json
import secrets
from collections.abc import Awaitable, Callable, MutableMapping
from typing import Any
from urllib.parse import urlsplit

from starlette.exceptions import HTTPException

from resurgence.web.settings import Settings

Scope = MutableMapping[str, Any]
Message = MutableMapping[str, Any]
Receive = Callable[[], Awaitable[Message]]
Send = Callable[[Message], Awaitable[None]]
ASGIApp = Callable[[Scope, Receive, Send], Awaitable[None]]

LOOPBACK_HOSTS = {"localhost", "127.0.0.1", "::1", "[::1]"}
WRITE_METHODS = {"POST", "PUT", "PATCH", "DELETE"}
CSP = ("default-src 'self'; script-src 'self'; style-src 'self' 'unsafe-inline'; "
       "img-src 'self' data: blob:; connect-src 'self'; font-src 'self' data:; "
       "object-src 'none'; base-uri 'none'; frame-ancestors 'none'; form-action 'self'")


class TooLarge(HTTPException):
    """Raised while the body streams in; the app's HTTPException handler answers 413."""

    def __init__(self, limit: int) -> None:
        super().__init__(413, f"request body: at most {limit} bytes")


def _host_only(hostport: str) -> str:
    hostport = hostport.strip().lower()
    if hostport.startswith("["):
        return hostport[: hostport.find("]") + 1] if "]" in hostport else hostport
    return hostport.rsplit(":", 1)[0] if hostport.count(":") == 1 else hostport


async def _error(send: Send, status: int, message: str, www_auth: bool = False) -> None:
    body = json.dumps({"error": message}).encode()
    headers = [(b"content-type", b"application/json"),
               (b"content-length", str(len(body)).encode())]
    if www_auth:
        headers.append((b"www-authenticate", b"Bearer"))
    await send({"type": "http.response.start", "status": status, "headers": headers})
    await send({"type": "http.response.body", "body": body})


class Guard:
    def __init__(self, app: ASGIApp, settings: Settings) -> None:
        self.app = app
        self.settings = settings

    def _has_token(self, headers: dict[str, str]) -> bool:
        token = self.settings.token or ""
        scheme, _, given = headers.get("authorization", "").partition(" ")
        return bool(token) and scheme.lower() == "bearer" and secrets.compare_digest(
            given.strip().encode(), token.encode())

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        headers = {k.decode("latin-1").lower(): v.decode("latin-1")
                   for k, v in scope.get("headers", [])}
        host = headers.get("host", "")
        if self.settings.loopback and _host_only(host) not in LOOPBACK_HOSTS:
            await _error(send, 421, f"host {host[:60]!r} is not served here (this server "
                         "answers only to loopback names)")
            return
        origin = headers.get("origin")
        if scope["method"] in WRITE_METHODS and origin is not None:
            o = urlsplit(origin)
            if origin == "null" or o.netloc.lower() != host.lower():
                await _error(send, 403, "cross-origin write request refused")
                return
        if (self.settings.read_token_required and scope["method"] not in WRITE_METHODS
                and scope.get("path", "").startswith("/api/")
                and scope.get("path") != "/api/health" and not self._has_token(headers)):
            await _error(send, 401, "this server needs 'Authorization: Bearer <token>' for "
                         "reads as well (read_token_required)", www_auth=True)
            return
        limit = self.settings.max_body
        try:
            length = int(headers.get("content-length", "0") or 0)
        except ValueError:
            await _error(send, 400, "bad Content-Length header")
            return
        if length > limit:
            await _error(send, 413, f"request body of {length} bytes: at most {limit}")
            return
        received = 0
        path = scope.get("path", "")
        page = path == "/" or path.startswith("/static/") and not path.startswith("/static/swagger")

        async def limited_receive() -> Message:
            nonlocal received
            msg = await receive()
            if msg["type"] == "http.request":
                received += len(msg.get("body", b""))
                if received > limit:
                    raise TooLarge(limit)
            return msg

        async def send_with_headers(msg: Message) -> None:
            if msg["type"] == "http.response.start":
                extra = [(b"x-content-type-options", b"nosniff"), (b"x-frame-options", b"DENY"),
                         (b"referrer-policy", b"no-referrer")]
                if page:
                    extra.append((b"content-security-policy", CSP.encode()))
                msg["headers"] = [*msg.get("headers", []), *extra]
            await send(msg)

        await self.app(scope, limited_receive, send_with_headers)
