"""The demo: the whole pipeline on the bundled sample of real papers, through a real Celery worker.

Embedded PostgreSQL and Redis, a local replay server standing in for arXiv and Hugging Face, a worker
process, the real tasks (fetch, summarize, build editions, send) and the file backend writing emails to
the outbox. The demo has its own clock (`DemoClock`), not today's date, so it gives the same editions
whatever the day; a second run finds everything done and sends nothing twice. The clock starts on the
sample's second-to-last day, and the Outbox page's "Deliver tomorrow's editions" moves it to the last one
and builds and sends that day's editions, so a reader who voted sees the next edition their vote shaped.
"""

from __future__ import annotations

import logging
import os
import secrets
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from datetime import time as clock_time
from functools import partial
from pathlib import Path

from pydantic import SecretStr
from sqlalchemy import func, select, text
from sqlalchemy.orm import Session, sessionmaker

from newsletter import migrations
from newsletter.config import Settings
from newsletter.db import make_engine, make_session_factory, session_scope
from newsletter.digests.schedule import due_subscribers
from newsletter.health import HEARTBEAT_INTERVAL_S, last_worker_heartbeat
from newsletter.models import Delivery, FetchRun, Paper, Subscriber
from newsletter.pipeline import Progress, StageResult, timed_stage
from newsletter.redis_client import make_redis
from newsletter.services import ServiceUrls, resolve_service_urls, service_urls
from newsletter.sources.replay import start_replay_server
from newsletter.subscribers.operators import add_subscriber_by_operator
from newsletter.subscribers.service import find_subscriber_by_email
from newsletter.subscribers.validation import PreferencesForm
from newsletter.summaries.queries import is_summarized
from newsletter.taskqueue import enqueue

logger = logging.getLogger(__name__)

# The sample feed's arXiv papers were submitted 2026-11-15..19 at every hour, its Hugging Face days run to
# 2026-11-20. The demo's first editions go out at noon on the 19th (the papers submitted until then);
# tomorrow's, at noon on the 20th, bring the rest. A day later nothing would be new: the clock stops there.
FIRST_DEMO_NOW = datetime(2026, 11, 19, 12, 0, tzinfo=UTC)
LAST_DEMO_NOW = datetime(2026, 11, 20, 12, 0, tzinfo=UTC)
FETCH_SINCE = date(2026, 11, 14)
FETCH_UNTIL = date(2026, 11, 21)
STAGE_TIMEOUT_S = 180.0
DEMO_STAGES = ("services", "migrations", "worker", "fetch", "summaries", "subscribers", "editions", "send")


@dataclass(frozen=True)
class DemoReader:
    email: str
    topics: tuple[str, ...]
    keywords: tuple[str, ...]
    timezone: str
    send_time: clock_time = clock_time(7, 0)
    frequency: str = "daily"


# Readers in different zones, all past their 07:00 local send time at the demo's noon (12:00 UTC).
DEMO_READERS = (
    DemoReader(
        "ada@demo.example", ("Large Language Models", "Efficient ML"), ("quantization",), "Europe/London"
    ),
    DemoReader("grace@demo.example", ("Computer Vision", "Generative Models"), (), "America/New_York"),
    DemoReader("alan@demo.example", ("Reinforcement Learning", "Robotics"), ("reward",), "Europe/Berlin"),
    DemoReader("katherine@demo.example", ("NLP", "Multimodal"), ("retrieval", "accumulation"), "Asia/Tokyo"),
    DemoReader("edsger@demo.example", ("Theory", "Optimization", "Graph Learning"), (), "Australia/Sydney"),
    DemoReader("barbara@demo.example", ("Audio & Speech",), ("speech",), "America/New_York"),
)


@dataclass(frozen=True)
class DayDelivered:
    moment: datetime
    editions: int  # readers who were due and got an edition built
    emails: int  # emails sent


