"""Worker heartbeat: shows /healthz and `newsletter stats` that a worker is alive and connected."""

from __future__ import annotations

import logging

from newsletter.config import get_settings
from newsletter.db import session_scope
from newsletter.health import record_worker_heartbeat
from newsletter.redis_client import make_redis
from workers.celery_app import app, session_factory

logger = logging.getLogger(__name__)


@app.task(name="workers.tasks.health.heartbeat")
def heartbeat() -> dict[str, object]:
    settings = get_settings()
    redis_client = make_redis(settings)
    with session_scope(session_factory()) as session:
        beat = record_worker_heartbeat(session, redis_client, settings.redis_prefix)
    logger.info("worker heartbeat from %s", beat.hostname)
    return {"hostname": beat.hostname, "at": beat.at}
