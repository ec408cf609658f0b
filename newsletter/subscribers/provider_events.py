"""Applying the mail provider's stored events: a bounce, complaint or unsubscribe suppresses the address
(never the other way: no event, in any order, makes a suppressed address active again), and an event
about one of our sends settles that delivery."""

from __future__ import annotations

import logging

from sqlalchemy.orm import Session

from newsletter.mail.webhook import (
    claim_pending_events,
    forget_event,
    mark_processed,
    settle_delivery,
    suppression_for,
)
from newsletter.subscribers.service import find_subscriber_by_email, suppress

logger = logging.getLogger(__name__)
WEBHOOK_SOURCE = "sendgrid-webhook"


def process_pending_events(session: Session, limit: int = 1000) -> dict[str, int]:
    """Apply stored events in arrival order; each is marked processed (with its error, if any). An event
    about an address nobody has is forgotten once applied: it is most often about a deleted subscriber
    (the provider reports the email that carried their data link after they deleted everything), and
    keeps their address, IP address and user agent."""
    counts = {"processed": 0, "suppressed": 0, "settled": 0, "errors": 0, "forgotten": 0}
    for event in claim_pending_events(session, limit):
        error: Exception | None = None
        subscriber = None
        try:
            with session.begin_nested():
                email = event.email or ""
                reason = suppression_for(event.event, event.payload)
                details = {"event": event.event, "webhook_event_id": event.id}
                if reason is not None and suppress(session, email, reason, WEBHOOK_SOURCE, details):
                    counts["suppressed"] += 1
                subscriber = find_subscriber_by_email(session, email)
                if subscriber is not None and settle_delivery(session, event, subscriber.id):
                    counts["settled"] += 1
        except Exception as failure:  # one bad event must not block the rest of the batch
            logger.exception("webhook event %s could not be processed", event.id)
            error = failure
            counts["errors"] += 1
        counts["processed"] += 1
        if subscriber is None and error is None:
            forget_event(session, event)
            counts["forgotten"] += 1
            continue
        mark_processed(event, error)
    session.flush()
    return counts
