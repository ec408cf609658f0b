"""What operators and monitoring read: /healthz, /metrics, and the read-only /admin page."""

from __future__ import annotations

import logging
import secrets
from typing import Annotated

import redis
from fastapi import APIRouter, Depends, HTTPException, Request
from fastapi.responses import HTMLResponse, JSONResponse, Response
from fastapi.security import HTTPAuthorizationCredentials, HTTPBasic, HTTPBasicCredentials, HTTPBearer
from prometheus_client import CONTENT_TYPE_LATEST, generate_latest
from prometheus_client.registry import CollectorRegistry

from newsletter.errors import NotFound
from newsletter.health import check_health
from newsletter.stats import collect_stats, llm_prices, queue_depth
from newsletter.web.deps import ClientIpDep, RateLimiterDep, RedisDep, SessionDep, SettingsDep
from newsletter.web.pages import render
from newsletter.web.ratelimit import ADMIN_FAILURES_PER_IP

logger = logging.getLogger(__name__)
router = APIRouter()
basic_auth = HTTPBasic(auto_error=False, realm="newsletter admin")
bearer_auth = HTTPBearer(auto_error=False)


def is_same_secret(given: str, expected: str) -> bool:
    # Constant time: how long a wrong guess takes says nothing about how close it was.
    return secrets.compare_digest(given.encode(), expected.encode())


@router.get("/healthz")
def healthz(session: SessionDep, settings: SettingsDep, redis_client: RedisDep) -> JSONResponse:
    """503 when the database or Redis is down; 200 "degraded" when only the worker heartbeat is missing
    (a load balancer keeps serving pages, monitoring still sees the problem)."""
    report = check_health(session, redis_client, settings.redis_prefix)
    body = {
        "status": report.status,
        "database": report.database,
        "redis": report.redis,
        "worker": report.worker,
    }
    return JSONResponse(
        body, status_code=200 if report.is_serving else 503, headers={"cache-control": "no-store"}
    )


def require_metrics_token(
    settings: SettingsDep, credentials: Annotated[HTTPAuthorizationCredentials | None, Depends(bearer_auth)]
) -> None:
    """Per-status subscriber counts tell an outsider whether a signup created someone: only Prometheus
    with the bearer token reads them. No token configured: no page (the demo alone is open). Loopback is
    no credential: behind a reverse proxy every request comes from 127.0.0.1."""
    token = settings.metrics_token.get_secret_value()
    if not token:
        if settings.demo_mode:
            return
        raise NotFound("There is no page at this address.")
    given = credentials.credentials if credentials else ""
    if not is_same_secret(given, token):
        raise HTTPException(
            status_code=401, detail="Metrics need the bearer token.", headers={"www-authenticate": "Bearer"}
        )


@router.get("/metrics", dependencies=[Depends(require_metrics_token)])
def metrics(request: Request) -> Response:
    registry: CollectorRegistry = request.app.state.metrics_registry
    return Response(generate_latest(registry), media_type=CONTENT_TYPE_LATEST)


def require_admin(
    settings: SettingsDep,
    credentials: Annotated[HTTPBasicCredentials | None, Depends(basic_auth)],
    limiter: RateLimiterDep,
    ip: ClientIpDep,
) -> None:
    token = settings.admin_token.get_secret_value()
    if not token:
        # Off unless configured: no page to probe at all.
        raise NotFound("There is no page at this address.")
    # Checked before the password: past the budget even the right one waits, so guessing gains nothing.
    if (retry_after := limiter.retry_after(ADMIN_FAILURES_PER_IP, ip)) is not None:
        raise too_many_wrong_passwords(retry_after)
    if credentials is None:
        raise AdminLoginRequired()  # the browser's first visit: ask, count nothing
    # Counted before the comparison, and taken back if right: checked first and counted after, a burst
    # of guesses sent at once all passed the check before any of them was counted.
    if not limiter.allow(ADMIN_FAILURES_PER_IP, ip):
        raise too_many_wrong_passwords(limiter.retry_after(ADMIN_FAILURES_PER_IP, ip) or 1)
    if not is_same_secret(credentials.password, token):
        logger.warning("admin page: wrong password from %s", ip)
        raise AdminLoginRequired()
    limiter.take_back(ADMIN_FAILURES_PER_IP, ip)


def too_many_wrong_passwords(retry_after: int) -> HTTPException:
    return HTTPException(
        status_code=429,
        detail="Too many wrong passwords. Please try again later.",
        headers={"retry-after": str(retry_after)},
    )


class AdminLoginRequired(Exception):
    pass


@router.get("/admin", response_class=HTMLResponse, dependencies=[Depends(require_admin)])
def admin_page(
    request: Request, session: SessionDep, settings: SettingsDep, redis_client: RedisDep
) -> HTMLResponse:
    stats = collect_stats(session, llm_prices=llm_prices(settings))
    health = check_health(session, redis_client, settings.redis_prefix)
    try:
        depth: int | None = queue_depth(redis_client, settings.redis_prefix)
    except (redis.RedisError, OSError):
        depth = None
    return render(request, "admin.html", {"stats": stats, "health": health, "queue_depth": depth})


def admin_login_required(request: Request, error: Exception) -> HTMLResponse:
    response = render(
        request,
        "error.html",
        {"title": "Sign in", "message": "The admin page needs the admin token as its password."},
        status_code=401,
    )
    response.headers["www-authenticate"] = 'Basic realm="newsletter admin"'
    return response
