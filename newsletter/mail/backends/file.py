"""The file backend: each message written as `<outbox>/<time>-<delivery id>.eml` (demo, previews, checks)."""

from __future__ import annotations

import os
from collections.abc import Iterator, Sequence
from datetime import UTC, datetime

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
