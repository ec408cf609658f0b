"""Where fetching stands: the last finished run of each source and category, cursors, suspect empty runs."""

from __future__ import annotations

from datetime import date, timedelta
from typing import Literal

from sqlalchemy import func, select
from sqlalchemy.dialects.postgresql import insert
from sqlalchemy.orm import Session

from newsletter.models import FetchCursor, FetchRun
from newsletter.sources.announcements import is_announcement_evening

Source = Literal["arxiv", "hf"]
# An empty answer on an announcement day after a run that saw this many papers smells like a stale upstream.
SUSPECT_AFTER_PAPERS = 20
# Without a cursor, a run looks this far back; with one, it re-reads the last day (late announcements).
DEFAULT_LOOKBACK_DAYS = 2


def previous_finished_run(session: Session, source: Source, category: str | None) -> FetchRun | None:
    return session.scalars(
        select(FetchRun)
        .where(
            FetchRun.source == source,
            FetchRun.category.is_(None) if category is None else FetchRun.category == category,
            FetchRun.status.in_(("ok", "suspect")),
        )
        .order_by(FetchRun.started_at.desc(), FetchRun.id.desc())
        .limit(1)
    ).first()


def fetch_cursor(session: Session, source: Source, category: str | None) -> date | None:
    return session.scalar(
        select(FetchCursor.fetched_until).where(
            FetchCursor.source == source, FetchCursor.category == (category or "")
        )
    )


def advance_cursor(session: Session, source: Source, category: str | None, until: date) -> None:
    statement = insert(FetchCursor).values(source=source, category=category or "", fetched_until=until)
    session.execute(
        statement.on_conflict_do_update(
            index_elements=[FetchCursor.source, FetchCursor.category],
            set_={"fetched_until": func.greatest(FetchCursor.fetched_until, until), "updated_at": func.now()},
        )
    )


def has_announcement_day(since: date, until: date) -> bool:
    """Whether arXiv announces on any evening of the window, so an empty answer is not expected."""
    days = (since + timedelta(days=offset) for offset in range((until - since).days + 1))
    return any(is_announcement_evening(day) for day in days)


def is_suspect_empty_run(
    session: Session, source: Source, category: str | None, since: date, until: date
) -> bool:
    previous = previous_finished_run(session, source, category)
    return (
        previous is not None
        and previous.new_count + previous.updated_count + previous.unchanged_count >= SUSPECT_AFTER_PAPERS
        and has_announcement_day(since, until)
    )


def window_start(session: Session, source: Source, category: str | None, until: date) -> date:
    cursor = fetch_cursor(session, source, category)
    if cursor is None:
        return until - timedelta(days=DEFAULT_LOOKBACK_DAYS)
    return min(until, cursor - timedelta(days=1))
