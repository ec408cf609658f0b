"""Summarizing stored papers that have no current summary yet."""

from __future__ import annotations

import logging

from newsletter.config import get_settings
from newsletter.embeddings import embed_all_pending, load_model
from newsletter.summaries.factory import make_summarizer
from newsletter.summaries.store import summarize_all_pending
from workers.celery_app import app, session_factory

logger = logging.getLogger(__name__)


@app.task(name="workers.tasks.summaries.summarize_pending")
def summarize_pending() -> dict[str, int]:
    """Safe to run twice at once: papers are claimed with SKIP LOCKED, summaries keyed by input hash and
    embeddings by paper."""
    counts = summarize_all_pending(session_factory(), make_summarizer(get_settings()))
    embedded = embed_all_pending(session_factory(), load_model())
    logger.info(
        "summarize_pending: %d stored, %d already stored, %d fell back, %d failed (ids %s), %d embedded",
        counts.stored,
        counts.already_stored,
        counts.fell_back,
        counts.failed,
        counts.failed_paper_ids[:20],
        embedded.stored,
    )
    return {"stored": counts.stored, "failed": counts.failed, "fell_back": counts.fell_back}
