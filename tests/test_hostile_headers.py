"""Header injection into outgoing email, through every field that reaches a header, on every backend.

The fields: the sender's name, address and Reply-To (settings), the base URL (List-Unsubscribe), the
subject (from a paper title, with line breaks of every spelling and RFC 2047 encoded words that decode to
them) and the recipient's address. The file backend's .eml, a real SMTP server
(aiosmtpd) and the SendGrid stand-in each receive the messages; each message must have exactly the
product's own headers, each on one line.
"""

from __future__ import annotations

import email
import email.policy
import json
from collections.abc import Iterator
from email.message import EmailMessage
from typing import Any

import pytest
from pydantic import ValidationError
from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker

from newsletter.config import Settings
from newsletter.db import session_scope
from newsletter.mail.deliver import send_pending
from newsletter.mail.transactional import create_transactional_delivery, deliver_transactional
from newsletter.models import Delivery
from tests.factories import make_paper, make_subscriber
from tests.mail_factories import (
    EDITION_DAY,
    make_content,
    make_edition,
    running_smtp_server,
    running_stand_in,
    sendgrid_settings,
)

VICTIM = "victim@example.org"
# Every spelling of a line break a header could be split on: CRLF, LF, CR, NEL, LS, PS, VT, FF.
BREAKS = ["\r\n", "\n", "\r", "\x85", "\u2028", "\u2029", "\x0b", "\x0c"]
# An RFC 2047 encoded word, which Python's email library decodes in a value it is given: a line break and a
# Bcc. Short enough to stay within the subject's 80 characters.
ENCODED_WORD = "=?utf-8?q?=0ABcc:_x=40e.org?="
HOSTILE_TITLE = (
    "Sparse retrieval "
    + ENCODED_WORD
    + "".join(f"{brk}Bcc: {VICTIM}" for brk in BREAKS)
    + "\r\n\r\n<b>body</b>"
)
OWN_HEADERS = {
    "subject", "from", "to", "reply-to", "date", "message-id", "x-newsletter-delivery-id",
    "list-unsubscribe", "list-unsubscribe-post", "list-id", "mime-version", "content-type",
    "content-transfer-encoding",
}  # fmt: skip
SUBSCRIBERS = ["alice@example.org", "bob@example.org"]


# Rows written before addresses were checked (an old import): each must fail alone.
LEGACY_ADDRESSES = [f"carol@example.org\r\nBcc: {VICTIM}", "jürgen@example.org"]


@pytest.fixture
def seeded(committed_session_factory: sessionmaker[Session]) -> None:
    with session_scope(committed_session_factory) as session:
        content = make_content(session, [make_paper(session, title=HOSTILE_TITLE, upvotes=3)])
        # Alice first and Bob last, with the unsendable rows between them in the same group.
        make_edition(session, make_subscriber(session, SUBSCRIBERS[0]), content)
        for address in LEGACY_ADDRESSES:
            make_edition(session, make_subscriber(session, address), content)
        make_edition(session, make_subscriber(session, SUBSCRIBERS[1]), content)


def header_lines(raw: bytes) -> list[bytes]:
    head = raw.replace(b"\r\n", b"\n").split(b"\n\n", 1)[0]
    return [line for line in head.split(b"\n") if line and not line[:1].isspace()]


def assert_own_headers_only(raw: bytes) -> EmailMessage:
    names = [line.split(b":", 1)[0].decode().lower() for line in header_lines(raw)]
    assert set(names) <= OWN_HEADERS, names
    assert len(names) == len(set(names)), names  # one of each
    message = email.message_from_bytes(raw, policy=email.policy.default)
    assert isinstance(message, EmailMessage)
    assert message["Bcc"] is None and message["Cc"] is None
    subject = str(message["Subject"])
    assert not any(brk in subject for brk in BREAKS), repr(subject)
    assert "Sparse retrieval = ?utf-8?q?=0ABcc:_x=40e.org?=" in subject, repr(subject)
    # The top level holds exactly the two alternatives; the title's blank line started no body.
    assert message.get_content_type() == "multipart/alternative"
    assert [part.get_content_type() for part in message.iter_parts()] == ["text/plain", "text/html"]
    return message


