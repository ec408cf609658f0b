"""What the web tests share: a client on the real app (real Postgres, real Redis) and form helpers."""

from __future__ import annotations

import contextlib
import re
import socket
from collections.abc import Iterator

import pytest
import redis
from fastapi.testclient import TestClient
from sqlalchemy import func, select
from sqlalchemy.orm import Session, sessionmaker

from newsletter.config import Settings
from newsletter.db import session_scope
from newsletter.models import ConsentEvent, Delivery, Subscriber
from newsletter.web.app import create_app

BASE_URL = "https://papers.example.org"
ALICE_IP = "198.51.100.7"
TOKEN_PATTERN = re.compile(r'name="csrf_token" value="([0-9a-f]{64})"')


@pytest.fixture(name="client")
def client_fixture(
    settings: Settings, committed_session_factory: sessionmaker[Session], redis_client: redis.Redis
) -> Iterator[TestClient]:
    """Requests commit for real: the tables are emptied after the test, the Redis keys removed.

    Signup answers are not held back to a fixed time here (the tests of that build their own app)."""
    app = create_app(settings, signup_answer_seconds=0)
    with TestClient(app, base_url=BASE_URL, client=(ALICE_IP, 50000)) as test_client:
        yield test_client


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
                    Subscriber.id, Subscriber.status, Subscriber.status_changed_at, Subscriber.confirmed_at
                ).order_by(Subscriber.id)
            ).all(),
            "consent": session.execute(select(func.count()).select_from(ConsentEvent)).scalar_one(),
            "deliveries": session.execute(select(func.count()).select_from(Delivery)).scalar_one(),
        }


@contextlib.contextmanager
def closed_port() -> Iterator[int]:
    """A local port that refuses connections (bound, never listening): a server that is down."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        yield int(probe.getsockname()[1])
