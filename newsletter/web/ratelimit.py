"""Fixed-window rate limits in Redis, per IP and per address, under the deployment's key prefix."""

from __future__ import annotations

import hashlib
import logging
import math
import time
from dataclasses import dataclass

import redis

logger = logging.getLogger(__name__)


@dataclass(frozen=True)
class Limit:
    name: str
    max_hits: int
    window_s: int


# Generous for people, tight for scripts; a per-address limit also stops mail-bombing one inbox.
SIGNUP_PER_IP = Limit("signup-ip", 10, 3600)
SIGNUP_PER_ADDRESS = Limit("signup-address", 3, 3600)
LINK_ACTIONS_PER_IP = Limit("link-ip", 60, 600)
# Wrong admin passwords per client: a person mistypes a few times, a script guesses hundreds a second.
ADMIN_FAILURES_PER_IP = Limit("admin-failures-ip", 10, 60)
# Emails with a data link a forwarded preferences link can ask for: enough for a person, no mail bomb.
DATA_LINKS_PER_SUBSCRIBER = Limit("data-link-subscriber", 3, 3600)


class RateLimiter:
    def __init__(self, client: redis.Redis, prefix: str) -> None:
        self.client = client
        self.prefix = prefix

    def key(self, limit: Limit, identity: str, now: float) -> str:
        window = int(now // limit.window_s)
        # Hashed: addresses are personal data and have no business sitting in Redis in clear.
        digest = hashlib.sha256(identity.lower().encode()).hexdigest()[:32]
        return f"{self.prefix}ratelimit:{limit.name}:{window}:{digest}"

    def allow(self, limit: Limit, identity: str) -> bool:
        """Count one hit; False once the window's budget is spent. Fails open if Redis is down
        (a signup form that breaks with the cache is worse than a few extra requests)."""
        key = self.key(limit, identity, time.time())
        try:
            pipeline = self.client.pipeline()
            pipeline.incr(key)
            pipeline.ttl(key)
            hits, ttl = pipeline.execute()
            # EXPIRE … NX needs Redis 7; a key without a TTL is given one by whoever sees it first.
            if int(ttl) < 0:
                self.client.expire(key, limit.window_s)
        except redis.RedisError:
            logger.exception("rate limit %s not checked: Redis unavailable", limit.name)
            return True
        return int(hits) <= limit.max_hits

    def retry_after(self, limit: Limit, identity: str) -> int | None:
        """Seconds until the window ends if its budget is spent (without counting a hit), else None."""
        now = time.time()
        try:
            hits = self.client.get(self.key(limit, identity, now))
        except redis.RedisError:
            logger.exception("rate limit %s not checked: Redis unavailable", limit.name)
            return None
        if hits is None or int(hits) < limit.max_hits:
            return None
        return max(1, math.ceil(limit.window_s - now % limit.window_s))
