"""What the web tests share: a client on the real app (real Postgres, real Redis) and form helpers."""

from __future__ import annotations

import contextlib
import email
import email.policy
import html
import re
import socket
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass
from email.message import EmailMessage
from pathlib import Path

import pytest
import redis
import uvicorn
from fastapi.testclient import TestClient
from sqlalchemy import func, select
from sqlalchemy.orm import Session, sessionmaker

from newsletter.config import Settings
from newsletter.db import session_scope
from newsletter.mail.deliver import send_pending
from newsletter.mail.transactional import create_transactional_delivery, deliver_transactional
from newsletter.models import ConsentEvent, Delivery, Edition, PaperVote, ReaderModel, Subscriber
from newsletter.web.app import create_app
from tests.factories import make_paper, make_subscriber
from tests.mail_factories import EDITION_DAY, make_content, make_edition

BASE_URL = "https://papers.example.org"
ALICE_IP = "198.51.100.7"
TOKEN_PATTERN = re.compile(r'name="csrf_token" value="([0-9a-f]{128})"')


@pytest.fixture(name="client")
def client_fixture(
    settings: Settings, committed_session_factory: sessionmaker[Session], redis_client: redis.Redis
) -> Iterator[TestClient]:
    """Requests commit for real: the tables are emptied after the test, the Redis keys removed.

    Signup answers are not held back to a fixed time here (the tests of that build their own app)."""
    app = create_app(settings, signup_answer_seconds=0)
    with TestClient(app, base_url=BASE_URL, client=(ALICE_IP, 50000)) as test_client:
        yield test_client


def path(url: str) -> str:
    """An emailed or redirected URL as the path the test client asks for."""
    return url.removeprefix(BASE_URL)


def csrf_token(html: str) -> str:
    match = TOKEN_PATTERN.search(html)
    assert match, "no CSRF token in the page"
    return match.group(1)


def signup_fields(email: str, **overrides: object) -> dict[str, object]:
    fields: dict[str, object] = {
        "email": email,
        "topics": ["nlp", "computer-vision"],
        "keywords": "retrieval, diffusion",
        "frequency": "daily",
        "weekly_day": "0",
        "send_time": "07:30",
        "timezone": "Europe/Berlin",
        "website": "",
    }
    fields.update(overrides)
    return fields


def post_signup(client: TestClient, email: str, **overrides: object):  # type: ignore[no-untyped-def]
    page = client.get("/subscribe")
    data = signup_fields(email, **overrides)
    data.setdefault("csrf_token", csrf_token(page.text))
    return client.post("/subscribe", data=data)


def post_form(client: TestClient, path: str, data: dict[str, object] | None = None, **kwargs):  # type: ignore[no-untyped-def]
    """GET the page at `path` (for its CSRF token), then POST the form to `path`."""
    page = client.get(
        path.split("?")[0]
        .removesuffix("/pause")
        .removesuffix("/resume")
        .removesuffix("/export")
        .removesuffix("/delete")
        .removesuffix("/data-link")
    )
    return client.post(path, data={"csrf_token": csrf_token(page.text), **(data or {})}, **kwargs)


def subscriber_row(factory: sessionmaker[Session], email: str) -> Subscriber | None:
    with session_scope(factory) as session:
        return session.execute(
            select(Subscriber).where(func.lower(Subscriber.email) == email.lower())
        ).scalar_one_or_none()


def deliveries(factory: sessionmaker[Session], subscriber_id: int) -> list[tuple[str, str]]:
    with session_scope(factory) as session:
        rows = session.execute(
            select(Delivery.kind, Delivery.state)
            .where(Delivery.subscriber_id == subscriber_id)
            .order_by(Delivery.id)
        ).all()
        return [(kind, state) for kind, state in rows]


def consent_actions(factory: sessionmaker[Session], email: str) -> list[str]:
    with session_scope(factory) as session:
        return list(
            session.execute(
                select(ConsentEvent.action).where(ConsentEvent.email == email).order_by(ConsentEvent.id)
            ).scalars()
        )


