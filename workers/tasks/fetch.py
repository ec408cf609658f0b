"""Fetching papers on the beat schedule."""

from __future__ import annotations

import logging
from datetime import date

from newsletter.config import get_settings
from newsletter.db import session_scope
from newsletter.sources.ingest import fetch
from workers.celery_app import app, session_factory

logger = logging.getLogger(__name__)


@app.task(
    name="workers.tasks.fetch.fetch_all",
    bind=True,
    max_retries=3,
    default_retry_delay=600,
)
def fetch_all(self, since_iso: str | None = None, until_iso: str | None = None) -> dict[str, int]:  # type: ignore[no-untyped-def]
    """Fetch every source and category; what was stored is committed before any retry.

    Without dates each source and category continues from its own cursor.
    """
    settings = get_settings()
    since = date.fromisoformat(since_iso) if since_iso else None
    until = date.fromisoformat(until_iso) if until_iso else None
    transient = False
    stored = 0
    for source in ("arxiv", "hf"):
        with session_scope(session_factory()) as session:
            summaries = fetch(session, settings, source, since, until)  # type: ignore[arg-type]
        for summary in summaries:
            stored += summary.counts.new + summary.counts.updated
            transient = transient or summary.is_transient
            logger.info(
                "fetch run %s %s %s: %s, %d new, %d updated, %d rejected",
                summary.run_id,
                summary.source,
                summary.category or "",
                summary.status,
                summary.counts.new,
                summary.counts.updated,
                summary.rejected,
            )
    if transient:
        # The arXiv or HF outage may pass: try again later (the cursors did not move past it).
        raise self.retry()
    return {"stored": stored}
