"""The Redis client the product uses, built from the resolved URL (embedded or configured)."""

from __future__ import annotations

import redis

from newsletter.config import Settings
from newsletter.services import service_urls


def make_redis(settings: Settings) -> redis.Redis:
    return redis.Redis.from_url(service_urls(settings).redis_url, socket_timeout=10)
