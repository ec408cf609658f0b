"""LLM summaries of the papers readers are shown: an edition's papers before it is sent, the front page's
before it is served.

Every paper has its offline summary from ingest (cheap, no network). With an LLM configured, only these
papers are sent to it: in English, and in each language their readers chose. Each answer goes through
the numbers guard; a refused one is stored with its reason (its tokens were paid for) and readers keep the
English summary.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Iterable, Mapping

from sqlalchemy.orm import Session, sessionmaker

from newsletter.config import Settings
from newsletter.db import session_scope
from newsletter.summaries.factory import make_llm_summarizer
from newsletter.summaries.hashing import DEFAULT_LANGUAGE
from newsletter.summaries.languages import is_llm_configured, reading_language
from newsletter.summaries.llm import MAX_ATTEMPTS
from newsletter.summaries.store import SummarizeCounts, count_without_current_summary, summarize_shown

logger = logging.getLogger(__name__)
WAIT_STEP_S = 1.0


def summarize_for_readers(
    session_factory: sessionmaker[Session],
    settings: Settings,
    papers_by_language: Mapping[str, Iterable[int]],
    *,
    waits_for_others: bool = False,
    clock: Callable[[], float] = time.monotonic,
    sleep: Callable[[float], None] = time.sleep,
) -> dict[str, SummarizeCounts]:
    """The LLM's summaries of the papers shown to the readers of each language: every one of them in
    English (the site shows it), the others in their readers' language (one not offered counts as
    English). One transaction per language; nothing without an LLM configured. Papers that already have
    them cost one query per language.

    Papers another run is summarizing are skipped (claimed rows are locked); with `waits_for_others`
    (the send run) this waits for that run to store them, up to what one paper's requests can take."""
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
            if waits_for_others:
                # A paper that failed here would fail again: only papers locked by another run are awaited.
                others = sorted(ids - set(counts[language].failed_paper_ids))
                _wait_for_others(session_factory, settings, summarizer.version_key, others, clock, sleep)
        finally:
            summarizer.close()
    return counts


def _wait_for_others(
    session_factory: sessionmaker[Session],
    settings: Settings,
    version_key: str,
    paper_ids: list[int],
    clock: Callable[[], float],
    sleep: Callable[[float], None],
) -> None:
    # A paper's requests take at most the timeout per attempt, plus the backoff between attempts.
    deadline = clock() + settings.llm_timeout_s * (MAX_ATTEMPTS + 1)
    while True:
        with session_scope(session_factory) as session:
            missing = count_without_current_summary(session, version_key, paper_ids)
        if missing == 0:
            return
        if clock() >= deadline:
            logger.warning(
                "%d of papers %s still lack their %s summary: the offline one is shown",
                missing,
                paper_ids,
                version_key,
            )
            return
        sleep(WAIT_STEP_S)
