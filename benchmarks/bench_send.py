"""Send 100,000 editions through a local SendGrid stand-in: requests made, distinct editions, emails/s.

The bound to meet: requests ≤ ⌈100,000 / 1,000⌉ + distinct editions (one claim = one group = one request).
"""

from __future__ import annotations

import math
import time

from pydantic import SecretStr
from sqlalchemy import text

from benchmarks.bench_editions import populate
from benchmarks.database import throwaway_database
from newsletter.config import Settings
from newsletter.db import make_engine, make_session_factory
from newsletter.mail.deliver import send_pending
from tests.mail_factories import EDITION_DAY, SendGridStandIn, running_stand_in

NAME = "send"
SUBSCRIBERS = 100_000
CONTENTS = 400


def add_editions(database_url: str) -> None:
    """CONTENTS shared contents of 8 papers; one subscriber in 20 gets the nothing-new note."""
    engine = make_engine(database_url)
    with engine.begin() as conn:
        conn.execute(
            text(
                """
                INSERT INTO edition_contents (content_key, item_count, overflow_count)
                SELECT md5('bench' || g), 8, g % 3 FROM generate_series(1, :contents) g
                """
            ),
            {"contents": CONTENTS},
        )
        conn.execute(
            text(
                """
                INSERT INTO edition_items (content_id, rank, paper_id, paper_version, matched_topics, reason)
                SELECT c.id, k, p.id, 1, ARRAY['NLP'], 'NLP · ' || (k * 7) || ' upvotes'
                FROM edition_contents c CROSS JOIN generate_series(0, 7) k
                JOIN papers p ON p.arxiv_id = '2611.' || lpad((1 + (c.id * 7 + k * 13) % 200)::text, 5, '0')
                """
            )
        )
        conn.execute(
            text(
                """
                INSERT INTO editions (subscriber_id, edition_date, kind, content_id)
                SELECT s.id, :day, CASE WHEN s.id % 20 = 0 THEN 'nothing_new' ELSE 'papers' END,
                       CASE WHEN s.id % 20 = 0 THEN NULL ELSE 1 + (s.id * 31) % :contents END
                FROM subscribers s
                """
            ),
            {"day": EDITION_DAY, "contents": CONTENTS},
        )
        conn.execute(text("ANALYZE"))
    engine.dispose()


def run() -> dict[str, float]:
    with throwaway_database("bench_send") as url:
        populate(url, SUBSCRIBERS)
        add_editions(url)
        engine = make_engine(url)
        factory = make_session_factory(engine)
        with running_stand_in(SendGridStandIn(record_bodies=False)) as stand_in:
            settings = Settings(
                _env_file=None,  # type: ignore[call-arg]
                database_url=url,
                redis_url="redis://unused",
                mail_backend="sendgrid",
                sendgrid_base_url=stand_in.url,
                sendgrid_api_key=SecretStr("SG.bench"),
                send_rate_per_s=1e9,
                public_base_url="https://papers.example.org",
            )
            started = time.perf_counter()
            report = send_pending(factory, settings, edition_date=EDITION_DAY)
            elapsed = time.perf_counter() - started
        engine.dispose()
    distinct = CONTENTS + 1  # the contents and the one nothing-new note
    requests = len(stand_in.requests)
    assert report.sent == SUBSCRIBERS, report.summary()
    assert len(set(stand_in.emails)) == SUBSCRIBERS
    assert requests <= math.ceil(SUBSCRIBERS / 1000) + report.distinct_editions <= 100 + distinct, requests
    return {
        "requests_100k": requests,
        "distinct_editions_100k": report.distinct_editions,
        "emails_per_s": round(SUBSCRIBERS / elapsed, 1),
        "seconds_100k": round(elapsed, 2),
    }


if __name__ == "__main__":
    print(run())
