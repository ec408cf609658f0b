"""The delivery ledger: rows written before sending, claimed with SKIP LOCKED, settled after.

States: pending → sending → sent | failed | unknown. `sending` is held only while a request is in
flight; a row a dead worker left there becomes `unknown`, never `pending` again, because its email may
already be out. Only a result that certainly was not accepted (`retry`) returns a row to `pending`.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date, timedelta
from typing import Any, cast

from sqlalchemy import Select, and_, func, literal, or_, select, text, update
from sqlalchemy.dialects.postgresql import insert
from sqlalchemy.engine import CursorResult
from sqlalchemy.orm import Session

from newsletter.mail.backends import SendResult
from newsletter.mail.context import EditionGroupKey
from newsletter.models import Delivery, Edition, Subscriber

# A row that keeps failing with transient errors gives up after this many claims.
MAX_ATTEMPTS = 5
# Edition kinds that are emails; a skipped edition (nothing matched, no note wanted) is not.
SENDABLE_EDITION_KINDS = ("papers", "nothing_new")


@dataclass(frozen=True)
class ClaimedDelivery:
    delivery_id: int
    subscriber_id: int
    email: str
    subscriber_status: str
    edition_id: int | None
    group: EditionGroupKey
    attempts: int


def deliverable_editions() -> Select[int, int, date, str, int | None, str]:
    """Editions with something to send (papers, or the "nothing new" note) to an active subscriber:
    those a send run writes a delivery for. Columns: subscriber, edition, date, kind, content, the
    subscriber's summary language."""
    return (
        select(
            Edition.subscriber_id,
            Edition.id,
            Edition.edition_date,
            Edition.kind,
            Edition.content_id,
            Subscriber.summary_language,
        )
        .join(Subscriber, Subscriber.id == Edition.subscriber_id)
        .where(Edition.kind.in_(SENDABLE_EDITION_KINDS), Subscriber.status == "active")
    )


def create_deliveries_for_date(session: Session, edition_date: date) -> int:
    """A pending delivery per deliverable edition of the day (once: unique per edition)."""
    editions = deliverable_editions().where(Edition.edition_date == edition_date).subquery()
    result = session.execute(
        insert(Delivery)
        .from_select(
            ["subscriber_id", "edition_id", "kind", "state"],
            select(editions.c.subscriber_id, editions.c.id, literal("edition"), literal("pending")),
        )
        .on_conflict_do_nothing(index_elements=["edition_id"], index_where=Delivery.edition_id.is_not(None))
        # SQLAlchemy keeps an INSERT's row count only when asked.
        .execution_options(preserve_rowcount=True)
    )
    return cast(CursorResult[Any], result).rowcount or 0


def deliveries_a_run_would_send(
    session: Session, days: Sequence[date], edition_date: date | None = None
) -> list[tuple[EditionGroupKey, int]]:
    """What a send run over `days` would claim, by edition group, without writing anything: the pending
    deliveries (of `edition_date` when given), and those it would first write for deliverable editions."""
    editions = deliverable_editions().subquery()
    query = (
        select(
            editions.c.edition_date,
            editions.c.kind,
            editions.c.content_id,
            editions.c.summary_language,
            func.count(),
        )
        .outerjoin(Delivery, Delivery.edition_id == editions.c.id)
        .where(
            (Delivery.state == "pending") | (Delivery.id.is_(None) & editions.c.edition_date.in_(list(days)))
        )
        .group_by(
            editions.c.edition_date, editions.c.kind, editions.c.content_id, editions.c.summary_language
        )
    )
    if edition_date is not None:
        query = query.where(editions.c.edition_date == edition_date)
    return [
        (EditionGroupKey(day, kind, content_id, language), count)
        for day, kind, content_id, language, count in session.execute(query)
    ]


def claim_deliveries(
    session: Session, limit: int, *, edition_date: date | None = None
) -> list[ClaimedDelivery]:
    """Move up to `limit` pending edition deliveries of ONE edition group to `sending`.

    One group per claim: a claim is one provider request, so a crash leaves at most one request's
    rows in doubt, and the requests of a run number at most ⌈deliveries / limit⌉ + distinct groups.
    """
    first = session.execute(
        text(
            """
            SELECT e.edition_date, e.kind, e.content_id, s.summary_language
            FROM deliveries d JOIN editions e ON e.id = d.edition_id JOIN subscribers s ON s.id = d.subscriber_id
            WHERE d.state = 'pending' AND d.kind = 'edition'
              AND (CAST(:edition_date AS date) IS NULL OR e.edition_date = :edition_date)
            LIMIT 1
            FOR UPDATE OF d SKIP LOCKED
            """
        ),
        {"edition_date": edition_date},
    ).first()
    if first is None:
        return []
    group = EditionGroupKey(first[0], first[1], first[2], first[3])
    rows = session.execute(
        text(
            """
            WITH picked AS (
                SELECT d.id
                FROM deliveries d JOIN editions e ON e.id = d.edition_id
                     JOIN subscribers s ON s.id = d.subscriber_id
                WHERE d.state = 'pending' AND d.kind = 'edition' AND e.edition_date = :edition_date
                  AND e.kind = :kind AND e.content_id IS NOT DISTINCT FROM CAST(:content_id AS bigint)
                  AND s.summary_language = :language
                ORDER BY d.id
                LIMIT :limit
                FOR UPDATE OF d SKIP LOCKED
            )
            UPDATE deliveries d
            SET state = 'sending', attempts = d.attempts + 1, claimed_at = now()
            FROM picked, subscribers s
            WHERE d.id = picked.id AND s.id = d.subscriber_id
            RETURNING d.id, d.subscriber_id, s.email, s.status, d.edition_id, d.attempts
            """
        ),
        {
            "edition_date": group.edition_date,
            "kind": group.kind,
            "content_id": group.content_id,
            "language": group.language,
            "limit": limit,
        },
    ).all()
    return sorted(
        (ClaimedDelivery(row[0], row[1], row[2], row[3], row[4], group, row[5]) for row in rows),
        key=lambda claimed: claimed.delivery_id,
    )


