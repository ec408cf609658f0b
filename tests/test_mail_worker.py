"""Real worker processes: the beat's editions and mail tasks end to end, and a worker killed with SIGKILL
mid-send (no email twice, nothing silently lost)."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import text
from sqlalchemy.orm import Session, sessionmaker

from newsletter.config import Settings
from newsletter.db import session_scope
from newsletter.mail.deliver import send_pending
from newsletter.mail.ledger import recover_stale_sending
from newsletter.mail.transactional import create_transactional_delivery
from newsletter.mail.webhook import store_events
from newsletter.taskqueue import enqueue
from tests.factories import make_paper, make_subscriber
from tests.mail_factories import (
    EDITION_DAY,
    SendGridStandIn,
    make_content,
    make_edition,
    running_stand_in,
    sendgrid_settings,
)
from workers.celery_app import beat_schedule

CONTENTS = 6
READERS_PER_CONTENT = 5
WORKER_COMMAND = [
    sys.executable,
    "-m",
    "newsletter.cli",
    "worker",
    "--concurrency",
    "1",
    "--loglevel",
    "WARNING",
]
MAIL_AND_EDITION_TASKS = {
    "workers.tasks.editions.build_due_editions",
    "workers.tasks.mail.send_due_deliveries",
    "workers.tasks.mail.send_stranded_transactional",
    "workers.tasks.mail.process_webhook_events",
}


def test_beat_runs_every_editions_and_mail_task_and_each_entry_expires_before_its_next_run(
    settings: Settings,
) -> None:
    schedule = beat_schedule(settings)
    assert {entry["task"] for entry in schedule.values()} >= MAIL_AND_EDITION_TASKS
    for name, entry in schedule.items():
        # A backlog of ticks never turns into a burst: each expires before the next one is due.
        assert 0 < entry["options"]["expires"] <= entry["schedule"].total_seconds(), name


@contextmanager
def running_worker(environment: dict[str, str]) -> Iterator[subprocess.Popen[bytes]]:
    worker = subprocess.Popen(
        WORKER_COMMAND,
        env=environment,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        start_new_session=True,  # its own process group: a kill reaches the pool child too
    )
    try:
        yield worker
    finally:
        if worker.poll() is None:
            worker.terminate()
        output, _ = worker.communicate(timeout=30)
        assert b"Traceback" not in output, output.decode(errors="replace")


def wait_for(condition: Callable[[], bool], worker: subprocess.Popen[bytes], what: str) -> None:
    deadline = time.monotonic() + 60
    while not condition():
        assert worker.poll() is None, f"the worker exited while waiting for {what}"
        assert time.monotonic() < deadline, f"the worker never got to {what}"
        time.sleep(0.2)


def count(factory: sessionmaker[Session], sql: str) -> int:
    with session_scope(factory) as session:
        return int(session.execute(text(sql)).scalar_one())


@pytest.mark.slow
def test_the_beat_tasks_in_a_real_worker_fan_out_build_send_and_settle(
    settings: Settings,
    child_environment: dict[str, str],
    committed_session_factory: sessionmaker[Session],
) -> None:
    with session_scope(committed_session_factory) as session:
        make_paper(session, topics=["NLP"], upvotes=7)
        readers = [make_subscriber(session, topics=["NLP"]) for _ in range(5)]
        newcomer = make_subscriber(session, "new@example.org", status="pending")
        # A confirmation row whose task message was lost (the broker was down during the signup).
        stranded = create_transactional_delivery(session, newcomer.id, "confirmation")
        session.execute(
            text("UPDATE deliveries SET created_at = now() - interval '20 minutes' WHERE id = :id"),
            {"id": stranded},
        )
    factory = committed_session_factory
    now = datetime(2026, 11, 21, 8, 0, tzinfo=UTC)

    with running_worker(child_environment) as worker:
        # Five due subscribers, two per chunk: three chunk tasks build the five editions.
        enqueue(settings, "workers.tasks.editions.build_due_editions", now.isoformat(), 2)
        wait_for(lambda: count(factory, "SELECT count(*) FROM editions") == 5, worker, "building editions")

        enqueue(settings, "workers.tasks.mail.send_due_deliveries", EDITION_DAY.isoformat())
        sent_editions = "SELECT count(*) FROM deliveries WHERE kind = 'edition' AND state = 'sent'"
        wait_for(lambda: count(factory, sent_editions) == 5, worker, "sending the editions")

        enqueue(settings, "workers.tasks.mail.send_stranded_transactional")
        stranded_sent = f"SELECT count(*) FROM deliveries WHERE id = {stranded} AND state = 'sent'"
        wait_for(lambda: count(factory, stranded_sent) == 1, worker, "re-sending the stranded confirmation")

        with session_scope(factory) as session:
            bounce = {"email": readers[0].email, "event": "bounce", "timestamp": 1_800_000_000,
                      "sg_message_id": "abc.filter-1", "sg_event_id": "e-1"}  # fmt: skip
            store_events(session, json.dumps([bounce]).encode())
        enqueue(settings, "workers.tasks.mail.process_webhook_events")
        bounced = f"SELECT count(*) FROM subscribers WHERE id = {readers[0].id} AND status = 'bounced'"
        wait_for(lambda: count(factory, bounced) == 1, worker, "applying the bounce")

    # Three chunk tasks, three transactions, one moment (the tick's).
    assert count(factory, "SELECT count(DISTINCT xmin::text) FROM editions") == 3
    assert count(factory, "SELECT count(DISTINCT created_at) FROM editions") == 1
    assert count(factory, "SELECT count(*) FROM deliveries") == 6  # one per edition, one confirmation
    assert len(list(settings.resolved_outbox_dir.glob("*.eml"))) == 6


@pytest.mark.slow
def test_a_worker_killed_mid_send_never_sends_an_address_twice(
    settings: Settings,
    child_environment: dict[str, str],
    committed_session_factory: sessionmaker[Session],
) -> None:
    with session_scope(committed_session_factory) as session:
        for _ in range(CONTENTS):
            content = make_content(session, [make_paper(session, upvotes=3)])
            for _ in range(READERS_PER_CONTENT):
                make_edition(session, make_subscriber(session), content)
    with running_stand_in(SendGridStandIn(delay_s=1.0)) as stand_in:
        environment = child_environment | {
            "NEWSLETTER_MAIL_BACKEND": "sendgrid",
            "NEWSLETTER_SENDGRID_BASE_URL": stand_in.url,
            "NEWSLETTER_SENDGRID_API_KEY": "SG.test-key",
            "NEWSLETTER_SEND_RATE_PER_S": "10000",
        }
        worker = subprocess.Popen(
            WORKER_COMMAND,
            env=environment,
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            start_new_session=True,  # its own process group: the kill reaches the pool child too
        )
        try:
            enqueue(settings, "workers.tasks.mail.send_due_deliveries", EDITION_DAY.isoformat())
            deadline = time.monotonic() + 60
            while len(stand_in.requests) < 3 and time.monotonic() < deadline and worker.poll() is None:
                time.sleep(0.05)
            assert len(stand_in.requests) == 3, "the worker never reached its third request"
        finally:
            # SIGKILL while the third request waits for its answer.
            os.killpg(worker.pid, signal.SIGKILL)
            output, _ = worker.communicate(timeout=30)
        seen_before_kill = list(stand_in.emails)

        with session_scope(committed_session_factory) as session:
            in_doubt = recover_stale_sending(session, timedelta(0)).in_doubt
        stand_in.delay_s = 0.0
        configured = sendgrid_settings(settings, stand_in.url)
        report = send_pending(committed_session_factory, configured, edition_date=EDITION_DAY)

    assert b"Traceback" not in output, output.decode(errors="replace")
    emails = stand_in.emails
    assert len(emails) == len(set(emails)), "an address was sent twice"
    with session_scope(committed_session_factory) as session:
        rows = session.execute(
            text("SELECT s.email, d.state FROM deliveries d JOIN subscribers s ON s.id = d.subscriber_id")
        ).all()
    states = {email: state for email, state in rows}
    assert len(states) == CONTENTS * READERS_PER_CONTENT
    assert set(states.values()) <= {"sent", "unknown"}
    # In doubt: at most the one request in flight, and only addresses that request carried.
    unknown = {email for email, state in states.items() if state == "unknown"}
    assert in_doubt == len(unknown) == READERS_PER_CONTENT
    assert unknown <= set(seen_before_kill)
    # Nothing lost: every other address was sent exactly once, before or after the kill.
    assert {email for email, state in states.items() if state == "sent"} == set(emails) - unknown
    assert report.sent == CONTENTS * READERS_PER_CONTENT - len(set(seen_before_kill))
