"""Download or delete one's data, from the short-lived link emailed on request (never from a link
printed in a newsletter, which gets forwarded)."""

from __future__ import annotations

import json
from typing import Annotated

from fastapi import APIRouter, Depends, Request
from fastapi.responses import HTMLResponse, Response
from sqlalchemy.orm import Session

from newsletter.config import Settings
from newsletter.db import session_scope
from newsletter.links.tokens import read_token
from newsletter.subscribers.service import delete_subscriber, export_data, subscriber_view
from newsletter.web.deps import ClientIpDep, SessionDep, SessionFactoryDep, SettingsDep, UserAgentDep
from newsletter.web.pages import render
from newsletter.web.routes.limits import LINK_FORM_CHECKS

router = APIRouter()


@router.api_route("/my-data/{token}", methods=["GET", "HEAD"], response_class=HTMLResponse)
def my_data_page(request: Request, token: str, settings: SettingsDep, session: SessionDep) -> HTMLResponse:
    return _data_page(request, token, settings, session)


def _data_page(
    request: Request, token: str, settings: Settings, session: Session, errors: dict[str, str] | None = None
) -> HTMLResponse:
    subscriber_id = read_token(settings, "data", token).subject_id
    return render(
        request,
        "my_data.html",
        {
            "subscriber": subscriber_view(session, subscriber_id),
            "base": f"/my-data/{token}",
            "hours": round(settings.data_link_hours),
            "errors": errors or {},
        },
        status_code=422 if errors else 200,
    )


@router.post("/my-data/{token}/export", dependencies=LINK_FORM_CHECKS)
def export_submit(token: str, settings: SettingsDep, session: SessionDep) -> Response:
    # A POST, not a link: scanners and prefetchers that open every URL never download personal data.
    data = export_data(session, read_token(settings, "data", token).subject_id)
    return Response(
        json.dumps(data, indent=2, ensure_ascii=False),
        media_type="application/json",
        headers={
            "content-disposition": 'attachment; filename="my-newsletter-data.json"',
            "cache-control": "no-store",
        },
    )


async def is_delete_confirmed(request: Request) -> bool:
    return (await request.form()).get("confirm_delete") == "yes"


@router.post("/my-data/{token}/delete", response_class=HTMLResponse, dependencies=LINK_FORM_CHECKS)
def delete_submit(
    request: Request,
    token: str,
    is_confirmed: Annotated[bool, Depends(is_delete_confirmed)],
    settings: SettingsDep,
    factory: SessionFactoryDep,
    ip: ClientIpDep,
    agent: UserAgentDep,
) -> HTMLResponse:
    subscriber_id = read_token(settings, "data", token).subject_id
    if not is_confirmed:
        # The same page again, saying what is missing: nothing is deleted without the tick.
        with session_scope(factory) as session:
            return _data_page(
                request,
                token,
                settings,
                session,
                {"confirm_delete": "Tick the box to confirm that everything should be deleted."},
            )
    with session_scope(factory) as session:
        delete_subscriber(session, subscriber_id, "web", ip, agent)
    return render(request, "deleted.html")
