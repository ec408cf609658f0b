"""Transactional emails (confirmation, welcome, unsubscribed, manage, data link): the row written with the subscriber
change, then claimed and sent alone by a task; running the task twice sends once."""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy.orm import Session, sessionmaker

from newsletter.config import Settings
from newsletter.db import session_scope
from newsletter.errors import InvalidInput
from newsletter.mail.backends import MailBackend, SendResult, make_backend
from newsletter.mail.context import transactional_context
from newsletter.mail.ledger import claim_delivery, mark_handed, record_results
from newsletter.mail.message import Recipient, is_sendable_address
from newsletter.mail.render import RenderedEmail, render_email
from newsletter.models import Delivery, Subscriber
from newsletter.models.subscriber import SUBSCRIBER_STATUSES

TRANSACTIONAL_KINDS = ("confirmation", "welcome", "unsubscribed", "manage", "data_link")
# The subscriber states in which each transactional email still makes sense (a data link is a right
# whatever the subscription's state).
TRANSACTIONAL_STATUS: dict[str, tuple[str, ...]] = {
    "confirmation": ("pending",),
    "welcome": ("active",),
    "unsubscribed": ("unsubscribed",),
    "manage": ("active", "paused"),
    "data_link": SUBSCRIBER_STATUSES,
}


@dataclass(frozen=True)
class PreparedEmail:
    rendered: RenderedEmail
    recipient: Recipient


def create_transactional_delivery(session: Session, subscriber_id: int, kind: str) -> int:
    """Write the pending row of a confirmation, welcome or unsubscribed email; returns its id.
    The caller commits, then enqueues `workers.tasks.mail.deliver_transactional` with the id."""
    if kind not in TRANSACTIONAL_KINDS:
        raise InvalidInput(f"not a transactional email kind: {kind!r}")
    delivery = Delivery(subscriber_id=subscriber_id, kind=kind, state="pending")
    session.add(delivery)
    session.flush()
    return delivery.id


def _prepare_transactional(
    session: Session, settings: Settings, delivery: Delivery
) -> PreparedEmail | SendResult:
    """The email to send, recorded as handed over (the caller commits before sending), or the result
    that settles a delivery that must not be sent."""
    subscriber = session.get(Subscriber, delivery.subscriber_id)
    if subscriber is None:
        return SendResult([delivery.id], "failed", error="subscriber is gone")
    if subscriber.status not in TRANSACTIONAL_STATUS[delivery.kind]:
        return SendResult(
            [delivery.id], "failed", error=f"{delivery.kind} not sent: subscriber is {subscriber.status}"
        )
    if not is_sendable_address(subscriber.email):
        return SendResult([delivery.id], "failed", error=f"not a valid email address: {subscriber.email!r}")
    rendered = render_email(
        delivery.kind, transactional_context(session, settings, subscriber, delivery.kind)
    )
    recipient = Recipient(
        delivery_id=delivery.id,
        subscriber_id=subscriber.id,
        email=subscriber.email,
        is_bulk=delivery.kind == "welcome",
    )
    mark_handed(session, [delivery.id])
    return PreparedEmail(rendered, recipient)


def _send_prepared(
    settings: Settings, prepared: PreparedEmail | SendResult, backend: MailBackend | None
) -> SendResult:
    """Send the prepared email; a delivery already settled by `_prepare_transactional` keeps its result."""
    if isinstance(prepared, SendResult):
        return prepared
    mailer = backend or make_backend(settings)
    try:
        return list(mailer.send_batch(prepared.rendered, [prepared.recipient]))[0]
    finally:
        mailer.close()


def deliver_transactional(
    session_factory: sessionmaker[Session],
    settings: Settings,
    delivery_id: int,
    *,
    backend: MailBackend | None = None,
) -> str:
    """Claim one transactional delivery and send it; safe to run twice (returns the row's state)."""
    with session_scope(session_factory) as session:
        delivery = claim_delivery(session, delivery_id)
        if delivery is None:
            existing = session.get(Delivery, delivery_id)
            return existing.state if existing is not None else "missing"
        if delivery.kind not in TRANSACTIONAL_KINDS:
            raise InvalidInput(f"delivery {delivery_id} is an {delivery.kind} delivery, not transactional")
    with session_scope(session_factory) as session:
        prepared = _prepare_transactional(session, settings, session.get_one(Delivery, delivery_id))
    result = _send_prepared(settings, prepared, backend)
    with session_scope(session_factory) as session:
        record_results(session, backend.name if backend else settings.mail_backend, [result])
    return "pending" if result.outcome == "retry" else result.outcome