def delivery_states(factory: sessionmaker[Session]) -> dict[str, tuple[str, str | None]]:
    from newsletter.models import Subscriber

    with session_scope(factory) as session:
        rows = session.execute(
            select(Subscriber.email, Delivery.state, Delivery.last_error).join(
                Subscriber, Subscriber.id == Delivery.subscriber_id
            )
        ).all()
    return {address: (state, error) for address, state, error in rows}


def assert_each_legacy_address_failed_alone(factory: sessionmaker[Session]) -> None:
    states = delivery_states(factory)
    for address in SUBSCRIBERS:
        assert states[address][0] == "sent", (address, states[address])
    for address, (state, error) in states.items():
        if address not in SUBSCRIBERS:
            assert state == "failed" and error and "not a valid email address" in error, (
                address,
                state,
                error,
            )


# ---------------------------------------------------------------- settings


@pytest.mark.parametrize(
    ("variable", "value"),
    [
        ("NEWSLETTER_SENDER_NAME", f"ML Papers\r\nBcc: {VICTIM}"),
        ("NEWSLETTER_SENDER_NAME", f"ML Papers\u2028Bcc: {VICTIM}"),
        ("NEWSLETTER_SENDER_ADDRESS", f"papers@newsletter.example\r\nBcc: {VICTIM}"),
        ("NEWSLETTER_SENDER_ADDRESS", f"papers@newsletter.example, {VICTIM}"),
        ("NEWSLETTER_SENDER_ADDRESS", f"Papers <papers@newsletter.example>, {VICTIM}"),
        ("NEWSLETTER_REPLY_TO", f"editor@newsletter.example\nBcc: {VICTIM}"),
        ("NEWSLETTER_REPLY_TO", f"editor@newsletter.example;{VICTIM}"),
        ("NEWSLETTER_PUBLIC_BASE_URL", f"https://papers.example.org\r\nBcc: {VICTIM}"),
        ("NEWSLETTER_PUBLIC_BASE_URL", "javascript:alert(1)//"),
    ],
)
def test_a_sender_setting_that_could_split_a_header_is_refused_at_start_up(
    monkeypatch: pytest.MonkeyPatch, variable: str, value: str
) -> None:
    monkeypatch.setenv(variable, value)
    with pytest.raises(ValidationError) as refused:
        Settings(_env_file=None)  # type: ignore[call-arg]
    field = variable.removeprefix("NEWSLETTER_").lower()
    assert field in str(refused.value)


def test_a_display_name_with_quotes_and_brackets_stays_a_display_name(
    settings: Settings, committed_session_factory: sessionmaker[Session], seeded: None
) -> None:
    quoted = settings.model_copy(
        update={"sender_name": f'Papers <{VICTIM}>, "Daily" (ML)', "reply_to": "editor@newsletter.example"}
    )
    send_pending(committed_session_factory, quoted, edition_date=EDITION_DAY)
    [eml, *_] = sorted(quoted.resolved_outbox_dir.glob("*.eml"))
    message = assert_own_headers_only(eml.read_bytes())
    [sender] = message["From"].addresses
    assert sender.addr_spec == "papers@newsletter.example"
    assert sender.display_name == f'Papers <{VICTIM}>, "Daily" (ML)'
    assert [address.addr_spec for address in message["Reply-To"].addresses] == ["editor@newsletter.example"]
    assert VICTIM not in {address.addr_spec for address in message["To"].addresses}


# ---------------------------------------------------------------- the three backends


def test_the_file_backend_writes_one_line_subjects_and_fails_unsendable_addresses_alone(
    settings: Settings, committed_session_factory: sessionmaker[Session], seeded: None
) -> None:
    report = send_pending(committed_session_factory, settings, edition_date=EDITION_DAY)
    assert (report.sent, report.failed, report.unknown) == (2, 2, 0)
    written = sorted(settings.resolved_outbox_dir.glob("*.eml"))
    recipients = []
    for eml in written:
        message = assert_own_headers_only(eml.read_bytes())
        recipients.extend(address.addr_spec for address in message["To"].addresses)
    assert sorted(recipients) == SUBSCRIBERS
    assert_each_legacy_address_failed_alone(committed_session_factory)


