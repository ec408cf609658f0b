"""Security headers on every answer, the hosts and redirects the site accepts, and a cap on request
bodies before anything parses them."""

from __future__ import annotations

from urllib.parse import urlsplit

from starlette.types import ASGIApp, Message, Receive, Scope, Send

from newsletter.config import Settings
from newsletter.sources.urls import THUMBNAIL_HOSTS

LOOPBACK_HOSTS = ["localhost", "127.0.0.1", "::1"]

CONTENT_SECURITY_POLICY = "; ".join(
    [
        "default-src 'none'",
        "script-src 'self'",
        "style-src 'self'",
        # Hugging Face's paper thumbnails: the only outside images a page shows.
        "img-src 'self' data: " + " ".join(f"https://{host}" for host in THUMBNAIL_HOSTS),
        "font-src 'self'",
        "connect-src 'self'",
        "form-action 'self'",
        "frame-ancestors 'none'",
        "base-uri 'none'",
        "manifest-src 'self'",
    ]
)
SECURITY_HEADERS = {
    "content-security-policy": CONTENT_SECURITY_POLICY,
    "x-content-type-options": "nosniff",
    "x-frame-options": "DENY",
    # Pages carry signed tokens in their URLs: never leak them to arXiv, GitHub or Hugging Face.
    "referrer-policy": "no-referrer",
    "permissions-policy": "camera=(), microphone=(), geolocation=(), interest-cohort=()",
    "cross-origin-opener-policy": "same-origin",
    "cross-origin-resource-policy": "same-origin",
}
HSTS = "max-age=31536000; includeSubDomains"


class SecurityHeadersMiddleware:
    def __init__(self, app: ASGIApp, *, is_https: bool) -> None:
        self.app = app
        self.headers = dict(SECURITY_HEADERS)
        if is_https:
            self.headers["strict-transport-security"] = HSTS

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return

        async def send_with_headers(message: Message) -> None:
            if message["type"] == "http.response.start":
                present = {name.lower() for name, _ in message.get("headers", [])}
                extra = [
                    (name.encode(), value.encode())
                    for name, value in self.headers.items()
                    if name.encode() not in present
                ]
                message["headers"] = list(message.get("headers", [])) + extra
            await send(message)

        await self.app(scope, receive, send_with_headers)


def allowed_hosts(settings: Settings) -> list[str]:
    """The public base URL's host; in the demo also loopback. Any other Host header gets 400, so it can
    reach no page, link or redirect."""
    hosts = [urlsplit(settings.public_base_url).hostname or "localhost"]
    if settings.demo_mode:
        hosts += [host for host in LOOPBACK_HOSTS if host not in hosts]
    return hosts


class SameSiteRedirectsMiddleware:
    """Every redirect stays on the site: an absolute Location (Starlette's trailing-slash redirect
    builds one from the request's Host) is rewritten relative unless it is under the public base URL."""

    def __init__(self, app: ASGIApp, *, public_base_url: str) -> None:
        self.app = app
        base = urlsplit(public_base_url)
        self.origin = (base.scheme, base.netloc.lower())

    def _same_site(self, location: str) -> str:
        parts = urlsplit(location)
        if not parts.scheme and not parts.netloc and not location.startswith(("//", "\\")):
            return location
        if (parts.scheme, parts.netloc.lower()) == self.origin:
            return location
        path = "/" + parts.path.lstrip("/\\")
        return path + (f"?{parts.query}" if parts.query else "")

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return

        async def send_same_site(message: Message) -> None:
            if message["type"] == "http.response.start":
                message["headers"] = [
                    (name, self._same_site(value.decode("latin-1")).encode("latin-1"))
                    if name.lower() == b"location"
                    else (name, value)
                    for name, value in message.get("headers", [])
                ]
            await send(message)

        await self.app(scope, receive, send_same_site)


class BodySizeLimitMiddleware:
    """Refuses bodies over `max_bytes` with 413 (paths under `exempt_prefixes` have their own caps)."""

    def __init__(self, app: ASGIApp, *, max_bytes: int, exempt_prefixes: tuple[str, ...] = ()) -> None:
        self.app = app
        self.max_bytes = max_bytes
        self.exempt_prefixes = exempt_prefixes

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or scope["path"].startswith(self.exempt_prefixes):
            await self.app(scope, receive, send)
            return
        declared = dict(scope.get("headers", [])).get(b"content-length")
        if declared is not None and (not declared.isdigit() or int(declared) > self.max_bytes):
            await self._refuse(send)
            return
        # Read the (small) body up front, so a chunked body without a length is capped too.
        chunks: list[bytes] = []
        size = 0
        more = True
        while more:
            message = await receive()
            if message["type"] != "http.request":
                break
            chunk = message.get("body", b"")
            size += len(chunk)
            if size > self.max_bytes:
                await self._refuse(send)
                return
            chunks.append(chunk)
            more = message.get("more_body", False)
        body = b"".join(chunks)
        delivered = False

        async def replay() -> Message:
            nonlocal delivered
            if not delivered:
                delivered = True
                return {"type": "http.request", "body": body, "more_body": False}
            return await receive()

        await self.app(scope, replay, send)

    async def _refuse(self, send: Send) -> None:
        body = b"Request body too large."
        await send(
            {
                "type": "http.response.start",
                "status": 413,
                "headers": [
                    (b"content-type", b"text/plain; charset=utf-8"),
                    (b"content-length", str(len(body)).encode()),
                ],
            }
        )
        await send({"type": "http.response.body", "body": body})
