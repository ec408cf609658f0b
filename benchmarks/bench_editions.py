"""Build editions for 100,000 (and 1,000,000) subscribers over 200 candidate papers.

Subscribers follow 1-4 pseudo-random topics of the 15; one in ten has one or two keyword alerts; one in
ten (another tenth) voted on 5-12 of last month's papers in their topics and has a reader model. The
build runs `build_due_editions` (what `newsletter editions build` runs) in a fresh child process, which
times itself from the first query to the last commit; the parent takes the child's peak resident set
from the kernel (wait4). Populating the database is not timed. NEWSLETTER_BENCH_EDITIONS_1M=0 skips the
1,000,000-subscriber build.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import tempfile
import time
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import numpy as np
from scipy import sparse
from sqlalchemy import event, text

from benchmarks.database import throwaway_database
from newsletter.config import Settings
from newsletter.db import make_engine, make_session_factory
from newsletter.digests.build import build_due_editions
from newsletter.embeddings import load_model, load_vocabulary
from newsletter.embeddings.model import embedding_text
from newsletter.embeddings.words import paper_words_text
from newsletter.feedback.personal import KEPT_WORDS

NAME = "editions"
TARGETS = {
    "build_100k_s": ("<=", 10),
    "peak_rss_mb": ("<=", 500),
    "build_1m_s": ("<=", 60),
    "peak_rss_1m_mb": ("<=", 500),
}
PROJECT_ROOT = Path(__file__).resolve().parent.parent
CANDIDATE_PAPERS = 200
NOW = datetime(2026, 11, 21, 9, 0, tzinfo=UTC)
KEYWORDS = [
    "diffusion", "retrieval", "quantization", "reasoning", "agents", "benchmark", "distillation",
    "segmentation", "graph", "speech", "robot", "federated", "privacy", "alignment", "tokenizer",
    "accumulation", "sparse", "transformer", "contrastive", "reward",
]  # fmt: skip
# Subscribers whose id ends in this digit voted and have a reader model (one in ten; the keyword
# alerts are on ids ending in 0, so the two overlap nowhere).
PERSONALIZED_DIGIT = 7
MIN_VOTES, MAX_VOTES = 5, 12
# Last month's papers, the ones readers voted on: outside every edition window, so never candidates.
PAST_PAPERS = 600
CORPUS = PROJECT_ROOT / "tests" / "fixtures" / "corpus" / "papers.json"


# One to three topics a paper, the same for the same paper id in every run.
ASSIGN_TOPICS = """
    INSERT INTO paper_topics (paper_id, topic_id, rank)
    SELECT p.id, t.id, t.rank - 1
    FROM papers p
    CROSS JOIN LATERAL (
        SELECT id, row_number() OVER () AS rank FROM topics
        ORDER BY md5(p.id::text || name) LIMIT 1 + p.id % 3
    ) t
"""


def populate(database_url: str, subscribers: int, *, personalized: bool = True) -> None:
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
                FROM generate_series(1, :papers) g
                """
            ),
            {"papers": CANDIDATE_PAPERS},
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
        conn.execute(text(ASSIGN_TOPICS))
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
        if personalized:
            add_readers_feedback(conn)
        conn.execute(text("ANALYZE"))
    engine.dispose()


