"""The demo's Outbox: the emails the demo sent, newest first, each shown as it renders, so a newcomer can
follow a confirmation link without a mail client; and "Deliver tomorrow's editions", which moves the
demo's clock a day on and builds and sends that day's editions. Mounted only when the site runs as the
demo."""

from __future__ import annotations

from typing import TYPE_CHECKING, Annotated

from fastapi import APIRouter, Depends, Query, Request
from fastapi.responses import HTMLResponse, RedirectResponse

from newsletter.errors import NotFound
from newsletter.mail.backends.file import outbox_email_html, outbox_emails
from newsletter.web.csrf import require_csrf
from newsletter.web.deps import SettingsDep
from newsletter.web.pages import render

if TYPE_CHECKING:
    from newsletter.demo import DemoSite

router = APIRouter()
# An email's HTML is written for mail clients: inline styles, remote images. It gets a policy of its
# own that allows exactly that, and still no script.
EMAIL_CONTENT_SECURITY_POLICY = (
    "default-src 'none'; style-src 'unsafe-inline'; img-src https: data:; "
    "frame-ancestors 'none'; base-uri 'none'; form-action 'self'"
)
NEXT_DAY_PATH = "/outbox/next-day"


@router.api_route("/outbox", methods=["GET", "HEAD"], response_class=HTMLResponse)
def outbox_page(
    request: Request,
    settings: SettingsDep,
    delivered: Annotated[int | None, Query(ge=0)] = None,
    last_day: Annotated[bool, Query()] = False,
) -> HTMLResponse:
    demo: DemoSite = request.app.state.demo
    return render(
        request,
        "outbox.html",
        {
            "emails": outbox_emails(settings.resolved_outbox_dir),
            "outbox": settings.resolved_outbox_dir,
            "demo_day": demo.clock.now,
            "next_day": demo.clock.next_day if demo.deliver is not None else None,
            "next_day_path": NEXT_DAY_PATH,
            "delivered": delivered,
            "is_last_day": last_day or demo.clock.next_day is None,
        },
    )


@router.post(NEXT_DAY_PATH, dependencies=[Depends(require_csrf)])
def deliver_next_day(request: Request) -> RedirectResponse:
    """Tomorrow on the demo's clock: the demo's editions and send stages for that day, run by its worker."""
    demo: DemoSite = request.app.state.demo
    if demo.clock.next_day is None:
        return RedirectResponse("/outbox?last_day=true", status_code=303)
    if demo.deliver is None:
        raise NotFound("the demo's worker is not running")
    delivered = demo.clock.advance(demo.deliver)
    if delivered is None:
        return RedirectResponse("/outbox?last_day=true", status_code=303)
    return RedirectResponse(f"/outbox?delivered={delivered.emails}", status_code=303)


@router.api_route("/outbox/{name}", methods=["GET", "HEAD"], response_class=HTMLResponse)
def outbox_email_page(name: str, settings: SettingsDep) -> HTMLResponse:
    html = outbox_email_html(settings.resolved_outbox_dir, name)
    if html is None:
        raise NotFound("no such email in the outbox")
    return HTMLResponse(
        html,
        headers={
            "content-security-policy": EMAIL_CONTENT_SECURITY_POLICY,
            "cache-control": "no-store",
            "x-robots-tag": "noindex",
        },
    )
