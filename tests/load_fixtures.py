"""What the load tests share: an open-loop HTTP client, latency percentiles, editions seeded in bulk, and
the measured numbers written to var/reliability/ (docs/reliability.md quotes them)."""

from __future__ import annotations

import asyncio
import json
import math
import time
from collections import Counter
from collections.abc import AsyncIterator, Awaitable, Callable, Sequence
from contextlib import AsyncExitStack, asynccontextmanager
from dataclasses import asdict, dataclass
from datetime import date
from pathlib import Path
from typing import Any

import httpx
from sqlalchemy import text
from sqlalchemy.orm import Session, sessionmaker

from newsletter.db import session_scope

PROJECT_ROOT = Path(__file__).resolve().parent.parent
RESULTS_DIR = PROJECT_ROOT / "var" / "reliability"


@dataclass(frozen=True)
class Sample:
    status: int
    seconds: float
    started_late_s: float = 0.0
    error: str = ""


def percentile(values: Sequence[float], share: float) -> float:
    """Nearest-rank percentile (share in 0..1)."""
    ordered = sorted(values)
    return ordered[max(0, math.ceil(share * len(ordered)) - 1)]


def latency_summary(samples: Sequence[Sample]) -> dict[str, float]:
    seconds = [sample.seconds for sample in samples]
    return {
        "p50_ms": round(percentile(seconds, 0.50) * 1000, 1),
        "p95_ms": round(percentile(seconds, 0.95) * 1000, 1),
        "p99_ms": round(percentile(seconds, 0.99) * 1000, 1),
        "max_ms": round(max(seconds) * 1000, 1),
    }


@asynccontextmanager
async def client_fleet(
    base_urls: Sequence[str], clients: int = 100, connections: int = 4
) -> AsyncIterator[list[httpx.AsyncClient]]:
    """Many small clients instead of one big one (httpx's pool scans every connection for each request,
    so one client with hundreds of connections becomes the bottleneck it is meant to measure), spread
    over the servers in turn, as a proxy in front of them would. Timeouts are long: an overloaded
    server's answer is measured, not cut off."""
    limits = httpx.Limits(max_connections=connections, max_keepalive_connections=connections)
    async with AsyncExitStack() as stack:
        yield [
            await stack.enter_async_context(
                httpx.AsyncClient(base_url=base_urls[index % len(base_urls)], limits=limits, timeout=300)
            )
            for index in range(clients)
        ]


async def timed(send: Callable[[], Awaitable[httpx.Response]], started_late_s: float = 0.0) -> Sample:
    started = time.perf_counter()
    try:
        response = await send()
    except httpx.HTTPError as error:  # no answer at all (refused, reset, timed out): status 0
        return Sample(
            0, time.perf_counter() - started, started_late_s, f"{type(error).__name__}: {error}"[:200]
        )
    return Sample(response.status_code, time.perf_counter() - started, started_late_s)


async def open_loop(
    rate_per_s: float, requests: Sequence[Callable[[], Awaitable[httpx.Response]]]
) -> list[Sample]:
    """Start request i at i / rate seconds whatever the answers so far (a slow server meets the same
    arrivals, as it would in production); each latency runs from its own start to its answer."""
    loop = asyncio.get_running_loop()
    began = loop.time()
    tasks = []
    for index, send in enumerate(requests):
        due = began + index / rate_per_s
        delay = due - loop.time()
        if delay > 0:
            await asyncio.sleep(delay)
        tasks.append(asyncio.create_task(timed(send, max(0.0, loop.time() - due))))
    return list(await asyncio.gather(*tasks))


async def closed_loop(
    concurrency: int, requests: Sequence[Callable[[], Awaitable[httpx.Response]]]
) -> list[Sample]:
    """As fast as the server answers, `concurrency` requests in flight (a mail provider's fleet)."""
    gate = asyncio.Semaphore(concurrency)

    async def bounded(send: Callable[[], Awaitable[httpx.Response]]) -> Sample:
        async with gate:
            return await timed(send)

    return list(await asyncio.gather(*(bounded(send) for send in requests)))


