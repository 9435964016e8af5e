"""HTTP guards on every response: security headers, origin checks, API docs behind auth.

* Every response carries a Content-Security-Policy naming only the hub itself (no CDN),
  ``frame-ancestors 'none'``, ``X-Content-Type-Options: nosniff``, ``Referrer-Policy``
  and ``X-Frame-Options``. An HTML page's inline scripts are allowed by their SHA-256
  (computed from the page as sent), never by ``'unsafe-inline'``.
* A write (any method but GET, HEAD, OPTIONS) that carries the session cookie and no
  bearer token or API key must come from the hub's own origin: its ``Origin`` header, or
  without one its ``Referer``, must be the hub's origin (``public_origin`` when set, else
  the scheme and Host of the request). Otherwise 403. A login form posted from another
  origin is refused the same way.
* With ``protect_docs`` the OpenAPI document and the docs pages need valid credentials.
"""

from __future__ import annotations

import base64
import hashlib
import json
import re
from collections.abc import Iterable
from typing import Any
from urllib.parse import urlsplit

from sqlmodel import Session
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from hub.services import users
from hub.services.errors import Unauthenticated

#: Methods that never change anything and so need no origin check.
SAFE_METHODS = frozenset({"GET", "HEAD", "OPTIONS", "TRACE"})
#: The cookie browser pages are authenticated by (as in hub.deps).
SESSION_COOKIE = "clearline_session"
#: Paths of the API documentation.
DOC_PATHS = frozenset({"/openapi.json", "/docs", "/docs/oauth2-redirect", "/redoc"})
#: The policy of responses that are not pages (JSON, images, CSV).
API_CSP = "default-src 'none'; frame-ancestors 'none'; base-uri 'none'; form-action 'none'"
#: The policy of pages; ``{scripts}`` becomes the hashes of the page's inline scripts.
PAGE_CSP = (
    "default-src 'self'; script-src 'self'{scripts}; style-src 'self' 'unsafe-inline'; "
    "img-src 'self' data: blob:; connect-src 'self'; font-src 'self'; object-src 'none'; "
    "base-uri 'none'; form-action 'self'; frame-ancestors 'none'"
)
#: Headers every response carries besides the policy.
STATIC_HEADERS: tuple[tuple[bytes, bytes], ...] = (
    (b"x-content-type-options", b"nosniff"),
    (b"referrer-policy", b"same-origin"),
    (b"x-frame-options", b"DENY"),
    (b"cross-origin-opener-policy", b"same-origin"),
)
_INLINE_SCRIPT = re.compile(rb"<script(?![^>]*\bsrc\s*=)[^>]*>(.*?)</script>", re.S | re.I)


def script_hashes(html: bytes) -> list[str]:
    """Return the CSP source of each inline script of ``html`` ('sha256-...')."""
    found = []
    for match in _INLINE_SCRIPT.finditer(html):
        digest = base64.b64encode(hashlib.sha256(match.group(1)).digest()).decode("ascii")
        found.append(f"'sha256-{digest}'")
    return sorted(set(found))


def page_policy(html: bytes) -> str:
    """Return the Content-Security-Policy of one HTML page."""
    hashes = script_hashes(html)
    return PAGE_CSP.format(scripts="".join(f" {h}" for h in hashes))


def _headers(scope: Scope) -> dict[str, str]:
    return {k.decode("latin-1").lower(): v.decode("latin-1") for k, v in scope.get("headers", [])}


def _with(headers: Iterable[tuple[bytes, bytes]], csp: str) -> list[tuple[bytes, bytes]]:
    names = {n for n, _v in STATIC_HEADERS} | {b"content-security-policy", b"content-length"}
    kept = [(k, v) for k, v in headers if k.lower() not in names]
    return [*kept, *STATIC_HEADERS, (b"content-security-policy", csp.encode("latin-1"))]


