"""A real worker process killed with SIGKILL mid-send: no email twice, nothing silently lost."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from datetime import timedelta

import pytest
from pydantic import SecretStr
from sqlalchemy import text
from sqlalchemy.orm import Session, sessionmaker

from newsletter.config import Settings
from newsletter.db import session_scope
from newsletter.mail.deliver import recover_stale_sending, send_pending
from newsletter.taskqueue import enqueue
from tests.factories import make_paper, make_subscriber
from tests.mail_factories import EDITION_DAY, SendGridStandIn, make_content, make_edition, running_stand_in

pytestmark = pytest.mark.slow
CONTENTS = 6
READERS_PER_CONTENT = 5
# Imports the mail tasks before the worker starts, whether or not celery_app lists the module yet.
WORKER_COMMAND = "import workers.tasks.mail; from newsletter.cli import app; app(prog_name='newsletter')"


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
            [sys.executable, "-c", WORKER_COMMAND, "worker", "--concurrency", "1", "--loglevel", "WARNING"],
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
            in_doubt = recover_stale_sending(session, timedelta(0))
        stand_in.delay_s = 0.0
        configured = settings.model_copy(
            update={"mail_backend": "sendgrid", "sendgrid_base_url": stand_in.url,
                    "sendgrid_api_key": SecretStr("SG.test-key"), "send_rate_per_s": 10_000.0}
        )  # fmt: skip
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