class DemoClock:
    """The demo's one clock: the moment its stages build and send at and its site's previews use. It moves
    only forward, one day at a time, and never past the sample's last day."""

    def __init__(self, now: datetime = FIRST_DEMO_NOW, last: datetime = LAST_DEMO_NOW) -> None:
        self._now = now
        self._last = last
        self._lock = threading.Lock()

    @property
    def now(self) -> datetime:
        return self._now

    @property
    def next_day(self) -> datetime | None:
        """Tomorrow on the demo's clock; None when the sample has no further day."""
        following = self._now + timedelta(days=1)
        return following if following <= self._last else None

    def advance(self, deliver: Callable[[datetime], DayDelivered]) -> DayDelivered | None:
        """Move one day forward and deliver that day's editions (one delivery at a time: a second press
        waits, then finds the day taken); None when the sample has no further day."""
        with self._lock:
            following = self.next_day
            if following is None:
                return None
            self._now = following
            return deliver(following)


@dataclass(frozen=True)
class DemoSite:
    """What the served demo's pages use: its clock and, while its worker runs, a day's delivery."""

    clock: DemoClock
    deliver: Callable[[datetime], DayDelivered] | None = None


@dataclass
class DemoReport:
    stages: list[StageResult] = field(default_factory=list)
    outbox: Path | None = None
    emails_in_outbox: int = 0
    site: DemoSite = field(default_factory=lambda: DemoSite(DemoClock()))


def demo_settings(settings: Settings, replay_base_url: str) -> Settings:
    """The user's settings with the sample feed as the sources and the file outbox as the mailer."""
    return settings.model_copy(
        update={
            "arxiv_base_url": replay_base_url,
            "hf_base_url": replay_base_url,
            "mail_backend": "file",
            # The replay server is local: keep the shared limiter in the path, but without a 3 s wait.
            "arxiv_min_interval_s": 0.05,
        }
    )


def demo_operator_settings(settings: Settings) -> Settings:
    """Demo mode (open /metrics, localhost allowed, no thumbnails: it is offline) and an admin token: the
    configured one, else a strong random one made for this run, which `newsletter demo` prints."""
    token = settings.admin_token.get_secret_value() or secrets.token_urlsafe(32)
    return settings.model_copy(
        update={"demo_mode": True, "admin_token": SecretStr(token), "site_thumbnails": False}
    )


def worker_environment(settings: Settings) -> dict[str, str]:
    urls = service_urls(settings)
    env = dict(os.environ)
    env.update(
        {
            "NEWSLETTER_DATA_DIR": str(settings.data_dir),
            "NEWSLETTER_DATABASE_URL": urls.database_url,
            "NEWSLETTER_REDIS_URL": urls.redis_url,
            "NEWSLETTER_REDIS_PREFIX": settings.redis_prefix,
            "NEWSLETTER_ARXIV_BASE_URL": settings.arxiv_base_url,
            "NEWSLETTER_HF_BASE_URL": settings.hf_base_url,
            "NEWSLETTER_ARXIV_MIN_INTERVAL_S": str(settings.arxiv_min_interval_s),
            "NEWSLETTER_MAIL_BACKEND": settings.mail_backend,
            "NEWSLETTER_OUTBOX_DIR": str(settings.resolved_outbox_dir.resolve()),
            # The worker renders the emails: their links must point where the demo serves the site.
            "NEWSLETTER_PUBLIC_BASE_URL": settings.public_base_url,
        }
    )
    return env


@contextmanager
def running_worker(settings: Settings, log_path: Path) -> Iterator[subprocess.Popen[bytes]]:
    log_path.parent.mkdir(parents=True, exist_ok=True)
    with open(log_path, "ab") as log:
        worker = subprocess.Popen(  # noqa: S603 - our own command, fixed arguments
            [sys.executable, "-m", "newsletter.cli", "worker", "--concurrency", "2", "--loglevel", "INFO"],
            env=worker_environment(settings),
            stdout=log,
            stderr=subprocess.STDOUT,
        )
        try:
            yield worker
        finally:
            worker.terminate()
            try:
                worker.wait(timeout=30)
            except subprocess.TimeoutExpired:
                worker.kill()