def status_counts(samples: Sequence[Sample]) -> dict[int, int]:
    return dict(Counter(sample.status for sample in samples))


def error_counts(samples: Sequence[Sample]) -> dict[str, int]:
    return dict(Counter(sample.error for sample in samples if sample.error))


def write_result(name: str, result: dict[str, Any]) -> None:
    RESULTS_DIR.mkdir(parents=True, exist_ok=True)
    stamped = {"measured_at": time.strftime("%Y-%m-%d %H:%M:%S %z"), **result}
    (RESULTS_DIR / f"{name}.json").write_text(json.dumps(stamped, indent=2, default=str) + "\n")
    print(f"\n{name}: {json.dumps(stamped, default=str)}")


def sample_dicts(samples: Sequence[Sample]) -> list[dict[str, Any]]:
    return [asdict(sample) for sample in samples]


def seed_editions(
    factory: sessionmaker[Session], readers: int, days: Sequence[date], contents: int = 40
) -> None:
    """`readers` active subscribers with an edition on each of `days`, spread over `contents` shared
    contents of eight summarized papers (so a send is a few requests per content, like production)."""
    with session_scope(factory) as session:
        session.execute(
            text(
                """
                INSERT INTO papers (arxiv_id, title, abstract, categories, published_at, hf_upvotes,
                                    is_on_arxiv, is_on_hf)
                SELECT '2613.' || lpad(g::text, 5, '0'), 'Loaded paper ' || g || ' on retrieval',
                       'We study retrieval ' || g || ' at scale and report what we found.', ARRAY['cs.CL'],
                       TIMESTAMPTZ '2026-11-20 12:00+00', 10 + g, true, true
                FROM generate_series(1, 40) g
                """
            )
        )
        session.execute(
            text(
                """
                INSERT INTO summaries (paper_id, input_hash, backend, backend_version, key_points, summary,
                                       methodology, results, implications, topics)
                SELECT id, 'load-' || id, 'extractive', 'load', ARRAY['One.', 'Two.', 'Three.'], 'A summary.',
                       'A method.', 'Some results.', 'Some implications.', ARRAY['NLP']
                FROM papers WHERE arxiv_id LIKE '2613.%'
                """
            )
        )
        session.execute(
            text(
                """
                INSERT INTO edition_contents (content_key, item_count, overflow_count)
                SELECT md5('load-content-' || g), 8, 0 FROM generate_series(1, :contents) g
                """
            ),
            {"contents": contents},
        )
        session.execute(
            text(
                """
                INSERT INTO edition_items (content_id, rank, paper_id, paper_version, matched_topics, reason)
                SELECT c.id, k, p.id, 1, ARRAY['NLP'], 'NLP · ' || p.hf_upvotes || ' upvotes'
                FROM edition_contents c CROSS JOIN generate_series(0, 7) k
                JOIN papers p ON p.arxiv_id = '2613.' || lpad((1 + (c.id * 7 + k) % 40)::text, 5, '0')
                """
            )
        )
        session.execute(
            text(
                """
                INSERT INTO subscribers (email, status, timezone, send_time)
                SELECT 'loaded' || g || '@readers.example.org', 'active', 'UTC', TIME '07:00'
                FROM generate_series(1, :readers) g
                """
            ),
            {"readers": readers},
        )
        for day in days:
            session.execute(
                text(
                    """
                    INSERT INTO editions (subscriber_id, edition_date, kind, content_id)
                    SELECT s.id, :day, 'papers', c.id
                    FROM subscribers s
                    JOIN (SELECT id, row_number() OVER (ORDER BY id) - 1 AS k FROM edition_contents) c
                      ON c.k = (s.id * 31) % :contents
                    """
                ),
                {"day": day, "contents": contents},
            )
        session.execute(text("ANALYZE"))