def add_readers_feedback(conn: Any) -> None:
    """Embeddings for every paper, last month's papers, votes of one subscriber in ten on 5-12 of them
    (in their own topics, one in four a down vote) and a reader model for each of them.

    The vectors are the packaged model's embeddings of the real papers of tests/fixtures/corpus (the
    candidates' synthetic titles all look alike, real vectors do not): candidate i gets corpus paper i's,
    a past paper the embedding of its own text, one corpus paper's title with another's abstract. A
    model's weights (embedding, and the KEPT_WORDS heaviest of the words) point from the mean of the
    reader's down votes (or of all past papers) to the mean of their up votes, scaled like a fitted
    model's: fitting 100,000 regressions would take longer than the
    build, and the build only reads the weights.
    """
    model = load_model()
    corpus = json.loads(CORPUS.read_text("utf-8"))
    candidate_ids = conn.execute(text("SELECT id FROM papers ORDER BY id")).scalars().all()
    candidate_vectors = model.embed(
        [embedding_text(paper["title"], paper["abstract"]) for paper in corpus[: len(candidate_ids)]]
    )
    past = [
        (corpus[k % len(corpus)]["title"], corpus[(7 * k + 3) % len(corpus)]["abstract"])
        for k in range(PAST_PAPERS)
    ]
    past_ids = (
        conn.execute(
            text(
                """
            INSERT INTO papers (arxiv_id, title, abstract, published_at, hf_upvotes)
            SELECT '2610.' || lpad(k::text, 5, '0'), title, abstract,
                   TIMESTAMPTZ '2026-10-05 18:00+00' + (k % 25) * INTERVAL '1 day', (k * 13) % 120
            FROM unnest(CAST(:titles AS text[]), CAST(:abstracts AS text[])) WITH ORDINALITY AS t(title, abstract, k)
            ORDER BY k
            RETURNING id
            """
            ),
            {"titles": [title for title, _ in past], "abstracts": [abstract for _, abstract in past]},
        )
        .scalars()
        .all()
    )
    past_vectors = model.embed([embedding_text(title, abstract) for title, abstract in past])
    conn.execute(
        text(
            """
            INSERT INTO paper_embeddings (paper_id, model, text_hash, vector)
            SELECT p.id, :model, encode(sha256(convert_to(concat(p.title, E'\\n', coalesce(p.abstract, '')), 'UTF8')), 'hex'),
                   CAST(v.vector AS real[])
            FROM unnest(CAST(:ids AS bigint[]), CAST(:vectors AS text[])) AS v(id, vector)
            JOIN papers p ON p.id = v.id
            """
        ),
        {
            "model": model.name,
            "ids": [*candidate_ids, *past_ids],
            "vectors": [
                "{" + ",".join(f"{x:.6g}" for x in row) + "}"
                for row in np.vstack([candidate_vectors, past_vectors])
            ],
        },
    )
    conn.execute(text(ASSIGN_TOPICS + " WHERE p.id = ANY(:ids)"), {"ids": past_ids})
    # Votes on papers of the reader's own topics: the k-th vote goes to one of the reader's topics in
    # turn and to a pseudo-random paper of it; a vote drawn twice counts once, so a few readers get
    # fewer than drawn (never fewer than MIN_VOTES: checked below).
    conn.execute(
        text(
            """
            WITH topic_papers AS (
                SELECT topic_id, array_agg(paper_id ORDER BY paper_id) AS ids
                FROM paper_topics WHERE paper_id = ANY(:past_ids) GROUP BY topic_id
            ), readers AS (
                SELECT subscriber_id, array_agg(topic_id ORDER BY topic_id) AS topics
                FROM subscriber_topics WHERE subscriber_id % 10 = :digit GROUP BY subscriber_id
            )
            INSERT INTO paper_votes (subscriber_id, paper_id, vote, voted_at)
            SELECT r.subscriber_id,
                   tp.ids[1 + (r.subscriber_id * 7919 + k * 104729) % cardinality(tp.ids)],
                   CASE WHEN (r.subscriber_id + k) % 4 = 0 THEN 'down' ELSE 'up' END,
                   TIMESTAMPTZ '2026-11-01 12:00+00' + k * INTERVAL '1 hour'
            FROM readers r
            CROSS JOIN LATERAL generate_series(1, :min_votes + 2 + r.subscriber_id % (:max_votes - :min_votes - 1)) k
            JOIN topic_papers tp ON tp.topic_id = r.topics[1 + k % cardinality(r.topics)]
            ON CONFLICT DO NOTHING
            """
        ),
        {"past_ids": past_ids, "digit": PERSONALIZED_DIGIT, "min_votes": MIN_VOTES, "max_votes": MAX_VOTES},
    )
    past_words = load_vocabulary().vectors(paper_words_text(title, abstract) for title, abstract in past)
    store_reader_models(
        conn,
        model.name,
        dict(zip(past_ids, past_vectors, strict=True)),
        {paper_id: past_words[row] for row, paper_id in enumerate(past_ids)},
    )


