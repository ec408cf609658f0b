"""The Celery app, configured from the product's settings when first used (embedded Redis included)."""

from __future__ import annotations

from datetime import timedelta
from functools import lru_cache
from typing import Any

from celery import Celery
from sqlalchemy.orm import Session, sessionmaker

from newsletter.config import Settings, get_settings
from newsletter.db import make_engine, make_session_factory
from newsletter.health import HEARTBEAT_INTERVAL_S
from newsletter.services import service_urls
from newsletter.summaries.languages import is_llm_configured
from newsletter.taskqueue import celery_config
from workers import consumers  # noqa: F401 - connects the consumer beacon to the worker's signals

TASK_MODULES = [
    "workers.tasks.health",
    "workers.tasks.fetch",
    "workers.tasks.summaries",
    "workers.tasks.editions",
    "workers.tasks.mail",
    "workers.tasks.feedback",
]
WEBHOOK_TICK_S = 60.0


def beat_schedule(settings: Settings) -> dict[str, dict[str, Any]]:
    editions_tick = timedelta(seconds=settings.editions_interval_s)
    schedule = {
        "fetch-all": every(timedelta(hours=settings.fetch_interval_hours), "workers.tasks.fetch.fetch_all"),
        # Summaries are wanted soon after a fetch; a run with nothing pending costs one query.
        "summarize-pending": every(editions_tick, "workers.tasks.summaries.summarize_pending"),
        "build-due-editions": every(editions_tick, "workers.tasks.editions.build_due_editions"),
        # Sends what the editions tick built; a run with nothing pending costs a few queries.
        "send-due-deliveries": every(editions_tick, "workers.tasks.mail.send_due_deliveries"),
        # Transactional emails whose task message was lost (broker down during a signup).
        "send-stranded-transactional": every(editions_tick, "workers.tasks.mail.send_stranded_transactional"),
        # Readers' models whose refit message was lost (the vote itself enqueues the refit at once).
        "refit-stale-reader-models": every(editions_tick, "workers.tasks.feedback.refit_stale_models"),
        "process-webhook-events": every(
            timedelta(seconds=WEBHOOK_TICK_S), "workers.tasks.mail.process_webhook_events"
        ),
        "heartbeat": every(timedelta(seconds=HEARTBEAT_INTERVAL_S), "workers.tasks.health.heartbeat"),
    }
    if is_llm_configured(settings):
        # The home page's papers get the LLM's summaries; a tick with nothing new costs a few queries.
        schedule["summarize-front-page"] = every(
            editions_tick, "workers.tasks.summaries.summarize_front_page"
        )
    return schedule


def every(interval: timedelta, task: str) -> dict[str, Any]:
    # Each entry expires before its next run: a backlog never turns into a burst of duplicate runs.
    return {"task": task, "schedule": interval, "options": {"expires": interval.total_seconds()}}


app = Celery("newsletter", include=TASK_MODULES)


@app.on_configure.connect
def _configure_from_settings(sender: Celery, **_: Any) -> None:
    settings = get_settings()
    sender.conf.update(celery_config(settings), beat_schedule=beat_schedule(settings))


@lru_cache(maxsize=1)
def session_factory() -> sessionmaker[Session]:
    settings = get_settings()
    return make_session_factory(make_engine(service_urls(settings).database_url))
