"""Quiet days: telling a morning without an arXiv announcement from a pipeline that stopped bringing papers.

arXiv announces at 20:00 US-Eastern on its announcement evenings (`newsletter.sources.announcements`). A build
whose last 24 hours hold no announcement is quiet by design (weekends, holidays); one whose last 24 hours
hold an announcement but brought no new paper suggests fetching or summarizing stopped.
"""

from __future__ import annotations

from datetime import datetime, time, timedelta
from zoneinfo import ZoneInfo

from newsletter.sources.announcements import is_announcement_evening

ARXIV_ZONE = ZoneInfo("America/New_York")
ANNOUNCEMENT_TIME = time(20, 0)
LOOKBACK = timedelta(hours=24)


def announced_between(start: datetime, end: datetime) -> bool:
    """Whether an arXiv announcement fell in [start, end)."""
    day = start.astimezone(ARXIV_ZONE).date()
    last_day = end.astimezone(ARXIV_ZONE).date()
    while day <= last_day:
        moment = datetime.combine(day, ANNOUNCEMENT_TIME, tzinfo=ARXIV_ZONE)
        if start <= moment < end and is_announcement_evening(day):
            return True
        day += timedelta(days=1)
    return False


def quiet_day_note(now: datetime, fresh_papers: int) -> tuple[str, bool] | None:
    """(what to tell the operator, whether it is a problem) when no new paper arrived; None otherwise."""
    if fresh_papers:
        return None
    if not announced_between(now - LOOKBACK, now):
        return (
            f"no arXiv announcement in the 24 hours before {now.isoformat()} (weekend or holiday): "
            "a quiet day by design",
            False,
        )
    return (
        "arXiv announced in the last 24 hours, but no new paper reached the editions: "
        "check fetching and summaries (newsletter stats)",
        True,
    )
