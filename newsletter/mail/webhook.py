"""SendGrid event webhook: verify the signature, store events first (deduplicated); what each event
means for a delivery and an address. `subscribers.provider_events` applies them."""

from __future__ import annotations

import base64
import binascii
import hashlib
import json
import logging
import math
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any, cast

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.hazmat.primitives.serialization import load_der_public_key
from sqlalchemy import delete, func, select, text, update
from sqlalchemy.dialects.postgresql import insert
from sqlalchemy.engine import CursorResult
from sqlalchemy.orm import Session

from newsletter.errors import InvalidInput
from newsletter.models import Delivery, WebhookEvent
from newsletter.models.subscriber import SuppressionReason
from newsletter.postgres_text import without_nul

logger = logging.getLogger(__name__)
MAX_BIGINT = 2**63 - 1
KNOWN_EVENTS = {
    "processed", "deferred", "delivered", "open", "click", "bounce", "dropped", "spamreport",
    "unsubscribe", "group_unsubscribe", "group_resubscribe",
}  # fmt: skip
SUPPRESSING_EVENTS: dict[str, SuppressionReason] = {
    "bounce": "bounce",
    "spamreport": "complaint",
    "unsubscribe": "unsubscribe",
    "group_unsubscribe": "unsubscribe",
}
# SendGrid drops a message for the address's sake (it is on a suppression list) or for the message's
# ("Spam Content", "Invalid SMTPAPI header", quota). Only the first kind says anything about the reader:
# suppressing on the second would unsubscribe a whole batch for one bad email of ours.
DROPPED_REASONS: dict[str, SuppressionReason] = {
    "bounced address": "bounce",
    "invalid": "bounce",
    "unsubscribed address": "unsubscribe",
    "spam reporting address": "complaint",
}
# Events that prove the provider accepted the message.
ACCEPTED_EVENTS = {
    "processed",
    "deferred",
    "delivered",
    "open",
    "click",
    "bounce",
    "spamreport",
    "unsubscribe",
    "group_unsubscribe",
    "group_resubscribe",
}


def verify_signature(public_key_b64: str, signature_b64: str, timestamp: str, raw_body: bytes) -> bool:
    """ECDSA P-256 / SHA-256 over the timestamp followed by the raw body, exactly as received."""
    try:
        public_key = load_der_public_key(base64.b64decode(public_key_b64, validate=True))
        signature = base64.b64decode(signature_b64, validate=True)
    except (ValueError, binascii.Error):
        return False
    if not isinstance(public_key, ec.EllipticCurvePublicKey) or not timestamp:
        return False
    try:
        public_key.verify(signature, timestamp.encode() + raw_body, ec.ECDSA(hashes.SHA256()))
    except InvalidSignature:
        return False
    return True


def suppression_for(event: str, payload: dict[str, Any]) -> SuppressionReason | None:
    """Why an event suppresses its address, or None when it suppresses nothing.

    A bounce of type `blocked` is the receiving server refusing for now (SendGrid's own reading): the
    address is fine, so it stays active.
    """
    if event == "dropped":
        return DROPPED_REASONS.get(str(payload.get("reason", "")).strip().lower())
    if event == "bounce" and str(payload.get("type", "bounce")).lower() == "blocked":
        return None
    return SUPPRESSING_EVENTS.get(event)


def natural_key(event: dict[str, Any]) -> str:
    # The provider's own sg_event_id changes between retries; these four fields do not.
    parts = [str(event.get(name, "")) for name in ("sg_message_id", "event", "email", "timestamp")]
    return hashlib.sha256("\x1f".join(parts).encode()).hexdigest()


@dataclass
class StoreReport:
    stored: int = 0
    duplicates: int = 0
    skipped: list[str] = field(default_factory=list)


def _delivery_id(event: dict[str, Any]) -> int | None:
    value = event.get("delivery_id")
    try:
        number = int(value) if value is not None else None
    except (TypeError, ValueError, OverflowError):
        return None
    # Not one of ours if it cannot be a deliveries.id (bigint).
    return number if number is not None and 0 < number <= MAX_BIGINT else None


def _storable(value: Any) -> Any:
    """The event as Postgres can hold it: JSON spells NUL and unpaired surrogates as escapes, and
    allows NaN and Infinity, none of which text or JSONB accept."""
    if isinstance(value, str):
        value = without_nul(value)
        try:
            value.encode("utf-8")
        except UnicodeEncodeError:
            value = value.encode("utf-8", "replace").decode("utf-8")
        return value
    if isinstance(value, float) and not math.isfinite(value):
        return None
    if isinstance(value, list):
        return [_storable(item) for item in value]
    if isinstance(value, dict):
        return {_storable(str(key)): _storable(item) for key, item in value.items()}
    return value


