"""`newsletter demo` as a user runs it: a real worker, the sample feed over HTTP, emails in the outbox."""

from __future__ import annotations

import email
import json
import signal
import subprocess
import sys
import time
from email import policy
from pathlib import Path

import httpx
import pytest
from sqlalchemy.orm import Session, sessionmaker

from newsletter.config import Settings
from newsletter.demo import DEMO_READERS, heartbeats
from newsletter.redis_client import make_redis
from newsletter.taskqueue import QUEUE
from tests.fault_fixtures import wait_until
from tests.mail_factories import free_port

pytestmark = pytest.mark.slow


def newsletter_command(*arguments: str) -> list[str]:
    return [sys.executable, "-m", "newsletter.cli", *arguments]


def test_demo_sends_each_reader_one_valid_email_and_a_second_run_sends_nothing_then_serves(
    settings: Settings,
    child_environment: dict[str, str],
    committed_session_factory: sessionmaker[Session],
) -> None:
    outbox = Path(settings.resolved_outbox_dir)

    first = subprocess.run(
        newsletter_command("demo", "--no-serve"),
        env=child_environment,
        capture_output=True,
        text=True,
        timeout=300,
    )

    assert first.returncode == 0, first.stdout + first.stderr
    emails = sorted(outbox.glob("*.eml"))
    assert len(emails) == len(DEMO_READERS)
    recipients = set()
    for path in emails:
        message = email.message_from_bytes(path.read_bytes(), policy=policy.default)
        recipients.add(str(message["To"]))
        assert message.get_content_type() == "multipart/alternative"
        text_part, html_part = message.get_body(("plain",)), message.get_body(("html",))
        assert text_part is not None and html_part is not None
        assert "trending" in str(message["Subject"])
        assert message["List-Unsubscribe-Post"] == "List-Unsubscribe=One-Click"
        assert "/one-click>" in message["List-Unsubscribe"] and "mailto:" in message["List-Unsubscribe"]
        assert message["List-Id"] and message["Message-ID"]
        assert "arxiv.org/abs/" in text_part.get_content()
        assert "<html" in html_part.get_content().lower()
    assert recipients == {reader.email for reader in DEMO_READERS}
    for stage in ("fetch", "summaries", "editions", "send"):
        assert stage in first.stdout

    port = free_port()
    second = subprocess.Popen(
        newsletter_command("demo", "--port", str(port)),
        env=child_environment,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    try:
        home = None
        deadline = time.monotonic() + 180
        while home is None and time.monotonic() < deadline and second.poll() is None:
            try:
                home = httpx.get(f"http://127.0.0.1:{port}/", timeout=2)
            except httpx.TransportError:
                time.sleep(0.5)
        assert home is not None and home.status_code == 200, "the site never answered"
        assert "Subscribe" in home.text
    finally:
        second.send_signal(signal.SIGINT)
        output, _ = second.communicate(timeout=30)
    assert "Traceback" not in output, output
    assert sorted(outbox.glob("*.eml")) == emails, "the second run sent something"


def test_while_the_site_is_served_the_demo_asks_its_worker_for_heartbeats(settings: Settings) -> None:
    # The demo's worker runs no beat; without these asks /healthz says the worker is gone after 5 minutes.
    broker = make_redis(settings)
    queue = f"{settings.redis_prefix}{QUEUE}"  # the broker pushes new messages at the head
    before = broker.llen(queue)
    added = 0
    try:
        with heartbeats(settings, every_s=0.05):
            wait_until(lambda: broker.llen(queue) >= before + 2, "two heartbeat requests", timeout_s=10)
        added = broker.llen(queue) - before
        asked = [json.loads(message)["headers"]["task"] for message in broker.lrange(queue, 0, added - 1)]
        assert set(asked) == {"workers.tasks.health.heartbeat"}, asked
    finally:
        broker.ltrim(queue, added, -1)
