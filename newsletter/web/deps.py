"""Request dependencies as Annotated aliases: settings, a session, the client's IP, the rate limiter."""

from __future__ import annotations

import ipaddress
from collections.abc import Iterator
from typing import Annotated

import redis
from fastapi import Depends, Request
from sqlalchemy.orm import Session, sessionmaker

from newsletter.config import Settings
from newsletter.db import session_scope
from newsletter.web.ratelimit import RateLimiter

MAX_USER_AGENT_CHARS = 512
IpNetwork = ipaddress.IPv4Network | ipaddress.IPv6Network


def request_settings(request: Request) -> Settings:
    return request.app.state.settings  # type: ignore[no-any-return]


def request_session_factory(request: Request) -> sessionmaker[Session]:
    return request.app.state.session_factory  # type: ignore[no-any-return]


def request_session(request: Request) -> Iterator[Session]:
    """A read-mostly session; routes that write open their own `session_scope` so they can enqueue
    work only after the commit."""
    with session_scope(request_session_factory(request)) as session:
        yield session


def request_redis(request: Request) -> redis.Redis:
    return request.app.state.redis  # type: ignore[no-any-return]


def request_rate_limiter(request: Request) -> RateLimiter:
    return request.app.state.rate_limiter  # type: ignore[no-any-return]


def parse_networks(entries: list[str]) -> list[IpNetwork]:
    networks = []
    for entry in entries:
        try:
            networks.append(ipaddress.ip_network(entry.strip(), strict=False))
        except ValueError:
            continue
    return networks


def _is_trusted(address: str, networks: list[IpNetwork]) -> bool:
    try:
        ip = ipaddress.ip_address(address)
    except ValueError:
        return False
    return any(ip in network for network in networks)


def client_ip(request: Request) -> str:
    """The peer address, unless the peer is a configured proxy: then the right-most address in
    X-Forwarded-For that is not itself a trusted proxy (the left part is whatever the client claimed)."""
    peer = request.client.host if request.client else ""
    networks: list[IpNetwork] = request.app.state.trusted_networks
    if not _is_trusted(peer, networks):
        return peer
    hops = [hop.strip() for value in request.headers.getlist("x-forwarded-for") for hop in value.split(",")]
    for hop in reversed([hop for hop in hops if hop]):
        if _is_trusted(hop, networks):
            continue
        try:
            return str(ipaddress.ip_address(hop))
        except ValueError:
            return peer
    return peer


def user_agent(request: Request) -> str | None:
    value = request.headers.get("user-agent")
    return value[:MAX_USER_AGENT_CHARS] if value else None


SettingsDep = Annotated[Settings, Depends(request_settings)]
SessionFactoryDep = Annotated[sessionmaker[Session], Depends(request_session_factory)]
SessionDep = Annotated[Session, Depends(request_session)]
RedisDep = Annotated[redis.Redis, Depends(request_redis)]
RateLimiterDep = Annotated[RateLimiter, Depends(request_rate_limiter)]
ClientIpDep = Annotated[str, Depends(client_ip)]
UserAgentDep = Annotated[str | None, Depends(user_agent)]
