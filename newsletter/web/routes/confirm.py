"""Confirmation: the emailed link opens a page with a button; only the POST activates."""

from __future__ import annotations

from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse

from newsletter.db import session_scope
from newsletter.links.tokens import read_token
from newsletter.subscribers.outbox import enqueue_delivery
from newsletter.subscribers.service import confirm, is_confirmation_link_current, subscriber_view
from newsletter.web.deps import (
    ClientIpDep,
    SessionDep,
    SessionFactoryDep,
    SettingsDep,
    UserAgentDep,
)
from newsletter.web.pages import page_links, render
from newsletter.web.routes.limits import LINK_FORM_CHECKS

router = APIRouter()


@router.api_route("/confirm/{token}", methods=["GET", "HEAD"], response_class=HTMLResponse)
def confirm_page(request: Request, token: str, settings: SettingsDep, session: SessionDep) -> HTMLResponse:
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
            "links": page_links(settings, link.subject_id),
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
    enqueue_delivery(settings, change.delivery_id)
    return render(
        request,
        "confirmed.html",
        {"was_already_active": not change.is_changed, "links": page_links(settings, subscriber_id)},
    )
