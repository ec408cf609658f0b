"""Liveness signals: a worker heartbeat in Redis, which queues have a worker consuming them, and a database
round trip."""

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
# How often the beat (or the served demo, which runs no beat) asks a worker for a heartbeat.
HEARTBEAT_INTERVAL_S = 60.0
# Each worker's main process says every CONSUMER_BEAT_S which queues it consumes (it needs no beat for
# that); a worker counts as consuming while its last word is younger than CONSUMER_TTL_S, so one killed
# without a goodbye stops counting within CONSUMER_TTL_S.
CONSUMER_BEAT_S = 5.0
CONSUMER_TTL_S = 20.0


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


def consumers_key(prefix: str, queue: str) -> str:
    return f"{prefix}consumers:{queue}"


def redis_seconds(redis_client: redis.Redis) -> float:
    # The Redis server's clock, for writers and readers alike: workers and web hosts may disagree.
    seconds, microseconds = redis_client.time()
    return float(seconds) + microseconds / 1_000_000


def record_queue_consumer(redis_client: redis.Redis, prefix: str, hostname: str, queues: list[str]) -> None:
    """Say that the worker `hostname` consumes `queues` now (a sorted set per queue, scored by time)."""
    now = redis_seconds(redis_client)
    pipeline = redis_client.pipeline()
    for queue in queues:
        key = consumers_key(prefix, queue)
        pipeline.zadd(key, {hostname: now})
        pipeline.zremrangebyscore(key, "-inf", now - CONSUMER_TTL_S)
        pipeline.expire(key, int(CONSUMER_TTL_S * 2))
    pipeline.execute()


def forget_queue_consumer(redis_client: redis.Redis, prefix: str, hostname: str, queues: list[str]) -> None:
    """A worker shutting down stops counting at once rather than CONSUMER_TTL_S later."""
    pipeline = redis_client.pipeline()
    for queue in queues:
        pipeline.zrem(consumers_key(prefix, queue), hostname)
    pipeline.execute()


def is_queue_consumed(redis_client: redis.Redis, prefix: str, queue: str) -> bool:
    """Whether some worker said within CONSUMER_TTL_S that it consumes `queue`."""
    since = redis_seconds(redis_client) - CONSUMER_TTL_S
    return int(redis_client.zcount(consumers_key(prefix, queue), since, "+inf")) > 0


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
