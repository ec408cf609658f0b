"""The SendGrid backend: real requests validated by a Prism mock of the official spec, and faults from a
local stand-in (429 with reset, 500s, a request accepted and never answered)."""

from __future__ import annotations

import json
import os
import socket
import time
from collections.abc import Iterator

import pytest
from python_http_client.exceptions import HTTPError
from sqlalchemy import text
from sqlalchemy.orm import Session, sessionmaker

from newsletter.config import Settings
from newsletter.db import session_scope
from newsletter.mail.backends.sendgrid import SendGridBackend
from newsletter.mail.context import EditionGroupKey, content_context, recipient_links
from newsletter.mail.deliver import send_pending
from newsletter.mail.message import Recipient
from newsletter.mail.render import RenderedEmail, render_email
from newsletter.mail.transactional import create_transactional_delivery, deliver_transactional
from tests.factories import make_paper, make_subscriber
from tests.mail_factories import (
    EDITION_DAY,
    SENDGRID_MAIL_SPEC,
    PrismUnavailable,
    SendGridStandIn,
    make_content,
    make_edition,
    prism_executable,
    running_prism,
    running_stand_in,
    sendgrid_settings,
)

RENDERED = RenderedEmail(
    subject="Papers",
    text="Unsubscribe: %%unsubscribe-k1%%",
    html="<a href='%%unsubscribe-k1%%'>x</a>",
    link_slots={"unsubscribe": "%%unsubscribe-k1%%"},
)


