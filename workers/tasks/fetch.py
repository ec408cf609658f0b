"""Fetching papers on the beat schedule."""

from __future__ import annotations

import logging

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
def fetch_all(self) -> dict[str, int]:  # type: ignore[no-untyped-def]
    """Fetch every source and category; what was stored is committed before any retry."""
    settings = get_settings()
    transient = False
    stored = 0
    for source in ("arxiv", "hf"):
        with session_scope(session_factory()) as session:
            summaries = fetch(session, settings, source)  # type: ignore[arg-type]
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
