"""Subscriber lifecycle: double opt-in signup, confirmation, preferences, pause, unsubscribe, export, delete.

Each function works inside the caller's transaction (it flushes, never commits) and returns the id of a
transactional Delivery row when an email should go out: the caller commits, then enqueues the send.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, datetime, time, timedelta
from typing import Any

from sqlalchemy import delete, func, select
from sqlalchemy.dialects.postgresql import insert
from sqlalchemy.orm import Session

from newsletter.errors import InvalidInput, NotFound
from newsletter.feedback.votes import votes_of
from newsletter.mail.transactional import create_transactional_delivery
from newsletter.mail.webhook import forget_address
from newsletter.models import (
    Delivery,
    Edition,
    EditionItem,
    KeywordAlert,
    Paper,
    Subscriber,
    SubscriberTopic,
    Topic,
)
from newsletter.models.subscriber import SUPPRESSED_STATUSES, WEEKDAYS, SuppressionReason
from newsletter.subscribers.consent import (
    consent_history,
    forget_preferences,
    latest_signup_wording,
    record_consent,
)
from newsletter.subscribers.validation import (
    Preferences,
    PreferencesForm,
    SignupForm,
    normalize_email,
    validate_preferences,
)

logger = logging.getLogger(__name__)
# Why an address stops getting mail: the status it takes and the consent action recorded.
SUPPRESSION_REASONS: dict[SuppressionReason, tuple[str, str]] = {
    "unsubscribe": ("unsubscribed", "unsubscribe"),
    "bounce": ("bounced", "bounce"),
    "complaint": ("complained", "complaint"),
}
# Link timestamps are whole seconds, signed by the worker that renders the email (maybe another
# machine): a confirmation link counts as older than a signup only by more than this.
LINK_CLOCK_SLACK = timedelta(minutes=1)


@dataclass(frozen=True)
class SignupResult:
    subscriber_id: int | None
    # The confirmation email to enqueue after commit; None when nothing should be sent.
    delivery_id: int | None


@dataclass(frozen=True)
class StatusChange:
    subscriber_id: int
    status: str
    is_changed: bool
    delivery_id: int | None = None


@dataclass(frozen=True)
class SubscriberView:
    id: int
    email: str
    status: str
    frequency: str
    weekly_day: int
    send_time: time
    timezone: str
    max_papers: int
    topic_slugs: list[str]
    topic_names: list[str]
    keywords: list[str]
    created_at: datetime
    confirmed_at: datetime | None
    status_changed_at: datetime
    summary_language: str = "en"


def _now() -> datetime:
    return datetime.now(UTC)


def find_subscriber_by_email(session: Session, email: str, *, for_update: bool = False) -> Subscriber | None:
    """The subscriber with this address, compared as the unique index compares (case-insensitively)."""
    query = select(Subscriber).where(func.lower(Subscriber.email) == email.strip().lower())
    return session.execute(query.with_for_update() if for_update else query).scalar_one_or_none()


def subscriber_by_email(session: Session, email: str) -> Subscriber:
    """`find_subscriber_by_email` for a command given an address: NotFound when nobody has it."""
    subscriber = find_subscriber_by_email(session, email)
    if subscriber is None:
        raise NotFound(f"no subscriber with the address {email!r}")
    return subscriber


def get_subscriber(session: Session, subscriber_id: int, *, for_update: bool = False) -> Subscriber:
    query = select(Subscriber).where(Subscriber.id == subscriber_id)
    subscriber = session.execute(query.with_for_update() if for_update else query).scalar_one_or_none()
    if subscriber is None:
        raise NotFound(
            "This subscription does not exist any more: it was deleted, and nothing is sent to it."
        )
    return subscriber


def subscriber_view(session: Session, subscriber_id: int) -> SubscriberView:
    subscriber = get_subscriber(session, subscriber_id)
    topics = session.execute(
        select(Topic.slug, Topic.name)
        .join(SubscriberTopic, SubscriberTopic.topic_id == Topic.id)
        .where(SubscriberTopic.subscriber_id == subscriber_id)
        .order_by(Topic.name)
    ).all()
    keywords = session.execute(
        select(KeywordAlert.keyword)
        .where(KeywordAlert.subscriber_id == subscriber_id)
        .order_by(KeywordAlert.id)
    ).scalars()
    return SubscriberView(
        id=subscriber.id,
        email=subscriber.email,
        status=subscriber.status,
        frequency=subscriber.frequency,
        weekly_day=subscriber.weekly_day,
        send_time=subscriber.send_time,
        timezone=subscriber.timezone,
        max_papers=subscriber.max_papers,
        topic_slugs=[slug for slug, _ in topics],
        topic_names=[name for _, name in topics],
        keywords=list(keywords),
        created_at=subscriber.created_at,
        confirmed_at=subscriber.confirmed_at,
        status_changed_at=subscriber.status_changed_at,
        summary_language=subscriber.summary_language,
    )


def apply_preferences(session: Session, subscriber: Subscriber, preferences: Preferences) -> None:
    subscriber.frequency = preferences.frequency
    subscriber.weekly_day = preferences.weekly_day
    subscriber.send_time = preferences.send_time
    subscriber.timezone = preferences.timezone
    if preferences.summary_language is not None:
        subscriber.summary_language = preferences.summary_language
    session.execute(delete(SubscriberTopic).where(SubscriberTopic.subscriber_id == subscriber.id))
    session.execute(delete(KeywordAlert).where(KeywordAlert.subscriber_id == subscriber.id))
    session.add_all(
        SubscriberTopic(subscriber_id=subscriber.id, topic_id=tid) for tid in preferences.topic_ids
    )
    session.add_all(KeywordAlert(subscriber_id=subscriber.id, keyword=kw) for kw in preferences.keywords)
    session.flush()


def _set_status(subscriber: Subscriber, status: str) -> None:
    subscriber.status = status
    subscriber.status_changed_at = _now()


def _locked_subscriber_for_email(session: Session, email: str) -> tuple[Subscriber, bool]:
    """The row for `email`, locked; created as pending if absent. Safe against two signups at once."""
    inserted_id = session.execute(
        insert(Subscriber)
        .values(email=email, status="pending")
        .on_conflict_do_nothing(index_elements=[func.lower(Subscriber.email)])
        .returning(Subscriber.id)
    ).scalar_one_or_none()
    subscriber = find_subscriber_by_email(session, email, for_update=True)
    if subscriber is None:  # deleted between the insert and the lock
        raise NotFound(f"no subscriber with the address {email!r}")
    return subscriber, inserted_id is not None


def validate_signup_form(session: Session, form: SignupForm) -> None:
    """InvalidInput if `signup` would refuse this form (checked before any budget is spent on it). The
    same rules for every address, whatever its history: an answer that differed for a former subscriber
    would tell anyone who was subscribed."""
    validate_preferences(session, form)


def signup(
    session: Session,
    form: SignupForm,
    ip: str | None,
    user_agent: str | None,
    wording_version: str,
    source: str = "web",
) -> SignupResult:
    """Double opt-in. New, pending or suppressed addresses get (another) confirmation email; active and
    paused ones are left untouched — an anonymous form must not change a confirmed subscription — and
    get a "manage your subscription" email instead. A returning (unsubscribed) address takes what its
    form chose, like a new one."""
    email = normalize_email(form.email)
    preferences = validate_preferences(session, form)
    subscriber, is_new = _locked_subscriber_for_email(session, email)
    if subscriber.status in ("active", "paused"):
        # Nothing changes (an anonymous form must not alter a confirmed subscription), but the owner gets
        # the way to their preferences: they may have forgotten they subscribed.
        delivery_id = create_transactional_delivery(session, subscriber.id, "manage")
        logger.info(
            "signup for already %s subscriber %s: manage email %s",
            subscriber.status,
            subscriber.id,
            delivery_id,
        )
        return SignupResult(subscriber.id, delivery_id)
    previous = subscriber.status
    if previous != "pending" or is_new:
        _set_status(subscriber, "pending")
    apply_preferences(session, subscriber, preferences)
    record_consent(
        session,
        subscriber_id=subscriber.id,
        email=subscriber.email,
        action="signup",
        source=source,
        ip=ip,
        user_agent=user_agent,
        wording_version=wording_version,
        details={"previous_status": None if is_new else previous, "topics": preferences.topic_names},
    )
    delivery_id = create_transactional_delivery(session, subscriber.id, "confirmation")
    logger.info("signup: subscriber %s pending (was %s), delivery %s", subscriber.id, previous, delivery_id)
    return SignupResult(subscriber.id, delivery_id)


STALE_CONFIRMATION_LINK = (
    "This confirmation link is from before your latest sign-up. Please use the link in the newest email."
)


def is_confirmation_link_current(
    status: str, status_changed_at: datetime, link_issued_at: datetime | None
) -> bool:
    """False for a link signed before the address last became pending: re-signing up an unsubscribed,
    bounced or complained address needs the confirmation sent for that signup, not an older one."""
    if link_issued_at is None or status != "pending":
        return True
    return link_issued_at >= status_changed_at - LINK_CLOCK_SLACK


def confirm(
    session: Session,
    subscriber_id: int,
    ip: str | None,
    user_agent: str | None,
    link_issued_at: datetime | None = None,
) -> StatusChange:
    """pending → active (with a welcome email). Already active or paused: a no-op success."""
    subscriber = get_subscriber(session, subscriber_id, for_update=True)
    if subscriber.status in ("active", "paused"):
        return StatusChange(subscriber.id, subscriber.status, is_changed=False)
    if subscriber.status != "pending":
        # An old confirmation link must not undo an unsubscribe, a bounce or a complaint.
        raise InvalidInput("This address was unsubscribed after this link was sent. Please sign up again.")
    if not is_confirmation_link_current(subscriber.status, subscriber.status_changed_at, link_issued_at):
        raise InvalidInput(STALE_CONFIRMATION_LINK)
    _set_status(subscriber, "active")
    subscriber.confirmed_at = _now()
    record_consent(
        session,
        subscriber_id=subscriber.id,
        email=subscriber.email,
        action="confirm",
        ip=ip,
        user_agent=user_agent,
        wording_version=latest_signup_wording(session, subscriber.id),
    )
    delivery_id = create_transactional_delivery(session, subscriber.id, "welcome")
    return StatusChange(subscriber.id, "active", is_changed=True, delivery_id=delivery_id)


def resend_confirmation(session: Session, subscriber_id: int) -> int | None:
    """A new confirmation email for an address still waiting for confirmation (its link expired);
    None (nothing sent) in any other state or once the subscriber is gone."""
    subscriber = session.get(Subscriber, subscriber_id, with_for_update=True)
    if subscriber is None or subscriber.status != "pending":
        return None
    delivery_id = create_transactional_delivery(session, subscriber.id, "confirmation")
    logger.info("confirmation resent to subscriber %s, delivery %s", subscriber.id, delivery_id)
    return delivery_id


def update_preferences(
    session: Session,
    subscriber_id: int,
    form: PreferencesForm,
    ip: str | None,
    user_agent: str | None,
    offered_languages: Mapping[str, str] | None = None,
) -> SubscriberView:
    """`offered_languages`: the summary languages a reader may pick now (none without an LLM)."""
    subscriber = get_subscriber(session, subscriber_id, for_update=True)
    if subscriber.status in SUPPRESSED_STATUSES:
        raise InvalidInput("This address is unsubscribed; sign up again to receive the newsletter.")
    preferences = validate_preferences(session, form, offered_languages)
    apply_preferences(session, subscriber, preferences)
    record_consent(
        session,
        subscriber_id=subscriber.id,
        email=subscriber.email,
        action="preferences",
        ip=ip,
        user_agent=user_agent,
        details={
            "topics": preferences.topic_names,
            "keywords": preferences.keywords,
            "frequency": preferences.frequency,
            "send_time": preferences.send_time.strftime("%H:%M"),
            "timezone": preferences.timezone,
            "summary_language": subscriber.summary_language,
        },
    )
    return subscriber_view(session, subscriber_id)


def _change_status(
    session: Session, subscriber_id: int, *, from_status: str, to_status: str, action: str, **consent: Any
) -> StatusChange:
    subscriber = get_subscriber(session, subscriber_id, for_update=True)
    if subscriber.status == to_status:
        return StatusChange(subscriber.id, to_status, is_changed=False)
    if subscriber.status != from_status:
        raise InvalidInput(f"A {subscriber.status} subscription cannot be {action}d.")
    _set_status(subscriber, to_status)
    record_consent(session, subscriber_id=subscriber.id, email=subscriber.email, action=action, **consent)
    return StatusChange(subscriber.id, to_status, is_changed=True)


def pause(
    session: Session, subscriber_id: int, ip: str | None = None, user_agent: str | None = None
) -> StatusChange:
    return _change_status(
        session,
        subscriber_id,
        from_status="active",
        to_status="paused",
        action="pause",
        ip=ip,
        user_agent=user_agent,
    )


def resume(
    session: Session, subscriber_id: int, ip: str | None = None, user_agent: str | None = None
) -> StatusChange:
    return _change_status(
        session,
        subscriber_id,
        from_status="paused",
        to_status="active",
        action="resume",
        ip=ip,
        user_agent=user_agent,
    )


def unsubscribe(
    session: Session,
    subscriber_id: int,
    source: str,
    *,
    ip: str | None = None,
    user_agent: str | None = None,
    send_goodbye: bool = False,
) -> StatusChange:
    """Any state → unsubscribed, with the withdrawal recorded. Repeating it is a no-op success."""
    subscriber = get_subscriber(session, subscriber_id, for_update=True)
    was_receiving = subscriber.status in ("active", "paused")
    if not _suppress_subscriber(session, subscriber, "unsubscribe", source, ip=ip, user_agent=user_agent):
        return StatusChange(subscriber.id, subscriber.status, is_changed=False)
    delivery_id = None
    if send_goodbye and was_receiving:
        delivery_id = create_transactional_delivery(session, subscriber.id, "unsubscribed")
    logger.info("subscriber %s unsubscribed via %s", subscriber.id, source)
    return StatusChange(subscriber.id, "unsubscribed", is_changed=True, delivery_id=delivery_id)


def request_data_link(session: Session, subscriber_id: int) -> int:
    """Write the `data_link` email (a short-lived link to download or delete the data) to the subscriber's
    own address; returns its delivery id. The preferences link is printed in every newsletter and gets
    forwarded, so it never grants more than reading and changing topics itself."""
    subscriber = get_subscriber(session, subscriber_id)
    logger.info("subscriber %s asked for a data link", subscriber.id)
    return create_transactional_delivery(session, subscriber.id, "data_link")


def suppress(
    session: Session,
    email: str,
    reason: SuppressionReason,
    source: str,
    details: dict[str, Any] | None = None,
) -> bool:
    """Stop all mail to an address (a bounce, a complaint, an unsubscribe reported by the provider).
    False when nobody has the address or it is already suppressed: no reason makes it active again."""
    subscriber = find_subscriber_by_email(session, email, for_update=True)
    return subscriber is not None and _suppress_subscriber(
        session, subscriber, reason, source, details=details
    )


def _suppress_subscriber(
    session: Session,
    subscriber: Subscriber,
    reason: SuppressionReason,
    source: str,
    *,
    ip: str | None = None,
    user_agent: str | None = None,
    details: dict[str, Any] | None = None,
) -> bool:
    """The one place a subscriber becomes unsubscribed, bounced or complained; False if already one."""
    if subscriber.status in SUPPRESSED_STATUSES:
        return False
    status, action = SUPPRESSION_REASONS[reason]
    _set_status(subscriber, status)
    record_consent(
        session,
        subscriber_id=subscriber.id,
        email=subscriber.email,
        action=action,
        source=source,
        ip=ip,
        user_agent=user_agent,
        details=details,
    )
    return True


def _iso(value: datetime | None) -> str | None:
    return value.isoformat() if value is not None else None


def export_data(session: Session, subscriber_id: int) -> dict[str, Any]:
    """Everything stored about one subscriber, as JSON-ready data (GDPR access and portability)."""
    view = subscriber_view(session, subscriber_id)
    deliveries = session.execute(
        select(Delivery.kind, Delivery.state, Delivery.created_at, Delivery.sent_at)
        .where(Delivery.subscriber_id == subscriber_id)
        .order_by(Delivery.id)
    ).all()
    editions = session.execute(
        select(Edition.edition_date, Edition.kind, Edition.content_id)
        .where(Edition.subscriber_id == subscriber_id)
        .order_by(Edition.edition_date)
    ).all()
    # The papers each edition held, in its order, with the "why" line the reader was shown.
    items: dict[int, list[dict[str, str]]] = {}
    content_ids = sorted({content_id for _, _, content_id in editions if content_id is not None})
    if content_ids:
        for content_id, arxiv_id, title, reason in session.execute(
            select(EditionItem.content_id, Paper.arxiv_id, Paper.title, EditionItem.reason)
            .join(Paper, Paper.id == EditionItem.paper_id)
            .where(EditionItem.content_id.in_(content_ids))
            .order_by(EditionItem.content_id, EditionItem.rank)
        ):
            items.setdefault(content_id, []).append({"paper": arxiv_id, "title": title, "why": reason})
    return {
        "email": view.email,
        "status": view.status,
        "created_at": _iso(view.created_at),
        "confirmed_at": _iso(view.confirmed_at),
        "preferences": {
            "topics": view.topic_names,
            "keywords": view.keywords,
            "frequency": view.frequency,
            "weekly_day": WEEKDAYS[view.weekly_day] if view.frequency == "weekly" else None,
            "send_time": view.send_time.strftime("%H:%M"),
            "timezone": view.timezone,
            "summary_language": view.summary_language,
            "max_papers": view.max_papers,
        },
        "consent_events": [
            {
                "action": event.action,
                "occurred_at": _iso(event.occurred_at),
                "source": event.source,
                "ip": str(event.ip) if event.ip is not None else None,
                "user_agent": event.user_agent,
                "wording_version": event.wording_version,
            }
            for event in consent_history(session, subscriber_id)
        ],
        "deliveries": [
            {"kind": kind, "state": state, "created_at": _iso(created), "sent_at": _iso(sent)}
            for kind, state, created, sent in deliveries
        ],
        "editions": [
            {"date": day.isoformat(), "kind": kind, "papers": items.get(content_id, []) if content_id else []}
            for day, kind, content_id in editions
        ],
        "paper_votes": [
            {"paper": vote.arxiv_id, "title": vote.title, "vote": vote.vote, "voted_at": _iso(vote.voted_at)}
            for vote in votes_of(session, subscriber_id)
        ],
    }


def delete_subscriber(
    session: Session,
    subscriber_id: int,
    source: str = "web",
    ip: str | None = None,
    user_agent: str | None = None,
) -> None:
    """Erase the subscriber, their topics, keywords, votes, editions and deliveries, and the mail provider's
    events about their address. Consent events stay as proof (their subscriber_id becomes NULL, the
    preferences they recorded are taken out), with the withdrawal recorded as a `delete` event."""
    subscriber = get_subscriber(session, subscriber_id, for_update=True)
    forget_preferences(session, subscriber.id)
    forget_address(session, subscriber.email)
    record_consent(
        session,
        subscriber_id=subscriber.id,
        email=subscriber.email,
        action="delete",
        source=source,
        ip=ip,
        user_agent=user_agent,
        details={"status_before": subscriber.status},
    )
    session.delete(subscriber)
    session.flush()
    logger.info("subscriber %s deleted via %s", subscriber_id, source)
