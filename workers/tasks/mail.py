"""Mail tasks: send the pending editions in chunks, send one transactional email, apply webhook events."""

from __future__ import annotations

import logging
from datetime import date, timedelta

from newsletter.config import get_settings
from newsletter.db import session_scope
from newsletter.errors import TransientError
from newsletter.mail.deliver import send_pending
from newsletter.mail.ledger import stranded_transactional_deliveries
from newsletter.mail.transactional import deliver_transactional as deliver_one
from newsletter.subscribers.provider_events import process_pending_events
from workers.celery_app import app, session_factory

logger = logging.getLogger(__name__)
# Emails per task run; the next run (beat, or the re-enqueue below) continues where this one stopped.
CHUNK_EMAILS = 20_000
# A transactional row still pending after this was never handed to a worker (its message was lost).
STRANDED_AFTER = timedelta(minutes=10)


@app.task(name="workers.tasks.mail.send_due_deliveries")
def send_due_deliveries(edition_date_iso: str | None = None) -> dict[str, int]:
    """Send pending edition emails (up to CHUNK_EMAILS), then re-enqueue itself if more are pending."""
    edition_date = date.fromisoformat(edition_date_iso) if edition_date_iso else None
    report = send_pending(
        session_factory(), get_settings(), edition_date=edition_date, max_emails=CHUNK_EMAILS
    )
    logger.info("send_due_deliveries %s: %s", edition_date_iso, report.summary())
    if report.claimed >= CHUNK_EMAILS and report.stopped_reason is None:
        send_due_deliveries.delay(edition_date_iso)
    return {
        "sent": report.sent,
        "failed": report.failed,
        "unknown": report.unknown,
        "requests": report.requests,
    }


@app.task(
    name="workers.tasks.mail.deliver_transactional",
    autoretry_for=(TransientError,),
    retry_backoff=True,
    retry_jitter=True,
    max_retries=5,
)
def deliver_transactional(delivery_id: int) -> str:
    state = deliver_one(session_factory(), get_settings(), delivery_id)
    logger.info("transactional delivery %s: %s", delivery_id, state)
    if state == "pending":
        # The server certainly did not take it (the row is pending again): Celery retries with backoff.
        raise TransientError(f"transactional delivery {delivery_id} not accepted yet")
    return state


@app.task(name="workers.tasks.mail.send_stranded_transactional")
def send_stranded_transactional() -> dict[str, int]:
    """Re-enqueue transactional deliveries whose task message was lost; each send claims its row, so
    a duplicate message sends nothing twice."""
    with session_scope(session_factory()) as session:
        delivery_ids = stranded_transactional_deliveries(session, STRANDED_AFTER)
    for delivery_id in delivery_ids:
        deliver_transactional.delay(delivery_id)
    if delivery_ids:
        logger.warning(
            "re-enqueued %d stranded transactional deliveries: %s", len(delivery_ids), delivery_ids[:20]
        )
    return {"enqueued": len(delivery_ids)}


@app.task(name="workers.tasks.mail.process_webhook_events")
def process_webhook_events() -> dict[str, int]:
    with session_scope(session_factory()) as session:
        counts = process_pending_events(session)
    logger.info("webhook events: %s", counts)
    return counts
