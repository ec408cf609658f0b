"""SendGrid event webhook: signatures, replay, duplicates, out-of-order events, the HTTP route."""

from __future__ import annotations

import base64
import json
import time
from pathlib import Path
from typing import Any

import pytest
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.hazmat.primitives.serialization import load_der_private_key
from fastapi import FastAPI
from fastapi.testclient import TestClient
from sqlalchemy import func, select
from sqlalchemy.orm import Session, sessionmaker

from newsletter.config import Settings
from newsletter.db import session_scope
from newsletter.errors import InvalidInput
from newsletter.mail.webhook import store_events, verify_signature
from newsletter.models import ConsentEvent, Delivery, WebhookEvent
from newsletter.subscribers.provider_events import process_pending_events
from newsletter.web.routes.webhooks import router
from tests.factories import make_subscriber

VECTORS = Path(__file__).resolve().parent / "fixtures" / "sendgrid" / "event_webhook"
PYTHON_VECTOR = json.loads((VECTORS / "sendgrid_event_webhook_test_vector.json").read_text())
GO_VECTOR = json.loads((VECTORS / "sendgrid_event_webhook_test_vector_go_node.json").read_text())
DOCS_EXAMPLES = json.loads((VECTORS / "sendgrid_docs_event_examples_per_type.json").read_text())


def sign(body: bytes, timestamp: str) -> str:
    key = load_der_private_key(base64.b64decode(GO_VECTOR["private_key_sec1_der_base64"]), password=None)
    assert isinstance(key, ec.EllipticCurvePrivateKey)
    return base64.b64encode(key.sign(timestamp.encode() + body, ec.ECDSA(hashes.SHA256()))).decode()


def event(kind: str, email: str, timestamp: int = 1_700_000_000, **extra: Any) -> dict[str, Any]:
    return {"email": email, "event": kind, "timestamp": timestamp, "sg_event_id": f"e-{kind}-{timestamp}",
            "sg_message_id": "MSGID123.filterdrecv-1", **extra}  # fmt: skip


@pytest.mark.parametrize("vector", [PYTHON_VECTOR, GO_VECTOR], ids=["python", "go-node"])
def test_the_published_vectors_verify_and_every_tampering_is_refused(vector: dict[str, Any]) -> None:
    body = vector["payload"].encode()
    assert verify_signature(vector["public_key"], vector["signature"], vector["timestamp"], body)
    negative = vector["negative_cases"]
    assert not verify_signature(negative["wrong_public_key"], vector["signature"], vector["timestamp"], body)
    assert not verify_signature(vector["public_key"], negative["wrong_signature"], vector["timestamp"], body)
    assert not verify_signature(vector["public_key"], vector["signature"], vector["timestamp"], b"payload")
    assert not verify_signature(vector["public_key"], vector["signature"], "timestamp", body)
    assert not verify_signature(
        vector["public_key"], vector["signature"], str(int(vector["timestamp"]) + 1), body
    )
    assert not verify_signature(vector["public_key"], "not base64!", vector["timestamp"], body)


def test_the_signed_bytes_include_the_trailing_crlf() -> None:
    body = PYTHON_VECTOR["payload"].encode()
    assert body.endswith(b"\r\n")
    assert not verify_signature(
        PYTHON_VECTOR["public_key"], PYTHON_VECTOR["signature"], PYTHON_VECTOR["timestamp"], body.rstrip()
    )


def test_duplicates_are_stored_once_even_with_a_new_sg_event_id(session: Session) -> None:
    first = event("delivered", "alice@example.org")
    retry = first | {"sg_event_id": "a-different-id"}
    report = store_events(session, json.dumps([first, retry]).encode())
    again = store_events(session, json.dumps([first]).encode())
    assert (report.stored, report.duplicates, again.stored, again.duplicates) == (1, 1, 0, 1)
    assert session.scalar(select(func.count()).select_from(WebhookEvent)) == 1


def test_malformed_batches_are_refused_and_bad_items_skipped_with_a_reason(session: Session) -> None:
    with pytest.raises(InvalidInput, match="array"):
        store_events(session, b'{"event": "delivered"}')
    with pytest.raises(InvalidInput, match="JSON"):
        store_events(session, b"not json")
    report = store_events(
        session,
        json.dumps(
            [
                event("delivered", "a@example.org"),
                {"event": "weird", "email": "b@example.org"},
                {"event": "bounce"},
                "text",
            ]
        ).encode(),  # fmt: skip
    )
    assert report.stored == 1
    assert len(report.skipped) == 3 and any("unknown event" in s for s in report.skipped)
    assert any("missing email" in s for s in report.skipped)


