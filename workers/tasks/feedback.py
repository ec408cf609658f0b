"""Refitting readers' personal models: right after a vote, and a beat sweep for votes whose task was lost."""

from __future__ import annotations

import logging

from newsletter.db import session_scope
from newsletter.embeddings import load_model
from newsletter.feedback.personal import fit_reader_model, readers_with_stale_models
from workers.celery_app import app, session_factory

logger = logging.getLogger(__name__)


@app.task(name="workers.tasks.feedback.refit_reader_model")
def refit_reader_model(subscriber_id: int) -> dict[str, int | bool]:
    """Refit one reader's model from all their votes; safe to run twice (the row is replaced)."""
    with session_scope(session_factory()) as session:
        report = fit_reader_model(session, subscriber_id, load_model().name)
    logger.info(
        "reader model of subscriber %s: %d votes, stored %s",
        subscriber_id,
        report.vote_count,
        report.is_stored,
    )
    return {"subscriber_id": subscriber_id, "votes": report.vote_count, "stored": report.is_stored}


@app.task(name="workers.tasks.feedback.refit_stale_models")
def refit_stale_models() -> dict[str, int]:
    """Readers who voted after their model was fitted (a refit message lost with the broker)."""
    with session_scope(session_factory()) as session:
        stale = readers_with_stale_models(session)
    for subscriber_id in stale:
        refit_reader_model.delay(subscriber_id)
    return {"enqueued": len(stale)}