def wait_until(
    done: Callable[[], bool], worker: subprocess.Popen[bytes], what: str, timeout_s: float = STAGE_TIMEOUT_S
) -> None:
    deadline = time.monotonic() + timeout_s
    while not done():
        if worker.poll() is not None:
            raise RuntimeError(f"the worker exited (code {worker.returncode}) while waiting for {what}")
        if time.monotonic() > deadline:
            raise TimeoutError(f"gave up after {timeout_s:.0f}s waiting for {what}")
        time.sleep(0.25)


def scalar(factory: sessionmaker[Session], statement) -> int:  # type: ignore[no-untyped-def]
    with session_scope(factory) as session:
        return int(session.execute(statement).scalar_one())


def run_demo(
    settings: Settings,
    progress: Progress = lambda text: None,
    while_running: Callable[[DemoReport, Settings], None] | None = None,
) -> DemoReport:
    """Run every stage on the embedded (or configured) services; safe to run again.

    `while_running` (serving the site) is called after the stages with the worker still up, so what the
    site enqueues (a signup's confirmation email) is sent within seconds."""
    report = DemoReport()
    clock = report.site.clock

    def stage(name: str, unit: str, action: Callable[[], int]) -> None:
        progress(name)
        timed_stage(report.stages, name, unit, lambda: (action(), None))

    started_urls: list[ServiceUrls] = []

    def start_services() -> int:
        started_urls.append(resolve_service_urls(settings))
        return 2

    stage("services", "servers", start_services)
    database_url = started_urls[0].database_url
    stage("migrations", "revisions", lambda: migrate(database_url))
    factory = make_session_factory(make_engine(database_url))

    with start_replay_server() as replay:
        settings = demo_settings(settings, replay.base_url)
        with running_worker(settings, settings.data_dir / "demo-worker.log") as worker:
            stage("worker", "processes", lambda: start_worker(settings, worker))
            stage("fetch", "new papers", lambda: fetch_stage(settings, factory, worker))
            stage("summaries", "papers", lambda: summarize_stage(settings, factory, worker))
            stage("subscribers", "readers", lambda: seed_stage(factory))
            stage("editions", "editions", lambda: editions_stage(settings, factory, worker, clock.now))
            stage("send", "emails", lambda: send_stage(settings, factory, worker, clock.now))
            report.site = DemoSite(clock, partial(deliver_day, settings, factory, worker))
            report.outbox = settings.resolved_outbox_dir
            report.emails_in_outbox = len(list(report.outbox.glob("*.eml"))) if report.outbox.exists() else 0
            if while_running is not None:
                with heartbeats(settings):
                    while_running(report, settings)
    return report


@contextmanager
def heartbeats(settings: Settings, every_s: float = HEARTBEAT_INTERVAL_S) -> Iterator[None]:
    """The demo's worker runs no beat (the demo keeps its own clock), so while the site is served the
    heartbeat the beat would ask for is asked for from here: /healthz and /admin see the worker alive."""
    stop = threading.Event()

    def ask() -> None:
        while not stop.wait(every_s):
            enqueue(settings, "workers.tasks.health.heartbeat")

    thread = threading.Thread(target=ask, name="demo-heartbeats", daemon=True)
    thread.start()
    try:
        yield
    finally:
        stop.set()
        thread.join(timeout=5)


def migrate(database_url: str) -> int:
    migrations.upgrade(database_url)
    return len(list((migrations.PROJECT_ROOT / "alembic" / "versions").glob("*.py")))


def start_worker(settings: Settings, worker: subprocess.Popen[bytes]) -> int:
    redis_client = make_redis(settings)
    redis_client.delete(f"{settings.redis_prefix}worker:heartbeat")
    enqueue(settings, "workers.tasks.health.heartbeat")
    wait_until(
        lambda: last_worker_heartbeat(redis_client, settings.redis_prefix) is not None, worker, "the worker"
    )
    return 1


