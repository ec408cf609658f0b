"""Liveness signals: a worker heartbeat in Redis and a database round trip."""

from __future__ import annotations

import json
import socket
import time
from dataclasses import dataclass

import redis
from sqlalchemy import text
from sqlalchemy.exc import SQLAlchemyError
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


@dataclass(frozen=True)
class HealthReport:
    database: str
    redis: str
    worker: str

    @property
    def is_serving(self) -> bool:
        """The web process can do its job (the database and Redis answer)."""
        return self.database == "ok" and self.redis == "ok"

    @property
    def status(self) -> str:
        if not self.is_serving:
            return "unhealthy"
        # No worker: pages still work, but nothing is fetched or sent until one is back.
        return "ok" if self.worker == "ok" else "degraded"


def check_health(
    session: Session, redis_client: redis.Redis, prefix: str, now: float | None = None
) -> HealthReport:
    """Each part answers `ok` or says what is wrong; a worker counts as alive while its last heartbeat
    (every minute, from beat) is younger than HEARTBEAT_TTL_S."""
    try:
        session.execute(text("SELECT 1"))
        database = "ok"
    except SQLAlchemyError as error:
        database = f"error: {type(error).__name__}"
    try:
        redis_client.ping()
        redis_state = "ok"
        beat = last_worker_heartbeat(redis_client, prefix)
        if beat is None:
            worker = "no heartbeat in the last 5 minutes"
        else:
            age = (now if now is not None else time.time()) - beat.at
            worker = "ok" if age <= HEARTBEAT_TTL_S else f"last heartbeat {age:.0f}s ago"
    except (redis.RedisError, OSError) as error:
        redis_state = f"error: {type(error).__name__}"
        worker = "unknown (Redis is down)"
    return HealthReport(database, redis_state, worker)
