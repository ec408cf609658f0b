"""The SMTP backend: one reused connection per batch, STARTTLS or implicit TLS, 4xx retried, 5xx final."""

from __future__ import annotations

import contextlib
import logging
import smtplib
import ssl
from collections.abc import Iterator, Sequence

from tenacity import Retrying, retry_if_exception_type, stop_after_attempt, wait_exponential_jitter

from newsletter.config import Settings
from newsletter.errors import PermanentError, TransientError
from newsletter.mail.backends import AmbiguousSendError, SendResult
from newsletter.mail.message import MAIL_POLICY, Recipient, build_message
from newsletter.mail.render import RenderedEmail

logger = logging.getLogger(__name__)
# On the wire every line ends in CRLF (RFC 5321 §2.3.8): smtplib sends bytes as given, and servers
# refuse bare LF (it is how SMTP smuggling works).
WIRE_POLICY = MAIL_POLICY.clone(linesep="\r\n")


def _error_for_code(code: int, detail: str) -> TransientError | PermanentError:
    if 400 <= code < 500:
        return TransientError(f"SMTP {code}: {detail}")
    return PermanentError(f"SMTP {code}: {detail}")


class SmtpBackend:
    name = "smtp"
    max_batch = 100

    def __init__(
        self,
        settings: Settings,
        *,
        max_attempts: int = 3,
        retry_wait_s: float = 1.0,
        ssl_context: ssl.SSLContext | None = None,
    ) -> None:
        self.settings = settings
        self.max_attempts = max_attempts
        self.retry_wait_s = retry_wait_s
        self.ssl_context = ssl_context or ssl.create_default_context()
        self.connection: smtplib.SMTP | None = None

    def _connect(self) -> smtplib.SMTP:
        settings = self.settings
        timeout = settings.http_timeout_s
        connection: smtplib.SMTP
        if settings.smtp_tls == "ssl":
            connection = smtplib.SMTP_SSL(
                settings.smtp_host, settings.smtp_port, timeout=timeout, context=self.ssl_context
            )
        else:
            connection = smtplib.SMTP(settings.smtp_host, settings.smtp_port, timeout=timeout)
            if settings.smtp_tls == "starttls":
                connection.starttls(context=self.ssl_context)
        if settings.smtp_user:
            connection.login(settings.smtp_user, settings.smtp_password.get_secret_value())
        return connection

    def _live_connection(self) -> smtplib.SMTP:
        # A reused connection may have been closed by the server while idle: check before sending,
        # so a drop during the send itself stays the rare, ambiguous case.
        if self.connection is not None:
            try:
                if self.connection.noop()[0] == 250:
                    return self.connection
            except (smtplib.SMTPException, OSError):
                pass
            self.close()
        try:
            self.connection = self._connect()
        except smtplib.SMTPResponseException as error:
            raise _error_for_code(error.smtp_code, str(error.smtp_error)) from error
        except (smtplib.SMTPException, OSError) as error:
            raise TransientError(f"cannot connect to {self.settings.smtp_host}: {error}") from error
        return self.connection

    def _send_once(self, message_bytes: bytes, sender: str, to_address: str) -> None:
        connection = self._live_connection()
        try:
            refused = connection.sendmail(sender, [to_address], message_bytes)
        except smtplib.SMTPRecipientsRefused as error:
            code, detail = error.recipients.get(to_address, (550, b"refused"))
            raise _error_for_code(code, detail.decode(errors="replace")) from error
        except smtplib.SMTPResponseException as error:
            raise _error_for_code(error.smtp_code, str(error.smtp_error)) from error
        except (smtplib.SMTPServerDisconnected, OSError) as error:
            self.connection = None
            # The message may have been fully received before the connection dropped.
            raise AmbiguousSendError(f"connection lost while sending: {error}") from error
        if refused:
            code, detail = refused[to_address]
            raise _error_for_code(code, detail.decode(errors="replace"))

    def send_batch(self, rendered: RenderedEmail, recipients: Sequence[Recipient]) -> Iterator[SendResult]:
        for recipient in recipients:
            yield self._send_one(rendered, recipient)

    def _send_one(self, rendered: RenderedEmail, recipient: Recipient) -> SendResult:
        message = build_message(self.settings, rendered, recipient)
        ids = [recipient.delivery_id]
        retrying = Retrying(
            retry=retry_if_exception_type(TransientError),
            stop=stop_after_attempt(self.max_attempts),
            wait=wait_exponential_jitter(
                multiplier=self.retry_wait_s, max=30 * self.retry_wait_s, jitter=self.retry_wait_s
            ),
            reraise=True,
        )
        try:
            retrying(
                self._send_once,
                message.as_bytes(policy=WIRE_POLICY),
                self.settings.sender_address,
                recipient.email,
            )
        except TransientError as error:
            return SendResult(ids, "retry", error=str(error))
        except PermanentError as error:
            return SendResult(ids, "failed", error=str(error))
        except AmbiguousSendError as error:
            return SendResult(ids, "unknown", error=str(error))
        return SendResult(ids, "sent", provider_message_id=message["Message-ID"])

    def close(self) -> None:
        if self.connection is not None:
            with contextlib.suppress(smtplib.SMTPException, OSError):
                self.connection.quit()
            self.connection = None
