"""The files a site is expected to have: static assets (hashed names, cached for a year), the favicon,
robots.txt."""

from __future__ import annotations

from fastapi import APIRouter
from fastapi.responses import FileResponse, PlainTextResponse, RedirectResponse

from newsletter.errors import NotFound
from newsletter.web.assets import IMMUTABLE, find_asset, static_url

router = APIRouter()
# Token pages are not disallowed here: a crawler must be able to fetch them to see their `noindex`.
ROBOTS_TXT = """User-agent: *
Disallow: /admin
Disallow: /metrics
Disallow: /outbox
"""


@router.api_route("/static/{name}", methods=["GET", "HEAD"])
def static_file(name: str) -> FileResponse:
    found = find_asset(name)
    if found is None:
        raise NotFound("There is no such file.")
    asset, cache_control = found
    return FileResponse(asset.path, headers={"cache-control": cache_control})


@router.api_route("/favicon.ico", methods=["GET", "HEAD"])
def favicon() -> RedirectResponse:
    return RedirectResponse(static_url("favicon.svg"), status_code=301, headers={"cache-control": IMMUTABLE})


@router.api_route("/robots.txt", methods=["GET", "HEAD"], response_class=PlainTextResponse)
def robots_txt() -> PlainTextResponse:
    return PlainTextResponse(ROBOTS_TXT, headers={"cache-control": "public, max-age=86400"})
