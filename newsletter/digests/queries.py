"""Reading editions back: what a subscriber got (or would get) on a date."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date

from sqlalchemy import select
from sqlalchemy.orm import Session

from newsletter.errors import NotFound
from newsletter.models import Edition, EditionContent, EditionItem, Paper, Subscriber


@dataclass(frozen=True)
class EditionLine:
    rank: int
    arxiv_id: str
    title: str
    reason: str
    is_update: bool


@dataclass(frozen=True)
class EditionView:
    edition_id: int
    email: str
    edition_date: date
    kind: str
    overflow_count: int
    lines: list[EditionLine]


def edition_view(session: Session, subscriber: Subscriber, edition_date: date | None = None) -> EditionView:
    """A subscriber's edition on `edition_date` (default: their latest)."""
    query = select(Edition).where(Edition.subscriber_id == subscriber.id)
    if edition_date is not None:
        query = query.where(Edition.edition_date == edition_date)
    edition = session.execute(query.order_by(Edition.edition_date.desc()).limit(1)).scalar_one_or_none()
    if edition is None:
        when = f"on {edition_date}" if edition_date else "yet"
        raise NotFound(f"{subscriber.email} has no edition {when}")
    lines: list[EditionLine] = []
    overflow = 0
    if edition.content_id is not None:
        overflow = session.get_one(EditionContent, edition.content_id).overflow_count
        rows = session.execute(
            select(EditionItem.rank, Paper.arxiv_id, Paper.title, EditionItem.reason, EditionItem.is_update)
            .join(Paper, Paper.id == EditionItem.paper_id)
            .where(EditionItem.content_id == edition.content_id)
            .order_by(EditionItem.rank)
        )
        lines = [EditionLine(*row) for row in rows]
    return EditionView(edition.id, subscriber.email, edition.edition_date, edition.kind, overflow, lines)


def paper_ids_of_content(session: Session, content_id: int) -> list[int]:
    """The papers of one edition content, in rank order."""
    return list(
        session.scalars(
            select(EditionItem.paper_id)
            .where(EditionItem.content_id == content_id)
            .order_by(EditionItem.rank)
        )
    )
