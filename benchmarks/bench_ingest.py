"""Parse + upsert of a 10,000-entry arXiv feed built from the corpus, into a fresh database.

Measures the real ingest path: the feed comes as the arXiv API pages it (20 Atom documents of 500
entries, the client's page size); each page is parsed by `parse_arxiv_feed` and handed to the
`PageWriter` the fetch uses (`NEWSLETTER_INGEST_WRITERS`, default 2), which stores it while the next
page is parsed; the clock stops when every page is committed. Then the same feed again (every paper
unchanged), which is what most scheduled fetches see. Building the feed is not timed. Best of ROUNDS,
each on a database of its own.
"""

from __future__ import annotations

import time

from sqlalchemy import func, select
from sqlalchemy.orm import Session, sessionmaker

from benchmarks.bench_ingest_parse import ENTRY_COUNT, load_corpus
from benchmarks.database import throwaway_database
from newsletter.config import Settings
from newsletter.db import make_engine, make_session_factory, session_scope
from newsletter.models import Paper, PaperVersion
from newsletter.sources.arxiv import DEFAULT_PAGE_SIZE
from newsletter.sources.parse import parse_arxiv_feed
from newsletter.sources.samplefeed import synthesise_feed_pages
from newsletter.sources.store import PageWriter, UpsertCounts

NAME = "ingest"
TARGETS = {"papers_per_s": (">=", 5_000)}
ROUNDS = 3


def ingest(factory: sessionmaker[Session], pages: list[bytes], writers: int) -> tuple[float, UpsertCounts]:
    counts = UpsertCounts()
    started = time.perf_counter()
    with PageWriter(factory, writers) as writer:
        for body in pages:
            for stored in writer.submit(parse_arxiv_feed(body)):
                counts.add(stored)
        stored_pages, failure = writer.finish()
    elapsed = time.perf_counter() - started
    if failure is not None:
        raise RuntimeError(f"a page was not stored: {failure}")
    for stored in stored_pages:
        counts.add(stored)
    return elapsed, counts


def one_round(pages: list[bytes], writers: int) -> tuple[float, float]:
    with throwaway_database("bench_ingest") as url:
        engine = make_engine(url)
        factory = make_session_factory(engine)
        first_s, first = ingest(factory, pages, writers)
        with session_scope(factory) as session:
            stored = session.scalar(select(func.count()).select_from(Paper))
            versions = session.scalar(select(func.count()).select_from(PaperVersion))
        again_s, again = ingest(factory, pages, writers)
        engine.dispose()
    if not (first.new == again.unchanged == stored == versions == ENTRY_COUNT):
        raise RuntimeError(
            f"expected {ENTRY_COUNT} papers: {first.new} new, {again.unchanged} unchanged the second time, "
            f"{stored} stored, {versions} versions"
        )
    return first_s, again_s


def run() -> dict[str, float]:
    writers = Settings().ingest_writers or 1  # type: ignore[call-arg]
    pages = synthesise_feed_pages(load_corpus(), ENTRY_COUNT, DEFAULT_PAGE_SIZE)
    rounds = [one_round(pages, writers) for _ in range(ROUNDS)]
    first_s = min(first for first, _ in rounds)
    again_s = min(again for _, again in rounds)
    return {
        "papers_per_s": round(ENTRY_COUNT / first_s, 1),
        "unchanged_papers_per_s": round(ENTRY_COUNT / again_s, 1),
        "entries": ENTRY_COUNT,
        "writers": writers,
    }


if __name__ == "__main__":
    print(run())
