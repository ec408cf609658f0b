"""What operators and monitoring read: /healthz, /metrics, and the read-only /admin page."""

from __future__ import annotations

import secrets
from typing import Annotated

import redis
from fastapi import APIRouter, Depends, Request
from fastapi.responses import HTMLResponse, JSONResponse, Response
from fastapi.security import HTTPBasic, HTTPBasicCredentials
from prometheus_client import CONTENT_TYPE_LATEST, generate_latest
from prometheus_client.registry import CollectorRegistry

from newsletter.errors import NotFound
from newsletter.health import check_health
from newsletter.stats import collect_stats, queue_depth
from newsletter.web.deps import RedisDep, SessionDep, SettingsDep
from newsletter.web.pages import render

router = APIRouter()
basic_auth = HTTPBasic(auto_error=False, realm="newsletter admin")


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


@router.get("/metrics")
def metrics(request: Request) -> Response:
    registry: CollectorRegistry = request.app.state.metrics_registry
    return Response(generate_latest(registry), media_type=CONTENT_TYPE_LATEST)


def require_admin(
    settings: SettingsDep, credentials: Annotated[HTTPBasicCredentials | None, Depends(basic_auth)]
) -> None:
    token = settings.admin_token.get_secret_value()
    if not token:
        # Off unless configured: no page to probe at all.
        raise NotFound("There is no page at this address.")
    given = credentials.password if credentials else ""
    if not secrets.compare_digest(given.encode(), token.encode()):
        raise AdminLoginRequired()


class AdminLoginRequired(Exception):
    pass


@router.get("/admin", response_class=HTMLResponse, dependencies=[Depends(require_admin)])
def admin_page(
    request: Request, session: SessionDep, settings: SettingsDep, redis_client: RedisDep
) -> HTMLResponse:
    stats = collect_stats(session)
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
