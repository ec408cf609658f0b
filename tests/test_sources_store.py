"""The page writer on a real Postgres: pages stored on connections of its own, each committed on its own."""

from __future__ import annotations

import pytest
from sqlalchemy import func, select, text
from sqlalchemy.engine import Engine
from sqlalchemy.exc import IntegrityError, OperationalError
from sqlalchemy.orm import Session, sessionmaker

from newsletter.db import session_scope
from newsletter.models import Paper, PaperVersion
from newsletter.sources.parse import ArxivPage, PaperRecord
from newsletter.sources.samplefeed import synthesise_records
from newsletter.sources.store import PageWriter, UpsertCounts, upsert_arxiv_papers
from tests.databases import papers_trigger
from tests.recordings import load_corpus_papers


def records(count: int) -> list[PaperRecord]:
    return synthesise_records(load_corpus_papers(), count)


def pages_of(papers: list[PaperRecord], size: int) -> list[ArxivPage]:
    return [
        ArxivPage(entries=papers[start : start + size], total_results=len(papers), start_index=start,
                  items_per_page=size, raw_entry_count=len(papers[start : start + size]))
        for start in range(0, len(papers), size)
    ]  # fmt: skip


def store_all(factory: sessionmaker[Session], pages: list[ArxivPage], writers: int) -> UpsertCounts:
    counts = UpsertCounts()
    with PageWriter(factory, writers) as writer:
        for page in pages:
            for stored in writer.submit(page):
                counts.add(stored)
        stored_pages, failure = writer.finish()
    assert failure is None
    for stored in stored_pages:
        counts.add(stored)
    return counts


def stored_count(factory: sessionmaker[Session], model: type[Paper] | type[PaperVersion]) -> int:
    with session_scope(factory) as session:
        return session.scalar(select(func.count()).select_from(model)) or 0


def test_every_page_is_stored_and_committed_and_a_rerun_finds_them_unchanged(
    committed_session_factory: sessionmaker[Session],
) -> None:
    pages = pages_of(records(1_000), 100)

    first = store_all(committed_session_factory, pages, writers=2)

    assert (first.new, first.updated, first.unchanged, first.new_versions) == (1_000, 0, 0, 1_000)
    # Committed by the writer's own connections: another session sees every paper and version.
    assert stored_count(committed_session_factory, Paper) == 1_000
    assert stored_count(committed_session_factory, PaperVersion) == 1_000
    again = store_all(committed_session_factory, pages, writers=2)
    assert (again.new, again.updated, again.unchanged) == (0, 0, 1_000)


def test_counts_come_back_in_page_order_as_pages_finish(
    committed_session_factory: sessionmaker[Session],
) -> None:
    pages = pages_of(records(600), 50)
    returned: list[UpsertCounts] = []
    with PageWriter(committed_session_factory, writers=2) as writer:
        for page in pages:
            returned.extend(writer.submit(page))
        # At most twice as many pages as writers wait at any time: the rest were already returned.
        assert len(returned) >= len(pages) - 4
        stored_pages, failure = writer.finish()
    returned.extend(stored_pages)
    assert failure is None and [counts.new for counts in returned] == [50] * len(pages)


def test_overlapping_pages_in_opposite_orders_are_stored_once_without_deadlock(
    committed_session_factory: sessionmaker[Session],
) -> None:
    # Pages shift while arXiv is paged: the same paper in several pages, stored at once by three writers.
    papers = records(400)
    pages = []
    for start in range(0, 300, 50):
        window = papers[start : start + 100]
        pages.append(window if start % 100 else list(reversed(window)))
    submitted = sum(len(page) for page in pages)

    counts = store_all(committed_session_factory, pages_of_lists(pages), writers=3)

    assert counts.new == stored_count(committed_session_factory, Paper) == 350
    assert counts.new + counts.updated + counts.unchanged == submitted
    assert counts.updated == 0


