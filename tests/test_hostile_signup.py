"""Hostile signup payloads on the real app (real Postgres, Redis and the file backend for the email).

Pass: a clear 4xx (a re-rendered form whose error says what is wrong) or a consistent, literal result;
no row, consent event or delivery written for a refused signup; nothing hostile executes in the page
that echoes the form back, nor in the confirmation email.
"""

from __future__ import annotations

import email
import email.policy
from collections.abc import Iterator
from email.message import EmailMessage
from pathlib import Path

import html5lib
import pytest
from fastapi.testclient import TestClient
from sqlalchemy import func, select
from sqlalchemy.orm import Session, sessionmaker

from newsletter.config import Settings
from newsletter.db import session_scope
from newsletter.mail.transactional import deliver_transactional
from newsletter.models import Delivery, KeywordAlert, Subscriber
from newsletter.web.assets import static_url
from tests.web_fixtures import (
    client_fixture,  # noqa: F401
    csrf_token,
    database_snapshot,
    post_signup,
    signup_fields,
    subscriber_row,
)

XHTML = "{http://www.w3.org/1999/xhtml}"


def subscriber_emails(factory: sessionmaker[Session]) -> list[str]:
    with session_scope(factory) as session:
        return list(session.scalars(select(Subscriber.email).order_by(Subscriber.id)))


def confirmation_email(factory: sessionmaker[Session], settings: Settings, address: str) -> EmailMessage:
    """The latest confirmation of `address` as the file backend wrote it (sent once: by the web process,
    no worker being up, or here)."""
    with session_scope(factory) as session:
        delivery_id = session.scalars(
            select(Delivery.id)
            .join(Subscriber, Subscriber.id == Delivery.subscriber_id)
            .where(func.lower(Subscriber.email) == address.lower(), Delivery.kind == "confirmation")
            .order_by(Delivery.id.desc())
            .limit(1)
        ).one()
    assert deliver_transactional(factory, settings, delivery_id) == "sent"
    [eml] = sorted(Path(settings.resolved_outbox_dir).glob(f"*-{delivery_id}.eml"))
    message = email.message_from_bytes(eml.read_bytes(), policy=email.policy.default)
    assert isinstance(message, EmailMessage)
    return message


# ---------------------------------------------------------------- addresses


def test_an_idn_domain_is_one_subscriber_in_either_spelling_and_is_mailed_in_ascii(
    client: TestClient, settings: Settings, committed_session_factory: sessionmaker[Session]
) -> None:
    assert post_signup(client, "Reader@Bücher.example").status_code == 200
    assert post_signup(client, "reader@xn--bcher-kva.example").status_code == 200
    assert post_signup(client, "READER@BÜCHER.EXAMPLE").status_code == 200
    # One row, stored as the ASCII form every mail server and provider accepts (and webhooks report).
    assert subscriber_emails(committed_session_factory) == ["Reader@xn--bcher-kva.example"]
    message = confirmation_email(committed_session_factory, settings, "reader@xn--bcher-kva.example")
    # The header itself is plain ASCII: no RFC 2047 encoded word inside the address.
    assert b"\nTo: Reader@xn--bcher-kva.example\n" in message.as_bytes()


def test_an_address_with_a_non_ascii_local_part_is_refused_with_a_clear_error(
    client: TestClient, committed_session_factory: sessionmaker[Session]
) -> None:
    # Neither SendGrid nor a plain SMTP relay can deliver it (SMTPUTF8): refused at the door, not lost later.
    before = database_snapshot(committed_session_factory)
    response = post_signup(client, "jürgen@example.org")
    assert response.status_code == 422
    assert "valid email address" in response.text
    assert database_snapshot(committed_session_factory) == before


