"""Storing fetched papers: one set-based upsert per page, and a writer that stores pages on connections
of its own while the next page is fetched and parsed."""

from __future__ import annotations

from collections import deque
from collections.abc import Iterable, Sequence
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass
from operator import attrgetter
from typing import Any, cast

import psycopg
from sqlalchemy import Connection, Table, and_, case, func, literal_column, or_, text
from sqlalchemy.dialects.postgresql import insert
from sqlalchemy.exc import DBAPIError
from sqlalchemy.orm import Session, sessionmaker

from newsletter.db import session_scope
from newsletter.models import Paper
from newsletter.plaintext.characters import normalise_text
from newsletter.plaintext.latex import latex_to_text
from newsletter.sources.daily_papers import HfPage, HfRecord
from newsletter.sources.parse import ArxivPage, PaperRecord

PAPERS = cast(Table, Paper.__table__)

HF_SIGNAL_COLUMNS = (
    "hf_upvotes", "hf_num_comments", "github_repo", "github_stars", "project_page", "ai_keywords",
    "hf_thumbnail_url",
)  # fmt: skip
# Bibliographic fields Hugging Face may fill in only while arXiv has not (yet) been seen.
HF_BIBLIOGRAPHIC_COLUMNS = ("title", "abstract", "title_raw", "abstract_raw", "authors", "published_at")


@dataclass(slots=True)
class UpsertCounts:
    new: int = 0
    updated: int = 0
    unchanged: int = 0
    new_versions: int = 0

    def add(self, other: UpsertCounts) -> None:
        self.new += other.new
        self.updated += other.updated
        self.unchanged += other.unchanged
        self.new_versions += other.new_versions


def newest_per_id(records: Iterable[PaperRecord]) -> list[PaperRecord]:
    newest: dict[str, PaperRecord] = {}
    for record in records:
        kept = newest.get(record.arxiv_id)
        if kept is None or record.version > kept.version:
            newest[record.arxiv_id] = record
    return list(newest.values())


def upsert_arxiv_papers(session: Session, records: Sequence[PaperRecord]) -> UpsertCounts:
    """One set-based statement per page: new rows inserted, changed rows updated (never to an older
    version), identical rows untouched, and the versions seen recorded.

    What is stored is read first and identical (or older) papers are left out: Postgres computes the
    generated search vector of every proposed row before it finds the conflict, so sending unchanged
    papers (most of a re-fetched window) would cost a to_tsvector each. The rest is streamed into a
    temporary table with COPY and stored by one INSERT … SELECT … ON CONFLICT; binding 15 parameters per
    paper in a multi-row VALUES cost more Python time than Postgres spent storing the rows.
    """
    counts = UpsertCounts()
    newest = newest_per_id(records)
    # Sorted by id, every writer takes its row locks in the same order: concurrent pages never deadlock.
    to_store = sorted(without_unchanged(session, newest), key=attrgetter("arxiv_id"))
    counts.unchanged = len(newest) - len(to_store)
    if not to_store:
        return counts
    connection = session.connection()
    connection.execute(text(CREATE_INCOMING_SQL))
    driver_connection = connection.connection.driver_connection
    assert isinstance(driver_connection, psycopg.Connection)
    with driver_connection.cursor() as cursor, cursor.copy(COPY_INCOMING_SQL) as copy:
        copy.set_types(INCOMING_TYPES)
        for record in to_store:
            copy.write_row(
                (
                    record.arxiv_id, record.version, record.clean_title, record.clean_abstract,
                    record.authors, record.categories, record.primary_category, record.published,
                    record.updated, record.abs_url, record.pdf_url, record.comment, record.journal_ref,
                    record.doi, record.title, record.abstract,
                )
            )  # fmt: skip
    inserted, changed, new_versions = connection.execute(text(UPSERT_INCOMING_SQL)).one()
    connection.execute(text("DROP TABLE arxiv_incoming"))
    counts.new, counts.updated = inserted, changed - inserted
    counts.unchanged += len(to_store) - changed
    counts.new_versions = new_versions
    return counts


