"""The FastAPI application: routers, static files, security middleware, one error handler."""

from __future__ import annotations

import logging
from typing import TYPE_CHECKING

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import HTMLResponse, PlainTextResponse
from prometheus_client.registry import CollectorRegistry
from starlette.exceptions import HTTPException as StarletteHTTPException
from starlette.middleware.gzip import GZipMiddleware
from starlette.middleware.trustedhost import TrustedHostMiddleware
from starlette.types import ASGIApp

from newsletter.config import Settings, get_settings
from newsletter.db import get_engine, make_session_factory
from newsletter.errors import InvalidInput, InvalidToken, NewsletterError, NotFound
from newsletter.metrics import StatsCollector
from newsletter.redis_client import make_redis
from newsletter.web.deps import parse_networks
from newsletter.web.options import OptionsMiddleware
from newsletter.web.pages import render
from newsletter.web.ratelimit import RateLimiter
from newsletter.web.routes import (
    archive,
    confirm,
    feedback,
    feeds,
    my_data,
    operations,
    outbox,
    preferences,
    public,
    signup,
    site_files,
    unsubscribe,
    webhooks,
)
from newsletter.web.security import (
    BodySizeLimitMiddleware,
    SameSiteRedirectsMiddleware,
    SecurityHeadersMiddleware,
    allowed_hosts,
)

if TYPE_CHECKING:
    from newsletter.demo import DemoSite

logger = logging.getLogger(__name__)
# Forms are a few kilobytes; anything near this is an attack or a mistake.
MAX_FORM_BYTES = 64 * 1024
ERROR_TITLES = {
    400: "This link does not work",
    403: "Please try again",
    404: "Not found",
    405: "Not allowed",
    409: "Not possible any more",
    413: "Too large",
    422: "Not valid",  # a form's values, or a link's (a vote other than up or down)
    429: "Too many attempts",
}


def error_page(request: Request, status_code: int, message: str) -> HTMLResponse:
    return render(
        request,
        "error.html",
        {"title": ERROR_TITLES.get(status_code, "Something went wrong"), "message": message},
        status_code=status_code,
    )


async def domain_error_handler(request: Request, error: Exception) -> HTMLResponse | PlainTextResponse:
    statuses: dict[type[Exception], int] = {InvalidToken: 400, NotFound: 404, InvalidInput: 422}
    status_code = statuses.get(type(error), 400)
    if isinstance(error, InvalidToken):
        message = f"{str(error).capitalize()}. Links in our emails work for a limited time: please use the link in a more recent email, or sign up again if you no longer receive them."
    else:
        message = str(error)
    return error_page(request, status_code, message)


async def http_error_handler(request: Request, error: Exception) -> HTMLResponse:
    assert isinstance(error, StarletteHTTPException)
    message = error.detail if isinstance(error.detail, str) else "Something went wrong."
    if error.status_code == 404:
        message = "There is no page at this address."
    elif error.status_code == 405:
        message = "This page cannot be used that way."
    response = error_page(request, error.status_code, message)
    for name, value in (error.headers or {}).items():
        response.headers[name] = value
    return response


async def validation_error_handler(request: Request, error: Exception) -> HTMLResponse:
    return error_page(request, 422, "Some of the values sent were missing or not valid.")


class NewsletterApp(FastAPI):
    """The security headers and the redirect check wrap the whole stack: Starlette's own 500 answer
    comes from a middleware outside every added one, and would otherwise go out without them."""

    def build_middleware_stack(self) -> ASGIApp:
        settings: Settings = self.state.settings
        return SecurityHeadersMiddleware(
            SameSiteRedirectsMiddleware(
                super().build_middleware_stack(), public_base_url=settings.public_base_url
            ),
            is_https=settings.public_base_url.startswith("https://"),
        )


def create_app(
    settings: Settings | None = None,
    *,
    signup_answer_seconds: float = signup.SIGNUP_ANSWER_SECONDS,
    demo: DemoSite | None = None,
) -> FastAPI:
    """The site. With `demo` it is the demo's: an Outbox page (with tomorrow's editions while the demo's
    worker runs), and previews as of the demo's clock."""
    settings = settings or get_settings()
    app = NewsletterApp(title=settings.sender_name, docs_url=None, redoc_url=None, openapi_url=None)
    app.state.settings = settings
    app.state.session_factory = make_session_factory(get_engine(settings))
    app.state.redis = make_redis(settings)
    app.state.rate_limiter = RateLimiter(app.state.redis, settings.redis_prefix)
    app.state.metrics_registry = CollectorRegistry(auto_describe=True)
    app.state.metrics_registry.register(StatsCollector(app.state.session_factory, settings))
    app.state.trusted_networks = parse_networks(settings.trusted_proxies)
    app.state.signup_answer_seconds = signup_answer_seconds
    app.state.demo = demo

    for module in (
        public,
        signup,
        confirm,
        preferences,
        my_data,
        unsubscribe,
        feedback,
        archive,
        operations,
        webhooks,
        site_files,
        feeds,
    ):
        app.include_router(module.router)
    if demo is not None:
        app.include_router(outbox.router)

    app.add_exception_handler(NewsletterError, domain_error_handler)
    app.add_exception_handler(operations.AdminLoginRequired, operations.admin_login_required)
    app.add_exception_handler(StarletteHTTPException, http_error_handler)
    app.add_exception_handler(RequestValidationError, validation_error_handler)
    app.add_middleware(OptionsMiddleware)
    # Pages shrink to about a quarter; the CSRF token in them is masked per response (csrf.py).
    app.add_middleware(GZipMiddleware, minimum_size=512)
    app.add_middleware(BodySizeLimitMiddleware, max_bytes=MAX_FORM_BYTES, exempt_prefixes=("/webhooks/",))
    # Outermost of the added ones: a request for another host name is refused before anything reads it.
    app.add_middleware(TrustedHostMiddleware, allowed_hosts=allowed_hosts(settings), www_redirect=False)
    return app


def run_web(
    settings: Settings, host: str = "127.0.0.1", port: int = 8000, *, demo: DemoSite | None = None
) -> None:
    """`newsletter web`: serve the site with uvicorn (one process; put several behind a proxy to scale)."""
    import uvicorn

    uvicorn.run(
        create_app(settings, demo=demo),
        host=host,
        port=port,
        proxy_headers=bool(settings.trusted_proxies),
        forwarded_allow_ips=",".join(settings.trusted_proxies) or None,
        log_level="info",
    )
