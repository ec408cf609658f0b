"""Parse + upsert of a 10,000-entry arXiv feed built from the corpus, into a fresh database.

Measures the real ingest path: `parse_arxiv_feed` on the Atom bytes, then `upsert_arxiv_papers` page by
page (500 entries, the client's page size) in one transaction, and the commit; then the same feed again
(every paper unchanged), which is what most scheduled fetches see. Building the feed is not timed. Best of
ROUNDS, each on a database of its own.
"""

from __future__ import annotations

import time

from sqlalchemy import func, select
from sqlalchemy.orm import sessionmaker

from benchmarks.bench_ingest_parse import ENTRY_COUNT, load_corpus
from benchmarks.database import throwaway_database
from newsletter.db import make_engine, make_session_factory, session_scope
from newsletter.models import Paper, PaperVersion
from newsletter.sources.ingest import upsert_arxiv_papers
from newsletter.sources.parse import parse_arxiv_feed
from newsletter.sources.samplefeed import synthesise_feed

NAME = "ingest"
TARGETS = {"papers_per_s": (">=", 5_000)}
PAGE = 500
ROUNDS = 2


def ingest(factory: sessionmaker, feed: bytes) -> tuple[float, int]:
    started = time.perf_counter()
    page = parse_arxiv_feed(feed, max_bytes=len(feed) + 1)
    seen = 0
    with session_scope(factory) as session:
        for start in range(0, len(page.entries), PAGE):
            counts = upsert_arxiv_papers(session, page.entries[start : start + PAGE])
            seen += counts.new + counts.updated + counts.unchanged
    return time.perf_counter() - started, seen


def one_round(feed: bytes) -> tuple[float, float]:
    with throwaway_database("bench_ingest") as url:
        engine = make_engine(url)
        factory = make_session_factory(engine)
        first_s, seen = ingest(factory, feed)
        with session_scope(factory) as session:
            stored = session.scalar(select(func.count()).select_from(Paper))
            versions = session.scalar(select(func.count()).select_from(PaperVersion))
        again_s, seen_again = ingest(factory, feed)
        engine.dispose()
    if not (seen == seen_again == stored == versions == ENTRY_COUNT):
        raise RuntimeError(
            f"expected {ENTRY_COUNT} papers, saw {seen}/{seen_again}, stored {stored}/{versions}"
        )
    return first_s, again_s


def run() -> dict[str, float]:
    feed = synthesise_feed(load_corpus(), ENTRY_COUNT)
    rounds = [one_round(feed) for _ in range(ROUNDS)]
    first_s = min(first for first, _ in rounds)
    again_s = min(again for _, again in rounds)
    return {
        "papers_per_s": round(ENTRY_COUNT / first_s, 1),
        "unchanged_papers_per_s": round(ENTRY_COUNT / again_s, 1),
        "entries": ENTRY_COUNT,
    }


if __name__ == "__main__":
    print(run())