def without_unchanged(session: Session, records: list[PaperRecord]) -> list[PaperRecord]:
    """Drop records identical to what is stored, or older than it: one SELECT per page."""
    if not records:
        return []
    stored = {
        row[0]: row[1:]
        for row in session.execute(
            text(
                """
                SELECT arxiv_id, is_on_arxiv, version, title, abstract, authors, categories, primary_category,
                       published_at, updated_at, abs_url, pdf_url, comment, journal_ref, doi, title_raw,
                       abstract_raw
                FROM papers WHERE arxiv_id = ANY(:ids)
                """
            ),
            {"ids": [record.arxiv_id for record in records]},
        )
    }
    kept = []
    for record in records:
        existing = stored.get(record.arxiv_id)
        if (
            existing is None
            or not existing[0]
            or record.version >= existing[1]
            and _fields(record) != existing[1:]
        ):
            kept.append(record)
    return kept


def _fields(record: PaperRecord) -> tuple[object, ...]:
    return (
        record.version, record.clean_title, record.clean_abstract, record.authors, record.categories,
        record.primary_category, record.published, record.updated, record.abs_url, record.pdf_url,
        record.comment, record.journal_ref, record.doi, record.title, record.abstract,
    )  # fmt: skip


# ON COMMIT DROP: a failed page leaves nothing behind once its transaction ends. The toast target is the
# one papers has (migration 0004): a value compressed here would be copied into papers compressed.
CREATE_INCOMING_SQL = """
CREATE TEMPORARY TABLE arxiv_incoming WITH (toast_tuple_target = 8160) ON COMMIT DROP AS
SELECT arxiv_id, version, title, abstract, authors, categories, primary_category, published_at,
       updated_at, abs_url, pdf_url, comment, journal_ref, doi, title_raw, abstract_raw
FROM papers WITH NO DATA
"""
# Binary COPY: half the Python time of the text format (timestamps and arrays need no formatting).
COPY_INCOMING_SQL = """
COPY arxiv_incoming (arxiv_id, version, title, abstract, authors, categories, primary_category,
                     published_at, updated_at, abs_url, pdf_url, comment, journal_ref, doi, title_raw,
                     abstract_raw)
FROM STDIN (FORMAT BINARY)
"""
INCOMING_TYPES = (
    "varchar", "int4", "text", "text", "text[]", "text[]", "varchar", "timestamptz", "timestamptz", "text",
    "text", "text", "text", "text", "text", "text",
)  # fmt: skip
# Unchanged papers were left out before the COPY; the ON CONFLICT condition repeats the comparison for
# a row another transaction stored in the meantime.
UPSERT_INCOMING_SQL = """
WITH changed AS (
    INSERT INTO papers AS paper (arxiv_id, version, title, abstract, authors, categories, primary_category,
                                 published_at, updated_at, abs_url, pdf_url, comment, journal_ref, doi,
                                 title_raw, abstract_raw, is_on_arxiv)
    SELECT incoming.*, true  -- arxiv_incoming's columns are in this order
    FROM arxiv_incoming AS incoming
    ON CONFLICT (arxiv_id) DO UPDATE
    SET version = excluded.version, title = excluded.title, abstract = excluded.abstract,
        authors = excluded.authors, categories = excluded.categories,
        primary_category = excluded.primary_category, published_at = excluded.published_at,
        updated_at = excluded.updated_at, abs_url = excluded.abs_url, pdf_url = excluded.pdf_url,
        comment = excluded.comment, journal_ref = excluded.journal_ref, doi = excluded.doi,
        title_raw = excluded.title_raw, abstract_raw = excluded.abstract_raw,
        is_on_arxiv = true, changed_at = now()
    -- An older version fetched late (pages shift) never replaces a newer one.
    WHERE excluded.version >= paper.version
      AND (NOT paper.is_on_arxiv
           OR (excluded.version, excluded.title, excluded.abstract, excluded.authors, excluded.categories,
               excluded.primary_category, excluded.published_at, excluded.updated_at, excluded.abs_url,
               excluded.pdf_url, excluded.comment, excluded.journal_ref, excluded.doi, excluded.title_raw,
               excluded.abstract_raw)
              IS DISTINCT FROM
              (paper.version, paper.title, paper.abstract, paper.authors, paper.categories,
               paper.primary_category, paper.published_at, paper.updated_at, paper.abs_url,
               paper.pdf_url, paper.comment, paper.journal_ref, paper.doi, paper.title_raw,
               paper.abstract_raw))
    RETURNING paper.id, paper.version, paper.updated_at, paper.xmax = 0 AS is_new
), versions AS (
    INSERT INTO paper_versions (paper_id, version, updated_at)
    SELECT id, version, updated_at FROM changed
    ON CONFLICT (paper_id, version) DO NOTHING
    RETURNING 1
)
SELECT count(*) FILTER (WHERE is_new), count(*), (SELECT count(*) FROM versions) FROM changed
"""