def database_snapshot(factory: sessionmaker[Session]) -> dict[str, object]:
    """Everything a link scanner could possibly change."""
    with session_scope(factory) as session:
        return {
            "subscribers": session.execute(
                select(
                    Subscriber.id,
                    Subscriber.status,
                    Subscriber.status_changed_at,
                    Subscriber.confirmed_at,
                    Subscriber.frequency,
                    Subscriber.send_time,
                    Subscriber.timezone,
                ).order_by(Subscriber.id)
            ).all(),
            "consent": session.execute(select(func.count()).select_from(ConsentEvent)).scalar_one(),
            "deliveries": session.execute(
                select(Delivery.id, Delivery.kind, Delivery.state).order_by(Delivery.id)
            ).all(),
            "editions": session.execute(select(func.count()).select_from(Edition)).scalar_one(),
            "votes": session.execute(
                select(PaperVote.subscriber_id, PaperVote.paper_id, PaperVote.vote).order_by(
                    PaperVote.subscriber_id, PaperVote.paper_id
                )
            ).all(),
            "reader_models": session.execute(select(func.count()).select_from(ReaderModel)).scalar_one(),
        }


@dataclass(frozen=True)
class SentEmails:
    """One email of every kind, sent through the file backend, and the people they went to."""

    pending_id: int
    active_id: int
    unsubscribed_id: int
    messages: list[EmailMessage]


def read_outbox(outbox: Path) -> list[EmailMessage]:
    return [
        email.message_from_bytes(path.read_bytes(), policy=email.policy.default)  # type: ignore[misc]
        for path in sorted(outbox.glob("*.eml"))
    ]


def send_every_kind_of_email(factory: sessionmaker[Session], settings: Settings) -> SentEmails:
    """Confirmation, welcome, goodbye, an edition with papers and a "nothing new" one, as a worker sends
    them (the mail domain's own functions, file backend)."""
    with session_scope(factory) as session:
        pending = make_subscriber(session, "scanned-pending@example.org", status="pending")
        active = make_subscriber(session, "scanned-active@example.org")
        quiet = make_subscriber(session, "scanned-quiet@example.org", wants_empty_note=True)
        gone = make_subscriber(session, "scanned-gone@example.org", status="unsubscribed")
        paper = make_paper(session, title="Scanned paper", upvotes=3)
        make_edition(session, active, make_content(session, [paper]))
        make_edition(session, quiet, None)
        delivery_ids = [
            create_transactional_delivery(session, pending.id, "confirmation"),
            create_transactional_delivery(session, active.id, "welcome"),
            create_transactional_delivery(session, gone.id, "unsubscribed"),
        ]
        ids = (pending.id, active.id, gone.id)
    for delivery_id in delivery_ids:
        assert deliver_transactional(factory, settings, delivery_id) == "sent"
    assert send_pending(factory, settings, edition_date=EDITION_DAY).sent == 2
    messages = read_outbox(settings.resolved_outbox_dir)
    assert len(messages) == 5
    return SentEmails(*ids, messages=messages)


def links_in(messages: list[EmailMessage], base_url: str) -> list[str]:
    """Every URL of the site in the emails: text and HTML parts and the List-Unsubscribe header."""
    pattern = re.compile(re.escape(base_url.rstrip("/")) + r"/[^\s\"'<>]*")
    found: set[str] = set()
    for message in messages:
        texts = [str(message.get("List-Unsubscribe", ""))]
        for subtype in ("plain", "html"):
            part = message.get_body((subtype,))
            assert part is not None, f"{message['Subject']} has no {subtype} part"
            texts.append(html.unescape(part.get_content()) if subtype == "html" else part.get_content())
        for text in texts:
            # Tokens and paper ids never end in punctuation; a sentence around a link may.
            found.update(match.group(0).rstrip(".,;:") for match in pattern.finditer(text))
    return sorted(found)


@contextlib.contextmanager
def closed_port() -> Iterator[int]:
    """A local port that refuses connections (bound, never listening): a server that is down."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        yield int(probe.getsockname()[1])


@contextlib.contextmanager
def served(settings: Settings) -> Iterator[str]:
    """The app on a real HTTP server (uvicorn, in a thread) at `settings.public_base_url`'s port."""
    port = int(settings.public_base_url.rsplit(":", 1)[1])
    server = uvicorn.Server(
        uvicorn.Config(create_app(settings), host="127.0.0.1", port=port, log_level="warning")
    )
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    deadline = time.monotonic() + 15
    while not server.started:
        assert time.monotonic() < deadline, "uvicorn did not start"
        time.sleep(0.05)
    try:
        yield settings.public_base_url
    finally:
        server.should_exit = True
        thread.join(timeout=10)
