"""Fixed-window rate limits in Redis, per client network and per mailbox, under the deployment's key prefix.

Identities are counted the way they can be multiplied: an IPv6 client holds a whole /64 (2^64 addresses),
so IPv6 is limited per /64; `a+1@x.org`, `a+2@x.org` and `A@x.org` reach one inbox, so addresses are
limited per mailbox (lower-case, `+tag` removed). What is stored and mailed is the address as typed.
"""

from __future__ import annotations

import hashlib
import ipaddress
import logging
import math
import time
from dataclasses import dataclass
from typing import Literal

import redis

logger = logging.getLogger(__name__)


IPV6_CLIENT_PREFIX = 64


@dataclass(frozen=True)
class Limit:
    name: str
    max_hits: int
    window_s: int
    # What the identity is, so it is counted in its unit: a client network, a mailbox, or an id.
    per: Literal["client", "mailbox", "id"]


# Generous for people, tight for scripts; a per-address limit also stops mail-bombing one inbox.
SIGNUP_PER_IP = Limit("signup-ip", 10, 3600, "client")
SIGNUP_PER_ADDRESS = Limit("signup-address", 3, 3600, "mailbox")
LINK_ACTIONS_PER_IP = Limit("link-ip", 60, 600, "client")
# Wrong admin passwords per client: a person mistypes a few times, a script guesses hundreds a second.
ADMIN_FAILURES_PER_IP = Limit("admin-failures-ip", 10, 60, "client")
# Emails with a data link a forwarded preferences link can ask for: enough for a person, no mail bomb.
DATA_LINKS_PER_SUBSCRIBER = Limit("data-link-subscriber", 3, 3600, "id")
# One reader votes on a few papers a day; a script replaying vote links is stopped per reader (every
# spelling of every one of their vote links counts together). Only votes (POSTs) count: a mail scanner opening the link, or anyone a forwarded email reached, must not spend
# the reader's budget. Opening vote pages is counted per client network instead.
FEEDBACK_PER_READER = Limit("feedback-reader", 60, 3600, "id")
FEEDBACK_PAGES_PER_IP = Limit("feedback-page-ip", 120, 600, "client")


def client_network(ip: str) -> str:
    """The unit one client controls: an IPv4 address, or the /64 of an IPv6 one (IPv4-mapped IPv6
    counts as its IPv4 address)."""
    try:
        address = ipaddress.ip_address(ip.strip())
    except ValueError:
        return ip.strip().lower()
    if isinstance(address, ipaddress.IPv6Address):
        if address.ipv4_mapped is not None:
            return str(address.ipv4_mapped)
        return str(ipaddress.IPv6Network((address, IPV6_CLIENT_PREFIX), strict=False))
    return str(address)


# Gmail delivers every spelling of a local part with dots anywhere ("a.da@", "ad.a@", "ada@": one inbox),
# and googlemail.com is gmail.com: a 12-letter name has about 2,000 spellings, each of which would get its
# own budget of confirmation emails.
DOTLESS_DOMAINS = {"gmail.com": "gmail.com", "googlemail.com": "gmail.com"}


def mailbox(address: str) -> str:
    """The inbox an address reaches, as far as counting goes: lower-case, without a `+tag`, and for Gmail
    without the dots of the local part. Only counted: the address is stored as typed."""
    local, at, domain = address.strip().lower().rpartition("@")
    if not at:
        return address.strip().lower()
    local = local.split("+", 1)[0] or local
    if domain in DOTLESS_DOMAINS:
        local, domain = local.replace(".", "") or local, DOTLESS_DOMAINS[domain]
    return f"{local}@{domain}"


def counted_identity(limit: Limit, identity: str) -> str:
    if limit.per == "client":
        return client_network(identity)
    if limit.per == "mailbox":
        return mailbox(identity)
    return identity


# Decrements a window's count, never below zero nor into a window that has already ended (no key).
TAKE_BACK = """
local hits = tonumber(redis.call('GET', KEYS[1]) or '0')
if hits > 0 then return redis.call('DECR', KEYS[1]) end
return 0
"""


class RateLimiter:
    def __init__(self, client: redis.Redis, prefix: str) -> None:
        self.client = client
        self.prefix = prefix

    def key(self, limit: Limit, identity: str, now: float) -> str:
        window = int(now // limit.window_s)
        # Hashed: addresses are personal data and have no business sitting in Redis in clear.
        digest = hashlib.sha256(counted_identity(limit, identity).encode()).hexdigest()[:32]
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

    def take_back(self, limit: Limit, identity: str) -> None:
        """Uncount one hit of the current window: for an attempt counted before it was known to be no
        failure (counting first is what makes a burst of attempts at once stop at the budget)."""
        try:
            self.client.eval(TAKE_BACK, 1, self.key(limit, identity, time.time()))
        except redis.RedisError:
            logger.exception("rate limit %s not uncounted: Redis unavailable", limit.name)

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
