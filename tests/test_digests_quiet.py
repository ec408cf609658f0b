"""Quiet days: a morning without an arXiv announcement is expected, an announcement without papers is not."""

from datetime import UTC, datetime, timedelta

import pytest

from newsletter.digests.quiet import announced_between, quiet_day_note


@pytest.mark.parametrize(
    ("morning", "announced"),
    [
        (datetime(2026, 11, 20, 8, 0, tzinfo=UTC), True),  # Friday: Thursday evening's announcement
        (datetime(2026, 11, 21, 8, 0, tzinfo=UTC), False),  # Saturday: none on Friday evening
        (datetime(2026, 11, 22, 8, 0, tzinfo=UTC), False),  # Sunday: none on Saturday evening
        (datetime(2026, 11, 23, 8, 0, tzinfo=UTC), True),  # Monday: Sunday evening's
        (datetime(2026, 12, 25, 8, 0, tzinfo=UTC), False),  # Christmas Eve is an arXiv holiday
        (datetime(2027, 1, 1, 8, 0, tzinfo=UTC), False),  # so is New Year's Eve
        # Tokyo's Monday 07:00 is Sunday 17:00 in New York: Sunday's announcement has not happened yet.
        (datetime(2026, 11, 22, 22, 0, tzinfo=UTC), False),
        (datetime(2026, 11, 23, 1, 30, tzinfo=UTC), True),  # an hour after it (20:00 EST = 01:00 UTC)
    ],
)
def test_announced_between_knows_the_arxiv_calendar(morning: datetime, announced: bool) -> None:
    assert announced_between(morning - timedelta(hours=24), morning) is announced
    assert announced_between(morning, morning) is False  # an empty interval holds nothing


def test_announcements_follow_daylight_saving_in_new_york() -> None:
    # 20:00 EDT on Thursday 2026-10-29 is 00:00 UTC; 20:00 EST a week later is 01:00 UTC.
    assert announced_between(
        datetime(2026, 10, 30, 0, 0, tzinfo=UTC), datetime(2026, 10, 30, 0, 1, tzinfo=UTC)
    )
    assert not announced_between(
        datetime(2026, 11, 6, 0, 0, tzinfo=UTC), datetime(2026, 11, 6, 0, 59, tzinfo=UTC)
    )
    assert announced_between(
        datetime(2026, 11, 6, 0, 59, tzinfo=UTC), datetime(2026, 11, 6, 1, 1, tzinfo=UTC)
    )


def test_no_new_paper_is_quiet_by_design_on_a_saturday_and_suspect_on_a_friday() -> None:
    saturday = quiet_day_note(datetime(2026, 11, 21, 8, 0, tzinfo=UTC), fresh_papers=0)
    friday = quiet_day_note(datetime(2026, 11, 20, 8, 0, tzinfo=UTC), fresh_papers=0)
    assert saturday is not None and "quiet day by design" in saturday[0] and saturday[1] is False
    assert friday is not None and "check fetching" in friday[0] and friday[1] is True
    assert quiet_day_note(datetime(2026, 11, 20, 8, 0, tzinfo=UTC), fresh_papers=3) is None
