"""How the product reaches its task queue: the Celery settings, and enqueueing a task by name.

Web requests, the demo and commands enqueue work by task name with ids only; they never import the
workers package (the workers import the domain, not the other way round).
"""

from __future__ import annotations

from functools import lru_cache
from typing import Any

from celery import Celery

from newsletter.config import Settings
from newsletter.services import celery_broker_url, service_urls

QUEUE = "newsletter"
# A queue per stage, so each can get its own workers at scale (`newsletter worker --queues mail`);
# a plain `newsletter worker` consumes them all.
TASK_ROUTES = {
    "workers.tasks.fetch.*": {"queue": "fetch"},
    "workers.tasks.summaries.*": {"queue": "summaries"},
    "workers.tasks.editions.*": {"queue": "editions"},
    "workers.tasks.mail.*": {"queue": "mail"},
}
QUEUES = (QUEUE, "fetch", "summaries", "editions", "mail")


def celery_config(settings: Settings) -> dict[str, Any]:
    urls = service_urls(settings)
    return {
        "broker_url": celery_broker_url(urls.redis_url),
        # Every key (queues, bindings, unacked) under the product's prefix: deployments and test runs
        # sharing one Redis never see each other's tasks.
        "broker_transport_options": {"global_keyprefix": settings.redis_prefix, "visibility_timeout": 3600},
        "broker_connection_retry_on_startup": True,
        "task_default_queue": QUEUE,
        "task_routes": TASK_ROUTES,
        "task_serializer": "json",
        "result_serializer": "json",
        "accept_content": ["json"],
        # Nothing reads task results: Postgres holds the work state.
        "task_ignore_result": True,
        "result_backend": None,
        "task_acks_late": True,
        "task_reject_on_worker_lost": True,
        "worker_prefetch_multiplier": 1,
        "task_time_limit": 30 * 60,
        "task_soft_time_limit": 25 * 60,
        "worker_hijack_root_logger": False,
        "timezone": "UTC",
    }


@lru_cache(maxsize=8)
def _producer(broker_url: str, prefix: str) -> Celery:
    producer = Celery("newsletter-producer")
    producer.conf.update(
        broker_url=broker_url,
        broker_transport_options={"global_keyprefix": prefix},
        task_default_queue=QUEUE,
        task_routes=TASK_ROUTES,
        task_serializer="json",
        accept_content=["json"],
        task_ignore_result=True,
    )
    return producer


def enqueue(settings: Settings, task_name: str, *args: Any) -> str:
    """Send a task by name; returns its id. Arguments must be JSON (ids, ISO dates)."""
    broker = celery_broker_url(service_urls(settings).redis_url)
    return str(_producer(broker, settings.redis_prefix).send_task(task_name, args=list(args)).id)
