"""The preference center, opened from the signed link in every email."""

from __future__ import annotations

from collections.abc import Callable
from typing import Annotated, Any

from fastapi import APIRouter, Depends, HTTPException, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from sqlalchemy.orm import Session, sessionmaker

from newsletter.config import Settings
from newsletter.db import session_scope
from newsletter.digests.schedule import next_send_at
from newsletter.errors import InvalidInput
from newsletter.feedback.personal import enqueue_refit
from newsletter.feedback.votes import remove_vote, votes_of
from newsletter.links.tokens import read_token
from newsletter.links.urls import private_feed_url
from newsletter.models.subscriber import SUPPRESSED_STATUSES
from newsletter.subscribers.preview import next_edition_preview
from newsletter.subscribers.service import (
    SubscriberView,
    pause,
    request_data_link,
    resume,
    subscriber_view,
    update_preferences,
)
from newsletter.subscribers.validation import topic_choices
from newsletter.summaries.languages import offered_languages
from newsletter.web.delivery import deliver_after_answer
from newsletter.web.deps import (
    ClientIpDep,
    RateLimiterDep,
    SessionDep,
    SessionFactoryDep,
    SettingsDep,
    UserAgentDep,
)
from newsletter.web.forms import PreferencesFormDep
from newsletter.web.pages import clock, field_errors, page_links, render
from newsletter.web.ratelimit import DATA_LINKS_PER_SUBSCRIBER
from newsletter.web.routes.limits import LINK_FORM_CHECKS

router = APIRouter()
NOTICES = {
    "saved": "Your preferences are saved.",
    "paused": "Your emails are paused. Resume whenever you like.",
    "resumed": "Your emails are back on.",
    "data-link-sent": "We emailed you a link to download or delete your data. It works for a limited time.",
    "vote_removed": "Your vote is removed: that paper counts as if you had never voted on it.",
}

# A subscription's state in the words a reader uses, not the stored enum.
STATUS_WORDS = {
    "pending": "Waiting for confirmation",
    "active": "Active",
    "paused": "Paused since {since}",
    "unsubscribed": "Unsubscribed since {since}",
    "bounced": "Stopped: emails to this address could not be delivered",
    "complained": "Stopped: an email was reported as spam",
}


def status_words(view: SubscriberView) -> str:
    since = view.status_changed_at.strftime("%-d %B %Y")
    return STATUS_WORDS.get(view.status, view.status.capitalize()).format(since=since)


def _preferences_page(
    request: Request,
    token: str,
    settings: SettingsDep,
    session: SessionDep,
    *,
    form: dict[str, Any] | None = None,
    error: InvalidInput | None = None,
    status_code: int = 200,
) -> HTMLResponse:
    subscriber_id = read_token(settings, "preferences", token).subject_id
    view = subscriber_view(session, subscriber_id)
    is_suppressed = view.status in SUPPRESSED_STATUSES
    now = clock(request)
    preview = [] if is_suppressed else next_edition_preview(session, settings, subscriber_id, now)
    next_email = None
    if view.status == "active":
        next_email = next_send_at(view.frequency, view.weekly_day, view.send_time, view.timezone, now)
    values = form or {
        "topics": view.topic_slugs,
        "keywords": "\n".join(view.keywords),
        "frequency": view.frequency,
        "weekly_day": view.weekly_day,
        "send_time": view.send_time.strftime("%H:%M"),
        "timezone": view.timezone,
        "summary_language": view.summary_language,
    }
    return render(
        request,
        "preferences.html",
        {
            "subscriber": view,
            "is_suppressed": is_suppressed,
            "topics": topic_choices(session),
            # Offered only with an LLM configured: without one every summary is English.
            "languages": offered_languages(settings),
            "form": values,
            "preview": preview,
            "feed_url": private_feed_url(settings, subscriber_id),
            "votes": votes_of(session, subscriber_id),
            "preview_day": now.date(),
            "next_email": next_email,
            "status_words": status_words(view),
            "base": f"/preferences/{token}",
            "links": page_links(settings, subscriber_id),
            "notice": NOTICES.get(request.query_params.get("notice", "")),
            "error": str(error) if error else None,
            "errors": field_errors(error) if error else None,
        },
        status_code=status_code,
    )


