"""Building editions: a beat tick finds who is due and fans out one task per chunk of subscribers."""

from __future__ import annotations

import logging
from datetime import UTC, datetime

from newsletter.config import get_settings
from newsletter.db import session_scope
from newsletter.digests.build import build_editions_chunk
from newsletter.digests.schedule import due_subscriber_chunks
from workers.celery_app import app, session_factory
from workers.tasks.summaries import summarize_shown

logger = logging.getLogger(__name__)
CHUNK_SIZE = 1000


@app.task(name="workers.tasks.editions.build_due_editions")
def build_due_editions(now_iso: str | None = None, chunk_size: int = CHUNK_SIZE) -> dict[str, int]:
    """Find the due subscribers and enqueue a chunk task per `chunk_size` of them (ids only)."""
    now = datetime.fromisoformat(now_iso) if now_iso else datetime.now(UTC)
    chunks = 0
    with session_scope(session_factory()) as session:
        for subscriber_ids in due_subscriber_chunks(session, now, chunk_size):
            build_editions_for.delay(subscriber_ids, now.isoformat())
            chunks += 1
    logger.info("build_due_editions at %s: %d chunks enqueued", now.isoformat(), chunks)
    return {"chunks": chunks}


@app.task(name="workers.tasks.editions.build_editions_for")
def build_editions_for(subscriber_ids: list[int], now_iso: str) -> dict[str, int]:
    """Build the editions of these subscribers; safe to run twice (one edition per subscriber and day)."""
    with session_scope(session_factory()) as session:
        report, _, _ = build_editions_chunk(
            session,
            get_settings(),
            datetime.fromisoformat(now_iso),
            only_ids=subscriber_ids,
            limit=len(subscriber_ids),
        )
    if report.shown_papers:
        # With an LLM configured: its summaries of these papers are made now, well before the send.
        summarize_shown.delay({language: sorted(ids) for language, ids in report.shown_papers.items()})
    logger.log(
        logging.WARNING if report.is_suspect_quiet else logging.INFO,
        "built %d of %d due editions for subscribers %s..%s (%d distinct contents)%s",
        report.built,
        report.due,
        subscriber_ids[0] if subscriber_ids else None,
        subscriber_ids[-1] if subscriber_ids else None,
        report.distinct_contents,
        f"; {report.quiet_note}" if report.quiet_note else "",
    )
    return {"due": report.due, "built": report.built}
