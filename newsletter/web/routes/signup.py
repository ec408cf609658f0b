"""Signup: the same "check your inbox" answer whatever the address's state; the email is sent by a task."""

from __future__ import annotations

import logging
import time
from dataclasses import asdict

import anyio
from fastapi import APIRouter, Depends, Request
from fastapi.concurrency import run_in_threadpool
from fastapi.responses import HTMLResponse
from sqlalchemy.orm import Session, sessionmaker

from newsletter.config import Settings
from newsletter.db import session_scope
from newsletter.errors import InvalidInput
from newsletter.postgres_text import without_nul
from newsletter.subscribers.consent import CURRENT_WORDING_VERSION
from newsletter.subscribers.service import signup, validate_signup_form
from newsletter.subscribers.validation import SignupForm, normalize_email, suggested_address, topic_choices
from newsletter.web.csrf import require_csrf
from newsletter.web.delivery import deliver_after_answer
from newsletter.web.deps import (
    ClientIpDep,
    RateLimiterDep,
    SessionDep,
    SessionFactoryDep,
    SettingsDep,
    UserAgentDep,
)
from newsletter.web.forms import SignupFormDep
from newsletter.web.pages import field_errors, render
from newsletter.web.ratelimit import SIGNUP_PER_ADDRESS, SIGNUP_PER_IP, RateLimiter
from newsletter.web.routes.public import signup_defaults

logger = logging.getLogger(__name__)
router = APIRouter()
# The least time a signup answer takes. A new address costs more work than a known one (rows written,
# an email queued: about 30 ms against 15 ms here); answering no sooner than this hides the difference.
SIGNUP_ANSWER_SECONDS = 0.25
MAX_EMAIL_CHARS = 254  # the form field's own maxlength


@router.api_route("/subscribe", methods=["GET", "HEAD"], response_class=HTMLResponse)
def signup_page(request: Request, session: SessionDep, email: str = "") -> HTMLResponse:
    """The form alone; `?email=` fills the address in (the "Did you mean …?" link of the answer page)."""
    form = signup_defaults() | {"email": without_nul(email).strip()[:MAX_EMAIL_CHARS]}
    return render(request, "signup.html", {"topics": topic_choices(session), "form": form})


@router.post("/subscribe", response_class=HTMLResponse, dependencies=[Depends(require_csrf)])
async def signup_submit(
    request: Request,
    submitted: SignupFormDep,
    settings: SettingsDep,
    factory: SessionFactoryDep,
    limiter: RateLimiterDep,
    ip: ClientIpDep,
    agent: UserAgentDep,
) -> HTMLResponse:
    started = time.monotonic()
    response = await run_in_threadpool(
        answer_signup, request, submitted, settings, factory, limiter, ip, agent
    )
    floor: float = request.app.state.signup_answer_seconds
    # Asleep, not holding a thread: a burst of signups does not starve the other pages.
    await anyio.sleep(max(0.0, started + floor - time.monotonic()))
    return response


def answer_signup(
    request: Request,
    submitted: tuple[SignupForm, bool],
    settings: Settings,
    factory: sessionmaker[Session],
    limiter: RateLimiter,
    ip: str,
    agent: str | None,
) -> HTMLResponse:
    form, is_bot = submitted
    if is_bot:
        logger.info("signup honeypot filled from %s: ignored", ip)
        return check_inbox(request, form)
    try:
        address = normalize_email(form.email)
        # A refused form (a typo, no topic) sends nothing: it does not count against anyone's budget.
        with session_scope(factory) as session:
            validate_signup_form(session, form)
    except InvalidInput as error:
        return form_with_error(request, factory, form, error)
    if not limiter.allow(SIGNUP_PER_IP, ip):
        return render(
            request,
            "error.html",
            {
                "title": "Too many attempts",
                "message": "Too many sign-ups from your network. Please try again in an hour.",
            },
            status_code=429,
        )
    # Past the per-address budget the answer is the same page, with nothing sent: no enumeration,
    # and nobody can fill a stranger's inbox with confirmation emails.
    if not limiter.allow(SIGNUP_PER_ADDRESS, address):
        return check_inbox(request, form)
    try:
        with session_scope(factory) as session:
            result = signup(session, form, ip, agent, CURRENT_WORDING_VERSION)
    except InvalidInput as error:
        return form_with_error(request, factory, form, error)
    return deliver_after_answer(check_inbox(request, form), settings, factory, result.delivery_id)


def check_inbox(request: Request, form: SignupForm) -> HTMLResponse:
    """The one answer to every accepted form, whatever happened (no enumeration): the address as typed,
    so that a typo can be seen, and a common provider's domain when the typed one looks like a typo of it."""
    return render(
        request,
        "check_inbox.html",
        {"email": form.email.strip(), "suggestion": suggested_address(form.email)},
    )


def form_with_error(
    request: Request, factory: sessionmaker[Session], form: SignupForm, error: InvalidInput
) -> HTMLResponse:
    """The form again, as typed, with the message beside the field it concerns."""
    with session_scope(factory) as session:
        topics = topic_choices(session)
    return render(
        request,
        "signup.html",
        {"topics": topics, "form": asdict(form), "error": str(error), "errors": field_errors(error)},
        status_code=422,
    )
