"""Handing transactional emails to the mail worker, after the request's transaction has committed."""

from __future__ import annotations

import logging

import redis
from kombu.exceptions import OperationalError

from newsletter.config import Settings
from newsletter.taskqueue import enqueue

logger = logging.getLogger(__name__)
DELIVER_TRANSACTIONAL_TASK = "workers.tasks.mail.deliver_transactional"


def enqueue_delivery(settings: Settings, delivery_id: int | None) -> None:
    """Ask a worker to send one Delivery row. If the broker is down the row stays pending; the request
    still succeeds (the row, not the message, is the source of truth)."""
    if delivery_id is None:
        return
    try:
        enqueue(settings, DELIVER_TRANSACTIONAL_TASK, delivery_id)
    except (OperationalError, redis.RedisError, OSError):
        logger.exception("delivery %s written but not enqueued: broker unavailable", delivery_id)