def store_reader_models(
    conn: Any, model_name: str, vectors: dict[int, np.ndarray], words: dict[int, Any]
) -> None:
    """Each reader's model: embedding weights and the KEPT_WORDS heaviest word weights, from their votes."""
    rows = conn.execute(
        text(
            """
            SELECT subscriber_id, array_agg(paper_id) FILTER (WHERE vote = 'up'),
                   array_agg(paper_id) FILTER (WHERE vote = 'down'), count(*)
            FROM paper_votes GROUP BY subscriber_id ORDER BY subscriber_id
            """
        )
    ).all()
    fewest = min((count for *_, count in rows), default=0)
    if not rows or fewest < MIN_VOTES:
        raise RuntimeError(f"{len(rows)} readers voted, the fewest {fewest} times")
    everything = np.mean(np.vstack(list(vectors.values())), axis=0)
    all_words = np.asarray(sparse.vstack(list(words.values())).mean(axis=0)).ravel()
    vocabulary = load_vocabulary()

    def mean_words(paper_ids: list[int] | None) -> np.ndarray:
        if not paper_ids:
            return all_words
        return np.asarray(sparse.vstack([words[i] for i in paper_ids]).mean(axis=0)).ravel()

    driver = conn.connection.driver_connection
    with (
        driver.cursor() as cursor,
        cursor.copy(
            "COPY reader_models (subscriber_id, embedding_model, weights, word_vocabulary, word_ids,"
            " word_weights, intercept, vote_count, fitted_at) FROM STDIN (FORMAT BINARY)"
        ) as copy,
    ):
        copy.set_types(
            ["int8", "varchar", "float4[]", "varchar", "int4[]", "float4[]", "float8", "int4", "timestamptz"]
        )
        for subscriber_id, up, down, count in rows:
            liked = np.mean([vectors[i] for i in up], axis=0) if up else everything
            disliked = np.mean([vectors[i] for i in down], axis=0) if down else everything
            weights = 12.0 * (liked - disliked)
            word_weights = 12.0 * (mean_words(up) - mean_words(down))
            kept = np.sort(np.argsort(-np.abs(word_weights), kind="stable")[:KEPT_WORDS])
            copy.write_row(
                (
                    subscriber_id,
                    model_name,
                    weights.tolist(),
                    vocabulary.name,
                    kept.tolist(),
                    word_weights[kept].tolist(),
                    -2.0,
                    count,
                    datetime(2026, 11, 20, tzinfo=UTC),
                )
            )


def backend_usage(pids: set[int]) -> dict[str, float] | None:
    """Peak resident set (VmHWM, the largest) and CPU seconds (summed) of these Postgres backends, read
    from /proc: only when the server runs on this machine and /proc is readable."""
    peaks, cpu_s = [], 0.0
    for pid in pids:
        try:
            status = Path(f"/proc/{pid}/status").read_text()
            stat = Path(f"/proc/{pid}/stat").read_text()
        except OSError:
            return None
        peaks += [int(line.split()[1]) / 1024 for line in status.splitlines() if line.startswith("VmHWM:")]
        # Fields 14 and 15 of /proc/<pid>/stat (utime, stime), counted after the ")" ending the name.
        utime, stime = stat.rsplit(")", 1)[1].split()[11:13]
        cpu_s += (int(utime) + int(stime)) / os.sysconf("SC_CLK_TCK")
    return {"peak_rss_mb": max(peaks), "cpu_s": cpu_s} if peaks else None


def build_all(database_url: str) -> dict[str, object]:
    """The child process: `build_due_editions`, as `newsletter editions build` runs it."""
    settings = Settings(_env_file=None, database_url=database_url, redis_url="redis://unused")  # type: ignore[call-arg]
    engine = make_engine(database_url)
    backend_pids: set[int] = set()

    @event.listens_for(engine, "connect")
    def remember_backend(dbapi_connection, _record) -> None:  # type: ignore[no-untyped-def]
        with dbapi_connection.cursor() as cursor:
            cursor.execute("SELECT pg_backend_pid()")
            backend_pids.add(cursor.fetchone()[0])

    factory = make_session_factory(engine)
    started = time.perf_counter()
    report = build_due_editions(factory, settings, NOW)
    elapsed = time.perf_counter() - started
    # Read while the pooled connections are still open (a backend's /proc entry goes with it), and
    # before the count below adds its own work.
    postgres = backend_usage(backend_pids)
    with engine.connect() as connection:
        distinct = connection.execute(text("SELECT count(DISTINCT content_id) FROM editions")).scalar()
    return {
        "seconds": elapsed,
        "built": report.built,
        "papers_editions": report.by_kind["papers"],
        "distinct": distinct,
        "candidates": report.candidates,
        "postgres": postgres,
    }


