"""Hostile requests to /webhooks/sendgrid on the real app, signed with the published test vector's key.

What is refused changes nothing (the stored events and every subscriber row are compared before and
after); what is accepted stores each good event once, and a bad event never costs its batch the others.
"""

from __future__ import annotations

import base64
import json
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.hazmat.primitives.serialization import load_der_private_key
from fastapi.testclient import TestClient
from sqlalchemy import func, select
from sqlalchemy.orm import Session, sessionmaker

from newsletter.config import Settings
from newsletter.db import session_scope
from newsletter.models import ConsentEvent, WebhookEvent
from newsletter.subscribers.provider_events import process_pending_events
from newsletter.web.app import create_app
from tests.factories import make_subscriber
from tests.web_fixtures import BASE_URL, database_snapshot, subscriber_row

VECTORS = Path(__file__).resolve().parent / "fixtures" / "sendgrid" / "event_webhook"
GO_VECTOR = json.loads((VECTORS / "sendgrid_event_webhook_test_vector_go_node.json").read_text())
PYTHON_VECTOR = json.loads((VECTORS / "sendgrid_event_webhook_test_vector.json").read_text())
PATH = "/webhooks/sendgrid"


def sign(body: bytes, timestamp: str, private_key_b64: str = GO_VECTOR["private_key_sec1_der_base64"]) -> str:
    key = load_der_private_key(base64.b64decode(private_key_b64), password=None)
    assert isinstance(key, ec.EllipticCurvePrivateKey)
    return base64.b64encode(key.sign(timestamp.encode() + body, ec.ECDSA(hashes.SHA256()))).decode()


def signed_headers(body: bytes, timestamp: int | None = None) -> dict[str, str]:
    stamp = str(int(time.time()) if timestamp is None else timestamp)
    return {
        "X-Twilio-Email-Event-Webhook-Signature": sign(body, stamp),
        "X-Twilio-Email-Event-Webhook-Timestamp": stamp,
        "Content-Type": "application/json",
    }


def event(kind: str, email: str, timestamp: int = 1_700_000_000, **extra: Any) -> dict[str, Any]:
    return {"email": email, "event": kind, "timestamp": timestamp, "sg_event_id": f"e-{kind}-{email}-{timestamp}",
            "sg_message_id": "MSG1.filterdrecv-1", **extra}  # fmt: skip


@pytest.fixture
def webhook(
    settings: Settings, committed_session_factory: sessionmaker[Session], redis_client: object
) -> Iterator[TestClient]:
    configured = settings.model_copy(update={"sendgrid_webhook_public_key": GO_VECTOR["public_key"]})
    with TestClient(create_app(configured, signup_answer_seconds=0), base_url=BASE_URL) as client:
        yield client


@pytest.fixture
def alice(committed_session_factory: sessionmaker[Session]) -> int:
    with session_scope(committed_session_factory) as session:
        return make_subscriber(session, "alice@example.org").id


def state(factory: sessionmaker[Session]) -> dict[str, object]:
    with session_scope(factory) as session:
        events = session.execute(
            select(WebhookEvent.event, WebhookEvent.email).order_by(WebhookEvent.id)
        ).all()
    return {**database_snapshot(factory), "events": events}


def stored_events(factory: sessionmaker[Session]) -> list[tuple[str, str]]:
    with session_scope(factory) as session:
        return [
            (kind, address)
            for kind, address in session.execute(
                select(WebhookEvent.event, WebhookEvent.email).order_by(WebhookEvent.id)
            )
        ]


# ---------------------------------------------------------------- signatures


