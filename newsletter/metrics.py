"""Prometheus metrics read from the database at scrape time.

Workers, beat and web are separate processes; in-process counters would each see a slice. Postgres
already holds every fact (papers, summaries, editions, deliveries, webhook events), so a scrape asks it.
"""

from __future__ import annotations

from collections.abc import Iterator

import redis
from prometheus_client.core import GaugeMetricFamily
from prometheus_client.registry import Collector
from sqlalchemy.orm import Session, sessionmaker

from newsletter.config import Settings
from newsletter.db import session_scope
from newsletter.redis_client import make_redis
from newsletter.stats import collect_stats, queue_depth


class StatsCollector(Collector):
    def __init__(self, session_factory: sessionmaker[Session], settings: Settings) -> None:
        self.session_factory = session_factory
        self.settings = settings

    def collect(self) -> Iterator[GaugeMetricFamily]:
        with session_scope(self.session_factory) as session:
            stats = collect_stats(session, fetch_runs=0)
        yield GaugeMetricFamily("newsletter_papers", "Papers stored", value=stats.papers)
        yield GaugeMetricFamily(
            "newsletter_papers_summarized", "Papers with a summary", value=stats.summarized
        )
        editions = GaugeMetricFamily("newsletter_editions", "Editions built, by kind", labels=["kind"])
        for kind, count in stats.editions_by_kind.items():
            editions.add_metric([kind], count)
        yield editions
        deliveries = GaugeMetricFamily("newsletter_deliveries", "Emails by delivery state", labels=["state"])
        for state, count in stats.deliveries_by_state.items():
            deliveries.add_metric([state], count)
        yield deliveries
        events = GaugeMetricFamily(
            "newsletter_webhook_events", "Mail provider events, by type", labels=["event"]
        )
        for event, count in stats.webhook_events_by_type.items():
            events.add_metric([event], count)
        yield events
        subscribers = GaugeMetricFamily("newsletter_subscribers", "Subscribers by status", labels=["status"])
        for state, count in stats.subscribers_by_status.items():
            subscribers.add_metric([state], count)
        yield subscribers
        redis_client = make_redis(self.settings)
        try:
            yield GaugeMetricFamily(
                "newsletter_queue_depth",
                "Tasks waiting in the queue",
                value=queue_depth(redis_client, self.settings.redis_prefix),
            )
        except (redis.RedisError, OSError):
            pass  # Redis down is /healthz's news; the database numbers are still worth scraping
        finally:
            redis_client.close()
