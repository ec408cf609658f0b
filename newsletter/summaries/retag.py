"""Re-tagging stored papers with the current tagger: their topic links and newest summary's tags."""

from __future__ import annotations

import logging
from dataclasses import dataclass

from sqlalchemy import select, update
from sqlalchemy.orm import Session, sessionmaker

from newsletter.db import session_scope
from newsletter.models import Paper, Summary, Topic
from newsletter.summaries.queries import current_summary, is_summarized, paper_tags
from newsletter.summaries.store import paper_text, replace_paper_topics
from newsletter.tagging import tag_papers

logger = logging.getLogger(__name__)


@dataclass
class RetagCounts:
    papers: int = 0
    # Papers whose tags (or their order) changed, and the tags added and removed over all of them.
    changed: int = 0
    tags_added: int = 0
    tags_removed: int = 0


def retag_chunk(session: Session, after_id: int, limit: int) -> tuple[RetagCounts, int | None]:
    """Re-tag the next `limit` summarized papers with an id above `after_id`; returns the last id seen."""
    rows = session.execute(
        select(Paper, paper_tags())
        .where(is_summarized(), Paper.id > after_id)
        .order_by(Paper.id)
        .limit(limit)
        .with_for_update(of=Paper, key_share=True)
    ).all()
    counts = RetagCounts(papers=len(rows))
    if not rows:
        return counts, None
    topic_ids = {name: topic_id for name, topic_id in session.execute(select(Topic.name, Topic.id))}
    new_tags = tag_papers([paper_text(paper) for paper, _ in rows])
    for (paper, old), new in zip(rows, new_tags, strict=True):
        old = list(old or [])
        if old == new:
            continue
        counts.changed += 1
        counts.tags_added += len(set(new) - set(old))
        counts.tags_removed += len(set(old) - set(new))
        replace_paper_topics(session, paper.id, new, topic_ids)
        newest = current_summary(paper.id).with_only_columns(Summary.id).scalar_subquery()
        session.execute(update(Summary).where(Summary.id == newest).values(topics=new))
    return counts, rows[-1][0].id


def retag_stored(session_factory: sessionmaker[Session], chunk: int = 500) -> RetagCounts:
    """Every summarized paper, in id order, one transaction per chunk (a chunk is kept if a later fails)."""
    total, after_id = RetagCounts(), 0
    while True:
        with session_scope(session_factory) as session:
            counts, last_id = retag_chunk(session, after_id, chunk)
        total.papers += counts.papers
        total.changed += counts.changed
        total.tags_added += counts.tags_added
        total.tags_removed += counts.tags_removed
        if last_id is None or counts.papers < chunk:
            logger.info(
                "Re-tagged %d papers: %d changed (+%d / -%d tags)",
                total.papers,
                total.changed,
                total.tags_added,
                total.tags_removed,
            )
            return total
        after_id = last_id