class SecurityHeadersMiddleware:
    """Adds the security headers, with a per-page script policy, to every response."""

    def __init__(self, app: ASGIApp) -> None:
        """Wrap ``app``."""
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        """Handle one ASGI call; buffer HTML bodies to hash their inline scripts."""
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        start: Message | None = None
        body: list[bytes] = []

        async def guarded(message: Message) -> None:
            nonlocal start
            if message["type"] == "http.response.start":
                raw = list(message.get("headers", []))
                kind = dict((k.lower(), v) for k, v in raw).get(b"content-type", b"")
                if kind.startswith(b"text/html"):
                    start = message
                    return
                headers = _with(raw, API_CSP)
                length = [(k, v) for k, v in raw if k.lower() == b"content-length"]
                await send({**message, "headers": headers + length})
                return
            if start is not None and message["type"] == "http.response.body":
                body.append(message.get("body", b""))
                if message.get("more_body", False):
                    return
                html = b"".join(body)
                raw = list(start.get("headers", []))
                headers = _with(raw, page_policy(html))
                if scope.get("method") == "HEAD":  # no body to count: keep the GET's length
                    headers += [(k, v) for k, v in raw if k.lower() == b"content-length"]
                else:
                    headers.append((b"content-length", str(len(html)).encode()))
                await send({**start, "headers": headers})
                await send({"type": "http.response.body", "body": html})
                return
            await send(message)

        await self.app(scope, receive, guarded)


def own_origin(scope: Scope, public_origin: str) -> str:
    """Return the origin this hub is reached at: ``public_origin`` or scheme://Host."""
    if public_origin:
        return public_origin.rstrip("/").lower()
    host = _headers(scope).get("host", "")
    return f"{scope.get('scheme', 'http')}://{host}".lower()


def request_origin(headers: dict[str, str]) -> str | None:
    """Return the origin a request says it came from (Origin, else Referer's), or None."""
    origin = headers.get("origin")
    if origin and origin != "null":
        return origin.rstrip("/").lower()
    referer = headers.get("referer")
    if referer:
        parts = urlsplit(referer)
        if parts.scheme and parts.netloc:
            return f"{parts.scheme}://{parts.netloc}".lower()
    return None


def _cookie_names(header: str) -> set[str]:
    return {part.split("=", 1)[0].strip() for part in header.split(";") if "=" in part}


async def _refuse(send: Send, status: int, detail: str, field: str) -> None:
    body = json.dumps({"detail": detail, "field": field}).encode()
    headers = [(b"content-type", b"application/json"), (b"content-length", str(len(body)).encode())]
    await send({"type": "http.response.start", "status": status, "headers": headers})
    await send({"type": "http.response.body", "body": body})


class OriginCheckMiddleware:
    """Refuses cookie-authenticated writes (and login forms) from another origin (403)."""

    def __init__(self, app: ASGIApp, public_origin: str = "") -> None:
        """Wrap ``app``; ``public_origin`` overrides the origin taken from the request."""
        self.app = app
        self.public_origin = public_origin

    def needs_check(self, scope: Scope, headers: dict[str, str]) -> bool:
        """Whether this request is a browser write that must come from our own origin."""
        if scope.get("method", "GET") in SAFE_METHODS:
            return False
        if scope.get("path") == "/login":
            return True
        if "authorization" in headers or "x-api-key" in headers:
            return False
        return SESSION_COOKIE in _cookie_names(headers.get("cookie", ""))

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        """Handle one ASGI call; answer 403 before the app for a foreign origin."""
        if scope["type"] == "http":
            headers = _headers(scope)
            if self.needs_check(scope, headers):
                origin = request_origin(headers)
                login_without_origin = origin is None and scope.get("path") == "/login"
                if not login_without_origin and origin != own_origin(scope, self.public_origin):
                    shown = origin or "none"
                    await _refuse(
                        send, 403, f"request from another origin ({shown}) refused", "origin"
                    )
                    return
        await self.app(scope, receive, send)


class DocsAuthMiddleware:
    """With ``protect_docs``, the API docs and OpenAPI document need valid credentials."""

    def __init__(self, app: ASGIApp, app_state: Any) -> None:
        """Wrap ``app``; ``app_state`` holds the engine and clock (``app.state``)."""
        self.app = app
        self.state = app_state

    def _allowed(self, headers: dict[str, str]) -> bool:
        secret = headers.get("x-api-key", "")
        auth = headers.get("authorization", "")
        if auth.lower().startswith("bearer "):
            secret = auth[7:].strip()
        if not secret:
            for part in headers.get("cookie", "").split(";"):
                name, _, value = part.strip().partition("=")
                if name == SESSION_COOKIE:
                    secret = value
        if not secret:
            return False
        with Session(self.state.engine) as session:
            try:
                users.principal_for(session, secret, self.state.clock.now())
            except Unauthenticated:
                return False
        return True

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        """Handle one ASGI call; 401 on the docs paths without credentials."""
        docs = scope["type"] == "http" and scope.get("path") in DOC_PATHS
        if docs and not self._allowed(_headers(scope)):
            await _refuse(send, 401, "the API docs need credentials", "authorization")
            return
        await self.app(scope, receive, send)