class RecordingHandler:
    def __init__(self) -> None:
        self.envelopes: list[tuple[str, list[str], bytes]] = []

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:
        self.envelopes.append((envelope.mail_from, list(envelope.rcpt_tos), envelope.content))
        return "250 OK"


@pytest.fixture
def smtp_server() -> Iterator[tuple[RecordingHandler, int]]:
    handler = RecordingHandler()
    with running_smtp_server(handler) as port:
        yield handler, port


def test_a_real_smtp_server_sees_one_recipient_per_envelope_and_only_our_headers(
    settings: Settings,
    committed_session_factory: sessionmaker[Session],
    seeded: None,
    smtp_server: tuple[RecordingHandler, int],
) -> None:
    handler, port = smtp_server
    smtp = settings.model_copy(
        update={
            "mail_backend": "smtp",
            "smtp_host": "127.0.0.1",
            "smtp_port": port,
            "send_rate_per_s": 10_000.0,
        }
    )
    report = send_pending(committed_session_factory, smtp, edition_date=EDITION_DAY)
    assert (report.sent, report.failed, report.unknown) == (2, 2, 0)
    assert sorted(rcpt for _, rcpts, _ in handler.envelopes for rcpt in rcpts) == SUBSCRIBERS
    for mail_from, rcpts, content in handler.envelopes:
        assert mail_from == "papers@newsletter.example" and len(rcpts) == 1
        assert_own_headers_only(content)
    assert_each_legacy_address_failed_alone(committed_session_factory)


def test_the_sendgrid_request_carries_no_line_break_in_any_header_field(
    settings: Settings, committed_session_factory: sessionmaker[Session], seeded: None
) -> None:
    with running_stand_in() as stand_in:
        configured = sendgrid_settings(settings, stand_in.url, reply_to="editor@newsletter.example")
        report = send_pending(committed_session_factory, configured, edition_date=EDITION_DAY)
    assert (report.sent, report.failed, report.unknown) == (2, 2, 0)
    [request] = stand_in.requests
    assert sorted(request.emails) == SUBSCRIBERS
    body = dict(request.body)
    body.pop("content")  # the parts themselves: text, not headers

    def strings(value: Any) -> Iterator[str]:
        if isinstance(value, dict):
            for key, item in value.items():
                yield str(key)
                yield from strings(item)
        elif isinstance(value, list):
            for item in value:
                yield from strings(item)
        elif isinstance(value, str):
            yield value

    for text in strings(body):
        assert not any(brk in text for brk in BREAKS), repr(text)
    assert "Sparse retrieval = ?utf-8?q?=0ABcc:_x=40e.org?=" in body["subject"]
    assert "=?" not in body["subject"], body["subject"]
    assert VICTIM not in json.dumps([p["to"] for p in body["personalizations"]])
    assert_each_legacy_address_failed_alone(committed_session_factory)


@pytest.mark.parametrize("address", LEGACY_ADDRESSES)
def test_a_transactional_email_to_an_unsendable_address_fails_with_the_reason(
    settings: Settings, committed_session_factory: sessionmaker[Session], address: str
) -> None:
    with session_scope(committed_session_factory) as session:
        subscriber = make_subscriber(session, address, status="active")
        delivery_id = create_transactional_delivery(session, subscriber.id, "welcome")
    assert deliver_transactional(committed_session_factory, settings, delivery_id) == "failed"
    assert list(settings.resolved_outbox_dir.glob("*.eml")) == []
    with session_scope(committed_session_factory) as session:
        delivery = session.get_one(Delivery, delivery_id)
        assert delivery.state == "failed" and "not a valid email address" in (delivery.last_error or "")
