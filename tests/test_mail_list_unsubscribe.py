"""The one-click unsubscribe header as mail providers read it: raw bytes on the wire, every backend.

Reading the header back through Python's own `email` with the default policy decodes RFC 2047 encoded
words and hides the problem; a provider's parser does not. So each test looks at the raw bytes and
parses them with the `compat32` policy, which returns the field as written.
"""

from __future__ import annotations

import json
import re
from email.message import Message
from email.parser import BytesParser
from email.policy import compat32
from typing import Any

import pytest
from pydantic import SecretStr
from sqlalchemy.orm import Session, sessionmaker

from newsletter.config import Settings
from newsletter.db import session_scope
from newsletter.links.tokens import read_token
from newsletter.mail.deliver import send_pending
from tests.factories import make_paper, make_subscriber
from tests.mail_factories import (
    EDITION_DAY,
    make_content,
    make_edition,
    running_smtp_server,
    running_stand_in,
)

BASE_URLS = [
    "https://papers.example.org",
    "https://daily-machine-learning-papers.newsletter-of-a-rather-long-organisation.example.org/news",
]
URL_IN_BRACKETS = re.compile(rb"<([^<>\s]+)>")


def configured(settings: Settings, base_url: str, **updates: Any) -> Settings:
    return settings.model_copy(
        update={
            "public_base_url": base_url,
            "reply_to": "unsubscribe-requests.for-the-daily-papers@newsletter.example",
            "send_rate_per_s": 1e4,
            **updates,
        }
    )


def seed(factory: sessionmaker[Session]) -> int:
    with session_scope(factory) as session:
        reader = make_subscriber(session, "alice@example.org")
        make_edition(session, reader, make_content(session, [make_paper(session, upvotes=3)]))
        return reader.id


def raw_field(raw: bytes, name: bytes) -> bytes:
    """The field's bytes as written, continuation lines included."""
    lines = raw.split(b"\n\n" if b"\r\n\r\n" not in raw else b"\r\n\r\n", 1)[0].splitlines()
    for index, line in enumerate(lines):
        if line.lower().startswith(name.lower() + b":"):
            field = [line]
            field += [more for more in _continuations(lines[index + 1 :])]
            return b"\r\n".join(field)
    raise AssertionError(f"no {name!r} header")


def _continuations(lines: list[bytes]) -> list[bytes]:
    taken = []
    for line in lines:
        if line[:1] not in (b" ", b"\t"):
            break
        taken.append(line)
    return taken


def assert_one_click_url_for(url: str, settings: Settings, subscriber_id: int) -> None:
    # Tokens carry their signing second: compare what they name, not their bytes.
    base = re.escape(settings.public_base_url)
    match = re.fullmatch(rf"{base}/unsubscribe/([A-Za-z0-9_.-]+)/one-click", url)
    assert match, url
    assert read_token(settings, "unsubscribe", match[1]).subject_id == subscriber_id


def assert_readable_on_the_wire(raw: bytes, settings: Settings, subscriber_id: int) -> None:
    mailto = f"mailto:{settings.reply_to}?subject=unsubscribe"
    field = raw_field(raw, b"List-Unsubscribe")
    assert b"=?" not in field, field  # never RFC 2047 encoded words
    assert f"<{settings.public_base_url}/unsubscribe/".encode() in field
    assert f"<{mailto}>".encode() in field
    assert all(len(line) <= 998 for line in field.split(b"\r\n"))
    assert raw_field(raw, b"List-Unsubscribe-Post") == b"List-Unsubscribe-Post: List-Unsubscribe=One-Click"
    # A third-party reading: compat32 hands back the field as written, folding included.
    parsed: Message = BytesParser(policy=compat32).parsebytes(raw)
    value = str(parsed["List-Unsubscribe"]).encode()
    one_click, second = [url.decode() for url in URL_IN_BRACKETS.findall(value)]
    assert_one_click_url_for(one_click, settings, subscriber_id)
    assert second == mailto


@pytest.mark.parametrize("base_url", BASE_URLS)
def test_the_file_backend_writes_both_unsubscribe_urls_literally(
    settings: Settings, committed_session_factory: sessionmaker[Session], base_url: str
) -> None:
    subscriber_id = seed(committed_session_factory)
    config = configured(settings, base_url)
    assert send_pending(committed_session_factory, config, edition_date=EDITION_DAY).sent == 1
    [path] = config.resolved_outbox_dir.glob("*.eml")
    assert_readable_on_the_wire(path.read_bytes(), config, subscriber_id)


class RecordingHandler:
    def __init__(self) -> None:
        self.messages: list[bytes] = []

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:
        self.messages.append(envelope.original_content or envelope.content)
        return "250 OK"


@pytest.mark.parametrize("base_url", BASE_URLS)
def test_an_smtp_server_receives_both_unsubscribe_urls_literally(
    settings: Settings, committed_session_factory: sessionmaker[Session], base_url: str
) -> None:
    subscriber_id = seed(committed_session_factory)
    handler = RecordingHandler()
    with running_smtp_server(handler) as port:
        config = configured(settings, base_url, mail_backend="smtp", smtp_port=port)
        assert send_pending(committed_session_factory, config, edition_date=EDITION_DAY).sent == 1
    [raw] = handler.messages
    assert b"\r\n" in raw and b"\n" not in raw.replace(b"\r\n", b"")  # CRLF on the wire
    assert_readable_on_the_wire(raw, config, subscriber_id)


@pytest.mark.parametrize("base_url", BASE_URLS)
def test_the_sendgrid_request_carries_both_unsubscribe_urls_literally(
    settings: Settings, committed_session_factory: sessionmaker[Session], base_url: str
) -> None:
    subscriber_id = seed(committed_session_factory)
    with running_stand_in() as stand_in:
        config = configured(
            settings,
            base_url,
            mail_backend="sendgrid",
            sendgrid_base_url=stand_in.url,
            sendgrid_api_key=SecretStr("SG.test-key"),
        )
        assert send_pending(committed_session_factory, config, edition_date=EDITION_DAY).sent == 1
    [request] = stand_in.requests
    [personalization] = request.body["personalizations"]
    value = personalization["headers"]["List-Unsubscribe"]
    one_click, mailto = URL_IN_BRACKETS.findall(value.encode())
    assert_one_click_url_for(one_click.decode(), config, subscriber_id)
    assert value == f"<{one_click.decode()}>, <mailto:{config.reply_to}?subject=unsubscribe>"
    # The raw JSON holds the value as one plain string: SendGrid folds it when it writes the message.
    assert json.dumps(value).encode() in request.raw
    assert personalization["headers"]["List-Unsubscribe-Post"] == "List-Unsubscribe=One-Click"
    assert "=?" not in json.dumps(personalization["headers"])
