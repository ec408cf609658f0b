"""Redis restarted and Postgres connections dropped in the middle of a day's run; it finishes by itself."""

from __future__ import annotations

import time
from pathlib import Path

import pytest
import redis
from sqlalchemy import Engine, text
from sqlalchemy.orm import Session, sessionmaker

from newsletter.config import Settings
from newsletter.db import session_scope
from tests.fault_fixtures import (
    answered_requests,
    assert_each_reader_got_exactly_one_delivery,
    beat,
    fault_environment,
    own_redis,
    running,
    scalar,
    seed_due_readers,
    today_utc,
    wait_until,
    wait_until_everyone_settled,
    worker,
)
from tests.mail_factories import SendGridStandIn, running_stand_in

# redis_client: removes the run's Redis keys (queues, unacked tasks) afterwards.
pytestmark = [pytest.mark.faults, pytest.mark.usefixtures("redis_client")]
WORKER_APPLICATION = "newsletter-fault-worker"


def test_redis_restarted_empty_mid_send_loses_nothing_and_sends_nothing_twice(
    settings: Settings,
    child_environment: dict[str, str],
    committed_session_factory: sessionmaker[Session],
    tmp_path: Path,
) -> None:
    factory = committed_session_factory
    readers = 20_000
    emails = seed_due_readers(factory, settings, readers)
    day = today_utc(factory)
    built = "SELECT count(*) FROM editions WHERE edition_date = :day"
    with (
        own_redis(tmp_path / "redis") as server,
        running_stand_in(SendGridStandIn(record_bodies=False)) as stand_in,
    ):
        environment = fault_environment(child_environment, stand_in, NEWSLETTER_REDIS_URL=server.url)
        broker = redis.Redis.from_url(server.url)
        with running([]) as processes:
            processes += [worker("worker", environment, tmp_path), beat("beat", environment, tmp_path)]
            wait_until(lambda: scalar(factory, built, day=day) >= 2_000, "the first chunks", alive=processes)
            queued_at_kill = broker.llen(f"{settings.redis_prefix}editions")
            built_at_kill = scalar(factory, built, day=day)
            # Killed outright and started again without its data: queued chunks, unacked tasks, all gone.
            server.kill()
            time.sleep(3)
            server.start()
            took = wait_until_everyone_settled(
                factory,
                emails,
                day,
                processes,
                what="every reader's edition sent after the restart",
                timeout_s=180,
            )
        requests = answered_requests(stand_in, [])

    assert queued_at_kill > 0 and built_at_kill < readers, "the fan-out had finished before Redis went away"
    states = assert_each_reader_got_exactly_one_delivery(factory, emails, day, requests)
    assert states == {"sent": len(emails)}
    print(f"redis restart: {built_at_kill} of {readers} built and {queued_at_kill} chunk tasks queued at "
          f"the kill, settled {took:.1f} s after the restart, {len(requests)} requests, states {states}")  # fmt: skip


def terminate_open_transactions(factory: sessionmaker[Session], *, waiting_only: bool = False) -> list[str]:
    """pg_terminate_backend on each worker connection of the test database that is inside a
    transaction (or, `waiting_only`, waiting there for a lock); returns the statements they were
    running or had last run."""
    with session_scope(factory) as session:
        rows = session.execute(
            text(
                """
                SELECT left(regexp_replace(query, '[[:space:]]+', ' ', 'g'), 80), pg_terminate_backend(pid)
                FROM pg_stat_activity
                WHERE datname = current_database() AND application_name = :application
                  AND xact_start IS NOT NULL AND pid <> pg_backend_pid()
                  AND (NOT :waiting_only OR wait_event_type = 'Lock')
                """
            ),
            {"application": WORKER_APPLICATION, "waiting_only": waiting_only},
        ).all()
    return [query for query, terminated in rows if terminated]


def test_postgres_connections_dropped_mid_transaction_lose_nothing_and_send_nothing_twice(
    settings: Settings,
    child_environment: dict[str, str],
    committed_session_factory: sessionmaker[Session],
    engine: Engine,
    tmp_path: Path,
) -> None:
    factory = committed_session_factory
    readers = 20_000
    emails = seed_due_readers(factory, settings, readers)
    day = today_utc(factory)
    database_url = child_environment["NEWSLETTER_DATABASE_URL"]
    separator = "&" if "?" in database_url else "?"
    with running_stand_in(SendGridStandIn(delay_s=0.5, record_bodies=False)) as stand_in:
        environment = fault_environment(
            child_environment,
            stand_in,
            # Names the worker's connections, so only they are dropped (not the test's own).
            NEWSLETTER_DATABASE_URL=f"{database_url}{separator}application_name={WORKER_APPLICATION}",
        )
        interrupted: list[str] = []
        interrupted_sends: list[str] = []
        built = "SELECT count(*) FROM editions WHERE edition_date = :day"
        with running([]) as processes:
            processes += [
                worker("worker", environment, tmp_path, concurrency=2),
                beat("beat", environment, tmp_path),
            ]
            # Drop every connection caught inside a transaction, again and again, while building.
            deadline = time.monotonic() + 90
            while len(interrupted) < 12 and time.monotonic() < deadline:
                interrupted += terminate_open_transactions(factory)
                time.sleep(0.1)
            wait_until(
                lambda: scalar(factory, built, day=day) == readers, "every edition built", alive=processes
            )
            # While sending: hold the edition contents locked until a worker waits on them inside its
            # transaction (loading an edition to render), then drop that connection.
            for _ in range(3):
                with engine.connect() as blocker, blocker.begin():
                    blocker.execute(text("LOCK TABLE edition_contents IN ACCESS EXCLUSIVE MODE"))
                    waiting: list[str] = []
                    wait_until(lambda: bool(waiting.extend(terminate_open_transactions(factory, waiting_only=True)) or waiting),
                               "a worker waiting on the edition contents", timeout_s=30, alive=processes)  # fmt: skip
                    interrupted_sends += waiting
            took = wait_until_everyone_settled(factory, emails, day, processes, timeout_s=240)
        requests = answered_requests(stand_in, [])

    assert len(interrupted) >= 12, interrupted
    assert any("edition_contents" in query for query in interrupted_sends), interrupted_sends
    states = assert_each_reader_got_exactly_one_delivery(factory, emails, day, requests)
    assert states == {"sent": len(emails)}
    print(f"postgres drops: {len(interrupted)} transactions cut while building ({sorted(set(interrupted))}), "
          f"{len(interrupted_sends)} while sending ({interrupted_sends}), settled {took:.1f} s after the last, "
          f"{len(requests)} requests, states {states}")  # fmt: skip
