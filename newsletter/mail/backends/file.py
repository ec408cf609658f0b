"""The file backend: each message written as `<outbox>/<time>-<delivery id>.eml` (demo, previews, checks),
and read back for the demo site's Outbox page."""

from __future__ import annotations

import os
import re
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from email import policy
from email.message import EmailMessage
from email.parser import BytesParser
from html import escape
from pathlib import Path

from newsletter.config import Settings
from newsletter.mail.backends import SendResult
from newsletter.mail.message import Recipient, build_message
from newsletter.mail.render import RenderedEmail


class FileBackend:
    name = "file"
    max_batch = 200

    def __init__(self, settings: Settings) -> None:
        self.settings = settings
        self.outbox = settings.resolved_outbox_dir

    def send_batch(self, rendered: RenderedEmail, recipients: Sequence[Recipient]) -> Iterator[SendResult]:
        for recipient in recipients:
            message = build_message(self.settings, rendered, recipient)
            stamp = datetime.now(UTC).strftime("%Y%m%dT%H%M%S%fZ")
            path = self.outbox / f"{stamp}-{recipient.delivery_id}.eml"
            temporary = path.with_suffix(".eml.tmp")
            try:
                self.outbox.mkdir(parents=True, exist_ok=True)
                temporary.write_bytes(message.as_bytes())
                # A reader of the outbox never sees half a message.
                os.replace(temporary, path)
            except OSError as error:
                yield SendResult([recipient.delivery_id], "failed", error=f"cannot write {path}: {error}")
                continue
            yield SendResult([recipient.delivery_id], "sent", provider_message_id=message["Message-ID"])

    def close(self) -> None:
        return None


# What `send_batch` names its files: a UTC stamp (sortable, so newest first is a reverse sort) and the
# delivery id. Nothing else is ever read back from the outbox.
OUTBOX_FILE_NAME = re.compile(r"^\d{8}T\d{12}Z-\d+\.eml$")


@dataclass(frozen=True)
class OutboxEmail:
    name: str
    sent_at: datetime
    to: str
    subject: str


def _headers(path: Path) -> EmailMessage:
    parser = BytesParser(policy=policy.default)
    with path.open("rb") as handle:
        return parser.parse(handle, headersonly=True)  # type: ignore[return-value]


def outbox_emails(outbox: Path, limit: int = 100) -> list[OutboxEmail]:
    """The emails the file backend wrote, newest first."""
    if not outbox.is_dir():
        return []
    names = sorted((p.name for p in outbox.iterdir() if OUTBOX_FILE_NAME.match(p.name)), reverse=True)
    emails = []
    for name in names[:limit]:
        headers = _headers(outbox / name)
        sent_at = datetime.strptime(name.split("-", 1)[0], "%Y%m%dT%H%M%S%fZ").replace(tzinfo=UTC)
        emails.append(OutboxEmail(name, sent_at, str(headers["To"] or ""), str(headers["Subject"] or "")))
    return emails


def outbox_email_html(outbox: Path, name: str) -> str | None:
    """The HTML part of one written email (its text part, escaped, if it has none); None if absent."""
    path = outbox / name
    if not OUTBOX_FILE_NAME.match(name) or not path.is_file():
        return None
    message = BytesParser(policy=policy.default).parsebytes(path.read_bytes())
    assert isinstance(message, EmailMessage)
    html = message.get_body(("html",))
    if html is not None:
        return str(html.get_content())
    text = message.get_body(("plain",))
    return "<pre>" + escape(str(text.get_content()) if text is not None else "") + "</pre>"