@pytest.mark.parametrize(
    "case",
    [
        "no headers",
        "no timestamp",
        "no signature",
        "signed by another key",
        "signature of another body",
        "timestamp swapped after signing",
        "old signed batch replayed",
        "timestamp in the future",
        "timestamp not a number",
        "timestamp with 5000 digits",
        "signature not base64",
        "the published vector replayed",
    ],
)
def test_a_request_without_a_valid_fresh_signature_is_refused_and_changes_nothing(
    webhook: TestClient, committed_session_factory: sessionmaker[Session], alice: int, case: str
) -> None:
    body = json.dumps([event("unsubscribe", "alice@example.org")]).encode()
    now = int(time.time())
    good = signed_headers(body, now)
    headers = {
        "no headers": {},
        "no timestamp": {
            "X-Twilio-Email-Event-Webhook-Signature": good["X-Twilio-Email-Event-Webhook-Signature"]
        },
        "no signature": {"X-Twilio-Email-Event-Webhook-Timestamp": str(now)},
        "signed by another key": {
            **good,
            "X-Twilio-Email-Event-Webhook-Signature": PYTHON_VECTOR["signature"],
        },
        "signature of another body": signed_headers(body + b" ", now),
        "timestamp swapped after signing": {**good, "X-Twilio-Email-Event-Webhook-Timestamp": str(now - 1)},
        "old signed batch replayed": signed_headers(body, now - 11 * 60),
        "timestamp in the future": signed_headers(body, now + 11 * 60),
        "timestamp not a number": {**good, "X-Twilio-Email-Event-Webhook-Timestamp": "now"},
        "timestamp with 5000 digits": {**good, "X-Twilio-Email-Event-Webhook-Timestamp": "9" * 5000},
        "signature not base64": {**good, "X-Twilio-Email-Event-Webhook-Signature": "%%% not base64 %%%"},
        "the published vector replayed": {
            "X-Twilio-Email-Event-Webhook-Signature": GO_VECTOR["signature"],
            "X-Twilio-Email-Event-Webhook-Timestamp": GO_VECTOR["timestamp"],
        },
    }[case]
    sent_body = GO_VECTOR["payload"].encode() if case == "the published vector replayed" else body
    before = state(committed_session_factory)
    response = webhook.post(PATH, content=sent_body, headers=headers)
    assert response.status_code == 403, response.text
    with session_scope(committed_session_factory) as session:
        process_pending_events(session)
    assert state(committed_session_factory) == before
    row = subscriber_row(committed_session_factory, "alice@example.org")
    assert row is not None and row.status == "active"


def test_a_signed_batch_replayed_within_the_window_is_stored_once_and_applied_once(
    webhook: TestClient, committed_session_factory: sessionmaker[Session], alice: int
) -> None:
    body = json.dumps(
        [event("unsubscribe", "alice@example.org"), event("unsubscribe", "alice@example.org")]
    ).encode()
    headers = signed_headers(body)
    answers = [webhook.post(PATH, content=body, headers=headers).json() for _ in range(3)]
    assert answers == [
        {"stored": 1, "duplicates": 1, "skipped": 0},
        {"stored": 0, "duplicates": 2, "skipped": 0},
        {"stored": 0, "duplicates": 2, "skipped": 0},
    ]
    for _ in range(2):
        with session_scope(committed_session_factory) as session:
            process_pending_events(session)
    with session_scope(committed_session_factory) as session:
        actions = list(
            session.scalars(select(ConsentEvent.action).where(ConsentEvent.subscriber_id == alice))
        )
    assert actions == ["unsubscribe"]


# ---------------------------------------------------------------- shapes


@pytest.mark.parametrize(
    ("body", "message"),
    [
        (b'{"event": "bounce", "email": "alice@example.org"}', "JSON array"),
        (b'"bounce"', "JSON array"),
        (b"42", "JSON array"),
        (b"null", "JSON array"),
        (b"", "not JSON"),
        (b"[{", "not JSON"),
        (b"\xff\xfe\x00[", "not JSON"),
        (b"[" * 100_000 + b"]" * 100_000, "nested too deeply"),
        (b'[{"event": "open", "email": "a@example.org", "timestamp": ' + b"1" * 5000 + b"}]", "not JSON"),
    ],
    ids=[
        "object",
        "string",
        "number",
        "null",
        "empty",
        "truncated",
        "not UTF-8",
        "deeply nested",
        "5000 digits",
    ],
)
def test_a_signed_body_that_is_not_an_array_of_events_is_refused_with_400(
    webhook: TestClient,
    committed_session_factory: sessionmaker[Session],
    alice: int,
    body: bytes,
    message: str,
) -> None:
    before = state(committed_session_factory)
    response = webhook.post(PATH, content=body, headers=signed_headers(body))
    assert response.status_code == 400, response.text[:300]
    assert message in response.text
    assert state(committed_session_factory) == before


def test_bad_items_are_skipped_with_a_reason_and_the_good_ones_in_the_batch_kept(
    webhook: TestClient, committed_session_factory: sessionmaker[Session], alice: int
) -> None:
    batch: list[Any] = [
        event("delivered", "alice@example.org"),
        {"event": "made_up", "email": "alice@example.org"},
        {"event": "bounce"},
        {"event": "bounce", "email": None},
        {"event": "bounce", "email": ["alice@example.org"]},
        {"event": "bounce", "email": "no-at-sign"},
        {"event": ["bounce"], "email": "alice@example.org"},
        {"event": {"nested": "bounce"}, "email": "alice@example.org"},
        "a string",
        17,
        None,
        [],
        event("open", "alice@example.org"),
    ]
    body = json.dumps(batch).encode()
    response = webhook.post(PATH, content=body, headers=signed_headers(body))
    assert response.status_code == 200, response.text[:300]
    assert response.json() == {"stored": 2, "duplicates": 0, "skipped": 11}
    assert stored_events(committed_session_factory) == [
        ("delivered", "alice@example.org"),
        ("open", "alice@example.org"),
    ]


