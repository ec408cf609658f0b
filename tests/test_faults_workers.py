"""A worker killed with SIGKILL mid fan-out and mid send; beat and a fresh worker finish the day.

The fast core (a kill during a request, recovered by hand) is `tests/test_mail_worker.py`; here nothing
is recovered by hand: the beat's next ticks and the task redelivery of a restarted worker do it.
"""

from __future__ import annotations

import json
import time
from pathlib import Path

import pytest
import redis
from sqlalchemy.orm import Session, sessionmaker

from newsletter.config import Settings
from tests.fault_fixtures import (
    answered_requests,
    assert_each_reader_got_exactly_one_delivery,
    beat,
    fault_environment,
    let_claims_go_stale,
    running,
    scalar,
    seed_due_readers,
    sending_ids,
    today_utc,
    wait_until,
    wait_until_everyone_settled,
    worker,
)
from tests.mail_factories import SendGridStandIn, running_stand_in

# redis_client: removes the run's Redis keys (queues, unacked tasks) afterwards.
pytestmark = [pytest.mark.faults, pytest.mark.usefixtures("redis_client")]


def unacked_task_names(redis_client: redis.Redis, prefix: str) -> list[str]:
    """Tasks a worker took and never acknowledged (kombu's Redis transport keeps them in a hash)."""
    # Each value is [message, exchange, routing key]; the task name is in the message's headers.
    return [json.loads(raw)[0]["headers"]["task"] for raw in redis_client.hvals(f"{prefix}unacked")]


def test_a_worker_killed_mid_fan_out_leaves_no_reader_without_exactly_one_email(
    settings: Settings,
    child_environment: dict[str, str],
    committed_session_factory: sessionmaker[Session],
    redis_client: redis.Redis,
    tmp_path: Path,
) -> None:
    factory = committed_session_factory
    readers = 20_000  # twenty chunk tasks of 1,000
    emails = seed_due_readers(factory, settings, readers)
    day = today_utc(factory)
    with running_stand_in(SendGridStandIn(record_bodies=False)) as stand_in:
        environment = fault_environment(child_environment, stand_in)
        with running([]) as processes:
            first = worker("worker-1", environment, tmp_path)
            processes += [first, beat("beat", environment, tmp_path)]
            built = "SELECT count(*) FROM editions WHERE edition_date = :day"
            # Killed once some chunks are in and others are still queued or running.
            wait_until(lambda: scalar(factory, built, day=day) >= 2_000, "the first chunks", alive=processes)
            first.kill()
            built_at_kill = scalar(factory, built, day=day)
            in_flight = unacked_task_names(redis_client, settings.redis_prefix)
            orphaned = sending_ids(factory)
            let_claims_go_stale(factory, orphaned)

            processes.append(worker("worker-2", environment, tmp_path))
            took = wait_until_everyone_settled(factory, emails, day, processes[1:], timeout_s=240)
            requests_when_settled = len(stand_in.requests)
            time.sleep(6)  # three more ticks: they find nothing left to build or send
        requests = answered_requests(stand_in, [])

    assert built_at_kill < readers, "the kill came after the fan-out had finished"
    assert "workers.tasks.editions.build_editions_for" in in_flight or orphaned, in_flight
    assert len(stand_in.requests) == requests_when_settled
    states = assert_each_reader_got_exactly_one_delivery(factory, emails, day, requests)
    assert set(states) <= {"sent", "unknown"}
    assert states.get("unknown", 0) == len(orphaned)
    print(f"fan-out kill: {built_at_kill} of {readers} built at the kill, {in_flight} unacked, "
          f"settled {took:.1f} s after the restart, {len(requests)} requests, states {states}")  # fmt: skip


def test_a_worker_killed_mid_send_is_finished_by_beat_and_a_fresh_worker(
    settings: Settings,
    child_environment: dict[str, str],
    committed_session_factory: sessionmaker[Session],
    tmp_path: Path,
) -> None:
    factory = committed_session_factory
    emails = seed_due_readers(factory, settings, 600)
    day = today_utc(factory)
    with running_stand_in(SendGridStandIn(delay_s=1.0, record_bodies=False)) as stand_in:
        environment = fault_environment(child_environment, stand_in)
        with running([]) as processes:
            first = worker("worker-1", environment, tmp_path)
            processes += [first, beat("beat", environment, tmp_path)]
            wait_until(lambda: len(stand_in.requests) >= 4, "the fourth request", alive=processes)
            # Each request waits a second for its answer: the worker dies inside the latest one.
            first.kill()
            in_flight = set(stand_in.requests[-1].emails)
            orphaned = sending_ids(factory)
            let_claims_go_stale(factory, orphaned)

            processes.append(worker("worker-2", environment, tmp_path))
            took = wait_until_everyone_settled(factory, emails, day, processes[1:])
        requests = answered_requests(stand_in, [])

    assert len(orphaned) == len(in_flight) > 0
    states = assert_each_reader_got_exactly_one_delivery(factory, emails, day, requests)
    # In doubt: exactly the addresses of the request the worker died in; everyone else sent once.
    assert states == {"sent": len(emails) - len(in_flight), "unknown": len(in_flight)}
    unknown = scalar(
        factory,
        "SELECT array_agg(s.email) FROM deliveries d JOIN subscribers s ON s.id = d.subscriber_id "
        "WHERE d.state = 'unknown'",
    )
    assert set(unknown) == in_flight
    print(f"send kill: {len(in_flight)} in doubt, settled {took:.1f} s after the restart, "
          f"{len(requests)} requests, states {states}")  # fmt: skip
