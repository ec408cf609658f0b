"""Dates from the sources: readable, within what Postgres can read back, and dates the source could
have given."""

from __future__ import annotations

import logging
import time
from datetime import UTC, datetime, timedelta
from typing import Any

from newsletter.sources.refusals import EntryRejected, brief

logger = logging.getLogger(__name__)

# A date before its source existed (arXiv opened in August 1991, Hugging Face's Daily Papers in May 2023)
# or more than a day after the fetch is no real date: one featured on 9999-12-30 became the site's latest
# day for good, one on 0001-01-02 took a real paper off its day for good (the first featured date is
# kept).
ARXIV_FIRST_DAY = datetime(1991, 8, 1, tzinfo=UTC)
DAILY_PAPERS_FIRST_DAY = datetime(2023, 5, 1, tzinfo=UTC)
MAX_CLOCK_LEAD = timedelta(days=1)


def fetch_clock() -> datetime:
    # time.time, not datetime.now: the wall clock tests can move.
    return datetime.fromtimestamp(time.time(), UTC)


def parse_timestamp(text: str | None, name: str) -> datetime:
    if text is None or not text.strip():
        raise EntryRejected(f"entry has no <{name}> timestamp")
    return aware_timestamp(text.strip(), f"<{name}> {brief(text.strip())}")


def aware_timestamp(text: str, what: str) -> datetime:
    """An ISO timestamp with its time zone, within the range Postgres can read back."""
    try:
        value = datetime.fromisoformat(text)
    except ValueError as error:
        raise EntryRejected(f"{what} is not an ISO timestamp") from error
    if value.tzinfo is None:
        raise EntryRejected(f"{what} has no time zone")
    return within_utc_range(value, what)


def date_problem(value: datetime, earliest: datetime, now: datetime) -> str | None:
    if value < earliest:
        return f"is before {earliest:%Y-%m-%d}, when the source began"
    if value > now + MAX_CLOCK_LEAD:
        return f"is more than a day after the fetch ({now:%Y-%m-%d %H:%M} UTC)"
    return None


def check_date(value: datetime, name: str, earliest: datetime, now: datetime) -> None:
    """A required date: the entry is rejected when it is not a date the source could have given."""
    if (problem := date_problem(value, earliest, now)) is not None:
        raise EntryRejected(f"{name} {brief(value.isoformat())} {problem}")


def plausible_date(
    value: datetime | None, name: str, earliest: datetime, now: datetime, item_ref: str
) -> datetime | None:
    """An optional date: dropped, with a warning, when it is not a date the source could have given."""
    if value is None or (problem := date_problem(value, earliest, now)) is None:
        return value
    log_dropped(item_ref, name, value, problem)
    return None


def log_dropped(item_ref: str, name: str, value: datetime, problem: str) -> None:
    logger.warning("%s: %s dropped: %s %s", item_ref, name, value.isoformat(), problem)


def within_utc_range(value: datetime, what: str) -> datetime:
    # 0001-01-01T00:00:00+14:00 is in year 0 in UTC: Postgres would store it and never read it back.
    try:
        value.astimezone(UTC)
    except OverflowError as error:
        raise EntryRejected(f"{what} is out of range") from error
    return value


def parse_hf_timestamp(value: Any, name: str) -> datetime | None:
    if value is None:
        return None
    if not isinstance(value, str):
        raise EntryRejected(f"{name} {brief(value)} is not a timestamp string")
    return aware_timestamp(value.strip(), f"{name} {brief(value)}")
