"""Who is due when: local send times across daylight-saving transitions, weekly days, concurrency."""

import threading
from datetime import UTC, date, datetime, time, timedelta
from zoneinfo import ZoneInfo

import pytest
from sqlalchemy import func, select
from sqlalchemy.orm import Session, sessionmaker

from newsletter.config import Settings
from newsletter.digests.build import build_editions_chunk
from newsletter.digests.schedule import due_subscriber_chunks, next_send_at
from newsletter.models import Edition, EditionContent
from tests.factories import make_paper, make_subscriber


def tick_until(session: Session, settings: Settings, start: datetime, hours: int) -> list[datetime]:
    """Run a beat tick every 15 minutes; return the UTC moments at which an edition was built."""
    built_at = []
    moment = start
    while moment < start + timedelta(hours=hours):
        report, _, _ = build_editions_chunk(session, settings, moment)
        built_at.extend([moment] * report.built)
        moment += timedelta(minutes=15)
    return built_at


@pytest.mark.parametrize(
    ("zone", "day", "send_time", "expected_local"),
    [
        # Spring forward: 02:00 → 03:00, so 02:30 never happens; it goes out at the first tick after.
        ("America/New_York", date(2026, 3, 8), time(2, 30), "03:00"),
        ("Europe/London", date(2026, 3, 29), time(1, 30), "02:00"),
        # Lord Howe moves by 30 minutes: 02:00 → 02:30.
        ("Australia/Lord_Howe", date(2026, 10, 4), time(2, 15), "02:30"),
        # Fall back: 01:30 happens twice; only the first one sends.
        ("America/New_York", date(2026, 11, 1), time(1, 30), "01:30"),
        ("Europe/London", date(2026, 10, 25), time(1, 30), "01:30"),
        ("Australia/Lord_Howe", date(2026, 4, 5), time(1, 45), "01:45"),
        # An ordinary morning on a transition day.
        ("America/New_York", date(2026, 11, 1), time(7, 0), "07:00"),
    ],
)
def test_one_edition_on_daylight_saving_days_at_the_right_local_time(
    session: Session, settings: Settings, zone: str, day: date, send_time: time, expected_local: str
) -> None:
    make_paper(
        session,
        topics=["NLP"],
        published_at=datetime.combine(day, time(0, 0), tzinfo=UTC) - timedelta(hours=12),
    )
    make_subscriber(session, topics=["NLP"], timezone=zone, send_time=send_time)
    local_midnight = datetime.combine(day, time(0, 0), tzinfo=ZoneInfo(zone))
    start = local_midnight.astimezone(UTC)

    built_at = tick_until(session, settings, start, hours=24)

    assert len(built_at) == 1, built_at
    local = built_at[0].astimezone(ZoneInfo(zone))
    assert local.date() == day
    assert local.strftime("%H:%M") == expected_local
    edition = session.execute(select(Edition)).scalar_one()
    assert edition.edition_date == day


def test_weekly_subscribers_get_an_edition_on_their_weekday_only(
    session: Session, settings: Settings
) -> None:
    make_paper(session, topics=["NLP"], published_at=datetime(2026, 11, 18, tzinfo=UTC))
    make_subscriber(session, topics=["NLP"], frequency="weekly", weekly_day=4, timezone="Europe/Berlin")
    dates = []
    for offset in range(7):
        moment = datetime(2026, 11, 16, 12, 0, tzinfo=UTC) + timedelta(days=offset)
        report, _, _ = build_editions_chunk(session, settings, moment)
        if report.built:
            dates.append(moment.date())
    assert dates == [date(2026, 11, 20)]  # a Friday


def test_an_unknown_time_zone_does_not_stop_the_others(session: Session, settings: Settings) -> None:
    make_paper(session, topics=["NLP"])
    make_subscriber(session, topics=["NLP"], timezone="Mars/Olympus_Mons")
    fine = make_subscriber(session, topics=["NLP"], timezone="Asia/Tokyo")
    report, planned, _ = build_editions_chunk(session, settings, datetime(2026, 11, 21, 8, 0, tzinfo=UTC))
    assert [edition.subscriber_id for edition in planned] == [fine.id]


def test_two_builders_at_once_build_one_edition_per_subscriber(
    committed_session_factory: sessionmaker[Session], settings: Settings
) -> None:
    with committed_session_factory.begin() as session:
        make_paper(session, topics=["NLP"], upvotes=4)
        make_paper(session, topics=["Robotics"], upvotes=9)
        for index in range(300):
            make_subscriber(session, topics=["NLP"] if index % 2 else ["Robotics", "NLP"])

    now = datetime(2026, 11, 21, 8, 0, tzinfo=UTC)
    barrier = threading.Barrier(2)
    reports = []
    errors = []

    def builder() -> None:
        try:
            with committed_session_factory.begin() as session:
                barrier.wait()
                report, _, _ = build_editions_chunk(session, settings, now)
                reports.append(report)
        except Exception as error:  # surfaced below
            errors.append(error)

    threads = [threading.Thread(target=builder) for _ in range(2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)

    assert errors == []
    assert sum(report.built for report in reports) == 300
    with committed_session_factory() as session:
        per_subscriber = session.execute(
            select(Edition.subscriber_id, func.count()).group_by(Edition.subscriber_id)
        ).all()
        assert len(per_subscriber) == 300 and {count for _, count in per_subscriber} == {1}
        assert session.execute(select(func.count()).select_from(EditionContent)).scalar_one() == 2


def test_due_subscribers_come_in_chunks_of_ids_for_fanning_out(session: Session) -> None:
    due = [make_subscriber(session, topics=["NLP"]) for _ in range(5)]
    make_subscriber(session, topics=["NLP"], send_time=time(9, 0))  # not yet
    make_subscriber(session, topics=["NLP"], status="paused")

    chunks = list(due_subscriber_chunks(session, datetime(2026, 11, 21, 8, 0, tzinfo=UTC), 2))

    ids = [subscriber.id for subscriber in due]
    assert chunks == [ids[0:2], ids[2:4], ids[4:5]]


@pytest.mark.parametrize(
    ("frequency", "weekly_day", "now", "expected"),
    [
        # 06:00 in Berlin on Tuesday 2026-11-24: today at 07:00.
        ("daily", 0, datetime(2026, 11, 24, 5, 0, tzinfo=UTC), datetime(2026, 11, 24, 7, 0)),
        # Past 07:00 in Berlin: tomorrow.
        ("daily", 0, datetime(2026, 11, 24, 6, 30, tzinfo=UTC), datetime(2026, 11, 25, 7, 0)),
        # Weekly on Monday (0), asked on a Tuesday: the Monday after.
        ("weekly", 0, datetime(2026, 11, 24, 5, 0, tzinfo=UTC), datetime(2026, 11, 30, 7, 0)),
        # Weekly on Monday, asked on that Monday after the send time: a week later.
        ("weekly", 0, datetime(2026, 11, 23, 12, 0, tzinfo=UTC), datetime(2026, 11, 30, 7, 0)),
    ],
)
def test_next_send_at_is_the_next_scheduled_local_send_time(frequency, weekly_day, now, expected) -> None:
    moment = next_send_at(frequency, weekly_day, time(7, 0), "Europe/Berlin", now)
    assert moment is not None
    assert moment.replace(tzinfo=None) == expected and str(moment.tzinfo) == "Europe/Berlin"


def test_next_send_at_is_none_for_an_unknown_zone() -> None:
    assert next_send_at("daily", 0, time(7, 0), "Mars/Olympus", datetime(2026, 11, 24, tzinfo=UTC)) is None
