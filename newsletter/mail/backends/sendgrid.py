"""The SendGrid backend: one request per ≤ 1,000 recipients of one rendered email.

Each recipient is a personalization with its own substitutions (signed links), headers (List-Unsubscribe)
and `custom_args` (the delivery id, which comes back in every webhook event). Provider errors are mapped
here, once: 429 waits for X-RateLimit-Reset, 5xx and connection failures are retried with backoff and
jitter, other 4xx are permanent. SendGrid has no idempotency key, so a request whose answer never came
is never retried: its deliveries become `unknown` and the webhook settles them.
"""

from __future__ import annotations

import http.client
import logging
import time
import urllib.error
from collections.abc import Callable, Iterator, Sequence
from typing import Any

from python_http_client.exceptions import HTTPError
from sendgrid import SendGridAPIClient
from tenacity import (
    RetryCallState,
    Retrying,
    retry_if_exception_type,
    stop_after_attempt,
    wait_exponential_jitter,
)

from newsletter.config import Settings
from newsletter.errors import PermanentError, TransientError
from newsletter.mail.backends import AmbiguousSendError, SendResult
from newsletter.mail.message import (
    Recipient,
    clean_header_value,
    list_id,
    personal_headers,
    slot_values,
)
from newsletter.mail.render import RenderedEmail

logger = logging.getLogger(__name__)
MAX_PERSONALIZATIONS = 1000
MAX_RATE_LIMIT_WAIT_S = 120.0
# SendGrid's own tracking rewrites links, adds a pixel that reports every open to a third party, and
# expands its substitution tags (`<%asm_group_unsubscribe_raw_url%>`...) wherever a paper's text spells
# them: all off. The only per-recipient values are our own link slots.
TRACKING_OFF = {
    "click_tracking": {"enable": False, "enable_text": False},
    "open_tracking": {"enable": False},
    "subscription_tracking": {"enable": False},
    "ganalytics": {"enable": False},
}


def _rate_limit_wait(headers: Any, now: Callable[[], float]) -> float | None:
    reset = headers.get("X-RateLimit-Reset") if headers is not None else None
    try:
        return min(MAX_RATE_LIMIT_WAIT_S, max(0.0, float(reset) - now())) if reset else None
    except ValueError:
        return None


def map_http_error(error: HTTPError, now: Callable[[], float] = time.time) -> TransientError | PermanentError:
    body = error.body.decode(errors="replace")[:500] if isinstance(error.body, bytes) else str(error.body)
    if error.status_code == 429:
        return TransientError(f"SendGrid 429: {body}", retry_after_s=_rate_limit_wait(error.headers, now))
    if error.status_code >= 500:
        return TransientError(f"SendGrid {error.status_code}: {body}")
    return PermanentError(f"SendGrid {error.status_code}: {body}")


class SendGridBackend:
    name = "sendgrid"
    max_batch = MAX_PERSONALIZATIONS

    def __init__(
        self,
        settings: Settings,
        *,
        max_attempts: int = 5,
        retry_wait_s: float = 1.0,
        sleep: Callable[[float], None] = time.sleep,
    ) -> None:
        self.settings = settings
        self.max_attempts = max_attempts
        self.retry_wait_s = retry_wait_s
        self.sleep = sleep
        self.client = SendGridAPIClient(
            settings.sendgrid_api_key.get_secret_value(), host=settings.sendgrid_base_url
        )
        self.client.client.timeout = settings.http_timeout_s

    def request_body(self, rendered: RenderedEmail, recipients: Sequence[Recipient]) -> dict[str, Any]:
        settings = self.settings
        body: dict[str, Any] = {
            "personalizations": [
                {
                    "to": [{"email": recipient.email}],
                    "substitutions": slot_values(rendered, recipient),
                    "headers": {
                        name: clean_header_value(value)
                        for name, value in personal_headers(settings, recipient).items()
                        if name != "List-Id"
                    },
                    "custom_args": {"delivery_id": str(recipient.delivery_id)},
                }
                for recipient in recipients
            ],
            "from": {"email": settings.sender_address, "name": clean_header_value(settings.sender_name)},
            "subject": clean_header_value(rendered.subject),
            "content": [
                {"type": "text/plain", "value": rendered.text},
                {"type": "text/html", "value": rendered.html},
            ],
            "headers": {"List-Id": list_id(settings)},
            "tracking_settings": TRACKING_OFF,
        }
        if settings.reply_to:
            body["reply_to"] = {"email": settings.reply_to}
        return body

    def _post(self, body: dict[str, Any]) -> str | None:
        try:
            response = self.client.client.mail.send.post(request_body=body)
        except HTTPError as error:
            raise map_http_error(error) from error
        except urllib.error.URLError as error:
            # urllib wraps failures while connecting or writing the request: it was not accepted.
            raise TransientError(f"SendGrid unreachable: {error.reason}") from error
        except (TimeoutError, http.client.HTTPException, ConnectionError) as error:
            # Raised while waiting for the answer: the request may have been accepted.
            raise AmbiguousSendError(f"no answer from SendGrid: {error!r}") from error
        return response.headers.get("X-Message-Id")

    def _wait(self, state: RetryCallState) -> float:
        error = state.outcome.exception() if state.outcome else None
        if isinstance(error, TransientError) and error.retry_after_s is not None:
            return error.retry_after_s
        return wait_exponential_jitter(
            multiplier=self.retry_wait_s, max=60 * self.retry_wait_s, jitter=self.retry_wait_s
        )(state)

    def send_batch(self, rendered: RenderedEmail, recipients: Sequence[Recipient]) -> Iterator[SendResult]:
        for start in range(0, len(recipients), MAX_PERSONALIZATIONS):
            chunk = recipients[start : start + MAX_PERSONALIZATIONS]
            yield self._send_request(rendered, chunk)

    def _send_request(self, rendered: RenderedEmail, recipients: Sequence[Recipient]) -> SendResult:
        ids = [recipient.delivery_id for recipient in recipients]
        body = self.request_body(rendered, recipients)
        retrying = Retrying(
            retry=retry_if_exception_type(TransientError),
            stop=stop_after_attempt(self.max_attempts),
            wait=self._wait,
            sleep=self.sleep,
            reraise=True,
        )
        try:
            message_id = retrying(self._post, body)
        except TransientError as error:
            logger.warning("SendGrid request for deliveries %s..%s not accepted: %s", ids[0], ids[-1], error)
            return SendResult(ids, "retry", error=str(error))
        except PermanentError as error:
            logger.warning("SendGrid refused deliveries %s..%s: %s", ids[0], ids[-1], error)
            return SendResult(ids, "failed", error=str(error))
        except AmbiguousSendError as error:
            logger.error("deliveries %s..%s in doubt: %s", ids[0], ids[-1], error)
            return SendResult(ids, "unknown", error=str(error))
        return SendResult(ids, "sent", provider_message_id=message_id)

    def close(self) -> None:
        return None