def upsert_hf_papers(session: Session, records: Sequence[HfRecord]) -> UpsertCounts:
    """Trending signals onto the paper with the same bare id; a paper not (yet) on arXiv is stored with
    what Hugging Face gives, and arXiv's text wins once it arrives."""
    counts = UpsertCounts()
    by_id = {record.arxiv_id: record for record in records}
    rows = [
        {
            "arxiv_id": record.arxiv_id,
            "title": record.clean_title,
            "abstract": record.clean_abstract,
            "title_raw": record.title,
            "abstract_raw": record.abstract,
            "tldr": record.ai_summary,
            "tldr_source": "hf" if record.ai_summary else None,
            "authors": record.authors,
            "published_at": record.published,
            "hf_upvotes": record.upvotes,
            "hf_featured_date": record.featured_date,
            "hf_num_comments": record.num_comments,
            "github_repo": record.github_repo,
            "github_stars": record.github_stars,
            "project_page": record.project_page,
            "ai_keywords": record.ai_keywords,
            "hf_thumbnail_url": record.thumbnail_url,
            "is_on_hf": True,
        }
        for record in sorted(by_id.values(), key=attrgetter("arxiv_id"))  # the lock order of every writer
    ]
    if not rows:
        return counts
    statement = insert(PAPERS)
    incoming = statement.excluded
    # The first day a paper was featured stays its featured date when it shows up again.
    featured = func.least(PAPERS.c.hf_featured_date, incoming.hf_featured_date)
    set_columns: dict[str, Any] = {name: incoming[name] for name in HF_SIGNAL_COLUMNS}
    set_columns.update(
        {
            name: case((PAPERS.c.is_on_arxiv, PAPERS.c[name]), else_=incoming[name])
            for name in HF_BIBLIOGRAPHIC_COLUMNS
        }
    )
    set_columns.update({"hf_featured_date": featured, "is_on_hf": True, "changed_at": func.now()})
    # A day's answer without `ai_summary` keeps the TL;DR an earlier day gave.
    has_tldr = incoming.tldr.is_not(None)
    set_columns["tldr"] = case((has_tldr, incoming.tldr), else_=PAPERS.c.tldr)
    set_columns["tldr_source"] = case((has_tldr, incoming.tldr_source), else_=PAPERS.c.tldr_source)
    is_different = or_(
        PAPERS.c.is_on_hf.is_(False),
        PAPERS.c.hf_featured_date.is_distinct_from(featured),
        *(PAPERS.c[name].is_distinct_from(incoming[name]) for name in HF_SIGNAL_COLUMNS),
        and_(has_tldr, PAPERS.c.tldr.is_distinct_from(incoming.tldr)),
        and_(
            PAPERS.c.is_on_arxiv.is_(False),
            or_(*(PAPERS.c[name].is_distinct_from(incoming[name]) for name in HF_BIBLIOGRAPHIC_COLUMNS)),
        ),
    )
    upsert = statement.on_conflict_do_update(
        index_elements=[PAPERS.c.arxiv_id], set_=set_columns, where=is_different
    ).returning(PAPERS.c.id, literal_column("(xmax = 0)"))
    changed = session.connection().execute(upsert, rows).all()
    inserted = sum(1 for row in changed if row[1])
    counts.add(
        UpsertCounts(new=inserted, updated=len(changed) - inserted, unchanged=len(rows) - len(changed))
    )
    return counts


def store_page(session: Session, page: ArxivPage | HfPage) -> UpsertCounts:
    if isinstance(page, ArxivPage):
        return upsert_arxiv_papers(session, page.entries)
    return upsert_hf_papers(session, page.items)


# ---------------------------------------------------------------- storing pages while fetching


