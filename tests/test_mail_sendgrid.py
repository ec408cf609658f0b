"""The SendGrid backend: real requests validated by a Prism mock of the official spec, and faults from a
local stand-in (429 with reset, 500s, a request accepted and never answered)."""

from __future__ import annotations

import shutil
import subprocess
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from pathlib import Path

import pytest
from pydantic import SecretStr
from sqlalchemy import text
from sqlalchemy.orm import Session, sessionmaker

from newsletter.config import Settings
from newsletter.db import session_scope
from newsletter.mail.backends.sendgrid import SendGridBackend
from newsletter.mail.deliver import send_pending
from newsletter.mail.message import Recipient
from newsletter.mail.render import RenderedEmail
from tests.factories import make_paper, make_subscriber
from tests.mail_factories import (
    EDITION_DAY,
    SendGridStandIn,
    free_port,
    make_content,
    make_edition,
    running_stand_in,
)

PROJECT_ROOT = Path(__file__).resolve().parent.parent
SPEC = Path(__file__).resolve().parent / "fixtures" / "sendgrid" / "openapi" / "tsg_mail_v3.json"
PRISM_PREFIX = PROJECT_ROOT / ".cache" / "prism"
RENDERED = RenderedEmail(
    subject="Papers", text="Unsubscribe: %%unsubscribe_url%%", html="<a href='%%unsubscribe_url%%'>x</a>"
)