@pytest.mark.parametrize(
    "address",
    [
        '"john doe"@example.org',
        '"john@doe"@example.org',
        "a@b.c\r\nBcc: x@y.z",
        "a@b.c\nBcc: x@y.z",
        "a@b.c\rBcc: x@y.z",
        "alice@example.org, mallory@example.org",
        "Alice <alice@example.org>",
        "alice@example.org\x00mallory@example.org",
        "alice\u202e@example.org",
        "alice@[127.0.0.1]",
        "alice@localhost",
        "",
    ],
    ids=[
        "quoted local part",
        "quoted at sign",
        "CRLF Bcc",
        "LF Bcc",
        "CR Bcc",
        "two addresses",
        "display name",
        "NUL",
        "RTL override",
        "IP literal",
        "no dot in domain",
        "empty",
    ],
)
def test_hostile_addresses_are_refused_and_store_nothing(
    client: TestClient, committed_session_factory: sessionmaker[Session], address: str
) -> None:
    before = database_snapshot(committed_session_factory)
    response = post_signup(client, address)
    assert response.status_code == 422
    assert "Please enter a valid email address." in response.text
    assert database_snapshot(committed_session_factory) == before


def test_an_address_echoed_back_in_the_form_stays_an_attribute_value(
    client: TestClient, committed_session_factory: sessionmaker[Session]
) -> None:
    address = '"><script>alert(1)</script><input name="x'
    response = post_signup(client, address)
    assert response.status_code == 422
    tree = html5lib.parse(response.text, treebuilder="etree")
    assert [script.get("src") for script in tree.iter(f"{XHTML}script")] == [static_url("timezone.js")]
    [email_input] = [field for field in tree.iter(f"{XHTML}input") if field.get("id") == "email"]
    assert email_input.get("value") == address
    assert not [field for field in tree.iter(f"{XHTML}input") if field.get("name") == "x"]


def test_quotes_and_braces_in_a_valid_address_reach_the_confirmation_email_literally(
    client: TestClient, settings: Settings, committed_session_factory: sessionmaker[Session]
) -> None:
    address = "o'brien{{7*7}}&@example.org"
    assert post_signup(client, address).status_code == 200
    message = confirmation_email(committed_session_factory, settings, address)
    assert message["To"] == address
    html = message.get_body(("html",)).get_content()  # type: ignore[union-attr]
    text = message.get_body(("plain",)).get_content()  # type: ignore[union-attr]
    assert address in text and "o&#39;brien{{7*7}}&amp;@example.org" in html
    assert "49@example.org" not in html and "49@example.org" not in text


# ---------------------------------------------------------------- the other fields


@pytest.mark.parametrize(
    ("overrides", "message"),
    [
        ({"timezone": "../../../../etc/passwd"}, "not a time zone we know"),
        ({"timezone": "UTC\r\nBcc: x@y.z"}, "time zone from the list"),
        ({"timezone": "Europe/Berlin\x00"}, "time zone from the list"),
        ({"timezone": "posixrules"}, "not a time zone we know"),
        ({"timezone": "right/UTC"}, "not a time zone we know"),
        ({"timezone": "+05:00"}, "not a time zone we know"),
        ({"timezone": "x" * 5000}, "too long"),
        ({"send_time": "07:30\r\nBcc: x@y.z"}, "Send time"),
        ({"send_time": "7:30pm"}, "Send time"),
        ({"frequency": "daily\r\n"}, "daily or weekly"),
        ({"weekly_day": "9"}, "day of the week"),
        ({"weekly_day": "1e400"}, "day of the week"),
        ({"topics": ["nlp\r\nBcc: x@y.z"]}, "Unknown topic"),
        ({"topics": ["' OR 1=1 --"]}, "Unknown topic"),
        ({"topics": [f"topic-{number}" for number in range(16)]}, "Too many topics"),
        ({"keywords": "a\x00b"}, "Keywords are plain words"),
        ({"keywords": "fine, \u202ereversed"}, "Keywords are plain words"),
        ({"keywords": ", ".join(f"kw{number}" for number in range(21))}, "At most 20 keywords"),
        ({"keywords": "k" * 4001}, "too long"),
    ],
)
def test_hostile_preference_fields_are_refused_with_a_clear_message_and_store_nothing(
    client: TestClient,
    committed_session_factory: sessionmaker[Session],
    overrides: dict[str, object],
    message: str,
) -> None:
    before = database_snapshot(committed_session_factory)
    response = post_signup(client, "eve@example.org", **overrides)
    assert response.status_code == 422
    assert message in response.text, response.text[-2000:]
    assert database_snapshot(committed_session_factory) == before


