"""While a worker runs, its main process tells Redis every few seconds which queues it consumes, so the
web can tell whether a queued email will be picked up or must be sent where it was written
(`newsletter.subscribers.outbox`). A thread of the worker's own: no beat, no task round trip."""

from __future__ import annotations

import logging
import threading
from typing import Any

import redis
from celery.signals import worker_ready, worker_shutdown

from newsletter.config import get_settings
from newsletter.health import CONSUMER_BEAT_S, forget_queue_consumer, record_queue_consumer
from newsletter.redis_client import make_redis

logger = logging.getLogger(__name__)


class ConsumerBeacon:
    def __init__(self, hostname: str, queues: list[str]) -> None:
        settings = get_settings()
        self.hostname = hostname
        self.queues = queues
        self.prefix = settings.redis_prefix
        self.redis = make_redis(settings)
        self.stopped = threading.Event()
        self.thread = threading.Thread(target=self.run, name="consumer-beacon", daemon=True)

    def run(self) -> None:
        while not self.stopped.is_set():
            try:
                record_queue_consumer(self.redis, self.prefix, self.hostname, self.queues)
            except (redis.RedisError, OSError) as error:
                # The broker is Redis too: while it is down nothing is consumed anyway.
                logger.warning("consumer beacon of %s: Redis unavailable (%s)", self.hostname, error)
            self.stopped.wait(CONSUMER_BEAT_S)

    def stop(self) -> None:
        self.stopped.set()
        self.thread.join(timeout=CONSUMER_BEAT_S)
        try:
            forget_queue_consumer(self.redis, self.prefix, self.hostname, self.queues)
        except (redis.RedisError, OSError):
            logger.warning("consumer beacon of %s: could not say goodbye; it ages out", self.hostname)


beacons: list[ConsumerBeacon] = []


@worker_ready.connect
def start_beacon(sender: Any, **_: Any) -> None:
    # `sender` is the worker's consumer; the queues it consumes are named as the product names them.
    queues = sorted(queue.name for queue in sender.task_consumer.queues)
    beacon = ConsumerBeacon(sender.hostname, queues)
    beacon.thread.start()
    beacons.append(beacon)
    logger.info("consumer beacon: %s consumes %s", sender.hostname, ", ".join(queues))


@worker_shutdown.connect
def stop_beacons(**_: Any) -> None:
    while beacons:
        beacons.pop().stop()
