"""Fetching through an upstream outage (503s, then nothing listening), driven by beat and a real worker:
the failed runs are recorded, the cursors wait, and the first run after the outage stores everything."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from contextlib import contextmanager
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import text
from sqlalchemy.orm import Session, sessionmaker

from newsletter.db import session_scope
from newsletter.sources.replay import ReplayData, start_replay_server
from newsletter.sources.samplefeed import SAMPLE_FEED_DIR
from tests.fault_fixtures import beat, running, scalar, wait_until, worker
from tests.mail_factories import free_port

pytestmark = [pytest.mark.faults, pytest.mark.usefixtures("redis_client")]
CATEGORY = "cs.CL"


@contextmanager
def answering_503(port: int) -> Iterator[list[str]]:
    """Upstream up but failing: every request answered 503 with a short Retry-After."""
    seen: list[str] = []

    class Handler(BaseHTTPRequestHandler):
        def do_GET(self) -> None:  # noqa: N802 (http.server's naming)
            seen.append(self.path)
            body = b"Service Unavailable"
            self.send_response(503)
            self.send_header("Retry-After", "1")
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, format: str, *args: Any) -> None:  # noqa: A002
            return None

    server = ThreadingHTTPServer(("127.0.0.1", port), Handler)
    server.daemon_threads = True
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield seen
    finally:
        server.shutdown()
        server.server_close()


def failed_runs(factory: sessionmaker[Session]) -> int:
    return int(scalar(factory, "SELECT count(*) FROM fetch_runs WHERE status = 'failed'"))


def test_a_fetch_through_an_upstream_outage_resumes_on_the_next_tick_and_loses_no_paper(
    child_environment: dict[str, str], committed_session_factory: sessionmaker[Session], tmp_path: Path
) -> None:
    factory = committed_session_factory
    port = free_port()
    # The sample feed is from November 2026: cursors from before it make the window cover all of it.
    with session_scope(factory) as session:
        session.execute(
            text(
                "INSERT INTO fetch_cursors (source, category, fetched_until) "
                "VALUES ('arxiv', :category, DATE '2026-11-01'), ('hf', '', DATE '2026-11-01')"
            ),
            {"category": CATEGORY},
        )
    environment = child_environment | {
        "NEWSLETTER_ARXIV_BASE_URL": f"http://127.0.0.1:{port}",
        "NEWSLETTER_HF_BASE_URL": f"http://127.0.0.1:{port}",
        "NEWSLETTER_ARXIV_CATEGORIES": CATEGORY,
        "NEWSLETTER_ARXIV_MIN_INTERVAL_S": "0.05",
        "NEWSLETTER_HTTP_MAX_ATTEMPTS": "2",
        "NEWSLETTER_HTTP_BACKOFF_BASE_S": "0.05",
        "NEWSLETTER_HTTP_TIMEOUT_S": "3",
        "NEWSLETTER_FETCH_INTERVAL_HOURS": str(3 / 3600),  # a fetch every 3 s (8 h in production)
        "NEWSLETTER_EDITIONS_INTERVAL_S": "3600",
    }
    with running([]) as processes:
        processes += [worker("worker", environment, tmp_path), beat("beat", environment, tmp_path)]
        with answering_503(port) as seen:
            wait_until(lambda: failed_runs(factory) >= 4, "fetch runs failing on 503", alive=processes)
        answered_503 = len(seen)
        failed_on_503 = failed_runs(factory)
        # Nothing listening at all: connections refused.
        wait_until(lambda: failed_runs(factory) >= failed_on_503 + 4, "fetch runs failing on refused connections", alive=processes)  # fmt: skip
        cursors_during_outage = scalar(factory, "SELECT array_agg(DISTINCT fetched_until) FROM fetch_cursors")
        papers_during_outage = scalar(factory, "SELECT count(*) FROM papers")
        with start_replay_server(port=port):
            took = wait_until(
                lambda: scalar(factory, "SELECT count(*) FROM fetch_runs WHERE status = 'ok'") >= 2
                and scalar(factory, "SELECT count(*) FROM fetch_cursors WHERE fetched_until > DATE '2026-11-01'") == 2,
                "a fetch run after the outage",
                alive=processes,
            )  # fmt: skip

    data = ReplayData.load(SAMPLE_FEED_DIR)
    expected = {paper.arxiv_id for paper in data.papers if CATEGORY in paper.categories} | {
        item["paper"]["id"] for items in data.daily_papers.values() for item in items
    }
    with session_scope(factory) as session:
        stored = session.execute(text("SELECT arxiv_id FROM papers")).scalars().all()
        statuses = dict(
            session.execute(text("SELECT status, count(*) FROM fetch_runs GROUP BY status")).all()
        )
    assert answered_503 > 0
    assert papers_during_outage == 0
    assert [str(day) for day in cursors_during_outage] == ["2026-11-01"]  # the cursors waited
    assert len(stored) == len(set(stored))
    assert set(stored) == expected, (
        f"missing {sorted(expected - set(stored))[:5]}, extra {sorted(set(stored) - expected)[:5]}"
    )
    print(f"fetch outage: {statuses.get('failed')} failed runs ({answered_503} requests answered 503, then "
          f"refused), {len(stored)} papers stored {took:.1f} s after the upstream came back, runs {statuses}")  # fmt: skip
