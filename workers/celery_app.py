"""The Celery app, configured from the product's settings when first used (embedded Redis included)."""

from __future__ import annotations

from datetime import timedelta
from functools import lru_cache
from typing import Any

from celery import Celery
from sqlalchemy.orm import Session, sessionmaker

from newsletter.config import Settings, get_settings
from newsletter.db import make_engine, make_session_factory
from newsletter.services import service_urls
from newsletter.taskqueue import celery_config

TASK_MODULES = [
    "workers.tasks.health",
    "workers.tasks.fetch",
    "workers.tasks.summaries",
    "workers.tasks.editions",
    "workers.tasks.mail",
]
HEARTBEAT_INTERVAL_S = 60.0
WEBHOOK_TICK_S = 60.0


def beat_schedule(settings: Settings) -> dict[str, dict[str, Any]]:
    # Each entry expires before its next run: a backlog never turns into a burst of duplicate runs.
    heartbeat = timedelta(seconds=HEARTBEAT_INTERVAL_S)
    editions_tick = timedelta(seconds=settings.editions_interval_s)
    webhook_tick = timedelta(seconds=WEBHOOK_TICK_S)
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
        # Sends what the editions tick built; a run with nothing pending costs a few queries.
        "send-due-deliveries": {
            "task": "workers.tasks.mail.send_due_deliveries",
            "schedule": editions_tick,
            "options": {"expires": editions_tick.total_seconds()},
        },
        # Transactional emails whose task message was lost (broker down during a signup).
        "send-stranded-transactional": {
            "task": "workers.tasks.mail.send_stranded_transactional",
            "schedule": editions_tick,
            "options": {"expires": editions_tick.total_seconds()},
        },
        "process-webhook-events": {
            "task": "workers.tasks.mail.process_webhook_events",
            "schedule": webhook_tick,
            "options": {"expires": webhook_tick.total_seconds()},
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
    settings = get_settings()
    sender.conf.update(celery_config(settings), beat_schedule=beat_schedule(settings))


@lru_cache(maxsize=1)
def session_factory() -> sessionmaker[Session]:
    settings = get_settings()
    return make_session_factory(make_engine(service_urls(settings).database_url))