def test_bounce_complaint_and_unsubscribe_suppress_the_address_with_a_consent_record(
    session: Session,
) -> None:
    alice = make_subscriber(session, "alice@example.org")
    bob = make_subscriber(session, "Bob@Example.org")
    carol = make_subscriber(session, "carol@example.org")
    store_events(session, json.dumps([event("bounce", "alice@example.org"), event("spamreport", "bob@example.org"),
                                      event("group_unsubscribe", "carol@example.org")]).encode())  # fmt: skip
    counts = process_pending_events(session)
    assert counts["suppressed"] == 3 and counts["errors"] == 0
    session.expire_all()
    assert (alice.status, bob.status, carol.status) == ("bounced", "complained", "unsubscribed")
    actions = set(session.scalars(select(ConsentEvent.action)))
    assert actions == {"bounce", "complaint", "unsubscribe"}
    assert process_pending_events(session)["processed"] == 0


def test_events_out_of_order_never_reactivate_a_suppressed_address(session: Session) -> None:
    alice = make_subscriber(session, "alice@example.org")
    delivery = Delivery(
        subscriber_id=alice.id, kind="welcome", state="unknown", provider_message_id="MSGID123"
    )
    session.add(delivery)
    session.flush()
    later, earlier = 1_700_000_100, 1_700_000_000
    # The bounce arrives first; the older processed/delivered/resubscribe events afterwards.
    store_events(session, json.dumps([event("bounce", "alice@example.org", later)]).encode())
    process_pending_events(session)
    store_events(session, json.dumps([event("processed", "alice@example.org", earlier),
                                      event("delivered", "alice@example.org", earlier + 1),
                                      event("group_resubscribe", "alice@example.org", earlier + 2)]).encode())  # fmt: skip
    process_pending_events(session)
    session.expire_all()
    assert alice.status == "bounced"
    assert delivery.state == "sent"  # the bounce settled it: the provider had the message


def test_processed_event_settles_an_unknown_delivery_through_custom_args(session: Session) -> None:
    alice = make_subscriber(session, "alice@example.org")
    bob = make_subscriber(session, "bob@example.org")
    mine = Delivery(subscriber_id=alice.id, kind="welcome", state="unknown")
    other = Delivery(subscriber_id=bob.id, kind="welcome", state="unknown")
    session.add_all([mine, other])
    session.flush()
    # A delivery id naming another subscriber's row settles nothing.
    store_events(session, json.dumps([event("processed", "alice@example.org", delivery_id=str(mine.id)),
                                      event("delivered", "alice@example.org", delivery_id=str(other.id))]).encode())  # fmt: skip
    assert process_pending_events(session)["settled"] == 1
    session.expire_all()
    assert (mine.state, other.state) == ("sent", "unknown")
    assert alice.status == "active"


def webhook_client(settings: Settings, factory: sessionmaker[Session]) -> TestClient:
    app = FastAPI()
    app.state.settings = settings
    app.state.session_factory = factory
    app.include_router(router)
    return TestClient(app)


def test_the_route_verifies_stores_and_refuses_stale_or_forged_requests(
    settings: Settings, committed_session_factory: sessionmaker[Session]
) -> None:
    configured = settings.model_copy(update={"sendgrid_webhook_public_key": GO_VECTOR["public_key"]})
    client = webhook_client(configured, committed_session_factory)
    body = json.dumps([event("delivered", "alice@example.org")]).encode()
    now = str(int(time.time()))
    headers = {
        "X-Twilio-Email-Event-Webhook-Signature": sign(body, now),
        "X-Twilio-Email-Event-Webhook-Timestamp": now,
    }
    assert client.post("/webhooks/sendgrid", content=body, headers=headers).json() == {
        "stored": 1,
        "duplicates": 0,
        "skipped": 0,
    }
    assert client.post("/webhooks/sendgrid", content=body, headers=headers).json()["duplicates"] == 1
    assert client.post("/webhooks/sendgrid", content=body + b" ", headers=headers).status_code == 403
    assert client.post("/webhooks/sendgrid", content=body).status_code == 403
    stale = str(int(time.time()) - 11 * 60)
    stale_headers = {
        "X-Twilio-Email-Event-Webhook-Signature": sign(body, stale),
        "X-Twilio-Email-Event-Webhook-Timestamp": stale,
    }
    assert client.post("/webhooks/sendgrid", content=body, headers=stale_headers).status_code == 403
    not_array = b'{"event":"x"}'
    signed = {
        "X-Twilio-Email-Event-Webhook-Signature": sign(not_array, now),
        "X-Twilio-Email-Event-Webhook-Timestamp": now,
    }
    assert client.post("/webhooks/sendgrid", content=not_array, headers=signed).status_code == 400
    with session_scope(committed_session_factory) as session:
        assert session.scalar(select(func.count()).select_from(WebhookEvent)) == 1