def claim_delivery(session: Session, delivery_id: int) -> Delivery | None:
    """Claim one pending delivery (any kind); None if it is gone or already claimed or done."""
    return session.execute(
        update(Delivery)
        .where(Delivery.id == delivery_id, Delivery.state == "pending")
        .values(state="sending", attempts=Delivery.attempts + 1, claimed_at=text("now()"))
        .returning(Delivery)
    ).scalar_one_or_none()


def record_results(session: Session, backend_name: str, results: Sequence[SendResult]) -> None:
    """Settle `sending` rows from the backend's results; set-based, one statement per result."""
    for result in results:
        values: dict[str, object] = {"backend": backend_name, "last_error": result.error}
        settling = Delivery.state == "sending"
        if result.outcome == "sent":
            values.update(
                state="sent",
                provider_message_id=result.provider_message_id,
                sent_at=func.coalesce(Delivery.sent_at, func.now()),
            )
            # The provider's webhook can report the message before its own answer arrives here: such
            # a row is already sent and only lacks the message id.
            settling = or_(settling, and_(Delivery.state == "sent", Delivery.provider_message_id.is_(None)))
        elif result.outcome == "retry":
            # Certainly not accepted: pending again, unless it has been tried too often.
            values["state"] = text(f"CASE WHEN attempts >= {MAX_ATTEMPTS} THEN 'failed' ELSE 'pending' END")
        else:
            values.update(state=result.outcome, settled_at=text("now()"))
        session.execute(
            update(Delivery)
            .where(Delivery.id.in_(result.delivery_ids), settling)
            .values(**values)
            .execution_options(synchronize_session=False)
        )


def release_claims(session: Session, delivery_ids: Sequence[int]) -> None:
    """Hand claimed rows that were never offered to the backend back to `pending`."""
    if delivery_ids:
        session.execute(
            update(Delivery)
            .where(Delivery.id.in_(list(delivery_ids)), Delivery.state == "sending")
            .values(state="pending", attempts=Delivery.attempts - 1, claimed_at=None, handed_at=None)
            .execution_options(synchronize_session=False)
        )


def mark_handed(session: Session, delivery_ids: Sequence[int]) -> None:
    """Record that these claimed rows go to the backend now; the caller commits before sending."""
    if delivery_ids:
        session.execute(
            update(Delivery)
            .where(Delivery.id.in_(list(delivery_ids)), Delivery.state == "sending")
            .values(handed_at=text("now()"))
            .execution_options(synchronize_session=False)
        )


@dataclass(frozen=True)
class Recovered:
    in_doubt: int
    released: int


def recover_stale_sending(session: Session, older_than: timedelta) -> Recovered:
    """Claims a dead worker left behind: rows it had handed to the backend become `unknown` (their email
    may be out already); rows it had not handed over yet (it died claiming or rendering) go back to
    `pending`, since nothing of them can have left."""
    in_doubt = session.execute(
        text(
            """
            UPDATE deliveries SET state = 'unknown', settled_at = now(),
                   last_error = 'worker stopped while sending; outcome unknown'
            WHERE state = 'sending' AND handed_at IS NOT NULL
              AND claimed_at < now() - CAST(:older_than AS interval)
            """
        ),
        {"older_than": older_than},
    )
    released = session.execute(
        text(
            """
            UPDATE deliveries SET state = 'pending', claimed_at = NULL,
                   last_error = 'worker stopped before sending; sent again'
            WHERE state = 'sending' AND handed_at IS NULL
              AND claimed_at < now() - CAST(:older_than AS interval)
            """
        ),
        {"older_than": older_than},
    )
    return Recovered(
        cast(CursorResult[Any], in_doubt).rowcount or 0, cast(CursorResult[Any], released).rowcount or 0
    )


def stranded_transactional_deliveries(
    session: Session, older_than: timedelta, limit: int = 1000
) -> list[int]:
    """Pending confirmation / welcome / unsubscribed rows nobody picked up: their task message was lost
    (the broker was down when the request wrote the row). Oldest first."""
    return list(
        session.execute(
            text(
                """
                SELECT id FROM deliveries
                WHERE state = 'pending' AND kind <> 'edition'
                  AND created_at < now() - CAST(:older_than AS interval)
                ORDER BY id LIMIT :limit
                """
            ),
            {"older_than": older_than, "limit": limit},
        ).scalars()
    )
