"""LLM summaries of the papers readers are shown: an edition's papers before it is sent, the front page's
before it is served.

Every paper has its offline summary from ingest (cheap, no network). With an LLM configured, only these
papers are sent to it: in English, and in each language their readers chose. Each answer goes through
the numbers guard; a refused one is stored with its reason (its tokens were paid for) and readers keep the
English summary.
"""

from __future__ import annotations

import logging
from collections.abc import Iterable, Mapping

from sqlalchemy.orm import Session, sessionmaker

from newsletter.config import Settings
from newsletter.db import session_scope
from newsletter.summaries.factory import make_llm_summarizer
from newsletter.summaries.hashing import DEFAULT_LANGUAGE
from newsletter.summaries.languages import is_llm_configured, reading_language
from newsletter.summaries.store import SummarizeCounts, summarize_shown

logger = logging.getLogger(__name__)


def summarize_for_readers(
    session_factory: sessionmaker[Session],
    settings: Settings,
    papers_by_language: Mapping[str, Iterable[int]],
) -> dict[str, SummarizeCounts]:
    """The LLM's summaries of the papers shown to the readers of each language: every one of them in
    English (the site shows it), the others in their readers' language (one not offered counts as
    English). One transaction per language; nothing without an LLM configured. Papers that already have
    them cost one query per language."""
    if not is_llm_configured(settings):
        return {}
    wanted: dict[str, set[int]] = {DEFAULT_LANGUAGE: set()}
    for language, paper_ids in papers_by_language.items():
        ids = set(paper_ids)
        wanted[DEFAULT_LANGUAGE] |= ids
        wanted.setdefault(reading_language(settings, language), set()).update(ids)
    counts: dict[str, SummarizeCounts] = {}
    for language, ids in sorted(wanted.items(), key=lambda item: item[0] != DEFAULT_LANGUAGE):
        if not ids:
            continue
        summarizer = make_llm_summarizer(settings, language)
        try:
            with session_scope(session_factory) as session:
                counts[language] = summarize_shown(session, summarizer, sorted(ids), language)
        finally:
            summarizer.close()
    return counts