def test_an_unconfigured_webhook_takes_no_events(
    settings: Settings, committed_session_factory: sessionmaker[Session]
) -> None:
    client = webhook_client(settings, committed_session_factory)  # no public key
    body = json.dumps([event("unsubscribe", "alice@example.org")]).encode()
    response = client.post("/webhooks/sendgrid", content=body)
    assert response.status_code == 503 and "NEWSLETTER_SENDGRID_WEBHOOK_PUBLIC_KEY" in response.text
    with session_scope(committed_session_factory) as session:
        assert session.scalar(select(func.count()).select_from(WebhookEvent)) == 0


def test_the_route_refuses_bodies_over_ten_megabytes(
    settings: Settings, committed_session_factory: sessionmaker[Session]
) -> None:
    configured = settings.model_copy(update={"sendgrid_webhook_public_key": GO_VECTOR["public_key"]})
    client = webhook_client(configured, committed_session_factory)
    response = client.post("/webhooks/sendgrid", content=b"[" + b" " * (10 * 1024 * 1024) + b"]")
    assert response.status_code == 413


def test_every_documented_event_type_is_stored(session: Session) -> None:
    batch = (VECTORS / "sendgrid_docs_event_examples_all_types.json").read_bytes()
    report = store_events(session, batch)
    assert (report.stored, report.duplicates, report.skipped) == (11, 0, [])
    assert process_pending_events(session)["errors"] == 0


@pytest.mark.parametrize(
    ("example", "status", "delivery_state"),
    [
        ("processed", "active", "sent"),
        ("deferred", "active", "sent"),
        ("delivered", "active", "sent"),
        ("open", "active", "sent"),
        ("click", "active", "sent"),
        ("bounce", "bounced", "sent"),
        # A block is the receiving server refusing for now: the address stays.
        ("blocked (event=bounce, type=blocked)", "active", "sent"),
        ("dropped", "bounced", "failed"),  # reason "Bounced Address"
        ("spamreport", "complained", "sent"),
        ("unsubscribe", "unsubscribed", "sent"),
        ("group_unsubscribe", "unsubscribed", "sent"),
        ("group_resubscribe", "active", "sent"),
    ],
)
def test_each_documented_event_maps_to_its_subscriber_status_and_delivery_state(
    session: Session, example: str, status: str, delivery_state: str
) -> None:
    documented = DOCS_EXAMPLES[example][0]
    reader = make_subscriber(session, documented["email"])
    delivery = Delivery(subscriber_id=reader.id, kind="welcome", state="unknown")
    session.add(delivery)
    session.flush()
    store_events(session, json.dumps([documented | {"delivery_id": str(delivery.id)}]).encode())

    assert process_pending_events(session)["errors"] == 0

    session.expire_all()
    assert (reader.status, delivery.state) == (status, delivery_state)
    consent = set(session.scalars(select(ConsentEvent.action).where(ConsentEvent.subscriber_id == reader.id)))
    assert bool(consent) == (status != "active")


@pytest.mark.parametrize(
    ("reason", "status"),
    [
        ("Unsubscribed Address", "unsubscribed"),
        ("Spam Reporting Address", "complained"),
        ("Invalid", "bounced"),
        # The message's fault, not the reader's: one bad email must not suppress a whole batch.
        ("Spam Content (if spam checker app enabled)", "active"),
        ("Invalid SMTPAPI header", "active"),
        ("Recipient List over Package Quota", "active"),
    ],
)
def test_a_drop_suppresses_only_for_reasons_about_the_address(
    session: Session, reason: str, status: str
) -> None:
    reader = make_subscriber(session, "dropped@example.org")
    store_events(session, json.dumps([event("dropped", "dropped@example.org", reason=reason)]).encode())
    process_pending_events(session)
    session.expire_all()
    assert reader.status == status


def test_a_suppressed_address_stays_suppressed_whatever_arrives_after(session: Session) -> None:
    reader = make_subscriber(session, "gone@example.org", status="unsubscribed")
    later = [event(kind, "gone@example.org", 1_700_000_000 + n) for n, kind in
             enumerate(["group_resubscribe", "delivered", "click", "bounce", "spamreport"])]  # fmt: skip
    store_events(session, json.dumps(later).encode())
    counts = process_pending_events(session)
    session.expire_all()
    assert reader.status == "unsubscribed" and counts["suppressed"] == 0
