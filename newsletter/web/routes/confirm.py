"""Confirmation: the emailed link opens a page with a button; only the POST activates."""

from __future__ import annotations

from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse

from newsletter.db import session_scope
from newsletter.digests.schedule import next_send_at
from newsletter.links.tokens import read_expired_token, read_token
from newsletter.subscribers.service import (
    confirm,
    is_confirmation_link_current,
    resend_confirmation,
    subscriber_view,
)
from newsletter.web.delivery import deliver_after_answer
from newsletter.web.deps import (
    ClientIpDep,
    RateLimiterDep,
    SessionDep,
    SessionFactoryDep,
    SettingsDep,
    UserAgentDep,
)
from newsletter.web.pages import clock, render
from newsletter.web.ratelimit import SIGNUP_PER_ADDRESS
from newsletter.web.routes.limits import LINK_FORM_CHECKS

router = APIRouter()


@router.api_route("/confirm/{token}", methods=["GET", "HEAD"], response_class=HTMLResponse)
def confirm_page(request: Request, token: str, settings: SettingsDep, session: SessionDep) -> HTMLResponse:
    if read_expired_token(settings, "confirm", token) is not None:
        # The link is ours but older than a week: offer a new one instead of a dead end.
        return render(
            request, "confirm_expired.html", {"action": f"/confirm/{token}/resend"}, status_code=400
        )
    link = read_token(settings, "confirm", token)
    view = subscriber_view(session, link.subject_id)
    return render(
        request,
        "confirm.html",
        {
            "subscriber": view,
            "is_link_current": is_confirmation_link_current(
                view.status, view.status_changed_at, link.issued_at
            ),
            "action": request.url.path,
        },
    )


@router.post(
    "/confirm/{token}",
    response_class=HTMLResponse,
    dependencies=LINK_FORM_CHECKS,
)
def confirm_submit(
    request: Request,
    token: str,
    settings: SettingsDep,
    factory: SessionFactoryDep,
    ip: ClientIpDep,
    agent: UserAgentDep,
) -> HTMLResponse:
    link = read_token(settings, "confirm", token)
    subscriber_id = link.subject_id
    with session_scope(factory) as session:
        change = confirm(session, subscriber_id, ip, agent, link_issued_at=link.issued_at)
        view = subscriber_view(session, subscriber_id)
    first_email = next_send_at(view.frequency, view.weekly_day, view.send_time, view.timezone, clock(request))
    page = render(
        request,
        "confirmed.html",
        {"was_already_active": not change.is_changed, "first_email": first_email, "timezone": view.timezone},
    )
    return deliver_after_answer(page, settings, factory, change.delivery_id)


@router.post("/confirm/{token}/resend", response_class=HTMLResponse, dependencies=LINK_FORM_CHECKS)
def resend_submit(
    request: Request,
    token: str,
    settings: SettingsDep,
    factory: SessionFactoryDep,
    limiter: RateLimiterDep,
) -> HTMLResponse:
    link = read_expired_token(settings, "confirm", token) or read_token(settings, "confirm", token)
    with session_scope(factory) as session:
        view = subscriber_view(session, link.subject_id)
        # The same budget as signing up again: an old link cannot fill an inbox.
        if not limiter.allow(SIGNUP_PER_ADDRESS, view.email):
            return render(request, "check_inbox.html")
        delivery_id = resend_confirmation(session, link.subject_id)
    return deliver_after_answer(render(request, "check_inbox.html"), settings, factory, delivery_id)
