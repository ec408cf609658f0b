"""Real Celery worker processes run tasks end to end over real Redis and Postgres; the beat schedule."""

import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from datetime import timedelta
from typing import Any

import pytest
import redis
from sqlalchemy import func, select
from sqlalchemy.orm import Session, sessionmaker

from newsletter.config import Settings
from newsletter.db import session_scope
from newsletter.health import last_worker_heartbeat
from newsletter.models import FetchRun, Paper, PaperTopic, Summary
from newsletter.sources.replay import start_replay_server
from newsletter.taskqueue import enqueue
from tests.factories import make_paper, make_subscriber
from tests.llm_fixtures import asked, llm_server_fixture  # noqa: F401
from workers.celery_app import beat_schedule

pytestmark = pytest.mark.slow

FETCH_ALL = "workers.tasks.fetch.fetch_all"
SUMMARIZE_PENDING = "workers.tasks.summaries.summarize_pending"
# The bundled sample feed's window (see newsletter/sources/samplefeed.py).
SINCE, UNTIL = "2026-11-14", "2026-11-21"


@contextmanager
def worker_process(environment: dict[str, str], concurrency: int) -> Iterator[subprocess.Popen[bytes]]:
    """A real worker for the block; stopped after it, and its output must hold no traceback."""
    worker = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "newsletter.cli",
            "worker",
            "--concurrency",
            str(concurrency),
            "--loglevel",
            "WARNING",
        ],
        env=environment,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
    )
    try:
        yield worker
    finally:
        worker.terminate()
        output, _ = worker.communicate(timeout=30)
    assert worker.returncode is not None
    assert b"Traceback" not in output, output.decode(errors="replace")


def test_a_worker_process_runs_the_heartbeat_task(
    settings: Settings, child_environment: dict[str, str], redis_client: redis.Redis
) -> None:
    with worker_process(child_environment, concurrency=1) as worker:
        enqueue(settings, "workers.tasks.health.heartbeat")

        deadline = time.monotonic() + 60
        beat = None
        while beat is None and time.monotonic() < deadline and worker.poll() is None:
            beat = last_worker_heartbeat(redis_client, settings.redis_prefix)
            time.sleep(0.2)
        assert beat is not None, "the worker never recorded a heartbeat"
        assert beat.database_time  # the task reached Postgres


def test_beat_schedules_fetch_all_at_the_configured_interval(settings: Settings) -> None:
    every_two_hours = settings.model_copy(update={"fetch_interval_hours": 2.0})
    entries = [entry for entry in beat_schedule(every_two_hours).values() if entry["task"] == FETCH_ALL]
    assert len(entries) == 1
    assert entries[0]["schedule"] == timedelta(hours=2)
    assert 0 < entries[0]["options"]["expires"] <= timedelta(hours=2).total_seconds()
    assert {entry["task"] for entry in beat_schedule(settings).values()} >= {FETCH_ALL, SUMMARIZE_PENDING}


def wait_for(condition: Callable[[], bool], worker: subprocess.Popen[bytes], timeout_s: float = 90) -> None:
    deadline = time.monotonic() + timeout_s
    while not condition():
        assert worker.poll() is None, "the worker exited"
        assert time.monotonic() < deadline, "the worker did not finish in time"
        time.sleep(0.3)


def count(factory: sessionmaker[Session], query: Any) -> int:
    with factory() as session:
        return int(session.execute(query).scalar_one())


def test_a_worker_fetches_then_summarizes_and_running_each_task_twice_changes_nothing(
    settings: Settings,
    child_environment: dict[str, str],
    committed_session_factory: sessionmaker[Session],
) -> None:
    with start_replay_server() as replay:
        environment = {
            **child_environment,
            "NEWSLETTER_ARXIV_BASE_URL": replay.base_url,
            "NEWSLETTER_HF_BASE_URL": replay.base_url,
            "NEWSLETTER_ARXIV_MIN_INTERVAL_S": "0.01",
            "NEWSLETTER_ARXIV_CATEGORIES": "cs.LG,cs.CL",
        }
        with worker_process(environment, concurrency=2) as worker:
            finished_runs = select(func.count()).select_from(FetchRun).where(FetchRun.status != "running")
            enqueue(settings, FETCH_ALL, SINCE, UNTIL)
            # One run per arXiv category and one for Hugging Face.
            wait_for(lambda: count(committed_session_factory, finished_runs) == 3, worker)
            papers = count(committed_session_factory, select(func.count()).select_from(Paper))
            assert papers > 50

            enqueue(settings, FETCH_ALL, SINCE, UNTIL)
            wait_for(lambda: count(committed_session_factory, finished_runs) == 6, worker)
            with committed_session_factory() as session:
                reruns = session.scalars(select(FetchRun).order_by(FetchRun.id.desc()).limit(3)).all()
            assert {run.status for run in reruns} == {"ok"}
            assert sum(run.new_count + run.updated_count for run in reruns) == 0
            assert count(committed_session_factory, select(func.count()).select_from(Paper)) == papers

            # Two runs at once: papers are claimed with SKIP LOCKED and summaries keyed by input hash.
            enqueue(settings, SUMMARIZE_PENDING)
            enqueue(settings, SUMMARIZE_PENDING)
            summaries = select(func.count()).select_from(Summary)
            wait_for(lambda: count(committed_session_factory, summaries) == papers, worker)
            summarized = select(func.count(func.distinct(Summary.paper_id)))
            assert count(committed_session_factory, summarized) == papers
            tagged = select(func.count(func.distinct(PaperTopic.paper_id)))
            assert count(committed_session_factory, tagged) == papers


def test_with_an_llm_a_worker_builds_editions_then_summarizes_only_their_papers_in_each_readers_language(
    settings: Settings,
    child_environment: dict[str, str],
    committed_session_factory: sessionmaker[Session],
    llm_server: Any,
) -> None:
    with session_scope(committed_session_factory) as session:
        shown = [
            make_paper(session, title=f"NLP paper {n}", topics=["NLP"], upvotes=10 + n) for n in range(2)
        ]
        make_paper(session, title="Robotics paper nobody follows", topics=["Robotics"], upvotes=99)
        alice = make_subscriber(session, "alice@example.org", topics=["NLP"])
        beatrice = make_subscriber(session, "beatrice@example.org", topics=["NLP"])
        beatrice.summary_language = "fr"
        reader_ids = [alice.id, beatrice.id]
        shown_ids = {paper.id for paper in shown}
    host, port = llm_server.server_address
    environment = {
        **child_environment,
        "NEWSLETTER_SUMMARIZER": "llm",
        "NEWSLETTER_LLM_BASE_URL": f"http://{host}:{port}/v1",
        "NEWSLETTER_LLM_MODEL": "test-model",
    }
    with worker_process(environment, concurrency=2) as worker:
        enqueue(
            settings, "workers.tasks.editions.build_editions_for", reader_ids, "2026-11-21T08:00:00+00:00"
        )
        by_model = select(func.count()).select_from(Summary).where(Summary.model == "test-model")
        # The build queues summarize_shown: both papers in English and in French.
        wait_for(lambda: count(committed_session_factory, by_model) == 4, worker)
    assert asked(llm_server) == sorted(
        (language, f"NLP paper {n}") for language in ("en", "fr") for n in range(2)
    )
    with session_scope(committed_session_factory) as session:
        languages = session.execute(
            select(Summary.paper_id, Summary.language).where(Summary.model == "test-model")
        ).all()
    assert {paper_id for paper_id, _ in languages} == shown_ids
    assert sorted(language for _, language in languages) == ["en", "en", "fr", "fr"]
