"""Mail backends: each sends one rendered email to a batch of recipients and reports every outcome."""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from typing import Literal, Protocol

from newsletter.config import Settings
from newsletter.mail.message import Recipient
from newsletter.mail.render import RenderedEmail

# sent: accepted by the server; failed: refused for good; unknown: the request may or may not have
# been accepted (it must never be resent blindly); retry: certainly not accepted, worth another try.
Outcome = Literal["sent", "failed", "unknown", "retry"]


@dataclass(frozen=True)
class SendResult:
    delivery_ids: list[int]
    outcome: Outcome
    provider_message_id: str | None = None
    error: str | None = None


class AmbiguousSendError(Exception):
    """The request left this process but no answer came back: it may have been accepted."""


class MailBackend(Protocol):
    name: str
    # Recipients per claimed chunk: one provider request's worth, so a crash leaves at most one
    # request's recipients in doubt.
    max_batch: int

    def send_batch(self, rendered: RenderedEmail, recipients: Sequence[Recipient]) -> Iterator[SendResult]:
        """Send and yield results as they become final (per request or per message)."""
        ...

    def close(self) -> None: ...


def make_backend(settings: Settings) -> MailBackend:
    if settings.mail_backend == "sendgrid":
        from newsletter.mail.backends.sendgrid import SendGridBackend

        return SendGridBackend(settings)
    if settings.mail_backend == "smtp":
        from newsletter.mail.backends.smtp import SmtpBackend

        return SmtpBackend(settings)
    from newsletter.mail.backends.file import FileBackend

    return FileBackend(settings)