class PageWriter:
    """Stores pages on connections of its own while the caller fetches and parses the next ones.

    Storing a page of new papers is bound by Postgres building each paper's search vector, and one
    backend runs on one core; with two writers two pages are stored at once. Each page is a transaction
    of the writer's own, committed as soon as the page is stored, so what a run stored is kept even if
    the run fails later (a re-run finds those papers unchanged). Pages are started in the order given,
    `writers` at a time, and their counts come back in that order; `submit` waits once twice that many
    are queued, so a fast provider cannot fill memory with parsed pages."""

    def __init__(self, session_factory: sessionmaker[Session], writers: int) -> None:
        if writers < 1:
            raise ValueError("a page writer needs at least one connection")
        self._session_factory = session_factory
        self._executor = ThreadPoolExecutor(max_workers=writers, thread_name_prefix="ingest-writer")
        self._queued: deque[Future[UpsertCounts]] = deque()
        self._max_queued = 2 * writers
        self._failure: DBAPIError | None = None

    def submit(self, page: ArxivPage | HfPage) -> list[UpsertCounts]:
        """Queue a page; return the counts of the pages stored since the last call, oldest first.

        A page the database refused is not raised here: `failure` holds the first such error until
        `finish` hands it over.
        """
        self._queued.append(self._executor.submit(self._store, page))
        stored: list[UpsertCounts] = []
        while self._queued and (len(self._queued) > self._max_queued or self._queued[0].done()):
            self._collect(self._queued.popleft(), stored)
        return stored

    @property
    def failure(self) -> DBAPIError | None:
        return self._failure

    def finish(self) -> tuple[list[UpsertCounts], DBAPIError | None]:
        """Wait for every queued page: their counts, oldest first, and the first database error of the
        pages handed over since the last `finish` (then forgotten, for the next run)."""
        stored: list[UpsertCounts] = []
        while self._queued:
            self._collect(self._queued.popleft(), stored)
        failure, self._failure = self._failure, None
        return stored, failure

    def _collect(self, future: Future[UpsertCounts], stored: list[UpsertCounts]) -> None:
        try:
            stored.append(future.result())
        except DBAPIError as error:
            self._failure = self._failure or error

    def close(self) -> None:
        # Pages not yet started are dropped: close() is reached with pages queued only when the run
        # is already failing, and the papers come again with the next fetch of the window.
        for future in self._queued:
            future.cancel()
        self._queued.clear()
        self._executor.shutdown(wait=True)

    def __enter__(self) -> PageWriter:
        return self

    def __exit__(self, *_: object) -> None:
        self.close()

    def _store(self, page: ArxivPage | HfPage) -> UpsertCounts:
        with session_scope(self._session_factory) as session:
            return store_page(session, page)


# Papers converted per statement when stored text is converted again.
RECONVERT_BATCH = 1000
RECONVERTED_COLUMNS = ("title_raw", "abstract_raw", "title", "abstract")


def reconvert_stored_text(connection: Connection) -> int:
    """Reads every stored paper's source text (`title_raw`, `abstract_raw`) again as the parsers keep it
    now and converts it to plain text with the converter as it is now, in batches by id, and writes the
    papers whose text changes (how many). For the migrations that follow an improvement of either; their
    summaries are then stale and `newsletter summarize --pending` redoes them."""
    changed_count, last_id = 0, 0
    while True:
        rows = connection.execute(
            text(
                "SELECT id, title_raw, abstract_raw, title, abstract FROM papers"
                " WHERE id > :last ORDER BY id LIMIT :batch"
            ),
            {"last": last_id, "batch": RECONVERT_BATCH},
        ).all()
        if not rows:
            return changed_count
        last_id = rows[-1][0]
        changed = []
        for paper_id, *stored in rows:
            title_raw, abstract_raw = normalise_text(stored[0]), normalise_text(stored[1])
            texts = [title_raw, abstract_raw, latex_to_text(title_raw), latex_to_text(abstract_raw)]
            if texts != stored:
                changed.append({"id": paper_id, **dict(zip(RECONVERTED_COLUMNS, texts, strict=True))})
        if changed:
            connection.execute(
                text(
                    "UPDATE papers SET title_raw = :title_raw, abstract_raw = :abstract_raw, title = :title,"
                    " abstract = :abstract WHERE id = :id"
                ),
                changed,
            )
            changed_count += len(changed)