@pytest.fixture(scope="session")
def prism_url(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """A Prism mock of SendGrid's official mail-send spec: every request our backend makes is checked."""
    try:
        prism_executable()
    except PrismUnavailable as error:
        if os.environ.get("CI"):
            pytest.fail(f"CI must validate SendGrid requests against the official spec, but {error}")
        pytest.skip(f"cannot install @stoplight/prism-cli: {error}")
    with running_prism(SENDGRID_MAIL_SPEC, tmp_path_factory.mktemp("prism") / "prism.log") as url:
        yield url


def recipients(count: int) -> list[Recipient]:
    return [
        Recipient(
            n,
            n,
            f"reader{n}@example.org",
            links={"unsubscribe": f"https://papers.example.org/u/{n}"},
        )
        for n in range(1, count + 1)
    ]


def delivery_states(factory: sessionmaker[Session]) -> dict[str, int]:
    with session_scope(factory) as session:
        return dict(session.execute(text("SELECT state, count(*) FROM deliveries GROUP BY state")).all())


def test_editions_and_transactional_emails_sent_through_the_backend_pass_the_official_spec(
    committed_session_factory: sessionmaker[Session], settings: Settings, prism_url: str
) -> None:
    with session_scope(committed_session_factory) as session:
        hostile = make_paper(session, title='Say "hi" \\ <b>bold</b> ∑ %%unsubscribe_url%%\u202e', upvotes=9)
        shared = make_content(session, [hostile, make_paper(session, upvotes=3)], overflow_count=4)
        for _ in range(3):
            make_edition(session, make_subscriber(session), shared)
        make_edition(session, make_subscriber(session), make_content(session, [make_paper(session)]))
        make_edition(session, make_subscriber(session, wants_empty_note=True), None)
        pending = make_subscriber(session, "new@example.org", status="pending")
        confirmation = create_transactional_delivery(session, pending.id, "confirmation")
        welcome = create_transactional_delivery(session, make_subscriber(session).id, "welcome")
    configured = sendgrid_settings(settings, prism_url, reply_to="editor@newsletter.example")

    report = send_pending(committed_session_factory, configured, edition_date=EDITION_DAY)

    # A request Prism finds invalid is answered 4xx, which the backend records as failed.
    assert (report.sent, report.failed, report.unknown, report.retry_later) == (5, 0, 0, 0), report.errors
    assert (report.requests, report.distinct_editions) == (3, 3)
    for delivery_id in (confirmation, welcome):
        assert deliver_transactional(committed_session_factory, configured, delivery_id) == "sent"
    assert delivery_states(committed_session_factory) == {"sent": 7}


def test_the_request_body_draws_no_warning_from_the_spec(
    session: Session, settings: Settings, prism_url: str
) -> None:
    content = make_content(session, [make_paper(session, upvotes=42), make_paper(session)], overflow_count=2)
    readers = [make_subscriber(session) for _ in range(3)]
    editions = [make_edition(session, reader, content) for reader in readers]
    rendered = render_email(
        "edition", content_context(session, settings, EditionGroupKey(EDITION_DAY, "papers", content.id))
    )
    batch = [
        Recipient(100 + n, reader.id, reader.email, recipient_links(settings, reader.id, edition.id))
        for n, (reader, edition) in enumerate(zip(readers, editions, strict=True))
    ]
    backend = SendGridBackend(sendgrid_settings(settings, prism_url, reply_to="editor@newsletter.example"))
    body = backend.request_body(rendered, batch)

    response = backend.client.client.mail.send.post(request_body=body)

    assert response.status_code == 202
    # Prism reports violations of any severity (warnings included) in this header.
    assert "sl-violations" not in {name.lower() for name in response.headers}, response.headers


def test_more_than_a_thousand_recipients_go_in_requests_the_spec_accepts(
    settings: Settings, prism_url: str
) -> None:
    backend = SendGridBackend(sendgrid_settings(settings, prism_url), max_attempts=1)
    results = list(backend.send_batch(RENDERED, recipients(1001)))
    assert [(r.outcome, len(r.delivery_ids)) for r in results] == [("sent", 1000), ("sent", 1)], results

    # The same 1,001 personalizations in one request break the spec's limit: Prism refuses them.
    body = backend.request_body(RENDERED, recipients(1001))
    with pytest.raises(HTTPError) as refused:
        backend.client.client.mail.send.post(request_body=body)
    assert refused.value.status_code == 400
    violations = json.loads(refused.value.headers["sl-violations"])
    assert any("personalizations" in violation["location"] for violation in violations), violations


def test_a_request_the_spec_refuses_fails_the_send_for_good(settings: Settings, prism_url: str) -> None:
    backend = SendGridBackend(sendgrid_settings(settings, prism_url), max_attempts=1)
    malformed = Recipient(1, 1, "not-an-address", links={"unsubscribe": "https://papers.example.org/u/1"})
    results = list(backend.send_batch(RENDERED, [malformed]))
    assert results[0].outcome == "failed" and "SendGrid 400" in (results[0].error or ""), results

    body = backend.request_body(RENDERED, recipients(1))
    del body["from"]
    with pytest.raises(HTTPError) as refused:
        backend.client.client.mail.send.post(request_body=body)
    assert refused.value.status_code == 400 and "from" in refused.value.headers["sl-violations"]


def test_request_carries_personal_substitutions_headers_and_delivery_ids(settings: Settings) -> None:
    with running_stand_in() as stand_in:
        backend = SendGridBackend(sendgrid_settings(settings, stand_in.url))
        results = list(backend.send_batch(RENDERED, recipients(2_500)))
    assert [len(r.delivery_ids) for r in results] == [1000, 1000, 500]
    assert all(r.outcome == "sent" and r.provider_message_id for r in results)
    body = stand_in.requests[0].body
    first = body["personalizations"][0]
    assert first["custom_args"] == {"delivery_id": "1"}
    assert first["substitutions"] == {"%%unsubscribe-k1%%": "https://papers.example.org/u/1"}
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


@pytest.mark.parametrize("status", [400, 401, 403, 404, 413])
def test_other_4xx_answers_are_permanent_and_not_retried(settings: Settings, status: int) -> None:
    waits: list[float] = []
    with running_stand_in(SendGridStandIn(script=[("status", status)])) as stand_in:
        backend = SendGridBackend(sendgrid_settings(settings, stand_in.url), sleep=waits.append)
        results = list(backend.send_batch(RENDERED, recipients(2)))
    assert results[0].outcome == "failed" and f"SendGrid {status}" in (results[0].error or "")
    assert len(stand_in.requests) == 1 and waits == []


def test_429_without_a_reset_backs_off_and_a_far_reset_is_capped(settings: Settings) -> None:
    waits: list[float] = []
    far = str(int(time.time()) + 3600)
    script = [("status", 429), ("status", 429, {"X-RateLimit-Reset": far}), ("ok",)]
    with running_stand_in(SendGridStandIn(script=script)) as stand_in:
        backend = SendGridBackend(
            sendgrid_settings(settings, stand_in.url), retry_wait_s=0.5, sleep=waits.append
        )
        results = list(backend.send_batch(RENDERED, recipients(1)))
    assert results[0].outcome == "sent" and len(stand_in.requests) == 3
    assert 0 < waits[0] <= 1.0 and waits[1] == 120.0  # exponential with jitter, then the cap


def test_a_refused_connection_is_retried_with_backoff_then_left_pending(settings: Settings) -> None:
    waits: list[float] = []
    with socket.socket() as closed:  # bound, never listening: every connection is refused
        closed.bind(("127.0.0.1", 0))
        url = f"http://127.0.0.1:{closed.getsockname()[1]}"
        backend = SendGridBackend(
            sendgrid_settings(settings, url), max_attempts=4, retry_wait_s=0.5, sleep=waits.append
        )
        results = list(backend.send_batch(RENDERED, recipients(2)))
    assert results[0].outcome == "retry" and "unreachable" in (results[0].error or "")
    assert len(waits) == 3 and all(0 < wait <= 30 for wait in waits)
    # 0.5 · 2^n plus up to 0.5 s of jitter: each wait longer than the one before.
    assert waits == sorted(waits) and waits[0] < 1.0 < waits[1] <= 1.5 < 2.0 <= waits[2] <= 2.5


def test_each_delivery_records_the_message_id_of_its_request(
    committed_session_factory: sessionmaker[Session], settings: Settings
) -> None:
    with session_scope(committed_session_factory) as session:
        for content in (
            make_content(session, [make_paper(session)]),
            make_content(session, [make_paper(session)]),
        ):
            for _ in range(2):
                make_edition(session, make_subscriber(session), content)
    with running_stand_in() as stand_in:
        report = send_pending(
            committed_session_factory, sendgrid_settings(settings, stand_in.url), edition_date=EDITION_DAY
        )
    assert (report.sent, report.requests) == (4, 2)
    expected = {
        delivery_id: request.message_id
        for request in stand_in.requests
        for delivery_id in request.delivery_ids
    }
    with session_scope(committed_session_factory) as session:
        recorded = dict(session.execute(text("SELECT id, provider_message_id FROM deliveries")).all())
    assert recorded == expected and all(expected.values())
