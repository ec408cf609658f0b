"""Handing the emails a subscriber change produces (confirmation, welcome, goodbye) to the mail worker,
after the transaction that wrote their Delivery rows has committed."""

from __future__ import annotations

import logging

import redis
from kombu.exceptions import OperationalError

from newsletter.config import Settings
from newsletter.taskqueue import enqueue

logger = logging.getLogger(__name__)
DELIVER_TRANSACTIONAL_TASK = "workers.tasks.mail.deliver_transactional"


def enqueue_delivery(settings: Settings, delivery_id: int | None) -> bool:
    """Ask a worker to send one Delivery row; False if the broker is down. The row then stays pending
    and the beat task `send_stranded_transactional` enqueues it later: the caller still succeeds (the
    row, not the message, is the source of truth)."""
    if delivery_id is None:
        return False
    try:
        enqueue(settings, DELIVER_TRANSACTIONAL_TASK, delivery_id)
    except (OperationalError, redis.RedisError, OSError):
        logger.exception("delivery %s written but not enqueued: broker unavailable", delivery_id)
        return False
    return True
