"""The consent trail (GDPR): who agreed, when, from where, to which wording, and when they withdrew."""

from __future__ import annotations

import ipaddress
from typing import Any

from sqlalchemy import Text, cast, select, update
from sqlalchemy.dialects.postgresql import ARRAY
from sqlalchemy.orm import Session

from newsletter.models import ConsentEvent

# The sign-up form's consent wording; a change of wording is a new version, and the old text stays here
# so a recorded version can always be shown.
WORDINGS = {
    "2026-11-22": (
        "Send me the daily (or weekly) email of trending machine-learning papers in the topics I chose. "
        "I can change my preferences or unsubscribe at any time from a link in every email."
    ),
}
CURRENT_WORDING_VERSION = "2026-11-22"
MAX_USER_AGENT_CHARS = 512
# What a consent event's details may say of the subscriber's choices: removed when they are deleted.
PREFERENCE_DETAILS = ["topics", "keywords", "frequency", "send_time", "timezone", "summary_language"]


def clean_ip(value: str | None) -> str | None:
    """An IP address Postgres' INET accepts, or None (test clients and sockets may give a host name)."""
    if not value:
        return None
    try:
        return str(ipaddress.ip_address(value))
    except ValueError:
        return None


def record_consent(
    session: Session,
    *,
    subscriber_id: int | None,
    email: str,
    action: str,
    source: str = "web",
    ip: str | None = None,
    user_agent: str | None = None,
    wording_version: str | None = None,
    details: dict[str, Any] | None = None,
) -> ConsentEvent:
    event = ConsentEvent(
        subscriber_id=subscriber_id,
        email=email,
        action=action,
        source=source[:64],
        ip=clean_ip(ip),
        user_agent=(user_agent or None) and user_agent[:MAX_USER_AGENT_CHARS],
        wording_version=wording_version,
        details=details or {},
    )
    session.add(event)
    session.flush()
    return event


def forget_preferences(session: Session, subscriber_id: int) -> None:
    """Take the preferences (topics, keywords, schedule) out of a subscriber's consent events, who consented
    to what wording, when and from where staying as proof: for a subscriber being deleted."""
    session.execute(
        update(ConsentEvent)
        .where(ConsentEvent.subscriber_id == subscriber_id)
        .values(details=ConsentEvent.details.op("-")(cast(PREFERENCE_DETAILS, ARRAY(Text))))
        .execution_options(synchronize_session=False)
    )


def consent_history(session: Session, subscriber_id: int) -> list[ConsentEvent]:
    return list(
        session.execute(
            select(ConsentEvent)
            .where(ConsentEvent.subscriber_id == subscriber_id)
            .order_by(ConsentEvent.occurred_at, ConsentEvent.id)
        ).scalars()
    )


def latest_signup_wording(session: Session, subscriber_id: int) -> str | None:
    """The wording the person saw when they last signed up: their confirmation agrees to that text."""
    return session.execute(
        select(ConsentEvent.wording_version)
        .where(ConsentEvent.subscriber_id == subscriber_id, ConsentEvent.action == "signup")
        .order_by(ConsentEvent.occurred_at.desc(), ConsentEvent.id.desc())
        .limit(1)
    ).scalar_one_or_none()
