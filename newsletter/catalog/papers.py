"""Reading stored papers: the listing behind `newsletter papers list`."""

from __future__ import annotations

from dataclasses import asdict, dataclass
from datetime import UTC, date, datetime, time, timedelta
from typing import Any

from sqlalchemy import Date, cast, select
from sqlalchemy.orm import Session

from newsletter.errors import NotFound
from newsletter.models import Paper, Topic
from newsletter.summaries.queries import has_topic, is_summarized, is_topic, paper_tags


@dataclass(frozen=True)
class PaperLine:
    arxiv_id: str
    version: int
    title: str
    published_at: datetime | None
    hf_upvotes: int | None
    topics: list[str]
    is_summarized: bool

    def to_json(self) -> dict[str, Any]:
        data = asdict(self)
        data["published_at"] = self.published_at.isoformat() if self.published_at else None
        return data


def list_papers(
    session: Session, day: date | None = None, topic: str | None = None, limit: int = 200
) -> list[PaperLine]:
    """Papers published (or featured on Hugging Face) on `day`, optionally of one topic (by name or slug;
    an unknown one is an error, not an empty list), newest first."""
    query = select(
        Paper.arxiv_id,
        Paper.version,
        Paper.title,
        Paper.published_at,
        Paper.hf_upvotes,
        paper_tags(),
        is_summarized(),
    )
    if day is not None:
        start = datetime.combine(day, time(0, 0), tzinfo=UTC)
        query = query.where(
            ((Paper.published_at >= start) & (Paper.published_at < start + timedelta(days=1)))
            | (Paper.hf_featured_date == day)
            | (cast(Paper.updated_at, Date) == day)
        )
    if topic is not None:
        if session.scalar(select(Topic.id).where(is_topic(topic))) is None:
            raise NotFound(f"Unknown topic: {topic[:64]}")
        query = query.where(has_topic(topic))
    query = query.order_by(Paper.published_at.desc().nulls_last(), Paper.arxiv_id).limit(limit)
    return [
        PaperLine(arxiv_id, version, title, published, upvotes, list(names or []), bool(has_summary))
        for arxiv_id, version, title, published, upvotes, names, has_summary in session.execute(query)
    ]
