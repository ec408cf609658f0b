"""The SMTP backend against a real local SMTP server (aiosmtpd)."""

from __future__ import annotations

import email
import email.policy
from collections.abc import Iterator
from typing import Any

import pytest
from aiosmtpd.controller import Controller

from newsletter.config import Settings
from newsletter.mail.backends.smtp import SmtpBackend
from newsletter.mail.message import Recipient
from newsletter.mail.render import RenderedEmail
from tests.mail_factories import free_port

RENDERED = RenderedEmail(subject="Hello %%name%%", text="Text for %%name%%", html="<p>HTML for %%name%%</p>")


class ScriptedHandler:
    """Accepts mail, except: the first DATA for `flaky` addresses answers 451; `refused` gets 550."""

    def __init__(self) -> None:
        self.messages: list[tuple[list[str], bytes]] = []
        self.sessions: set[int] = set()
        self.flaky_seen: set[str] = set()

    async def handle_RCPT(self, server: Any, session: Any, envelope: Any, address: str, options: Any) -> str:
        if address.startswith("refused"):
            return "550 5.1.1 no such user"
        envelope.rcpt_tos.append(address)
        return "250 OK"

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:
        self.sessions.add(id(session))
        address = envelope.rcpt_tos[0]
        if address.startswith("flaky") and address not in self.flaky_seen:
            self.flaky_seen.add(address)
            return "451 4.3.0 try again later"
        self.messages.append((list(envelope.rcpt_tos), envelope.content))
        return "250 OK"


@pytest.fixture
def smtp_server() -> Iterator[tuple[ScriptedHandler, int]]:
    handler = ScriptedHandler()
    port = free_port()
    controller = Controller(handler, hostname="127.0.0.1", port=port)
    controller.start()
    try:
        yield handler, port
    finally:
        controller.stop()


def recipient(delivery_id: int, address: str) -> Recipient:
    return Recipient(delivery_id, delivery_id, address, substitutions={"%%name%%": address.split("@")[0]})


def test_smtp_sends_complete_messages_over_one_reused_connection(
    settings: Settings, smtp_server: tuple[ScriptedHandler, int]
) -> None:
    handler, port = smtp_server
    backend = SmtpBackend(settings.model_copy(update={"mail_backend": "smtp", "smtp_port": port}))
    try:
        results = list(
            backend.send_batch(RENDERED, [recipient(1, "alice@example.org"), recipient(2, "bob@example.org")])
        )
    finally:
        backend.close()
    assert [r.outcome for r in results] == ["sent", "sent"]
    assert len(handler.messages) == 2 and len(handler.sessions) == 1
    message = email.message_from_bytes(handler.messages[1][1], policy=email.policy.default)
    assert (
        message["Subject"] == "Hello bob" and message["List-Unsubscribe-Post"] == "List-Unsubscribe=One-Click"
    )
    assert results[1].provider_message_id == message["Message-ID"]


def test_smtp_retries_a_4xx_once_and_fails_a_5xx_for_good(
    settings: Settings, smtp_server: tuple[ScriptedHandler, int]
) -> None:
    handler, port = smtp_server
    backend = SmtpBackend(settings.model_copy(update={"smtp_port": port}), retry_wait_s=0.05)
    try:
        results = list(
            backend.send_batch(
                RENDERED,
                [
                    recipient(1, "flaky@example.org"),
                    recipient(2, "refused@example.org"),
                    recipient(3, "carol@example.org"),
                ],
            )
        )
    finally:
        backend.close()
    assert [r.outcome for r in results] == ["sent", "failed", "sent"]
    assert "550" in (results[1].error or "")
    assert [to for to, _ in handler.messages] == [["flaky@example.org"], ["carol@example.org"]]


def test_smtp_server_down_is_a_retry_not_a_failure(settings: Settings) -> None:
    backend = SmtpBackend(
        settings.model_copy(update={"smtp_port": free_port()}), max_attempts=2, retry_wait_s=0.01
    )
    results = list(backend.send_batch(RENDERED, [recipient(1, "alice@example.org")]))
    assert results[0].outcome == "retry"
