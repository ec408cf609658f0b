"""A rate limit shared through Redis: one request per interval, one connection at a time, deployment-wide."""

from __future__ import annotations

import logging
import time
import uuid
from collections.abc import Callable, Iterator
from contextlib import AbstractContextManager, contextmanager
from typing import Protocol

import redis

from newsletter.errors import TransientError

logger = logging.getLogger(__name__)

# Holding the connection lock: wait until the next slot (Redis clock, so machines need not agree on time).
# Returns the milliseconds still to wait, 0 when the slot is now.
WAIT_FOR_SLOT_SCRIPT = """
local now = redis.call('TIME')
local now_ms = tonumber(now[1]) * 1000 + math.floor(tonumber(now[2]) / 1000)
local next_ms = tonumber(redis.call('GET', KEYS[1]) or '0')
if next_ms > now_ms then return next_ms - now_ms end
return 0
"""

# The next slot starts `interval` after this request *ended*: the gap between two requests then holds
# however long the first one took. The lock is only deleted by the holder that set it.
RELEASE_SCRIPT = """
local now = redis.call('TIME')
local now_ms = tonumber(now[1]) * 1000 + math.floor(tonumber(now[2]) / 1000)
local interval_ms = tonumber(ARGV[2])
local next_ms = math.max(now_ms + interval_ms, tonumber(redis.call('GET', KEYS[2]) or '0'))
redis.call('SET', KEYS[2], next_ms, 'PX', interval_ms + 60000)
if redis.call('GET', KEYS[1]) == ARGV[1] then redis.call('DEL', KEYS[1]) end
return next_ms
"""


class RequestSlots(Protocol):
    """What a polite client needs: a context that is held for exactly one request."""

    def request_slot(self) -> AbstractContextManager[None]: ...


class SharedRateLimiter:
    """At most one request per `min_interval_s` and one open connection across all processes sharing Redis."""

    def __init__(
        self,
        redis_client: redis.Redis,
        prefix: str,
        *,
        name: str = "arxiv",
        min_interval_s: float = 3.0,
        lock_ttl_s: float = 120.0,
        acquire_timeout_s: float = 600.0,
        poll_interval_s: float = 0.05,
        sleep: Callable[[float], None] = time.sleep,
        monotonic: Callable[[], float] = time.monotonic,
    ) -> None:
        self.redis = redis_client
        self.lock_key = f"{prefix}{name}:connection-lock"
        self.next_slot_key = f"{prefix}{name}:next-slot"
        self.min_interval_ms = max(1, round(min_interval_s * 1000))
        # The lock outlives a crashed holder by at most this; keep it above the HTTP timeout.
        self.lock_ttl_ms = max(1, round(lock_ttl_s * 1000))
        self.acquire_timeout_s = acquire_timeout_s
        self.poll_interval_s = poll_interval_s
        self.sleep = sleep
        self.monotonic = monotonic
        self.wait_for_slot = self.redis.register_script(WAIT_FOR_SLOT_SCRIPT)
        self.release = self.redis.register_script(RELEASE_SCRIPT)

    @contextmanager
    def request_slot(self) -> Iterator[None]:
        token = uuid.uuid4().hex
        deadline = self.monotonic() + self.acquire_timeout_s
        self._take_lock(token, deadline)
        try:
            while (wait_ms := int(self.wait_for_slot(keys=[self.next_slot_key]))) > 0:
                self.sleep(wait_ms / 1000)
            yield
        finally:
            self.release(keys=[self.lock_key, self.next_slot_key], args=[token, self.min_interval_ms])

    def _take_lock(self, token: str, deadline: float) -> None:
        while not self.redis.set(self.lock_key, token, nx=True, px=self.lock_ttl_ms):
            if self.monotonic() >= deadline:
                raise TransientError(
                    f"waited {self.acquire_timeout_s:.0f} s for the shared connection lock {self.lock_key}",
                    retry_after_s=self.min_interval_ms / 1000,
                )
            self.sleep(self.poll_interval_s)
