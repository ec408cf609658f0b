"""Send 100,000 editions through a local SendGrid stand-in: requests made, distinct editions, emails/s.

The real path: `send_pending` with the SendGrid backend, its base URL pointed at a local HTTP server that
answers v3 mail/send (202 and an X-Message-Id) and records the personalizations of each request. 100,000
subscribers with one edition each (400 shared contents of 8 papers, one in 20 the nothing-new note, and
one in ten, the readers who voted, an edition of their own, as personalized editions are) are stored
first, not timed; the timing covers creating the deliveries, claiming them, rendering each
distinct edition once, signing every subscriber's links, the requests and recording each outcome. The
stand-in runs in this process, so it takes some of the CPU the sender could have used.

The bound to meet: requests <= ceil(100,000 / 1,000) + distinct editions (one request per group of
subscribers sharing an edition, at most 1,000 each).
"""

from __future__ import annotations

import math
import time

from pydantic import SecretStr
from sqlalchemy import text

from benchmarks.bench_editions import PERSONALIZED_DIGIT, populate
from benchmarks.database import throwaway_database
from newsletter.config import Settings
from newsletter.db import make_engine, make_session_factory
from newsletter.mail.deliver import send_pending
from tests.mail_factories import EDITION_DAY, SendGridStandIn, running_stand_in

NAME = "send"
SUBSCRIBERS = 100_000
CONTENTS = 400
# SendGrid v3 mail/send takes at most 1,000 personalizations per request.
SENDGRID_MAX_PERSONALIZATIONS = 1000


def add_editions(database_url: str) -> None:
    """CONTENTS shared contents of 8 papers; one subscriber in 20 gets the nothing-new note; the
    personalized tenth (ids ending in PERSONALIZED_DIGIT) a content of their own each."""
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
                INSERT INTO edition_contents (content_key, item_count, overflow_count)
                SELECT md5('reader' || s.id), 8, s.id % 50 FROM subscribers s WHERE s.id % 10 = :digit
                ORDER BY s.id
                """
            ),
            {"digit": PERSONALIZED_DIGIT},
        )
        conn.execute(
            text(
                """
                INSERT INTO edition_items (content_id, rank, paper_id, paper_version, matched_topics, reason)
                SELECT c.id, k, p.id, 1, ARRAY['NLP'],
                       CASE WHEN c.id > :contents AND k % 2 = 0
                            THEN 'Like ' || (1 + k) || ' papers you liked, e.g. “Paper ' || c.id || '”'
                            ELSE 'NLP · ' || (k * 7) || ' upvotes' END
                FROM edition_contents c CROSS JOIN generate_series(0, 7) k
                JOIN papers p ON p.arxiv_id = '2611.' || lpad((1 + (c.id * 7 + k * 13) % 200)::text, 5, '0')
                """
            ),
            {"contents": CONTENTS},
        )
        conn.execute(
            text(
                """
                INSERT INTO editions (subscriber_id, edition_date, kind, content_id)
                SELECT s.id, :day, CASE WHEN s.id % 20 = 0 THEN 'nothing_new' ELSE 'papers' END,
                       CASE WHEN s.id % 20 = 0 THEN NULL
                            WHEN s.id % 10 = :digit THEN own.id
                            ELSE 1 + (s.id * 31) % :contents END
                FROM subscribers s
                LEFT JOIN edition_contents own ON own.content_key = md5('reader' || s.id)
                """
            ),
            {"day": EDITION_DAY, "contents": CONTENTS, "digit": PERSONALIZED_DIGIT},
        )
        conn.execute(text("ANALYZE"))
    engine.dispose()


def run() -> dict[str, float]:
    with throwaway_database("bench_send") as url:
        populate(url, SUBSCRIBERS, personalized=False)
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
        with engine.connect() as connection:
            # What the ledger says, independently of the run's own report.
            distinct = connection.execute(
                text("SELECT count(DISTINCT (kind, content_id)) FROM editions")
            ).scalar_one()
            # Editions no other subscriber shares: the personalized ones.
            own = connection.execute(
                text(
                    "SELECT count(*) FROM (SELECT content_id FROM editions WHERE content_id IS NOT NULL"
                    " GROUP BY content_id HAVING count(*) = 1) AS single"
                )
            ).scalar_one()
            sent_with_id = connection.execute(
                text(
                    "SELECT count(*) FROM deliveries WHERE state = 'sent' AND provider_message_id IS NOT NULL"
                )
            ).scalar_one()
        engine.dispose()
    requests = len(stand_in.requests)
    bound = math.ceil(SUBSCRIBERS / SENDGRID_MAX_PERSONALIZATIONS) + distinct
    largest = max(len(request.emails) for request in stand_in.requests)
    problems = [
        f"{report.sent} sent, not {SUBSCRIBERS}" if report.sent != SUBSCRIBERS else "",
        f"{sent_with_id} sent deliveries with a message id" if sent_with_id != SUBSCRIBERS else "",
        "an address got more than one email" if len(set(stand_in.emails)) != len(stand_in.emails) else "",
        f"{largest} personalizations in one request" if largest > SENDGRID_MAX_PERSONALIZATIONS else "",
        f"{requests} requests, more than {bound}" if requests > bound else "",
    ]
    if any(problems):
        raise RuntimeError("; ".join(problem for problem in problems if problem))
    return {
        "requests_100k": requests,
        "requests_bound_100k": bound,
        "distinct_editions_100k": distinct,
        "own_editions_100k": own,
        "emails_per_s": round(SUBSCRIBERS / elapsed, 1),
        "seconds_100k": round(elapsed, 2),
    }


if __name__ == "__main__":
    print(run())
