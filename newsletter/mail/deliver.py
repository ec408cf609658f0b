"""A send run: write the day's deliveries, claim a group at a time, render each distinct edition once,
pace the requests, stop past the error limit. `handover.py` hands each group to the backend and records
the results; `ledger.py` owns every state change of a delivery.

Every transaction here is short: claim a chunk (commit), send it, record each request's result (commit).
A worker killed between the two leaves `sending` rows: `recover_stale_sending` turns those it had handed
to the backend `unknown` and returns the others to `pending`.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from datetime import UTC, date, datetime, timedelta
from itertools import groupby

from sqlalchemy.exc import SQLAlchemyError
from sqlalchemy.orm import Session, sessionmaker

from newsletter.config import Settings
from newsletter.db import session_scope
from newsletter.digests.queries import paper_ids_of_content
from newsletter.mail.backends import MailBackend, SendResult, make_backend
from newsletter.mail.context import EditionGroupKey, content_context, template_name_for
from newsletter.mail.handover import SendReport, hand_over, recipients_of
from newsletter.mail.ledger import (
    ClaimedDelivery,
    claim_deliveries,
    create_deliveries_for_date,
    deliveries_a_run_would_send,
    record_results,
    recover_stale_sending,
    release_claims,
)
from newsletter.mail.render import RenderedEmail, render_email
from newsletter.summaries.languages import is_llm_configured

logger = logging.getLogger(__name__)
# A worker's claim is older than this only if the worker died (the task time limit is 30 minutes).
STALE_SENDING_AFTER = timedelta(minutes=35)


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
        for key, count in deliveries_a_run_would_send(session, sending_days(edition_date, now), edition_date):
            render_email(template_name_for(key.kind), content_context(session, settings, key))
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
    limit is passed). Each distinct edition is rendered once per run (kept only while its group may have
    rows left to claim)."""
    if dry_run:
        return _dry_run(session_factory, settings, edition_date, now)
    report = SendReport()
    with session_scope(session_factory) as session:
        recovered = recover_stale_sending(session, STALE_SENDING_AFTER)
        report.recovered = recovered.in_doubt + recovered.released
        days = sending_days(edition_date, now)
        report.created = sum(create_deliveries_for_date(session, day) for day in days)
    ensure_llm_summaries(session_factory, settings, edition_date, now)
    mailer = backend or make_backend(settings)
    pacer = Pacer(settings.send_rate_per_s)
    # Renderings kept for the groups a claim did not exhaust; an edition only one claim sends (every
    # personalized one) is dropped once sent: a million subscribers' hundred thousand personalized
    # editions would otherwise stay in memory, rendered, until the run ends.
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
    logger.info("send run: %s", report.summary())
    return report


def ensure_llm_summaries(
    factory: sessionmaker[Session], settings: Settings, edition_date: date | None, now: datetime | None
) -> None:
    """With an LLM configured, the papers of the editions about to be sent have the model's summaries
    (in English and in their readers' languages) before any is claimed. The task the edition build
    queued has usually made them: then this costs a few queries. A summary the model fails to give
    leaves the offline one, never a failed send."""
    if not is_llm_configured(settings):
        return
    # Imported here: the summarizer (and its tagger) loads only in a worker that has an LLM to call.
    from newsletter.summaries.shown import summarize_for_readers

    papers_by_language: dict[str, set[int]] = {}
    with session_scope(factory) as session:
        for key, _ in deliveries_a_run_would_send(session, sending_days(edition_date, now), edition_date):
            if key.content_id is not None:
                papers = papers_by_language.setdefault(key.language, set())
                papers.update(paper_ids_of_content(session, key.content_id))
    # Waits for papers the task the build queued is summarizing right now, so none goes out without.
    summarize_for_readers(factory, settings, papers_by_language, waits_for_others=True)


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
                    rendered = render_email(template_name_for(key.kind), context)
                    report.distinct_editions += 1
                    # A claim takes one group, up to the batch size: a full claim may leave more of it.
                    if len(claimed) >= mailer.max_batch:
                        rendered_by_group[key] = rendered
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
            hand_over(factory, mailer, rendered, recipients_of(settings, group), report)
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
