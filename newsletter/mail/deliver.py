"""Sending: claim deliveries, render each distinct edition once, hand batches to the backend, settle.

Every transaction here is short: claim a chunk (commit), send it, record each request's result (commit).
A worker killed between the two leaves `sending` rows: `recover_stale_sending` turns those it had handed
to the backend `unknown` and returns the others to `pending`.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from itertools import groupby

from sqlalchemy import func, select
from sqlalchemy.exc import SQLAlchemyError
from sqlalchemy.orm import Session, sessionmaker

from newsletter.config import Settings
from newsletter.db import session_scope
from newsletter.errors import InvalidInput
from newsletter.mail.backends import MailBackend, SendResult, make_backend
from newsletter.mail.context import (
    EditionGroupKey,
    content_context,
    recipient_links,
    template_name_for,
    transactional_context,
)
from newsletter.mail.ledger import (
    ClaimedDelivery,
    claim_deliveries,
    claim_delivery,
    create_deliveries_for_date,
    mark_handed,
    record_results,
    recover_stale_sending,
    release_claims,
)
from newsletter.mail.message import Recipient, is_sendable_address
from newsletter.mail.render import RenderedEmail, render_email
from newsletter.models import Delivery, Edition, Subscriber
from newsletter.models.subscriber import SUBSCRIBER_STATUSES

__all__ = [
    "SendReport",
    "claim_deliveries",
    "create_deliveries_for_date",
    "create_transactional_delivery",
    "deliver_transactional",
    "recover_stale_sending",
    "send_pending",
]
logger = logging.getLogger(__name__)
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
# A worker's claim is older than this only if the worker died (the task time limit is 30 minutes).
STALE_SENDING_AFTER = timedelta(minutes=35)


@dataclass
class SendReport:
    created: int = 0
    claimed: int = 0
    sent: int = 0
    failed: int = 0
    unknown: int = 0
    retry_later: int = 0
    skipped: int = 0
    requests: int = 0
    distinct_editions: int = 0
    recovered: int = 0
    dry_run: bool = False
    stopped_reason: str | None = None
    errors: list[str] = field(default_factory=list)

    @property
    def error_count(self) -> int:
        return self.failed + self.unknown + self.retry_later

    def summary(self) -> str:
        verb = "would send" if self.dry_run else "sent"
        line = (
            f"{verb} {self.sent}, failed {self.failed}, unknown {self.unknown}, retry later {self.retry_later}, "
            f"skipped {self.skipped}; {self.distinct_editions} distinct editions in {self.requests} requests"
        )
        return line + (f"; STOPPED: {self.stopped_reason}" if self.stopped_reason else "")


class Pacer:
    """Keeps the send rate at or below `rate_per_s` emails per second."""

    def __init__(
        self,
        rate_per_s: float,
        clock: Callable[[], float] = time.monotonic,
        sleep: Callable[[float], None] = time.sleep,
    ) -> None:
        self.interval = 1.0 / rate_per_s if rate_per_s > 0 else 0.0
        self.clock = clock
        self.sleep = sleep
        self.next_at = clock()

    def wait_for(self, emails: int) -> None:
        delay = self.next_at - self.clock()
        if delay > 0:
            self.sleep(delay)
        self.next_at = max(self.next_at, self.clock()) + emails * self.interval


def _apply(report: SendReport, result: SendResult) -> None:
    count = len(result.delivery_ids)
    report.requests += 1
    if result.outcome == "sent":
        report.sent += count
    elif result.outcome == "failed":
        report.failed += count
    elif result.outcome == "unknown":
        report.unknown += count
    else:
        report.retry_later += count
    if result.error and len(report.errors) < 20:
        report.errors.append(result.error)


def _recipients(settings: Settings, claimed: list[ClaimedDelivery]) -> list[Recipient]:
    return [
        Recipient(
            delivery_id=item.delivery_id,
            subscriber_id=item.subscriber_id,
            email=item.email,
            links=recipient_links(settings, item.subscriber_id, item.edition_id),
        )
        for item in claimed
    ]


def sending_days(edition_date: date | None, now: datetime | None) -> list[date]:
    """The edition dates a send run writes deliveries for: the one asked for, or those around today
    (subscribers east of UTC already have tomorrow's edition, those west still today's)."""
    if edition_date is not None:
        return [edition_date]
    today = (now or datetime.now(UTC)).date()
    return [today - timedelta(days=1), today, today + timedelta(days=1)]


def _dry_run(
    factory: sessionmaker[Session], settings: Settings, edition_date: date | None, now: datetime | None
) -> SendReport:
    """Count what would be sent and render each distinct edition once; write nothing."""
    report = SendReport(dry_run=True)
    with session_scope(factory) as session:
        query = (
            select(Edition.edition_date, Edition.kind, Edition.content_id, func.count())
            .join(Subscriber, Subscriber.id == Edition.subscriber_id)
            .outerjoin(Delivery, Delivery.edition_id == Edition.id)
            .where(Edition.kind.in_(("papers", "nothing_new")), Subscriber.status == "active")
            # What the run would claim: pending rows, and the rows it would first write.
            .where(
                (Delivery.state == "pending")
                | (Delivery.id.is_(None) & Edition.edition_date.in_(sending_days(edition_date, now)))
            )
            .group_by(Edition.edition_date, Edition.kind, Edition.content_id)
        )
        if edition_date is not None:
            query = query.where(Edition.edition_date == edition_date)
        for day, kind, content_id, count in session.execute(query):
            key = EditionGroupKey(day, kind, content_id)
            render_email(template_name_for(kind), content_context(session, settings, key))
            report.distinct_editions += 1
            report.sent += count
    return report


def send_pending(
    session_factory: sessionmaker[Session],
    settings: Settings,
    *,
    edition_date: date | None = None,
    dry_run: bool = False,
    backend: MailBackend | None = None,
    max_emails: int | None = None,
    now: datetime | None = None,
) -> SendReport:
    """Create the day's deliveries, then claim and send pending ones until none are left (or the error
    limit is passed). Each distinct edition is rendered once per run."""
    if dry_run:
        return _dry_run(session_factory, settings, edition_date, now)
    report = SendReport()
    with session_scope(session_factory) as session:
        recovered = recover_stale_sending(session, STALE_SENDING_AFTER)
        report.recovered = recovered.in_doubt + recovered.released
        days = sending_days(edition_date, now)
        report.created = sum(create_deliveries_for_date(session, day) for day in days)
    mailer = backend or make_backend(settings)
    pacer = Pacer(settings.send_rate_per_s)
    rendered_by_group: dict[EditionGroupKey, RenderedEmail] = {}
    try:
        while report.stopped_reason is None:
            if max_emails is not None and report.claimed >= max_emails:
                break
            with session_scope(session_factory) as session:
                claimed = claim_deliveries(session, mailer.max_batch, edition_date=edition_date)
            if not claimed:
                break
            report.claimed += len(claimed)
            _send_claimed(session_factory, settings, mailer, pacer, claimed, rendered_by_group, report)
    finally:
        mailer.close()
    report.distinct_editions = len(rendered_by_group)
    logger.info("send run: %s", report.summary())
    return report


def _send_claimed(
    factory: sessionmaker[Session],
    settings: Settings,
    mailer: MailBackend,
    pacer: Pacer,
    claimed: list[ClaimedDelivery],
    rendered_by_group: dict[EditionGroupKey, RenderedEmail],
    report: SendReport,
) -> None:
    inactive = [item.delivery_id for item in claimed if item.subscriber_status != "active"]
    if inactive:
        # Unsubscribed (or bounced) since the row was written: never sent.
        report.skipped += len(inactive)
        with session_scope(factory) as session:
            record_results(
                session, mailer.name, [SendResult(inactive, "failed", error="subscriber not active")]
            )
    active = [item for item in claimed if item.subscriber_status == "active"]
    offered: set[int] = set()
    try:
        for key, items in groupby(active, key=lambda item: item.group):
            if report.stopped_reason is not None:
                break
            group = list(items)
            try:
                rendered = rendered_by_group.get(key)
                if rendered is None:
                    with session_scope(factory) as session:
                        context = content_context(session, settings, key)
                    rendered = rendered_by_group[key] = render_email(template_name_for(key.kind), context)
            except SQLAlchemyError:
                # The database, not the edition, failed (a dropped connection): the claims are handed
                # back below and the next run sends these.
                raise
            except Exception as error:  # a broken edition must not stop the others
                logger.exception("rendering edition group %s failed", key)
                with session_scope(factory) as session:
                    ids = [item.delivery_id for item in group]
                    record_results(
                        session, mailer.name, [SendResult(ids, "failed", error=f"render: {error}")]
                    )
                report.failed += len(group)
                offered.update(item.delivery_id for item in group)
                continue
            pacer.wait_for(len(group))
            offered.update(item.delivery_id for item in group)
            _send_group(factory, mailer, rendered, _recipients(settings, group), report)
            if report.error_count > settings.send_max_errors:
                report.stopped_reason = (
                    f"{report.error_count} errors passed the limit of {settings.send_max_errors} "
                    "(NEWSLETTER_SEND_MAX_ERRORS); the remaining deliveries stay pending"
                )
                logger.error("send run stopped: %s", report.stopped_reason)
    finally:
        unsent = [item.delivery_id for item in active if item.delivery_id not in offered]
        if unsent:
            with session_scope(factory) as session:
                release_claims(session, unsent)


def _send_group(
    factory: sessionmaker[Session],
    mailer: MailBackend,
    rendered: RenderedEmail,
    recipients: list[Recipient],
    report: SendReport,
) -> None:
    recipients = _without_unsendable(factory, mailer.name, recipients, report)
    if not recipients:
        return
    with session_scope(factory) as session:
        mark_handed(session, [r.delivery_id for r in recipients])
    settled: set[int] = set()
    try:
        for result in mailer.send_batch(rendered, recipients):
            with session_scope(factory) as session:
                record_results(session, mailer.name, [result])
            settled.update(result.delivery_ids)
            _apply(report, result)
            if result.outcome == "retry":
                # The server refused even after backoff: hammering it with the rest helps nobody.
                report.stopped_reason = report.stopped_reason or (
                    f"the {mailer.name} server is not accepting mail ({result.error}); "
                    "the remaining deliveries stay pending for the next run"
                )
                break
    except Exception as error:  # per-group boundary: the rest of the run goes on
        logger.exception("backend %s failed on deliveries %s..", mailer.name, recipients[0].delivery_id)
        # These were handed to the backend: some may be out, so they are in doubt, not pending.
        doubtful = [r.delivery_id for r in recipients if r.delivery_id not in settled]
        result = SendResult(doubtful, "unknown", error=f"backend error: {error!r}"[:500])
        with session_scope(factory) as session:
            record_results(session, mailer.name, [result])
        _apply(report, result)
        return
    # Generators are lazy: recipients after a stop were never handed to the server.
    never_sent = [r.delivery_id for r in recipients if r.delivery_id not in settled]
    if never_sent:
        with session_scope(factory) as session:
            release_claims(session, never_sent)


def _without_unsendable(
    factory: sessionmaker[Session], backend_name: str, recipients: list[Recipient], report: SendReport
) -> list[Recipient]:
    """The recipients whose address a backend can take; each other one fails alone, before the group is
    handed over (a backend raising mid-batch would leave everyone after it in doubt)."""
    unsendable = [r for r in recipients if not is_sendable_address(r.email)]
    if not unsendable:
        return recipients
    errors = [f"not a valid email address: {r.email!r}"[:500] for r in unsendable]
    with session_scope(factory) as session:
        record_results(
            session,
            backend_name,
            [
                SendResult([r.delivery_id], "failed", error=error)
                for r, error in zip(unsendable, errors, strict=True)
            ],
        )
    report.failed += len(unsendable)
    report.errors.extend(errors[: max(0, 20 - len(report.errors))])
    failed = {r.delivery_id for r in unsendable}
    return [r for r in recipients if r.delivery_id not in failed]


def create_transactional_delivery(session: Session, subscriber_id: int, kind: str) -> int:
    """Write the pending row of a confirmation, welcome or unsubscribed email; returns its id.
    The caller commits, then enqueues `workers.tasks.mail.deliver_transactional` with the id."""
    if kind not in TRANSACTIONAL_KINDS:
        raise InvalidInput(f"not a transactional email kind: {kind!r}")
    delivery = Delivery(subscriber_id=subscriber_id, kind=kind, state="pending")
    session.add(delivery)
    session.flush()
    return delivery.id


@dataclass(frozen=True)
class PreparedEmail:
    rendered: RenderedEmail
    recipient: Recipient


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