def fetch_stage(settings: Settings, factory: sessionmaker[Session], worker: subprocess.Popen[bytes]) -> int:
    with session_scope(factory) as session:
        last_run = session.execute(select(func.coalesce(func.max(FetchRun.id), 0))).scalar_one()
        papers_before = session.execute(select(func.count()).select_from(Paper)).scalar_one()
    expected_runs = len(settings.arxiv_categories) + 1
    enqueue(settings, "workers.tasks.fetch.fetch_all", FETCH_SINCE.isoformat(), FETCH_UNTIL.isoformat())
    finished_runs = (
        select(func.count()).select_from(FetchRun).where(FetchRun.id > last_run, FetchRun.status != "running")
    )
    wait_until(lambda: scalar(factory, finished_runs) >= expected_runs, worker, "the fetch runs")
    return scalar(factory, select(func.count()).select_from(Paper)) - papers_before


def summarize_stage(
    settings: Settings, factory: sessionmaker[Session], worker: subprocess.Popen[bytes]
) -> int:
    unsummarized = select(func.count()).select_from(Paper).where(~is_summarized())
    pending = scalar(factory, unsummarized)
    if pending:
        enqueue(settings, "workers.tasks.summaries.summarize_pending")
        wait_until(lambda: scalar(factory, unsummarized) == 0, worker, "the summaries")
    return pending


def seed_readers(session: Session, readers: tuple[DemoReader, ...] = DEMO_READERS) -> int:
    """Add the demo readers that are not there yet (as confirmed: they are the operator's own)."""
    added = 0
    for reader in readers:
        if find_subscriber_by_email(session, reader.email) is not None:
            continue
        form = PreferencesForm(
            topics=list(reader.topics),
            keywords=list(reader.keywords),
            frequency=reader.frequency,
            send_time=reader.send_time.strftime("%H:%M"),
            timezone=reader.timezone,
        )
        add_subscriber_by_operator(session, reader.email, form, is_confirmed=True, source="demo")
        added += 1
    return added


def seed_stage(factory: sessionmaker[Session]) -> int:
    with session_scope(factory) as session:
        seed_readers(session)
    return scalar(factory, select(func.count()).select_from(Subscriber).where(Subscriber.status == "active"))


def editions_stage(
    settings: Settings, factory: sessionmaker[Session], worker: subprocess.Popen[bytes], now: datetime
) -> int:
    def due_count() -> int:
        with session_scope(factory) as session:
            return len(due_subscribers(session, now))

    due = due_count()
    if due:
        enqueue(settings, "workers.tasks.editions.build_due_editions", now.isoformat())
        wait_until(lambda: due_count() == 0, worker, "the editions")
    return due


def send_stage(
    settings: Settings, factory: sessionmaker[Session], worker: subprocess.Popen[bytes], now: datetime
) -> int:
    sent_before = scalar(factory, select(func.count()).select_from(Delivery).where(Delivery.state == "sent"))
    enqueue(settings, "workers.tasks.mail.send_due_deliveries", now.date().isoformat())
    unfinished = text(
        "SELECT count(*) FROM editions e WHERE e.edition_date = :day AND e.kind <> 'skipped'"
        " AND NOT EXISTS (SELECT 1 FROM deliveries d WHERE d.edition_id = e.id"
        " AND d.state IN ('sent', 'failed', 'unknown'))"
    ).bindparams(day=now.date())
    wait_until(lambda: scalar(factory, unfinished) == 0, worker, "the emails")
    return (
        scalar(factory, select(func.count()).select_from(Delivery).where(Delivery.state == "sent"))
        - sent_before
    )


def deliver_day(
    settings: Settings, factory: sessionmaker[Session], worker: subprocess.Popen[bytes], now: datetime
) -> DayDelivered:
    """The demo's editions and send stages at `now`: what a day of the demo delivers."""
    editions = editions_stage(settings, factory, worker, now)
    return DayDelivered(now, editions, send_stage(settings, factory, worker, now))
