"""The demo's Outbox: the emails the demo sent, newest first, each shown as it renders, so a newcomer can
follow a confirmation link without a mail client. Mounted only when the site runs as the demo."""

from __future__ import annotations

from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse

from newsletter.errors import NotFound
from newsletter.mail.backends.file import outbox_email_html, outbox_emails
from newsletter.web.deps import SettingsDep
from newsletter.web.pages import render

router = APIRouter()
# An email's HTML is written for mail clients: inline styles, remote images. It gets a policy of its
# own that allows exactly that, and still no script.
EMAIL_CONTENT_SECURITY_POLICY = (
    "default-src 'none'; style-src 'unsafe-inline'; img-src https: data:; "
    "frame-ancestors 'none'; base-uri 'none'; form-action 'self'"
)


@router.api_route("/outbox", methods=["GET", "HEAD"], response_class=HTMLResponse)
def outbox_page(request: Request, settings: SettingsDep) -> HTMLResponse:
    return render(
        request,
        "outbox.html",
        {"emails": outbox_emails(settings.resolved_outbox_dir), "outbox": settings.resolved_outbox_dir},
    )


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
