"""Fetching papers on the beat schedule."""

from __future__ import annotations

import logging
from datetime import date

from newsletter.config import get_settings
from newsletter.sources.ingest import FetchOptions, fetch_sources
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
    summaries = fetch_sources(session_factory(), settings, FetchOptions(since=since, until=until))
    for summary in summaries:
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
    if any(summary.is_transient for summary in summaries):
        # The arXiv or HF outage may pass: try again later (the cursors did not move past it).
        raise self.retry()
    return {"stored": sum(summary.counts.new + summary.counts.updated for summary in summaries)}
