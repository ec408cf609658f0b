"""Summarizing stored papers that have no current summary yet."""

from __future__ import annotations

import logging

from newsletter.catalog.site import front_page_paper_ids
from newsletter.config import get_settings
from newsletter.db import session_scope
from newsletter.embeddings import embed_all_pending, load_model
from newsletter.summaries.factory import make_ingest_summarizer
from newsletter.summaries.hashing import DEFAULT_LANGUAGE
from newsletter.summaries.shown import summarize_for_readers
from newsletter.summaries.store import summarize_all_pending
from workers.celery_app import app, session_factory

logger = logging.getLogger(__name__)


@app.task(name="workers.tasks.summaries.summarize_pending")
def summarize_pending() -> dict[str, int]:
    """Safe to run twice at once: papers are claimed with SKIP LOCKED, summaries keyed by input hash and
    embeddings by paper."""
    counts = summarize_all_pending(session_factory(), make_ingest_summarizer())
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


@app.task(name="workers.tasks.summaries.summarize_shown")
def summarize_shown(paper_ids_by_language: dict[str, list[int]]) -> dict[str, int]:
    """The LLM's summaries of papers chosen for editions, in English and their readers' languages. Safe
    to run twice (and beside the send run's own check): papers are claimed, summaries keyed by hash."""
    counts = summarize_for_readers(session_factory(), get_settings(), paper_ids_by_language)
    for language, done in counts.items():
        logger.info(
            "summarize_shown %s: %d of %d papers summarized, %d fell back, %d failed (ids %s)",
            language,
            done.stored,
            done.selected,
            done.fell_back,
            done.failed,
            done.failed_paper_ids[:20],
        )
    return {language: done.stored for language, done in counts.items()}


@app.task(name="workers.tasks.summaries.summarize_front_page")
def summarize_front_page() -> dict[str, int]:
    """The LLM's summaries of the papers the home page lists, made on beat's tick after ingest's."""
    with session_scope(session_factory()) as session:
        paper_ids = front_page_paper_ids(session)
    counts = summarize_for_readers(session_factory(), get_settings(), {DEFAULT_LANGUAGE: paper_ids})
    done = counts.get(DEFAULT_LANGUAGE)
    logger.info(
        "summarize_front_page: %d of %d papers summarized, %d fell back",
        done.stored if done else 0,
        len(paper_ids),
        done.fell_back if done else 0,
    )
    return {"stored": done.stored if done else 0}
