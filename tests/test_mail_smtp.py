"""The SMTP backend against a real local SMTP server (aiosmtpd)."""

from __future__ import annotations

import email
import email.policy
import ipaddress
import ssl
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from aiosmtpd.smtp import AuthResult, LoginPassword
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID
from pydantic import SecretStr
from sqlalchemy.orm import Session

from newsletter.config import Settings
from newsletter.mail.backends.smtp import SmtpBackend
from newsletter.mail.context import edition_context
from newsletter.mail.message import Recipient
from newsletter.mail.render import RenderedEmail, render_email
from tests.factories import make_paper, make_subscriber
from tests.mail_factories import free_port, make_content, make_edition, running_smtp_server

RENDERED = RenderedEmail(
    subject="Hello %%name-k1%%",
    text="Text for %%name-k1%%",
    html="<p>HTML for %%name-k1%%</p>",
    link_slots={"name": "%%name-k1%%"},
)


class ScriptedHandler:
    """Accepts mail, except: the first DATA for `flaky` addresses answers 451; `refused` gets 550;
    `vanish` reads the whole message, then drops the connection without answering."""

    def __init__(self) -> None:
        self.messages: list[tuple[list[str], bytes]] = []
        self.sessions: set[int] = set()
        self.flaky_seen: set[str] = set()
        self.encrypted: list[bool] = []
        self.logins: list[bytes | None] = []

    async def handle_RCPT(self, server: Any, session: Any, envelope: Any, address: str, options: Any) -> str:
        if address.startswith("refused"):
            return "550 5.1.1 no such user"
        envelope.rcpt_tos.append(address)
        return "250 OK"

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:
        self.sessions.add(id(session))
        self.encrypted.append(
            session.ssl is not None or server.transport.get_extra_info("ssl_object") is not None
        )
        self.logins.append(session.auth_data if session.authenticated else None)
        address = envelope.rcpt_tos[0]
        if address.startswith("vanish"):
            server.transport.close()
            return "250 OK"  # never reaches the client
        if address.startswith("flaky") and address not in self.flaky_seen:
            self.flaky_seen.add(address)
            return "451 4.3.0 try again later"
        self.messages.append((list(envelope.rcpt_tos), envelope.content))
        return "250 OK"


@pytest.fixture
def smtp_server() -> Iterator[tuple[ScriptedHandler, int]]:
    handler = ScriptedHandler()
    with running_smtp_server(handler) as port:
        yield handler, port


@pytest.fixture(scope="module")
def certificate(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path]:
    """A self-signed certificate for 127.0.0.1: (certificate, key) PEM files."""
    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "127.0.0.1")])
    now = datetime.now(UTC)
    cert = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - timedelta(hours=1))
        .not_valid_after(now + timedelta(days=1))
        .add_extension(
            x509.SubjectAlternativeName([x509.IPAddress(ipaddress.ip_address("127.0.0.1"))]), False
        )
        .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
        .sign(key, hashes.SHA256())
    )
    directory = tmp_path_factory.mktemp("tls")
    cert_path, key_path = directory / "cert.pem", directory / "key.pem"
    cert_path.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    key_path.write_bytes(
        key.private_bytes(
            serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
        )
    )
    return cert_path, key_path


def server_tls_context(certificate: tuple[Path, Path]) -> ssl.SSLContext:
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    context.load_cert_chain(*certificate)
    return context


def accept_mailer_login(
    server: Any, session: Any, envelope: Any, mechanism: str, auth_data: Any
) -> AuthResult:
    is_valid = isinstance(auth_data, LoginPassword) and (auth_data.login, auth_data.password) == (
        b"mailer",
        b"s3cret",
    )
    # handled=False: aiosmtpd answers a refusal with 535 itself.
    return AuthResult(success=is_valid, handled=False, auth_data=auth_data.login if is_valid else None)


@contextmanager
def tls_smtp_server(
    certificate: tuple[Path, Path], *, implicit: bool
) -> Iterator[tuple[ScriptedHandler, int]]:
    handler = ScriptedHandler()
    options: dict[str, Any] = {"authenticator": accept_mailer_login}
    if implicit:
        # aiosmtpd only knows of TLS it negotiated itself (STARTTLS); this connection is TLS from the start.
        options.update(ssl_context=server_tls_context(certificate), auth_require_tls=False)
    else:
        options.update(tls_context=server_tls_context(certificate), require_starttls=True)
    with running_smtp_server(handler, **options) as port:
        yield handler, port


def recipient(delivery_id: int, address: str) -> Recipient:
    return Recipient(delivery_id, delivery_id, address, links={"name": address.split("@")[0]})


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


