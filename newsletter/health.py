"""Liveness signals: a worker heartbeat in Redis and a database round trip."""

from __future__ import annotations

import json
import socket
import time
from dataclasses import dataclass

import redis
from sqlalchemy import text
from sqlalchemy.orm import Session

HEARTBEAT_TTL_S = 300


@dataclass(frozen=True)
class Heartbeat:
    hostname: str
    at: float
    database_time: str


def record_worker_heartbeat(session: Session, redis_client: redis.Redis, prefix: str) -> Heartbeat:
    """Prove the worker reaches both Postgres and Redis, and leave a trace /healthz can read."""
    database_time = session.execute(text("SELECT now()")).scalar_one()
    beat = Heartbeat(hostname=socket.gethostname(), at=time.time(), database_time=database_time.isoformat())
    redis_client.set(f"{prefix}worker:heartbeat", json.dumps(beat.__dict__), ex=HEARTBEAT_TTL_S)
    return beat


def last_worker_heartbeat(redis_client: redis.Redis, prefix: str) -> Heartbeat | None:
    raw = redis_client.get(f"{prefix}worker:heartbeat")
    return Heartbeat(**json.loads(raw)) if raw else None
