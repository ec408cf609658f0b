"""The archive: every sent edition viewable in the browser (the emails' "view in browser" link)."""

from __future__ import annotations

from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse

from newsletter.errors import InvalidToken
from newsletter.links.tokens import read_expired_token, read_token
from newsletter.mail.context import archived_edition_context, edition_date_of
from newsletter.web.deps import SessionDep, SettingsDep
from newsletter.web.pages import render

router = APIRouter()


@router.api_route("/editions/{token}", methods=["GET", "HEAD"], response_class=HTMLResponse)
def edition_page(request: Request, token: str, settings: SettingsDep, session: SessionDep) -> HTMLResponse:
    try:
        edition_id = read_token(settings, "edition", token).subject_id
    except InvalidToken:
        expired = read_expired_token(settings, "edition", token)
        if expired is None:
            raise
        # A forwarded email outlives its link: say so, and show where the same papers still are.
        day = edition_date_of(session, expired.subject_id)
        return render(
            request,
            "edition_expired.html",
            {"day": day.isoformat() if day else None, "days": round(settings.edition_link_days)},
        )
    # The same plain-data context the email is rendered from, so the page and the email never disagree.
    context = archived_edition_context(session, settings, edition_id)
    return render(request, "edition.html", {"edition": context})
