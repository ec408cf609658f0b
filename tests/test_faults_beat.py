"""Two beat processes at once: every tick is enqueued twice, and still each reader gets one email."""

from __future__ import annotations

import time
from datetime import timedelta
from pathlib import Path

import pytest
from sqlalchemy.orm import Session, sessionmaker

from newsletter.config import Settings
from tests.fault_fixtures import (
    answered_requests,
    assert_each_reader_got_exactly_one_delivery,
    beat,
    fault_environment,
    running,
    seed_due_readers,
    today_utc,
    wait_until_everyone_settled,
    worker,
)
from tests.mail_factories import SendGridStandIn, running_stand_in
from workers.celery_app import beat_schedule

EDITIONS_TICK_ENTRIES = (
    "summarize-pending",
    "build-due-editions",
    "send-due-deliveries",
    "send-stranded-transactional",
)


def test_the_editions_tick_follows_its_setting_and_expires_before_the_next(settings: Settings) -> None:
    schedule = beat_schedule(settings.model_copy(update={"editions_interval_s": 7.0}))
    for name in EDITIONS_TICK_ENTRIES:
        assert schedule[name]["schedule"] == timedelta(seconds=7), name
        assert schedule[name]["options"]["expires"] == 7.0, name
    assert beat_schedule(settings)["build-due-editions"]["schedule"] == timedelta(minutes=5)


@pytest.mark.faults
@pytest.mark.usefixtures("redis_client")
def test_two_beats_at_once_build_and_send_each_edition_once(
    settings: Settings,
    child_environment: dict[str, str],
    committed_session_factory: sessionmaker[Session],
    tmp_path: Path,
) -> None:
    factory = committed_session_factory
    emails = seed_due_readers(factory, settings, 3_000)
    day = today_utc(factory)
    with running_stand_in(SendGridStandIn(record_bodies=False)) as stand_in:
        environment = fault_environment(child_environment, stand_in, NEWSLETTER_EDITIONS_INTERVAL_S="1")
        with running([]) as processes:
            beats = [beat("beat-1", environment, tmp_path), beat("beat-2", environment, tmp_path)]
            processes += [worker("worker", environment, tmp_path, concurrency=2), *beats]
            took = wait_until_everyone_settled(factory, emails, day, processes)
            settled_requests = len(stand_in.requests)
            time.sleep(5)  # ten more ticks (five from each beat) find nothing to do
            ticks = [process.output().count("Sending due task build-due-editions") for process in beats]
        requests = answered_requests(stand_in, [])

    assert min(ticks) >= 5, ticks
    assert len(requests) == settled_requests
    states = assert_each_reader_got_exactly_one_delivery(factory, emails, day, requests)
    assert states == {"sent": len(emails)}
    print(f"two beats: {ticks} editions ticks from each, settled in {took:.1f} s, "
          f"{len(requests)} requests, states {states}")  # fmt: skip