def test_text_postgres_cannot_store_never_costs_the_batch_its_other_events(
    webhook: TestClient, committed_session_factory: sessionmaker[Session], alice: int
) -> None:
    # JSON spells NUL and unpaired surrogates as escapes; Postgres text and JSONB hold neither.
    body = (
        b"["
        + json.dumps(event("bounce", "alice@example.org")).encode()
        + b',{"event": "open", "email": "bob\\u0000@example.org", "timestamp": 1}'
        + b',{"event": "open", "email": "carol@example.org", "timestamp": 2, "useragent": "x\\u0000y"}'
        + b',{"event": "open", "email": "dave@example.org", "timestamp": 3, "reason": "\\ud800"}'
        + b',{"event": "open", "email": "erin@example.org", "timestamp": 4, "delivery_id": 99999999999999999999999}'
        + b',{"event": "open", "email": "frank@example.org", "timestamp": NaN, "delivery_id": Infinity}'
        + b"]"
    )
    response = webhook.post(PATH, content=body, headers=signed_headers(body))
    assert response.status_code == 200, response.text[:300]
    stored = stored_events(committed_session_factory)
    assert ("bounce", "alice@example.org") in stored
    assert all("\x00" not in address for _, address in stored)
    # Nothing was refused: each event is kept, without what Postgres cannot hold.
    assert response.json() == {"stored": 6, "duplicates": 0, "skipped": 0}
    assert [address for _, address in stored] == [
        "alice@example.org", "bob@example.org", "carol@example.org", "dave@example.org",
        "erin@example.org", "frank@example.org",
    ]  # fmt: skip
    with session_scope(committed_session_factory) as session:
        process_pending_events(session)
    row = subscriber_row(committed_session_factory, "alice@example.org")
    assert row is not None and row.status == "bounced"


def test_a_batch_of_nine_thousand_events_is_stored_whole(
    webhook: TestClient, committed_session_factory: sessionmaker[Session]
) -> None:
    # Past 8,192 events one multi-row INSERT would need more than 65,535 bind parameters.
    batch = [
        event("delivered", f"reader{number}@example.org", timestamp=1_700_000_000 + number)
        for number in range(9_000)
    ]
    body = json.dumps(batch).encode()
    started = time.perf_counter()
    response = webhook.post(PATH, content=body, headers=signed_headers(body))
    elapsed = time.perf_counter() - started
    assert response.status_code == 200, response.text[:300]
    assert response.json() == {"stored": 9_000, "duplicates": 0, "skipped": 0}
    with session_scope(committed_session_factory) as session:
        assert session.scalar(select(func.count()).select_from(WebhookEvent)) == 9_000
    assert elapsed < 30, f"{elapsed:.1f} s"


def test_a_chunked_body_past_ten_megabytes_is_refused_with_413(
    webhook: TestClient, committed_session_factory: sessionmaker[Session]
) -> None:
    def chunks() -> Iterator[bytes]:
        yield b"["
        for _ in range(11 * 1024):
            yield b" " * 1024
        yield b"]"

    before = state(committed_session_factory)
    response = webhook.post(PATH, content=chunks(), headers={"Content-Type": "application/json"})
    assert response.status_code == 413
    assert state(committed_session_factory) == before


def test_an_event_for_an_unknown_or_differently_cased_address_suppresses_only_that_address(
    webhook: TestClient, committed_session_factory: sessionmaker[Session], alice: int
) -> None:
    with session_scope(committed_session_factory) as session:
        make_subscriber(session, "bob@example.org")
    batch = [
        event("spamreport", "ALICE@Example.org"),
        event("bounce", "nobody@example.org"),
        event("bounce", "alice@example.org\r\nbob@example.org"),
        event("unsubscribe", "%"),
    ]
    body = json.dumps(batch).encode()
    assert webhook.post(PATH, content=body, headers=signed_headers(body)).status_code == 200
    with session_scope(committed_session_factory) as session:
        process_pending_events(session)
    alice_row = subscriber_row(committed_session_factory, "alice@example.org")
    bob_row = subscriber_row(committed_session_factory, "bob@example.org")
    assert alice_row is not None and alice_row.status == "complained"
    assert bob_row is not None and bob_row.status == "active"
