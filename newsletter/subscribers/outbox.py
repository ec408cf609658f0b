"""Handing the emails a subscriber change produces (confirmation, welcome, goodbye, manage, data link) to
the mail worker after the transaction that wrote their Delivery rows has committed, and sending them where
they were written when no worker consumes the mail queue."""

from __future__ import annotations

import logging

import redis
from kombu.exceptions import OperationalError
from sqlalchemy.orm import Session, sessionmaker

from newsletter.config import Settings
from newsletter.health import is_queue_consumed
from newsletter.mail.transactional import deliver_transactional
from newsletter.redis_client import make_redis
from newsletter.taskqueue import enqueue

logger = logging.getLogger(__name__)
DELIVER_TRANSACTIONAL_TASK = "workers.tasks.mail.deliver_transactional"
MAIL_QUEUE = "mail"


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


def is_mail_worker_listening(settings: Settings) -> bool:
    """Whether a worker said within the last seconds that it consumes the mail queue (False if Redis,
    where workers say so, cannot be asked)."""
    try:
        return is_queue_consumed(make_redis(settings), settings.redis_prefix, MAIL_QUEUE)
    except (redis.RedisError, OSError):
        return False


def hand_over_delivery(settings: Settings, delivery_id: int | None) -> bool:
    """Enqueue the row for the mail worker; True when the caller must send it itself (`send_here`), as
    no worker consumes the mail queue or the broker is down.

    The row is enqueued either way: a worker that starts later takes the message, finds the row already
    claimed by whoever sent it, and sends nothing (`claim_delivery`), so the email goes out once.
    """
    if delivery_id is None:
        return False
    is_queued = enqueue_delivery(settings, delivery_id)
    if is_queued and is_mail_worker_listening(settings):
        return False
    logger.info("delivery %s: no mail worker is consuming; sending it here", delivery_id)
    return True


def send_here(session_factory: sessionmaker[Session], settings: Settings, delivery_id: int) -> str:
    """Send one transactional row in this process; the row's state afterwards. A send that fails leaves
    the row to the queued message or to the beat's stranded sweep."""
    try:
        state = deliver_transactional(session_factory, settings, delivery_id)
    except Exception:  # the process's own boundary: a background send must not take anything down
        logger.exception("delivery %s: sending without a worker failed; the row waits for one", delivery_id)
        return "failed"
    logger.info("delivery %s sent without a worker: %s", delivery_id, state)
    return state
