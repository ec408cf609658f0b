"""The archive: every sent edition viewable in the browser (the emails' "view in browser" link)."""

from __future__ import annotations

from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse

from newsletter.links.tokens import read_token
from newsletter.mail.context import edition_context
from newsletter.web.deps import SessionDep, SettingsDep
from newsletter.web.pages import render

router = APIRouter()


@router.api_route("/editions/{token}", methods=["GET", "HEAD"], response_class=HTMLResponse)
def edition_page(request: Request, token: str, settings: SettingsDep, session: SessionDep) -> HTMLResponse:
    # The same plain-data context the email is rendered from, so the page and the email never disagree.
    context = edition_context(session, settings, read_token(settings, "edition", token).subject_id)
    return render(request, "edition.html", {"edition": context})
