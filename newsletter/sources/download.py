"""One GET against a provider: size cap, errors mapped once, and the retry policy both sources use."""

from __future__ import annotations

import logging
import random
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from email.utils import parsedate_to_datetime
from typing import TypeVar

import httpx
from tenacity import (
    RetryCallState,
    Retrying,
    retry_if_exception_type,
    stop_after_attempt,
    wait_random_exponential,
)
from tenacity.stop import stop_base
from tenacity.wait import wait_base

from newsletter.errors import PermanentError, TransientError
from newsletter.sources.parse import MAX_RESPONSE_BYTES

logger = logging.getLogger(__name__)

T = TypeVar("T")

# arXiv throttles with a plain-text 429 (no Retry-After); it must never reach the XML parser.
RATE_EXCEEDED_BODY = b"Rate exceeded."


@dataclass(frozen=True, slots=True)
class RetryPolicy:
    max_attempts: int = 5
    backoff_base_s: float = 3.0
    backoff_max_s: float = 120.0
    # A longer Retry-After is not slept through in a worker: the TransientError carries it to the task.
    max_retry_after_s: float = 300.0


def retry_after_seconds(value: str | None, now: datetime | None = None) -> float | None:
    """`Retry-After` is either delta-seconds or an HTTP date (RFC 9110 §10.2.3)."""
    if value is None or not value.strip():
        return None
    text = value.strip()
    try:
        return max(0.0, float(text))
    except ValueError:
        pass
    try:
        when = parsedate_to_datetime(text)
    except (TypeError, ValueError):
        logger.warning("Ignoring unparseable Retry-After header %r", text)
        return None
    if when.tzinfo is None:
        when = when.replace(tzinfo=UTC)
    return max(0.0, (when - (now or datetime.now(UTC))).total_seconds())


def get_body(
    http: httpx.Client,
    url: str,
    params: Mapping[str, str | int],
    *,
    provider: str,
    max_bytes: int = MAX_RESPONSE_BYTES,
    explain_client_error: Callable[[bytes], str | None] | None = None,
) -> bytes:
    """Return the body of a 2xx answer; raise TransientError or PermanentError for everything else."""
    try:
        with http.stream("GET", url, params=params) as response:
            body = read_capped(response, max_bytes, provider)
    except httpx.TimeoutException as error:
        raise TransientError(f"{provider} timed out: {error!r}") from error
    except (httpx.NetworkError, httpx.RemoteProtocolError) as error:
        raise TransientError(f"{provider} connection failed: {error!r}") from error

    status = response.status_code
    retry_after = retry_after_seconds(response.headers.get("retry-after"))
    if body.strip() == RATE_EXCEEDED_BODY:
        raise TransientError(f"{provider} throttled us (HTTP {status}, 'Rate exceeded.')", retry_after)
    if status == 429 or status >= 500:
        raise TransientError(f"{provider} answered HTTP {status}", retry_after)
    if status >= 400:
        explanation = explain_client_error(body) if explain_client_error else None
        raise PermanentError(explanation or f"{provider} answered HTTP {status}: {body[:200]!r}")
    return body


def read_capped(response: httpx.Response, max_bytes: int, provider: str) -> bytes:
    declared = response.headers.get("content-length")
    if declared is not None and declared.isdigit() and int(declared) > max_bytes:
        raise PermanentError(f"{provider} response declares {declared} bytes, over the {max_bytes}-byte cap")
    chunks: list[bytes] = []
    size = 0
    for chunk in response.iter_bytes():
        size += len(chunk)
        if size > max_bytes:
            raise PermanentError(f"{provider} response passed the {max_bytes}-byte cap; stopped reading")
        chunks.append(chunk)
    return b"".join(chunks)


def call_with_retries(
    operation: Callable[[], T],
    *,
    policy: RetryPolicy,
    sleep: Callable[[float], None] = time.sleep,
    describe: str,
) -> T:
    """Retry TransientError with jittered exponential backoff, honouring Retry-After; then give up."""
    retrying = Retrying(
        retry=retry_if_exception_type(TransientError),
        stop=stop_after_attempt(policy.max_attempts) | StopOnLongRetryAfter(policy.max_retry_after_s),
        wait=WaitHonouringRetryAfter(policy),
        sleep=sleep,
        before_sleep=log_retry(describe),
        reraise=True,
    )
    try:
        return retrying(operation)
    except TransientError as error:
        attempts = retrying.statistics.get("attempt_number", 1)
        raise TransientError(
            f"{describe} failed after {attempts} attempt(s): {error}", error.retry_after_s
        ) from error


class WaitHonouringRetryAfter(wait_base):
    def __init__(self, policy: RetryPolicy) -> None:
        # Full jitter, so workers throttled together do not come back together.
        self.backoff = wait_random_exponential(multiplier=policy.backoff_base_s, max=policy.backoff_max_s)

    def __call__(self, state: RetryCallState) -> float:
        error = state.outcome.exception() if state.outcome else None
        if isinstance(error, TransientError) and error.retry_after_s is not None:
            # At least what the server asked for, plus a little jitter for the same reason as above.
            return error.retry_after_s + random.uniform(0, min(1.0, 0.1 * error.retry_after_s + 0.1))
        return float(self.backoff(state))


class StopOnLongRetryAfter(stop_base):
    def __init__(self, max_retry_after_s: float) -> None:
        self.max_retry_after_s = max_retry_after_s

    def __call__(self, state: RetryCallState) -> bool:
        error = state.outcome.exception() if state.outcome else None
        return (
            isinstance(error, TransientError)
            and error.retry_after_s is not None
            and error.retry_after_s > self.max_retry_after_s
        )


def log_retry(describe: str) -> Callable[[RetryCallState], None]:
    def before_sleep(state: RetryCallState) -> None:
        error = state.outcome.exception() if state.outcome else None
        wait = state.next_action.sleep if state.next_action else 0.0
        logger.warning(
            "%s: attempt %d failed (%s); retrying in %.1f s", describe, state.attempt_number, error, wait
        )

    return before_sleep