def measure(subscribers: int, *, personalized: bool = True) -> dict[str, Any]:
    """Populate a fresh database, build in a child process, take its peak RSS from the kernel."""
    with throwaway_database("bench_editions") as url, tempfile.TemporaryFile("w+") as errors:
        populate(url, subscribers, personalized=personalized)
        engine = make_engine(url)
        with engine.connect() as connection:
            readers = connection.execute(text("SELECT count(*) FROM reader_models")).scalar_one()
        engine.dispose()
        child = subprocess.Popen(
            [sys.executable, "-m", "benchmarks.bench_editions", "child", url],
            stdout=subprocess.PIPE,
            stderr=errors,
            text=True,
            cwd=PROJECT_ROOT,
        )
        assert child.stdout is not None
        output = child.stdout.read()
        # wait4 gives this child's own resource usage (ru_maxrss: its peak resident set, in KiB).
        _, status, usage = os.wait4(child.pid, 0)
        child.returncode = os.waitstatus_to_exitcode(status)
        if child.returncode != 0:
            errors.seek(0)
            raise RuntimeError(f"edition build failed ({child.returncode}):\n{errors.read()}")
    result = json.loads(output.strip().splitlines()[-1])
    result["peak_rss_mb"] = usage.ru_maxrss / 1024
    result["personalized"] = readers
    result["cpu_s"] = usage.ru_utime + usage.ru_stime
    if personalized and readers != subscribers // 10:
        raise RuntimeError(f"{readers} personalized readers of {subscribers}")
    if result["built"] != subscribers or result["candidates"] != CANDIDATE_PAPERS:
        raise RuntimeError(
            f"built {result['built']} of {subscribers} editions from {result['candidates']} papers"
        )
    return result


def run() -> dict[str, float]:
    small = measure(100_000)
    metrics = {
        "build_100k_s": round(small["seconds"], 2),
        "peak_rss_mb": round(small["peak_rss_mb"], 1),
        "papers_editions_100k": small["papers_editions"],
        "distinct_editions_100k": small["distinct"],
        "personalized_100k": small["personalized"],
        # CPU seconds the building process spent (imports included), and its Postgres backend's.
        "build_100k_cpu_s": round(small["cpu_s"], 2),
    }
    if small["postgres"] is not None:
        metrics["pg_backend_100k_cpu_s"] = round(small["postgres"]["cpu_s"], 2)
        metrics["pg_backend_peak_rss_mb"] = round(small["postgres"]["peak_rss_mb"], 1)
    # The same population without a single vote: what the personalized tenth costs.
    plain = measure(100_000, personalized=False)
    metrics["build_100k_unpersonalized_s"] = round(plain["seconds"], 2)
    metrics["build_100k_unpersonalized_cpu_s"] = round(plain["cpu_s"], 2)
    if os.environ.get("NEWSLETTER_BENCH_EDITIONS_1M", "1") != "0":
        large = measure(1_000_000)
        metrics["build_1m_s"] = round(large["seconds"], 2)
        metrics["peak_rss_1m_mb"] = round(large["peak_rss_mb"], 1)
        metrics["personalized_1m"] = large["personalized"]
        metrics["distinct_editions_1m"] = large["distinct"]
    return metrics


if __name__ == "__main__":
    if sys.argv[1:2] == ["child"]:
        print(json.dumps(build_all(sys.argv[2])))
    else:
        print(json.dumps(measure(int(sys.argv[1]) if len(sys.argv) > 1 else 100_000)))
