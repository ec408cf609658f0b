"""What a subscriber's next edition would hold if it were built now (the preference center's preview)."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy.orm import Session

from newsletter.catalog.site import PaperCard, papers_by_ids
from newsletter.config import Settings
from newsletter.digests.build import EditionPlanner
from newsletter.digests.schedule import DueSubscriber
from newsletter.subscribers.service import get_subscriber


def next_edition_preview(
    session: Session, settings: Settings, subscriber_id: int, now: datetime
) -> list[PaperCard]:
    """Computed with the same planner as the real build, stored nowhere."""
    subscriber = get_subscriber(session, subscriber_id)
    due = DueSubscriber(
        id=subscriber.id,
        edition_date=now.date(),
        frequency=subscriber.frequency,
        max_papers=subscriber.max_papers,
        wants_empty_note=subscriber.wants_empty_note,
        last_edition_at=None,
    )
    planned = EditionPlanner(session, settings, now).plan(session, [due])
    selection = planned[0].selection if planned else None
    if selection is None:
        return []
    return papers_by_ids(session, [item.paper_id for item in selection.items])