def test_an_unknown_topic_is_named_in_the_error_escaped(
    client: TestClient, committed_session_factory: sessionmaker[Session]
) -> None:
    response = post_signup(client, "eve@example.org", topics=["nlp", "<script>alert(1)</script>"])
    assert response.status_code == 422
    assert "Unknown topic: &lt;script&gt;alert(1)&lt;/script&gt;" in response.text
    assert "<script>alert" not in response.text
    assert subscriber_row(committed_session_factory, "eve@example.org") is None


def test_hostile_keywords_echoed_back_stay_inside_the_textarea(
    client: TestClient, committed_session_factory: sessionmaker[Session]
) -> None:
    keywords = "</textarea><script>alert(1)</script>, {{ 7*7 }}"
    response = post_signup(client, "eve@example.org", keywords=keywords, timezone="Mars/Olympus")
    assert response.status_code == 422
    tree = html5lib.parse(response.text, treebuilder="etree")
    assert [script.get("src") for script in tree.iter(f"{XHTML}script")] == [static_url("timezone.js")]
    [textarea] = [area for area in tree.iter(f"{XHTML}textarea") if area.get("name") == "keywords"]
    assert (textarea.text or "").strip() == keywords


def test_crlf_in_keywords_only_separates_them_and_never_reaches_anything_else(
    client: TestClient, committed_session_factory: sessionmaker[Session]
) -> None:
    response = post_signup(client, "carol@example.org", keywords="retrieval\r\nBcc: x@y.z\r\n{{ 7*7 }}")
    assert response.status_code == 200
    carol = subscriber_row(committed_session_factory, "carol@example.org")
    assert carol is not None
    with session_scope(committed_session_factory) as session:
        stored = list(
            session.scalars(
                select(KeywordAlert.keyword)
                .where(KeywordAlert.subscriber_id == carol.id)
                .order_by(KeywordAlert.id)
            )
        )
    assert stored == ["retrieval", "Bcc: x@y.z", "{{ 7*7 }}"]


# ---------------------------------------------------------------- bodies


def test_a_chunked_megabyte_body_without_a_length_is_refused_with_413(
    client: TestClient, committed_session_factory: sessionmaker[Session]
) -> None:
    page = client.get("/subscribe")
    token = csrf_token(page.text)
    before = database_snapshot(committed_session_factory)

    def chunks() -> Iterator[bytes]:
        yield f"csrf_token={token}&email=big%40example.org&topics=nlp&keywords=".encode()
        for _ in range(1024):
            yield b"a" * 1024

    response = client.post(
        "/subscribe", content=chunks(), headers={"content-type": "application/x-www-form-urlencoded"}
    )
    assert response.status_code == 413
    assert database_snapshot(committed_session_factory) == before


def test_a_megabyte_multipart_upload_is_refused_with_413(
    client: TestClient, committed_session_factory: sessionmaker[Session]
) -> None:
    page = client.get("/subscribe")
    before = database_snapshot(committed_session_factory)
    response = client.post(
        "/subscribe",
        data={**signup_fields("big@example.org"), "csrf_token": csrf_token(page.text)},
        files={"keywords": ("k.txt", b"a" * 1_000_000, "text/plain")},
    )
    assert response.status_code == 413
    assert database_snapshot(committed_session_factory) == before


def test_a_small_file_in_a_text_field_is_refused_with_a_clear_message(
    client: TestClient, committed_session_factory: sessionmaker[Session]
) -> None:
    page = client.get("/subscribe")
    fields = signup_fields("file@example.org")
    del fields["keywords"]
    response = client.post(
        "/subscribe",
        data={**fields, "csrf_token": csrf_token(page.text)},
        files={"keywords": ("k.txt", b"retrieval", "text/plain")},
    )
    assert response.status_code == 422 and "Files cannot be uploaded here." in response.text
    assert subscriber_row(committed_session_factory, "file@example.org") is None


def test_a_body_that_lies_about_its_length_is_refused(
    client: TestClient, committed_session_factory: sessionmaker[Session]
) -> None:
    before = database_snapshot(committed_session_factory)
    response = client.post(
        "/subscribe",
        content=b"email=x%40example.org",
        headers={"content-type": "application/x-www-form-urlencoded", "content-length": "not-a-number"},
    )
    assert response.status_code == 413  # the cap refuses a length it cannot read
    assert database_snapshot(committed_session_factory) == before
