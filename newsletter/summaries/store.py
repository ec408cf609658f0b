"""Stored summaries and topic links: writing them, which papers lack a current one, and the questions
every reader asks of them (a paper's current summary, its tags, whether it is summarized)."""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy import (
    ColumnElement,
    Text,
    cast,
    delete,
    exists,
    func,
    literal,
    select,
)
from sqlalchemy.dialects.postgresql import aggregate_order_by, insert
from sqlalchemy.orm import Session, sessionmaker

from newsletter.db import session_scope
from newsletter.models import Paper, PaperTopic, Summary, Topic
from newsletter.paper_queue import claim_papers_lacking
from newsletter.summaries.batch import summarize_each
from newsletter.summaries.factory import Summarizer
from newsletter.summaries.hashing import ASCII_WHITESPACE_RUN, FIELD_SEPARATOR, input_hash
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


def input_hash_sql(version_key: str) -> ColumnElement[str]:
    """`hashing.input_hash` computed by Postgres over the papers table (a test checks they agree)."""

    def canonical(column: Any) -> Any:
        folded = func.regexp_replace(func.coalesce(column, ""), ASCII_WHITESPACE_RUN, " ", "g")
        return func.regexp_replace(folded, "^ +| +$", "", "g")

    category = func.unnest(Paper.categories).column_valued("category")
    # COLLATE "C" orders by code point, as Python's sorted() does.
    categories = func.coalesce(
        select(
            func.string_agg(category, aggregate_order_by(literal(" "), category.collate("C")))
        ).scalar_subquery(),
        "",
    )
    payload = func.concat_ws(
        FIELD_SEPARATOR,
        cast(literal(version_key), Text),
        canonical(Paper.title),
        canonical(Paper.abstract),
        categories,
    )
    return func.encode(func.sha256(func.convert_to(payload, "UTF8")), "hex")


def papers_without_current_summary(session: Session, version_key: str, limit: int) -> list[Paper]:
    """Papers with no stored summary for their current text and this backend version, newest first, claimed."""
    has_current = exists().where(
        Summary.paper_id == Paper.id, Summary.input_hash == input_hash_sql(version_key)
    )
    return claim_papers_lacking(session, has_current, limit)


def summarize_pending(session: Session, summarizer: Summarizer, limit: int = 200) -> SummarizeCounts:
    papers = papers_without_current_summary(session, summarizer.version_key, limit)
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
        if store_summary(session, paper.id, key, result, topic_ids):
            counts.stored += 1
        else:
            counts.already_stored += 1
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
    session: Session, paper_id: int, key: str, summary: StructuredSummary, topic_ids: dict[str, int]
) -> bool:
    """Insert the summary and replace the paper's topic links; False if this summary was already there."""
    inserted = session.execute(
        insert(Summary)
        .values(
            paper_id=paper_id,
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
