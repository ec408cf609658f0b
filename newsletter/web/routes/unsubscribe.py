"""Unsubscribe: a page with a confirm button for the body link, and RFC 8058 one-click for mail providers."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends, Request
from fastapi.responses import HTMLResponse, PlainTextResponse
from starlette.exceptions import HTTPException

from newsletter.db import session_scope
from newsletter.errors import InvalidToken, NotFound
from newsletter.links.tokens import read_token
from newsletter.subscribers.service import subscriber_view, unsubscribe
from newsletter.web.delivery import deliver_after_answer
from newsletter.web.deps import (
    ClientIpDep,
    SessionDep,
    SessionFactoryDep,
    SettingsDep,
    UserAgentDep,
)
from newsletter.web.pages import render
from newsletter.web.routes.limits import LINK_FORM_CHECKS

router = APIRouter()
ONE_CLICK_FIELD = "List-Unsubscribe"
ONE_CLICK_VALUE = "One-Click"


def _page(request: Request, token: str, settings: SettingsDep, session: SessionDep) -> HTMLResponse:
    subscriber_id = read_token(settings, "unsubscribe", token).subject_id
    return render(
        request,
        "unsubscribe.html",
        {
            "subscriber": subscriber_view(session, subscriber_id),
            "action": f"/unsubscribe/{token}",
        },
    )


@router.api_route("/unsubscribe/{token}", methods=["GET", "HEAD"], response_class=HTMLResponse)
def unsubscribe_page(
    request: Request, token: str, settings: SettingsDep, session: SessionDep
) -> HTMLResponse:
    return _page(request, token, settings, session)


@router.api_route("/unsubscribe/{token}/one-click", methods=["GET", "HEAD"], response_class=HTMLResponse)
def one_click_page(request: Request, token: str, settings: SettingsDep, session: SessionDep) -> HTMLResponse:
    # A person (or a scanner) opening the List-Unsubscribe URL gets the confirm page; only POST acts.
    return _page(request, token, settings, session)


@router.post(
    "/unsubscribe/{token}",
    response_class=HTMLResponse,
    dependencies=LINK_FORM_CHECKS,
)
def unsubscribe_submit(
    request: Request,
    token: str,
    settings: SettingsDep,
    factory: SessionFactoryDep,
    ip: ClientIpDep,
    agent: UserAgentDep,
) -> HTMLResponse:
    subscriber_id = read_token(settings, "unsubscribe", token).subject_id
    with session_scope(factory) as session:
        change = unsubscribe(session, subscriber_id, "web", ip=ip, user_agent=agent, send_goodbye=True)
    return deliver_after_answer(render(request, "unsubscribed.html"), settings, factory, change.delivery_id)


async def is_one_click_request(request: Request) -> bool:
    """RFC 8058 §3.1: the body SHOULD be multipart/form-data and MAY be urlencoded; either way it holds
    the single field `List-Unsubscribe=One-Click`."""
    content_type = request.headers.get("content-type", "").split(";")[0].strip().lower()
    if content_type in ("multipart/form-data", "application/x-www-form-urlencoded"):
        try:
            form = await request.form()
        except HTTPException:  # a malformed body: Starlette refuses to parse it
            return False
        return form.get(ONE_CLICK_FIELD) == ONE_CLICK_VALUE
    # Some senders leave the content type out: accept the exact urlencoded body.
    body = (await request.body()).decode("utf-8", errors="replace")
    return f"{ONE_CLICK_FIELD}={ONE_CLICK_VALUE}" in body.replace("\r", "").replace("\n", "&").split("&")


@router.post("/unsubscribe/{token}/one-click")
def one_click_unsubscribe(
    token: str,
    is_one_click: Annotated[bool, Depends(is_one_click_request)],
    settings: SettingsDep,
    factory: SessionFactoryDep,
    ip: ClientIpDep,
    agent: UserAgentDep,
) -> PlainTextResponse:
    """RFC 8058: the provider POSTs `List-Unsubscribe=One-Click` without cookies; 200, never a redirect."""
    if not is_one_click:
        return PlainTextResponse("Expected a List-Unsubscribe=One-Click body.", status_code=400)
    try:
        subscriber_id = read_token(settings, "unsubscribe", token).subject_id
    except InvalidToken:
        return PlainTextResponse("This unsubscribe link is not valid.", status_code=400)
    try:
        with session_scope(factory) as session:
            unsubscribe(session, subscriber_id, "one-click", ip=ip, user_agent=agent)
    except NotFound:
        pass  # Deleted already: nothing will be sent to them, which is what was asked.
    return PlainTextResponse("You are unsubscribed.", status_code=200)
