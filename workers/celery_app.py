"""The Celery app, configured from the product's settings when first used (embedded Redis included)."""

from __future__ import annotations

from datetime import timedelta
from functools import lru_cache
from typing import Any

from celery import Celery
from sqlalchemy.orm import Session, sessionmaker

from newsletter.config import Settings, get_settings
from newsletter.db import make_engine, make_session_factory
from newsletter.services import celery_broker_url, resolve_service_urls

TASK_MODULES = [
    "workers.tasks.health",
    "workers.tasks.fetch",
    "workers.tasks.summaries",
    "workers.tasks.editions",
]
HEARTBEAT_INTERVAL_S = 60.0
EDITIONS_TICK_S = 300.0


def celery_config(settings: Settings) -> dict[str, Any]:
    urls = resolve_service_urls(settings)
    return {
        "broker_url": celery_broker_url(urls.redis_url),
        # Every key (queues, bindings, unacked) under the product's prefix: deployments and test runs
        # sharing one Redis never see each other's tasks.
        "broker_transport_options": {"global_keyprefix": settings.redis_prefix, "visibility_timeout": 3600},
        "broker_connection_retry_on_startup": True,
        "task_default_queue": "newsletter",
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
        "beat_schedule": beat_schedule(settings),
    }


def beat_schedule(settings: Settings) -> dict[str, dict[str, Any]]:
    # Each entry expires before its next run: a backlog never turns into a burst of duplicate runs.
    heartbeat = timedelta(seconds=HEARTBEAT_INTERVAL_S)
    editions_tick = timedelta(seconds=EDITIONS_TICK_S)
    fetch_every = timedelta(hours=settings.fetch_interval_hours)
    return {
        "fetch-all": {
            "task": "workers.tasks.fetch.fetch_all",
            "schedule": fetch_every,
            "options": {"expires": fetch_every.total_seconds()},
        },
        # Summaries are wanted soon after a fetch; a run with nothing pending costs one query.
        "summarize-pending": {
            "task": "workers.tasks.summaries.summarize_pending",
            "schedule": editions_tick,
            "options": {"expires": editions_tick.total_seconds()},
        },
        "build-due-editions": {
            "task": "workers.tasks.editions.build_due_editions",
            "schedule": editions_tick,
            "options": {"expires": editions_tick.total_seconds()},
        },
        "heartbeat": {
            "task": "workers.tasks.health.heartbeat",
            "schedule": heartbeat,
            "options": {"expires": heartbeat.total_seconds()},
        },
    }


app = Celery("newsletter", include=TASK_MODULES)


@app.on_configure.connect
def _configure_from_settings(sender: Celery, **_: Any) -> None:
    sender.conf.update(celery_config(get_settings()))


@lru_cache(maxsize=1)
def session_factory() -> sessionmaker[Session]:
    settings = get_settings()
    return make_session_factory(make_engine(resolve_service_urls(settings).database_url))