def _occurred_at(event: dict[str, Any]) -> datetime | None:
    try:
        return datetime.fromtimestamp(int(event["timestamp"]), UTC)
    except (KeyError, TypeError, ValueError, OverflowError, OSError):
        return None


def store_events(session: Session, raw_body: bytes) -> StoreReport:
    """Parse and store a webhook batch; duplicates (same natural key) are stored once."""
    try:
        events = json.loads(raw_body)
    except ValueError as error:  # JSONDecodeError, UnicodeDecodeError, a number of over 4,300 digits
        raise InvalidInput(f"webhook body is not JSON: {error}") from error
    except RecursionError as error:
        raise InvalidInput("webhook body is nested too deeply to be a batch of events") from error
    if not isinstance(events, list):
        raise InvalidInput("webhook body must be a JSON array of events")
    report = StoreReport()
    rows: dict[str, dict[str, Any]] = {}
    for index, event in enumerate(events):
        try:
            event = _storable(event)
        except RecursionError:
            report.skipped.append(f"item {index}: nested too deeply")
            continue
        if not isinstance(event, dict):
            report.skipped.append(f"item {index}: not an object")
        elif not isinstance(event.get("event"), str) or event["event"] not in KNOWN_EVENTS:
            report.skipped.append(f"item {index}: unknown event {str(event.get('event'))[:40]!r}")
        elif not isinstance(event.get("email"), str) or "@" not in event["email"]:
            report.skipped.append(f"item {index}: missing email")
        else:
            key = natural_key(event)
            if key in rows:
                report.duplicates += 1
                continue
            message_id = event.get("sg_message_id")
            rows[key] = {
                "natural_key": key,
                "provider": "sendgrid",
                "event": event["event"],
                "email": event["email"][:320],
                "provider_message_id": str(message_id)[:255] if message_id else None,
                "delivery_id": _delivery_id(event),
                "occurred_at": _occurred_at(event),
                "payload": event,
            }
    if rows:
        # Core executemany: SQLAlchemy sends pages of 1,000 rows, where one multi-row VALUES of a large
        # batch passed Postgres' 65,535 bind parameters per statement (8 columns: 8,192 events).
        inserted = (
            session.connection()
            .execute(
                insert(WebhookEvent).on_conflict_do_nothing().returning(WebhookEvent.id), list(rows.values())
            )
            .all()
        )
        report.stored = len(inserted)
        report.duplicates += len(rows) - len(inserted)
    for reason in report.skipped:
        logger.warning("webhook event skipped: %s", reason)
    return report


def settle_delivery(session: Session, event: WebhookEvent, subscriber_id: int) -> bool:
    """A `sending` or `unknown` delivery to this subscriber that the event is about becomes sent (or
    failed if dropped)."""
    condition = None
    if event.delivery_id is not None:
        condition = Delivery.id == event.delivery_id
    elif event.provider_message_id:
        # sg_message_id is the X-Message-Id we recorded, followed by ".filter…".
        condition = Delivery.provider_message_id == event.provider_message_id.split(".")[0]
    if condition is None:
        return False
    values: dict[str, Any] = {"settled_at": text("now()")}
    if event.event == "dropped":
        values.update(
            state="failed", last_error=f"dropped by provider: {event.payload.get('reason', '')}"[:500]
        )
    elif event.event in ACCEPTED_EVENTS:
        values.update(state="sent", sent_at=func.coalesce(Delivery.sent_at, event.occurred_at))
    else:
        return False
    result = session.execute(
        update(Delivery)
        .where(condition, Delivery.subscriber_id == subscriber_id, Delivery.state.in_(("sending", "unknown")))
        .values(**values)
        .execution_options(synchronize_session=False)
    )
    return bool(cast(CursorResult[Any], result).rowcount)


def forget_address(session: Session, email: str) -> int:
    """Delete the stored events about an address (a deleted subscriber's: their opens and clicks carry
    their IP address and user agent), processed or not; how many."""
    result = session.execute(
        delete(WebhookEvent)
        .where(func.lower(WebhookEvent.email) == email.lower())
        .execution_options(synchronize_session=False)
    )
    return int(cast(CursorResult[Any], result).rowcount)


def forget_event(session: Session, event: WebhookEvent) -> None:
    """Delete one stored event (applied, and about an address no subscriber has)."""
    session.delete(event)


def claim_pending_events(session: Session, limit: int) -> list[WebhookEvent]:
    """Stored events not processed yet, in arrival order, locked (a second processor takes others)."""
    return list(
        session.execute(
            select(WebhookEvent)
            .where(WebhookEvent.processed_at.is_(None))
            .order_by(WebhookEvent.id)
            .limit(limit)
            .with_for_update(skip_locked=True)
        ).scalars()
    )


def mark_processed(event: WebhookEvent, error: Exception | None = None) -> None:
    if error is not None:
        event.process_error = str(error)[:1000]
    event.processed_at = datetime.now(UTC)