@router.api_route("/preferences/{token}", methods=["GET", "HEAD"], response_class=HTMLResponse)
def preferences_page(
    request: Request, token: str, settings: SettingsDep, session: SessionDep
) -> HTMLResponse:
    return _preferences_page(request, token, settings, session)


def _back(token: str, notice: str) -> RedirectResponse:
    # Post/redirect/get: a reload does not resubmit the form.
    return RedirectResponse(f"/preferences/{token}?notice={notice}", status_code=303)


@router.post("/preferences/{token}", dependencies=LINK_FORM_CHECKS)
def preferences_submit(
    request: Request,
    token: str,
    form: PreferencesFormDep,
    settings: SettingsDep,
    factory: SessionFactoryDep,
    ip: ClientIpDep,
    agent: UserAgentDep,
) -> Response:
    subscriber_id = read_token(settings, "preferences", token).subject_id
    try:
        with session_scope(factory) as session:
            update_preferences(session, subscriber_id, form, ip, agent, offered_languages(settings))
    except InvalidInput as error:
        with session_scope(factory) as session:
            values = {**form.__dict__, "topics": form.topics}
            return _preferences_page(
                request, token, settings, session, form=values, error=error, status_code=422
            )
    return _back(token, "saved")


@router.post("/preferences/{token}/pause", dependencies=LINK_FORM_CHECKS)
def pause_submit(
    token: str, settings: SettingsDep, factory: SessionFactoryDep, ip: ClientIpDep, agent: UserAgentDep
) -> Response:
    return _change_status(pause, "paused", token, settings, factory, ip, agent)


@router.post("/preferences/{token}/resume", dependencies=LINK_FORM_CHECKS)
def resume_submit(
    token: str, settings: SettingsDep, factory: SessionFactoryDep, ip: ClientIpDep, agent: UserAgentDep
) -> Response:
    return _change_status(resume, "resumed", token, settings, factory, ip, agent)


def _change_status(
    change: Callable[[Session, int, str | None, str | None], object],
    notice: str,
    token: str,
    settings: Settings,
    factory: sessionmaker[Session],
    ip: str,
    agent: str | None,
) -> Response:
    subscriber_id = read_token(settings, "preferences", token).subject_id
    with session_scope(factory) as session:
        change(session, subscriber_id, ip, agent)
    return _back(token, notice)


async def voted_paper(request: Request) -> str:
    paper = (await request.form()).get("paper")
    return paper if isinstance(paper, str) else ""


@router.post("/preferences/{token}/votes/remove", dependencies=LINK_FORM_CHECKS)
def remove_vote_submit(
    token: str,
    paper: Annotated[str, Depends(voted_paper)],
    settings: SettingsDep,
    factory: SessionFactoryDep,
) -> Response:
    subscriber_id = read_token(settings, "preferences", token).subject_id
    with session_scope(factory) as session:
        change = remove_vote(session, subscriber_id, paper.replace("\x00", ""))
    if change.is_changed:
        enqueue_refit(settings, subscriber_id)
    return _back(token, "vote_removed")


@router.post("/preferences/{token}/data-link", dependencies=LINK_FORM_CHECKS)
def data_link_submit(
    token: str, settings: SettingsDep, factory: SessionFactoryDep, limiter: RateLimiterDep
) -> Response:
    """Downloading or deleting the data needs a fresh link, sent to the address itself: whoever holds a
    forwarded newsletter holds this page's link too."""
    subscriber_id = read_token(settings, "preferences", token).subject_id
    if not limiter.allow(DATA_LINKS_PER_SUBSCRIBER, str(subscriber_id)):
        raise HTTPException(status_code=429, detail="We sent a link a moment ago. Please check your inbox.")
    with session_scope(factory) as session:
        delivery_id = request_data_link(session, subscriber_id)
    return deliver_after_answer(_back(token, "data-link-sent"), settings, factory, delivery_id)
