"""Build editions for 100,000 (and 1,000,000) subscribers over 200 candidate papers.

Subscribers follow 1-4 random topics of the 15; one in ten has one or two keyword alerts. The build runs
in a fresh child process (as `newsletter editions build` would), which reports its own wall time and
peak resident memory.
"""

from __future__ import annotations

import json
import resource
import subprocess
import sys
import time
from datetime import UTC, datetime

from sqlalchemy import text

from benchmarks.database import throwaway_database
from newsletter.config import Settings
from newsletter.db import make_engine, make_session_factory, session_scope
from newsletter.digests.build import BuildReport, EditionPlanner, build_editions_chunk

NAME = "editions"
NOW = datetime(2026, 11, 21, 9, 0, tzinfo=UTC)
KEYWORDS = [
    "diffusion", "retrieval", "quantization", "reasoning", "agents", "benchmark", "distillation",
    "segmentation", "graph", "speech", "robot", "federated", "privacy", "alignment", "tokenizer",
    "accumulation", "sparse", "transformer", "contrastive", "reward",
]  # fmt: skip


def populate(database_url: str, subscribers: int) -> None:
    engine = make_engine(database_url)
    with engine.begin() as conn:
        conn.execute(text("SELECT setseed(0.42)"))
        conn.execute(
            text(
                """
                INSERT INTO papers (arxiv_id, title, abstract, published_at, hf_upvotes, github_stars)
                SELECT '2611.' || lpad(g::text, 5, '0'),
                       'Paper ' || g || ' on ' || (ARRAY['diffusion','retrieval','quantization','reasoning',
                           'agents','speech','graph','robot'])[1 + g % 8],
                       'We study ' || (ARRAY['sparse transformer','contrastive reward','federated privacy',
                           'benchmark alignment'])[1 + g % 4] || ' and report that error accumulates.',
                       TIMESTAMPTZ '2026-11-20 18:00+00' - (g % 48) * INTERVAL '1 hour',
                       CASE WHEN g % 3 = 0 THEN (g * 37) % 300 END,
                       CASE WHEN g % 5 = 0 THEN (g * 91) % 5000 END
                FROM generate_series(1, 200) g
                """
            )
        )
        conn.execute(
            text(
                """
                INSERT INTO summaries (paper_id, input_hash, backend, backend_version, key_points, summary,
                                       methodology, results, implications, topics)
                SELECT id, 'bench-' || id, 'extractive', 'bench', ARRAY['a.','b.','c.'], 's', 'm', 'r', 'i', '{}'
                FROM papers
                """
            )
        )
        conn.execute(
            text(
                """
                INSERT INTO paper_topics (paper_id, topic_id, rank)
                SELECT p.id, t.id, t.rank - 1
                FROM papers p
                CROSS JOIN LATERAL (
                    SELECT id, row_number() OVER () AS rank FROM topics
                    ORDER BY md5(p.id::text || name) LIMIT 1 + p.id % 3
                ) t
                """
            )
        )
        conn.execute(
            text(
                """
                INSERT INTO subscribers (email, status, timezone, send_time)
                SELECT 'reader' || g || '@example.org', 'active',
                       (ARRAY['UTC','Europe/London','Europe/Berlin','America/New_York','Asia/Tokyo'])[1 + g % 5],
                       TIME '00:30'
                FROM generate_series(1, :subscribers) g
                """
            ),
            {"subscribers": subscribers},
        )
        conn.execute(
            text(
                """
                INSERT INTO subscriber_topics (subscriber_id, topic_id)
                SELECT s.id, t.id
                FROM subscribers s
                CROSS JOIN LATERAL (
                    SELECT id FROM topics ORDER BY md5(s.id::text || name) LIMIT 1 + s.id % 4
                ) t
                """
            )
        )
        conn.execute(
            text(
                """
                INSERT INTO keyword_alerts (subscriber_id, keyword)
                SELECT DISTINCT s.id, (CAST(:keywords AS text[]))[1 + ((s.id * k) % 20)]
                FROM subscribers s, generate_series(1, 2) k
                WHERE s.id % 10 = 0 AND (k = 1 OR s.id % 20 = 0)
                """
            ),
            {"keywords": KEYWORDS},
        )
        conn.execute(text("ANALYZE"))
    engine.dispose()


def build_all(database_url: str) -> dict[str, float]:
    """The child process: build every due edition in chunks, report time and peak memory."""
    settings = Settings(_env_file=None, database_url=database_url, redis_url="redis://unused")  # type: ignore[call-arg]
    factory = make_session_factory(make_engine(database_url))
    started = time.perf_counter()
    total = BuildReport()
    after_id = None
    planner = None
    while True:
        with session_scope(factory) as session:
            planner = planner or EditionPlanner(session, settings, NOW)
            report, _, after_id = build_editions_chunk(
                session, settings, NOW, after_id=after_id, limit=20_000, planner=planner
            )
        total.add(report)
        if after_id is None:
            break
    elapsed = time.perf_counter() - started
    peak_mb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    return {
        "seconds": elapsed,
        "peak_rss_mb": peak_mb,
        "built": total.built,
        "distinct": total.distinct_contents,
    }


def measure(subscribers: int) -> dict[str, float]:
    with throwaway_database("bench_editions") as url:
        populate(url, subscribers)
        child = subprocess.run(
            [sys.executable, "-m", "benchmarks.bench_editions", "child", url],
            capture_output=True,
            text=True,
            check=True,
        )
    result = json.loads(child.stdout.strip().splitlines()[-1])
    assert result["built"] == subscribers, result
    return result


def run() -> dict[str, float]:
    small = measure(100_000)
    large = measure(1_000_000)
    return {
        "build_100k_s": round(small["seconds"], 2),
        "peak_rss_mb": round(small["peak_rss_mb"], 1),
        "distinct_editions_100k": small["distinct"],
        "build_1m_s": round(large["seconds"], 2),
        "peak_rss_1m_mb": round(large["peak_rss_mb"], 1),
    }


if __name__ == "__main__":
    if sys.argv[1:2] == ["child"]:
        print(json.dumps(build_all(sys.argv[2])))
    else:
        print(json.dumps(measure(int(sys.argv[1]) if len(sys.argv) > 1 else 100_000)))
