"""Parse + upsert of a 10,000-entry arXiv feed built from the corpus, into a fresh database.

Measures the real ingest path: `parse_arxiv_feed` on the Atom bytes, then `upsert_arxiv_papers` page by
page (500 entries, the client's page size) and a commit; then the same feed again (every paper
unchanged), which is what most scheduled fetches see.
"""

from __future__ import annotations

import time

from benchmarks.bench_ingest_parse import ENTRY_COUNT, load_corpus
from benchmarks.database import throwaway_database
from newsletter.db import make_engine, make_session_factory, session_scope
from newsletter.sources.ingest import upsert_arxiv_papers
from newsletter.sources.parse import parse_arxiv_feed
from newsletter.sources.samplefeed import synthesise_feed

NAME = "ingest"
PAGE = 500


def ingest(factory, feed: bytes) -> tuple[float, int]:  # type: ignore[no-untyped-def]
    started = time.perf_counter()
    page = parse_arxiv_feed(feed, max_bytes=len(feed) + 1)
    stored = 0
    with session_scope(factory) as session:
        for start in range(0, len(page.entries), PAGE):
            counts = upsert_arxiv_papers(session, page.entries[start : start + PAGE])
            stored += counts.new + counts.updated + counts.unchanged
    return time.perf_counter() - started, stored


def run() -> dict[str, float]:
    feed = synthesise_feed(load_corpus(), ENTRY_COUNT)
    with throwaway_database("bench_ingest") as url:
        engine = make_engine(url)
        factory = make_session_factory(engine)
        first_s, stored = ingest(factory, feed)
        again_s, seen = ingest(factory, feed)
        engine.dispose()
    assert stored == ENTRY_COUNT and seen == ENTRY_COUNT, (stored, seen)
    return {
        "papers_per_s": round(ENTRY_COUNT / first_s, 1),
        "unchanged_papers_per_s": round(ENTRY_COUNT / again_s, 1),
        "entries": ENTRY_COUNT,
    }


if __name__ == "__main__":
    print(run())
