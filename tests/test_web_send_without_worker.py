"""With no Celery worker consuming the mail queue (real Redis, no worker process), the emails a form asks
for still go out: the web process sends them after the answer; with a real worker up, the worker does.
Either way each goes out once."""

from __future__ import annotations

import logging
import subprocess
import sys
import time
from collections.abc import Callable
from datetime import timedelta
from pathlib import Path
from unittest import mock

import pytest
import redis
from fastapi.testclient import TestClient
from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker

from newsletter.config import Settings
from newsletter.db import session_scope
from newsletter.health import CONSUMER_TTL_S, is_queue_consumed, record_queue_consumer
from newsletter.links import urls as links
from newsletter.mail.transactional import deliver_transactional
from newsletter.models import Delivery
from newsletter.stats import queue_depth
from newsletter.subscribers.outbox import MAIL_QUEUE, is_mail_worker_listening
from tests.factories import make_subscriber
from tests.web_fixtures import (
    client_fixture,  # noqa: F401
    csrf_token,
    deliveries,
    path,
    post_signup,
    read_outbox,
    subscriber_row,
)


def outbox_files(settings: Settings) -> list[Path]:
    outbox = settings.resolved_outbox_dir
    return sorted(outbox.glob("*.eml")) if outbox.exists() else []


def test_with_no_worker_a_signup_sends_its_confirmation_once_and_the_queued_message_sends_nothing(
    client: TestClient,
    settings: Settings,
    committed_session_factory: sessionmaker[Session],
    redis_client: redis.Redis,
) -> None:
    assert not is_mail_worker_listening(settings)
    response = post_signup(client, "nowork@example.org")
    assert response.status_code == 200 and "Check your inbox" in response.text
    erin = subscriber_row(committed_session_factory, "nowork@example.org")
    assert deliveries(committed_session_factory, erin.id) == [("confirmation", "sent")]
    [message] = read_outbox(settings.resolved_outbox_dir)
    assert message["To"] == "nowork@example.org" and "Confirm" in message["Subject"]
    # The message was queued too, for a worker that starts later: it finds the row sent and sends nothing.
    assert queue_depth(redis_client, settings.redis_prefix) == 1
    [delivery_id] = delivery_ids(committed_session_factory, erin.id)
    assert deliver_transactional(committed_session_factory, settings, delivery_id) == "sent"
    assert len(outbox_files(settings)) == 1


def delivery_ids(factory: sessionmaker[Session], subscriber_id: int) -> list[int]:
    with session_scope(factory) as session:
        return list(
            session.execute(
                select(Delivery.id).where(Delivery.subscriber_id == subscriber_id).order_by(Delivery.id)
            ).scalars()
        )


def test_with_no_worker_the_manage_email_and_a_resent_confirmation_go_out(
    client: TestClient, settings: Settings, committed_session_factory: sessionmaker[Session]
) -> None:
    with session_scope(committed_session_factory) as session:
        active_id = make_subscriber(session, "active@example.org", status="active").id
        waiting_id = make_subscriber(session, "waiting@example.org", status="pending").id
    post_signup(client, "active@example.org")
    assert deliveries(committed_session_factory, active_id) == [("manage", "sent")]
    good = path(links.confirm_url(settings, waiting_id))
    real_time = time.time
    with mock.patch("time.time", return_value=real_time() + timedelta(days=8).total_seconds()):
        expired = client.get(good)
        resend = client.post(good + "/resend", data={"csrf_token": csrf_token(expired.text)})
    assert resend.status_code == 200
    assert deliveries(committed_session_factory, waiting_id) == [("confirmation", "sent")]
    recipients = sorted(message["To"] for message in read_outbox(settings.resolved_outbox_dir))
    assert recipients == ["active@example.org", "waiting@example.org"]


def test_a_consumer_counts_only_for_its_queues_and_only_while_it_keeps_saying_so(
    redis_client: redis.Redis, redis_prefix: str
) -> None:
    assert not is_queue_consumed(redis_client, redis_prefix, MAIL_QUEUE)
    record_queue_consumer(redis_client, redis_prefix, "celery@alpha", ["fetch", "mail"])
    assert is_queue_consumed(redis_client, redis_prefix, MAIL_QUEUE)
    assert not is_queue_consumed(redis_client, redis_prefix, "editions")
    # Aged past the limit (as if the worker was killed without a goodbye): no longer counted.
    seconds, _ = redis_client.time()
    redis_client.zadd(f"{redis_prefix}consumers:{MAIL_QUEUE}", {"celery@alpha": seconds - CONSUMER_TTL_S - 1})
    assert not is_queue_consumed(redis_client, redis_prefix, MAIL_QUEUE)


def wait_for(condition: Callable[[], bool], worker: subprocess.Popen[bytes], what: str) -> None:
    deadline = time.monotonic() + 90
    while not condition():
        assert worker.poll() is None, f"the worker exited while waiting for {what}"
        assert time.monotonic() < deadline, f"never saw {what}"
        time.sleep(0.2)


@pytest.mark.slow
def test_with_a_real_worker_up_the_worker_sends_and_the_web_process_does_not(
    client: TestClient,
    settings: Settings,
    child_environment: dict[str, str],
    committed_session_factory: sessionmaker[Session],
    redis_client: redis.Redis,
    caplog: pytest.LogCaptureFixture,
) -> None:
    worker = subprocess.Popen(  # noqa: S603 - our own command
        [sys.executable, "-m", "newsletter.cli", "worker", "--concurrency", "1", "--queues", "mail"],
        env=child_environment,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        start_new_session=True,
    )
    try:
        wait_for(lambda: is_mail_worker_listening(settings), worker, "the worker say it consumes mail")
        assert not is_queue_consumed(redis_client, settings.redis_prefix, "fetch")
        with caplog.at_level(logging.INFO, logger="newsletter.subscribers.outbox"):
            post_signup(client, "withworker@example.org")
        assert not [r for r in caplog.records if "sending it here" in r.getMessage()]
        frank = subscriber_row(committed_session_factory, "withworker@example.org")
        wait_for(
            lambda: deliveries(committed_session_factory, frank.id) == [("confirmation", "sent")],
            worker,
            "the worker send the confirmation",
        )
        assert len(outbox_files(settings)) == 1
        worker.terminate()  # a warm shutdown: the worker says goodbye
        output, _ = worker.communicate(timeout=60)
    finally:
        if worker.poll() is None:
            worker.kill()
            worker.wait()
    assert b"Traceback" not in output, output.decode(errors="replace")
    assert not is_mail_worker_listening(settings)
