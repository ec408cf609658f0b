"""Rendering pages: one Jinja environment (autoescape on), the CSRF cookie, no caching of personal pages."""

from __future__ import annotations

from datetime import UTC, datetime
from functools import lru_cache
from pathlib import Path
from typing import TYPE_CHECKING, Any
from urllib.parse import urlsplit

from fastapi import Request
from fastapi.responses import HTMLResponse
from jinja2 import Environment, FileSystemLoader, select_autoescape
from markupsafe import Markup

from newsletter.config import Settings
from newsletter.errors import InvalidInput
from newsletter.links import urls as links
from newsletter.models.subscriber import FREQUENCIES, WEEKDAYS
from newsletter.plaintext.characters import without_hidden
from newsletter.plaintext.shorten import shorten
from newsletter.subscribers.consent import CURRENT_WORDING_VERSION, WORDINGS
from newsletter.web import csrf
from newsletter.web.assets import static_url

if TYPE_CHECKING:
    from newsletter.demo import DemoSite

TEMPLATE_DIR = Path(__file__).resolve().parents[2] / "templates" / "web"


def _strip_unsafe(value: Any) -> Any:
    # Bidi overrides in outside text could reorder what a reader sees; control and invisible characters
    # have no place in a page. Stripped from every value printed by a template.
    if isinstance(value, str) and not isinstance(value, Markup):
        return without_hidden(value)
    return value


@lru_cache(maxsize=1)
def environment() -> Environment:
    env = Environment(
        loader=FileSystemLoader(TEMPLATE_DIR),
        autoescape=select_autoescape(["html"], default=True),
        finalize=_strip_unsafe,
        trim_blocks=True,
        lstrip_blocks=True,
    )
    env.filters["shorten"] = shorten
    env.globals.update(
        weekdays=WEEKDAYS,
        frequencies=FREQUENCIES,
        common_timezones=common_timezones,
        static_url=static_url,
        wording=WORDINGS[CURRENT_WORDING_VERSION],
        wording_version=CURRENT_WORDING_VERSION,
    )
    return env


def path_of(url: str) -> str:
    """The path of one of `newsletter.links`' URLs: pages link within whatever host served them."""
    return urlsplit(url).path


def page_links(settings: Settings, subscriber_id: int) -> dict[str, str]:
    return {
        "preferences": path_of(links.preferences_url(settings, subscriber_id)),
        "unsubscribe": path_of(links.unsubscribe_url(settings, subscriber_id)),
    }


def clock(request: Request) -> datetime:
    """Now, for what a page computes (the preview of the next email): the demo's clock in the demo."""
    demo: DemoSite | None = request.app.state.demo
    return demo.clock.now if demo is not None else datetime.now(UTC)


# Pages reached through a signed link, and the demo's outbox: never in a search index.
PRIVATE_PREFIXES = (
    "/preferences/",
    "/unsubscribe/",
    "/confirm/",
    "/editions/",
    "/outbox",
    "/admin",
    "/feeds/private/",
    "/my-data/",
    "/feedback/",
)
# The time-zone menu's short list; any other IANA zone can be typed in (and the browser's own is added).
COMMON_TIMEZONES = (
    "UTC",
    "America/Los_Angeles",
    "America/Denver",
    "America/Chicago",
    "America/New_York",
    "America/Toronto",
    "America/Mexico_City",
    "America/Sao_Paulo",
    "America/Buenos_Aires",
    "Europe/London",
    "Europe/Dublin",
    "Europe/Lisbon",
    "Europe/Paris",
    "Europe/Berlin",
    "Europe/Madrid",
    "Europe/Rome",
    "Europe/Amsterdam",
    "Europe/Zurich",
    "Europe/Stockholm",
    "Europe/Warsaw",
    "Europe/Athens",
    "Europe/Istanbul",
    "Europe/Moscow",
    "Africa/Lagos",
    "Africa/Cairo",
    "Africa/Johannesburg",
    "Africa/Nairobi",
    "Asia/Dubai",
    "Asia/Tehran",
    "Asia/Karachi",
    "Asia/Kolkata",
    "Asia/Dhaka",
    "Asia/Bangkok",
    "Asia/Jakarta",
    "Asia/Singapore",
    "Asia/Shanghai",
    "Asia/Hong_Kong",
    "Asia/Taipei",
    "Asia/Seoul",
    "Asia/Tokyo",
    "Australia/Perth",
    "Australia/Sydney",
    "Pacific/Auckland",
)


def common_timezones(current: str) -> list[str]:
    """The short list, with the zone already chosen (if it is another) on top."""
    return ([current] if current and current not in COMMON_TIMEZONES else []) + list(COMMON_TIMEZONES)


def field_errors(error: InvalidInput) -> dict[str, str]:
    """The message to show beside each form field it concerns (none when it concerns no one field)."""
    return dict(error.fields)


def is_private_path(path: str) -> bool:
    return path.startswith(PRIVATE_PREFIXES)


def render(
    request: Request,
    template: str,
    context: dict[str, Any] | None = None,
    *,
    status_code: int = 200,
) -> HTMLResponse:
    settings: Settings = request.app.state.settings
    cookie, is_new = csrf.cookie_for(request)
    html = (
        environment()
        .get_template(template)
        .render(
            request_path=request.url.path,
            is_demo=request.app.state.demo is not None,
            show_thumbnails=settings.site_thumbnails,
            is_private=is_private_path(request.url.path),
            site_name=settings.sender_name,
            postal_address=settings.postal_address,
            csrf_field=csrf.FIELD_NAME,
            csrf_token=csrf.masked_form_token(settings, cookie),
            **(context or {}),
        )
    )
    response = HTMLResponse(html, status_code=status_code)
    # Every page carries a personal CSRF token and many a signed link: never cache them.
    response.headers["cache-control"] = "no-store"
    if is_private_path(request.url.path):
        response.headers["x-robots-tag"] = "noindex, nofollow"
    if is_new:
        response.set_cookie(
            csrf.COOKIE_NAME,
            cookie,
            httponly=True,
            samesite="lax",
            secure=request.url.scheme == "https",
            path="/",
        )
    return response
