"""Stored summaries and topic links: writing them, which papers lack a current one, and the questions
every reader asks of them (a paper's current summary, its tags, whether it is summarized)."""

from __future__ import annotations

import logging
from collections.abc import Sequence
from dataclasses import dataclass, field

from sqlalchemy import delete, exists, func, select
from sqlalchemy.dialects.postgresql import insert
from sqlalchemy.orm import Session, sessionmaker

from newsletter.db import session_scope
from newsletter.models import Paper, PaperTopic, Summary, Topic
from newsletter.paper_queue import claim_papers_lacking
from newsletter.summaries.batch import summarize_each
from newsletter.summaries.factory import Summarizer
from newsletter.summaries.hashing import DEFAULT_LANGUAGE, input_hash, input_hash_sql
from newsletter.summaries.model import PaperText, StructuredSummary

logger = logging.getLogger(__name__)


@dataclass
class SummarizeCounts:
    selected: int = 0
    stored: int = 0
    # Another run stored the same summary first: nothing to do, not an error.
    already_stored: int = 0
    fell_back: int = 0
    failed: int = 0
    failed_paper_ids: list[int] = field(default_factory=list)


def papers_without_current_summary(
    session: Session, version_key: str, limit: int, among_ids: Sequence[int] | None = None
) -> list[Paper]:
    """Papers (of `among_ids` when given) with no stored summary for their current text and this backend
    version, newest first, claimed."""
    has_current = exists().where(
        Summary.paper_id == Paper.id, Summary.input_hash == input_hash_sql(version_key)
    )
    return claim_papers_lacking(session, has_current, limit, among_ids)


def count_without_current_summary(session: Session, version_key: str, among_ids: Sequence[int]) -> int:
    """How many of these papers lack a summary for their current text and this backend version, locked
    by another run or not (nothing is claimed)."""
    has_current = exists().where(
        Summary.paper_id == Paper.id, Summary.input_hash == input_hash_sql(version_key)
    )
    query = select(func.count()).select_from(Paper).where(~has_current, Paper.id.in_(list(among_ids)))
    return int(session.scalar(query) or 0)


def summarize_pending(session: Session, summarizer: Summarizer, limit: int = 200) -> SummarizeCounts:
    papers = papers_without_current_summary(session, summarizer.version_key, limit)
    counts = summarize_and_store(session, summarizer, papers)
    logger.info(
        "Summarized %d pending papers: %d stored, %d already stored, %d fell back, %d failed (ids %s)",
        counts.selected,
        counts.stored,
        counts.already_stored,
        counts.fell_back,
        counts.failed,
        counts.failed_paper_ids,
    )
    return counts


def summarize_shown(
    session: Session, summarizer: Summarizer, paper_ids: Sequence[int], language: str = DEFAULT_LANGUAGE
) -> SummarizeCounts:
    """Summaries by `summarizer` (in `language`) of the given papers that lack one for their current
    text, claimed like pending papers. The papers keep their tags: they were chosen by them."""
    papers = papers_without_current_summary(
        session, summarizer.version_key, max(1, len(paper_ids)), among_ids=paper_ids
    )
    counts = summarize_and_store(session, summarizer, papers, language=language, replaces_topics=False)
    logger.info(
        "Summarized %d of %d shown papers in %s: %d stored, %d fell back, %d failed (ids %s)",
        counts.selected,
        len(paper_ids),
        language,
        counts.stored,
        counts.fell_back,
        counts.failed,
        counts.failed_paper_ids,
    )
    return counts


def summarize_and_store(
    session: Session,
    summarizer: Summarizer,
    papers: Sequence[Paper],
    *,
    language: str = DEFAULT_LANGUAGE,
    replaces_topics: bool = True,
) -> SummarizeCounts:
    counts = SummarizeCounts(selected=len(papers))
    texts = [paper_text(paper) for paper in papers]
    results = summarize_each(summarizer, texts)
    topic_ids = {name: topic_id for name, topic_id in session.execute(select(Topic.name, Topic.id))}
    for paper, text, result in zip(papers, texts, results, strict=True):
        if isinstance(result, Exception):
            counts.failed += 1
            counts.failed_paper_ids.append(paper.id)
            continue
        if result.fallback_reason:
            counts.fell_back += 1
        key = input_hash(text, summarizer.version_key)
        if store_summary(
            session, paper.id, key, result, topic_ids, language=language, replaces_topics=replaces_topics
        ):
            counts.stored += 1
        else:
            counts.already_stored += 1
    return counts


def summarize_all_pending(
    session_factory: sessionmaker[Session], summarizer: Summarizer, chunk: int = 200
) -> SummarizeCounts:
    """Summarize every pending paper, one transaction per chunk (each chunk is kept if a later one fails).

    Stops on a short chunk or on one that made no progress (only failing papers left), so a paper that
    always fails cannot keep a run going forever.
    """
    total = SummarizeCounts()
    while True:
        with session_scope(session_factory) as session:
            counts = summarize_pending(session, summarizer, limit=chunk)
        total.selected += counts.selected
        total.stored += counts.stored
        total.already_stored += counts.already_stored
        total.fell_back += counts.fell_back
        total.failed += counts.failed
        total.failed_paper_ids.extend(counts.failed_paper_ids)
        if counts.selected < chunk or counts.stored + counts.already_stored == 0:
            return total


def store_summary(
    session: Session,
    paper_id: int,
    key: str,
    summary: StructuredSummary,
    topic_ids: dict[str, int],
    *,
    language: str = DEFAULT_LANGUAGE,
    replaces_topics: bool = True,
) -> bool:
    """Insert the summary and (unless told not to) replace the paper's topic links; False if this
    summary was already there."""
    inserted = session.execute(
        insert(Summary)
        .values(
            paper_id=paper_id,
            language=language,
            input_hash=key,
            backend=summary.backend,
            backend_version=summary.backend_version,
            model=summary.model,
            key_points=summary.key_points,
            summary=summary.summary,
            methodology=summary.methodology,
            results=summary.results,
            implications=summary.implications,
            topics=summary.topics,
            fallback_reason=summary.fallback_reason,
            prompt_tokens=summary.prompt_tokens,
            completion_tokens=summary.completion_tokens,
            duration_s=summary.duration_s,
        )
        .on_conflict_do_nothing(index_elements=[Summary.paper_id, Summary.input_hash])
        .returning(Summary.id)
    ).scalar_one_or_none()
    if inserted is None:
        return False
    if replaces_topics:
        # The newest summary decides the paper's topics: a changed abstract may change them.
        replace_paper_topics(session, paper_id, summary.topics, topic_ids)
    return True


def replace_paper_topics(
    session: Session, paper_id: int, topics: list[str], topic_ids: dict[str, int]
) -> None:
    """The paper's topic links become `topics`, rank = position (editions and pages read these)."""
    session.execute(delete(PaperTopic).where(PaperTopic.paper_id == paper_id))
    links = [
        {"paper_id": paper_id, "topic_id": topic_ids[name], "rank": rank}
        for rank, name in enumerate(topics)
        if name in topic_ids
    ]
    if links:
        session.execute(insert(PaperTopic).values(links).on_conflict_do_nothing())
    session.flush()


def paper_text(paper: Paper) -> PaperText:
    return PaperText(
        title=paper.title,
        abstract=paper.abstract or "",
        categories=tuple(paper.categories or ()),
        id=paper.arxiv_id,
    )