@pytest.fixture(scope="session")
def prism_url() -> Iterator[str]:
    prism = PRISM_PREFIX / "node_modules" / ".bin" / "prism"
    if not prism.exists():
        if shutil.which("npm") is None:
            pytest.skip("npm is not installed: cannot install @stoplight/prism-cli")
        install = subprocess.run(
            [
                "npm",
                "install",
                "--no-save",
                "--no-audit",
                "--no-fund",
                "--prefix",
                str(PRISM_PREFIX),
                "@stoplight/prism-cli@5",
            ],
            capture_output=True,
            text=True,
            timeout=600,
        )
        if install.returncode != 0 or not prism.exists():
            pytest.skip(f"could not install prism with npm: {install.stderr[-500:]}")
    port = free_port()
    process = subprocess.Popen(
        [str(prism), "mock", "-h", "127.0.0.1", "-p", str(port), str(SPEC)],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    url = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            try:
                urllib.request.urlopen(f"{url}/v3/mail/send", timeout=1)
            except urllib.error.HTTPError:
                break  # it answers (405/404/422): it is up
            except OSError:
                time.sleep(0.3)
        else:
            pytest.fail("prism did not start within 60 s")
        yield url
    finally:
        process.terminate()
        process.wait(timeout=10)


def sendgrid_settings(settings: Settings, base_url: str, **updates: object) -> Settings:
    return settings.model_copy(
        update={
            "mail_backend": "sendgrid",
            "sendgrid_base_url": base_url,
            "sendgrid_api_key": SecretStr("SG.test-key"),
            **updates,
        }
    )


def recipients(count: int) -> list[Recipient]:
    return [
        Recipient(
            n,
            n,
            f"reader{n}@example.org",
            substitutions={"%%unsubscribe_url%%": f"https://papers.example.org/u/{n}"},
        )
        for n in range(1, count + 1)
    ]


def test_our_real_request_is_valid_against_the_official_spec(settings: Settings, prism_url: str) -> None:
    backend = SendGridBackend(sendgrid_settings(settings, prism_url, reply_to="editor@newsletter.example"))
    results = list(backend.send_batch(RENDERED, recipients(3)))
    assert [r.outcome for r in results] == ["sent"], results


def test_an_invalid_request_is_refused_by_prism_so_the_check_can_fail(
    settings: Settings, prism_url: str
) -> None:
    backend = SendGridBackend(sendgrid_settings(settings, prism_url), max_attempts=1)
    body = backend.request_body(RENDERED, recipients(1))
    del body["from"]
    from python_http_client.exceptions import HTTPError

    with pytest.raises(HTTPError) as refused:
        backend.client.client.mail.send.post(request_body=body)
    assert 400 <= refused.value.status_code < 500


def test_request_carries_personal_substitutions_headers_and_delivery_ids(settings: Settings) -> None:
    with running_stand_in() as stand_in:
        backend = SendGridBackend(sendgrid_settings(settings, stand_in.url))
        results = list(backend.send_batch(RENDERED, recipients(2_500)))
    assert [len(r.delivery_ids) for r in results] == [1000, 1000, 500]
    assert all(r.outcome == "sent" and r.provider_message_id for r in results)
    body = stand_in.requests[0].body
    first = body["personalizations"][0]
    assert first["custom_args"] == {"delivery_id": "1"}
    assert first["substitutions"] == {"%%unsubscribe_url%%": "https://papers.example.org/u/1"}
    assert first["headers"]["List-Unsubscribe-Post"] == "List-Unsubscribe=One-Click"
    assert first["headers"]["List-Unsubscribe"].startswith("<https://papers.example.org/unsubscribe/")
    assert body["headers"]["List-Id"] and body["from"]["email"] == "papers@newsletter.example"


def test_429_waits_for_the_rate_limit_reset_then_succeeds(settings: Settings) -> None:
    waits: list[float] = []
    reset = str(int(time.time()) + 7)
    script = [("status", 429, {"X-RateLimit-Reset": reset}), ("ok",)]
    with running_stand_in(SendGridStandIn(script=script)) as stand_in:
        backend = SendGridBackend(sendgrid_settings(settings, stand_in.url), sleep=waits.append)
        results = list(backend.send_batch(RENDERED, recipients(2)))
    assert results[0].outcome == "sent" and len(stand_in.requests) == 2
    assert len(waits) == 1 and 5 <= waits[0] <= 7


def test_500s_are_retried_with_backoff_and_a_400_is_permanent(settings: Settings) -> None:
    waits: list[float] = []
    script = [("status", 500), ("status", 503), ("ok",), ("status", 400)]
    with running_stand_in(SendGridStandIn(script=script)) as stand_in:
        backend = SendGridBackend(
            sendgrid_settings(settings, stand_in.url), retry_wait_s=0.5, sleep=waits.append
        )
        first = list(backend.send_batch(RENDERED, recipients(1)))
        second = list(backend.send_batch(RENDERED, recipients(1)))
    assert first[0].outcome == "sent" and len(waits) == 2 and all(0 < w <= 30 for w in waits)
    assert second[0].outcome == "failed" and "400" in (second[0].error or "")


def test_persistent_5xx_leaves_deliveries_for_a_later_retry(settings: Settings) -> None:
    script = [("status", 502)] * 3
    with running_stand_in(SendGridStandIn(script=script)) as stand_in:
        backend = SendGridBackend(
            sendgrid_settings(settings, stand_in.url), max_attempts=3, sleep=lambda s: None
        )
        results = list(backend.send_batch(RENDERED, recipients(2)))
    assert results[0].outcome == "retry"


def test_a_request_accepted_and_never_answered_makes_deliveries_unknown_and_is_not_resent(
    committed_session_factory: sessionmaker[Session], settings: Settings
) -> None:
    with session_scope(committed_session_factory) as session:
        content_a = make_content(session, [make_paper(session, upvotes=5)])
        content_b = make_content(session, [make_paper(session, upvotes=6)])
        for content in (content_a, content_a, content_b):
            make_edition(session, make_subscriber(session), content)
    with running_stand_in(SendGridStandIn(script=[("hang",)])) as stand_in:
        configured = sendgrid_settings(settings, stand_in.url, http_timeout_s=1.0)
        report = send_pending(committed_session_factory, configured, edition_date=EDITION_DAY)
        again = send_pending(committed_session_factory, configured, edition_date=EDITION_DAY)
    assert (report.unknown, report.sent, again.sent, again.unknown) == (2, 1, 0, 0)
    assert len(stand_in.requests) == 2 and len(stand_in.emails) == len(set(stand_in.emails)) == 3
    with session_scope(committed_session_factory) as session:
        states = dict(session.execute(text("SELECT state, count(*) FROM deliveries GROUP BY state")).all())
    assert states == {"unknown": 2, "sent": 1}


def test_a_run_stops_when_sendgrid_keeps_failing_and_leaves_the_rest_pending(
    committed_session_factory: sessionmaker[Session], settings: Settings
) -> None:
    with session_scope(committed_session_factory) as session:
        for _ in range(3):
            make_edition(session, make_subscriber(session), make_content(session, [make_paper(session)]))
    with running_stand_in(SendGridStandIn(script=[("status", 503)] * 5)) as stand_in:
        backend = SendGridBackend(sendgrid_settings(settings, stand_in.url), sleep=lambda s: None)
        report = send_pending(committed_session_factory, settings, edition_date=EDITION_DAY, backend=backend)
    assert report.stopped_reason and "not accepting mail" in report.stopped_reason
    assert len(stand_in.requests) == 5  # one request, retried; the other groups were not tried
    with session_scope(committed_session_factory) as session:
        states = dict(session.execute(text("SELECT state, count(*) FROM deliveries GROUP BY state")).all())
    assert states == {"pending": 3}