def test_smtp_sends_a_real_edition_with_crlf_line_endings(
    session: Session, settings: Settings, smtp_server: tuple[ScriptedHandler, int]
) -> None:
    handler, port = smtp_server
    paper = make_paper(session, title="Retrieval at scale", upvotes=12)
    edition = make_edition(session, make_subscriber(session), make_content(session, [paper]))
    rendered = render_email("edition", edition_context(session, settings, edition.id))
    backend = SmtpBackend(settings.model_copy(update={"smtp_port": port}))
    try:
        results = list(backend.send_batch(rendered, [recipient(1, "alice@example.org")]))
    finally:
        backend.close()
    # SMTP lines end in CRLF and stay under 1,000 bytes (RFC 5321 §4.5.3.1.6); a strict server refuses
    # anything else.
    assert [r.outcome for r in results] == ["sent"], results
    raw = handler.messages[0][1]
    assert len(raw) > 10_000 and b"\r\n" in raw and raw.count(b"\n") == raw.count(b"\r\n")
    message = email.message_from_bytes(raw, policy=email.policy.default)
    assert "Retrieval at scale" in message.get_body(("html",)).get_content()


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


def trusting(certificate: tuple[Path, Path]) -> ssl.SSLContext:
    return ssl.create_default_context(cafile=str(certificate[0]))


@pytest.mark.parametrize("mode", ["starttls", "ssl"])
def test_smtp_over_tls_logs_in_and_sends_encrypted_on_one_connection(
    settings: Settings, certificate: tuple[Path, Path], mode: str
) -> None:
    with tls_smtp_server(certificate, implicit=mode == "ssl") as (handler, port):
        configured = settings.model_copy(
            update={
                "smtp_port": port,
                "smtp_tls": mode,
                "smtp_user": "mailer",
                "smtp_password": SecretStr("s3cret"),
            }
        )
        backend = SmtpBackend(configured, ssl_context=trusting(certificate))
        try:
            results = list(
                backend.send_batch(
                    RENDERED, [recipient(1, "alice@example.org"), recipient(2, "bob@example.org")]
                )
            )
        finally:
            backend.close()
    assert [r.outcome for r in results] == ["sent", "sent"], results
    assert handler.encrypted == [True, True] and handler.logins == [b"mailer", b"mailer"]
    assert len(handler.sessions) == 1


def test_smtp_refuses_a_certificate_it_cannot_verify_and_sends_nothing(
    settings: Settings, certificate: tuple[Path, Path]
) -> None:
    with tls_smtp_server(certificate, implicit=False) as (handler, port):
        configured = settings.model_copy(update={"smtp_port": port, "smtp_tls": "starttls"})
        backend = SmtpBackend(configured, max_attempts=1)  # the system's trust store: self-signed fails
        results = list(backend.send_batch(RENDERED, [recipient(1, "alice@example.org")]))
    assert results[0].outcome == "retry" and "certificate" in (results[0].error or "").lower()
    assert handler.messages == []


def test_smtp_wrong_password_and_missing_starttls_fail_without_sending(
    settings: Settings, certificate: tuple[Path, Path]
) -> None:
    with tls_smtp_server(certificate, implicit=False) as (handler, port):
        wrong = settings.model_copy(
            update={
                "smtp_port": port,
                "smtp_tls": "starttls",
                "smtp_user": "mailer",
                "smtp_password": SecretStr("x"),
            }
        )
        plain = settings.model_copy(update={"smtp_port": port, "smtp_tls": "none"})
        refused_login = list(SmtpBackend(wrong, ssl_context=trusting(certificate)).send_batch(
            RENDERED, [recipient(1, "alice@example.org")]))  # fmt: skip
        refused_plain = list(SmtpBackend(plain).send_batch(RENDERED, [recipient(2, "bob@example.org")]))
    assert refused_login[0].outcome == "failed" and "535" in (refused_login[0].error or "")
    assert refused_plain[0].outcome == "failed" and "530" in (refused_plain[0].error or "")
    assert handler.messages == []


def test_a_connection_lost_after_the_message_was_sent_is_unknown_not_retried(
    settings: Settings, smtp_server: tuple[ScriptedHandler, int]
) -> None:
    handler, port = smtp_server
    backend = SmtpBackend(settings.model_copy(update={"smtp_port": port}), retry_wait_s=0.01)
    try:
        results = list(
            backend.send_batch(
                RENDERED, [recipient(1, "vanish@example.org"), recipient(2, "carol@example.org")]
            )
        )
    finally:
        backend.close()
    assert [r.outcome for r in results] == ["unknown", "sent"], results
    assert handler.encrypted == [False, False]  # one DATA each: the lost one was not sent again
