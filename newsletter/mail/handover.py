"""Handing a claimed group to the backend and recording what came back: addresses no backend can
take fail alone first, the rows are marked handed over (committed) before the request, each result is
recorded as it arrives, and rows never offered go back to `pending`."""

from __future__ import annotations

import logging
from dataclasses import dataclass, field

from sqlalchemy.orm import Session, sessionmaker

from newsletter.config import Settings
from newsletter.db import session_scope
from newsletter.mail.backends import MailBackend, SendResult
from newsletter.mail.context import recipient_links
from newsletter.mail.ledger import ClaimedDelivery, mark_handed, record_results, release_claims
from newsletter.mail.message import Recipient, is_sendable_address
from newsletter.mail.render import RenderedEmail

logger = logging.getLogger(__name__)


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


def _count_result(report: SendReport, result: SendResult) -> None:
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


def recipients_of(settings: Settings, claimed: list[ClaimedDelivery]) -> list[Recipient]:
    return [
        Recipient(
            delivery_id=item.delivery_id,
            subscriber_id=item.subscriber_id,
            email=item.email,
            links=recipient_links(settings, item.subscriber_id, item.edition_id),
        )
        for item in claimed
    ]


def hand_over(
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
            _count_result(report, result)
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
        _count_result(report, result)
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