def pages_of_lists(lists: list[list[PaperRecord]]) -> list[ArxivPage]:
    return [pages_of(entries, len(entries))[0] for entries in lists]


def test_a_page_the_database_refuses_is_reported_and_the_other_pages_are_kept(
    engine: Engine, committed_session_factory: sessionmaker[Session]
) -> None:
    papers = records(500)
    pages = pages_of(papers, 100)
    refused = papers[250].arxiv_id
    refusal = "RAISE EXCEPTION 'refused % for the test', NEW.arxiv_id"
    with papers_trigger(engine, refused, refusal), PageWriter(committed_session_factory, writers=2) as writer:
        returned = [counts for page in pages for counts in writer.submit(page)]
        stored_pages, failure = writer.finish()
        assert writer.failure is None  # handed over by finish, not kept for the next run

    assert failure is not None and f"refused {refused} for the test" in str(failure.orig)
    assert sum(counts.new for counts in returned + stored_pages) == 400
    assert stored_count(committed_session_factory, Paper) == 400
    with session_scope(committed_session_factory) as session:
        missing = session.scalars(
            select(Paper.arxiv_id).where(Paper.arxiv_id.in_([p.arxiv_id for p in papers[200:300]]))
        ).all()
    assert missing == []  # the refused page is one transaction: none of its papers half-stored


@pytest.mark.parametrize(
    ("action", "error_type"),
    [
        # The connection dies under the writer (the run is then retried) ...
        ("PERFORM pg_terminate_backend(pg_backend_pid())", OperationalError),
        # ... or the database refuses the data (it would refuse it again).
        ("RAISE unique_violation USING MESSAGE = 'taken'", IntegrityError),
    ],
    ids=["connection lost", "constraint"],
)
def test_the_error_of_a_failed_page_is_the_databases_own(
    engine: Engine, committed_session_factory: sessionmaker[Session], action: str, error_type: type[Exception]
) -> None:
    papers = records(300)
    with (
        papers_trigger(engine, papers[150].arxiv_id, action),
        PageWriter(committed_session_factory, 2) as writer,
    ):
        for page in pages_of(papers, 100):
            writer.submit(page)
        _, failure = writer.finish()

    assert isinstance(failure, error_type)
    assert stored_count(committed_session_factory, Paper) == 200


def test_a_writer_needs_a_connection(committed_session_factory: sessionmaker[Session]) -> None:
    with pytest.raises(ValueError, match="at least one connection"):
        PageWriter(committed_session_factory, writers=0)


def test_a_page_refused_for_a_constraint_is_not_transient(
    engine: Engine, committed_session_factory: sessionmaker[Session]
) -> None:
    papers = records(100)
    violation = "RAISE unique_violation USING MESSAGE = 'taken'"
    with (
        papers_trigger(engine, papers[10].arxiv_id, violation),
        PageWriter(committed_session_factory, 1) as writer,
    ):
        writer.submit(pages_of(papers, 100)[0])
        _, failure = writer.finish()
    assert isinstance(failure, IntegrityError)


def test_typical_paper_rows_are_stored_uncompressed(session: Session) -> None:
    papers = records(40)
    kept, default = papers[:20], papers[20:]

    def compressed(stored: list[PaperRecord]) -> int:
        return session.scalar(
            text(
                "SELECT count(*) FROM papers WHERE arxiv_id = ANY(:ids) AND "
                "(pg_column_compression(abstract) IS NOT NULL OR pg_column_compression(search_vector) IS NOT NULL)"
            ),
            {"ids": [paper.arxiv_id for paper in stored]},
        )

    upsert_arxiv_papers(session, kept)
    assert compressed(kept) == 0
    # Postgres' default (toast rows over 2 KB) compresses some of the same rows: migration 0004 keeps them.
    session.execute(text("ALTER TABLE papers RESET (toast_tuple_target)"))
    upsert_arxiv_papers(session, default)
    assert compressed(default) > 0
