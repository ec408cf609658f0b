"""Storing fetched papers: one bulk upsert per page, a fetch_runs row per run, a cursor per source and category."""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from typing import Any, cast

import httpx
import psycopg
from sqlalchemy import Table, and_, case, func, literal_column, or_, text
from sqlalchemy.dialects.postgresql import insert
from sqlalchemy.orm import Session, sessionmaker

from newsletter.config import Settings
from newsletter.db import session_scope
from newsletter.errors import PermanentError, TransientError
from newsletter.models import FetchRun, Paper
from newsletter.redis_client import make_redis
from newsletter.sources.arxiv import ArxivClient
from newsletter.sources.download import RetryPolicy
from newsletter.sources.hf import HfClient
from newsletter.sources.parse import ArxivPage, HfPage, HfRecord, PaperRecord, Rejection
from newsletter.sources.ratelimit import SharedRateLimiter
from newsletter.sources.runs import Source, advance_cursor, is_suspect_empty_run, window_start

logger = logging.getLogger(__name__)

# A fetch_runs row keeps this many rejection reasons; the count is always exact.
MAX_STORED_REJECTIONS = 200
PAPERS = cast(Table, Paper.__table__)
USER_AGENT = "newsletter-ingest/0.1 (+https://papers.example.org; one request per 3 s)"

HF_SIGNAL_COLUMNS = (
    "hf_upvotes", "hf_num_comments", "github_repo", "github_stars", "project_page", "ai_keywords",
)  # fmt: skip
# Bibliographic fields Hugging Face may fill in only while arXiv has not (yet) been seen.
HF_BIBLIOGRAPHIC_COLUMNS = ("title", "abstract", "authors", "published_at")


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


@dataclass(slots=True)
class FetchSummary:
    run_id: int
    source: Source
    category: str | None
    since: date
    until: date
    status: str
    counts: UpsertCounts
    rejected: int
    requests: int
    duration_s: float
    error: str | None = None
    is_transient: bool = False
    rejections: list[Rejection] = field(default_factory=list)


@dataclass(frozen=True, slots=True)
class FetchProgress:
    """Where one run stands, for a progress bar: sent before the first request, after each page, at the end."""

    label: str
    papers_seen: int
    new: int
    updated: int
    # Entries read so far (ghosts and repeats included) out of what the provider says it has; HF says not.
    entries_read: int
    entries_total: int | None
    is_done: bool = False


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
    to_store = without_unchanged(session, newest)
    counts.unchanged = len(newest) - len(to_store)
    if not to_store:
        return counts
    connection = session.connection()
    connection.execute(text(CREATE_INCOMING_SQL))
    driver_connection = connection.connection.driver_connection
    assert isinstance(driver_connection, psycopg.Connection)
    with driver_connection.cursor() as cursor, cursor.copy(COPY_INCOMING_SQL) as copy:
        for record in to_store:
            copy.write_row(
                (
                    record.arxiv_id, record.version, record.title, record.abstract, record.authors,
                    record.categories, record.primary_category, record.published, record.updated,
                    record.abs_url, record.pdf_url, record.comment, record.journal_ref, record.doi,
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
                       published_at, updated_at, abs_url, pdf_url, comment, journal_ref, doi
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
        record.version, record.title, record.abstract, record.authors, record.categories,
        record.primary_category, record.published, record.updated, record.abs_url, record.pdf_url,
        record.comment, record.journal_ref, record.doi,
    )  # fmt: skip


# ON COMMIT DROP: a failed page leaves nothing behind once its transaction ends.
CREATE_INCOMING_SQL = """
CREATE TEMPORARY TABLE arxiv_incoming ON COMMIT DROP AS
SELECT arxiv_id, version, title, abstract, authors, categories, primary_category, published_at,
       updated_at, abs_url, pdf_url, comment, journal_ref, doi
FROM papers WITH NO DATA
"""
COPY_INCOMING_SQL = """
COPY arxiv_incoming (arxiv_id, version, title, abstract, authors, categories, primary_category,
                     published_at, updated_at, abs_url, pdf_url, comment, journal_ref, doi) FROM STDIN
"""
# Unchanged papers were left out before the COPY; the ON CONFLICT condition repeats the comparison for
# a row another transaction stored in the meantime.
UPSERT_INCOMING_SQL = """
WITH changed AS (
    INSERT INTO papers AS paper (arxiv_id, version, title, abstract, authors, categories, primary_category,
                                 published_at, updated_at, abs_url, pdf_url, comment, journal_ref, doi,
                                 is_on_arxiv)
    SELECT incoming.*, true  -- arxiv_incoming's columns are in this order
    FROM arxiv_incoming AS incoming
    ON CONFLICT (arxiv_id) DO UPDATE
    SET version = excluded.version, title = excluded.title, abstract = excluded.abstract,
        authors = excluded.authors, categories = excluded.categories,
        primary_category = excluded.primary_category, published_at = excluded.published_at,
        updated_at = excluded.updated_at, abs_url = excluded.abs_url, pdf_url = excluded.pdf_url,
        comment = excluded.comment, journal_ref = excluded.journal_ref, doi = excluded.doi,
        is_on_arxiv = true, changed_at = now()
    -- An older version fetched late (pages shift) never replaces a newer one.
    WHERE excluded.version >= paper.version
      AND (NOT paper.is_on_arxiv
           OR (excluded.version, excluded.title, excluded.abstract, excluded.authors, excluded.categories,
               excluded.primary_category, excluded.published_at, excluded.updated_at, excluded.abs_url,
               excluded.pdf_url, excluded.comment, excluded.journal_ref, excluded.doi)
              IS DISTINCT FROM
              (paper.version, paper.title, paper.abstract, paper.authors, paper.categories,
               paper.primary_category, paper.published_at, paper.updated_at, paper.abs_url,
               paper.pdf_url, paper.comment, paper.journal_ref, paper.doi))
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
            "title": record.title,
            "abstract": record.abstract,
            "authors": record.authors,
            "published_at": record.published,
            "hf_upvotes": record.upvotes,
            "hf_featured_date": record.featured_date,
            "hf_num_comments": record.num_comments,
            "github_repo": record.github_repo,
            "github_stars": record.github_stars,
            "project_page": record.project_page,
            "ai_keywords": record.ai_keywords,
            "is_on_hf": True,
        }
        for record in by_id.values()
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
    is_different = or_(
        PAPERS.c.is_on_hf.is_(False),
        PAPERS.c.hf_featured_date.is_distinct_from(featured),
        *(PAPERS.c[name].is_distinct_from(incoming[name]) for name in HF_SIGNAL_COLUMNS),
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


# ---------------------------------------------------------------- the entry point


def fetch(
    session: Session,
    settings: Settings,
    source: Source,
    since: date | None = None,
    until: date | None = None,
    categories: Sequence[str] | None = None,
    progress: Callable[[str], None] | None = None,
    *,
    http: httpx.Client | None = None,
    retry_policy: RetryPolicy | None = None,
    page_progress: Callable[[FetchProgress], None] | None = None,
) -> list[FetchSummary]:
    """Fetch and store one source over a window: a run per arXiv category, one run for Hugging Face.

    Provider failures end that run as `failed` (recorded, with the error) and the next category still runs;
    the caller retries when a summary `is_transient`. Flushes, never commits.
    """
    until = until or datetime.now(UTC).date()
    retry_policy = retry_policy or RetryPolicy(
        max_attempts=settings.http_max_attempts, backoff_base_s=settings.http_backoff_base_s
    )
    owned_http = http is None
    http = http or httpx.Client(
        timeout=settings.http_timeout_s, headers={"User-Agent": USER_AGENT}, follow_redirects=True
    )
    redis_client = make_redis(settings) if source == "arxiv" else None
    try:
        if redis_client is not None:
            limiter = SharedRateLimiter(
                redis_client,
                settings.redis_prefix,
                min_interval_s=settings.arxiv_min_interval_s,
                lock_ttl_s=settings.http_timeout_s + 30,
            )
            arxiv = ArxivClient(http, settings.arxiv_base_url, limiter, retry_policy=retry_policy)
            summaries = []
            for category in categories or settings.arxiv_categories:
                start = since or window_start(session, "arxiv", category, until)
                pages = arxiv.fetch_window(category, start, until)
                summaries.append(
                    record_run(
                        session, "arxiv", category, start, until, arxiv, pages, progress, page_progress
                    )
                )
            return summaries
        hf = HfClient(http, settings.hf_base_url, retry_policy=retry_policy)
        start = since or window_start(session, "hf", None, until)
        days = [start + timedelta(days=offset) for offset in range((until - start).days + 1)]
        hf_pages = (page for day in days for page in hf.fetch_day(day))
        return [record_run(session, "hf", None, start, until, hf, hf_pages, progress, page_progress)]
    finally:
        if redis_client is not None:
            redis_client.close()
        if owned_http:
            http.close()


SOURCES: tuple[Source, ...] = ("arxiv", "hf")


def fetch_sources(
    session_factory: sessionmaker[Session],
    settings: Settings,
    since: date | None = None,
    until: date | None = None,
    progress: Callable[[str], None] | None = None,
) -> list[FetchSummary]:
    """Every source over a window (default: each from its own cursor to today), one transaction per
    source, so what one stored is kept whatever the next one does."""
    summaries: list[FetchSummary] = []
    for source in SOURCES:
        if progress:
            progress(f"fetching {source}")
        with session_scope(session_factory) as session:
            summaries.extend(fetch(session, settings, source, since, until, progress=progress))
    return summaries


def record_run(
    session: Session,
    source: Source,
    category: str | None,
    since: date,
    until: date,
    client: ArxivClient | HfClient,
    pages: Iterator[ArxivPage] | Iterator[HfPage],
    progress: Callable[[str], None] | None,
    page_progress: Callable[[FetchProgress], None] | None = None,
) -> FetchSummary:
    """Store each page as it comes; the fetch_runs row says how the run went, whatever happened."""
    label = f"{source} {category or ''} {since}..{until}".replace("  ", " ")
    is_suspect_if_empty = is_suspect_empty_run(session, source, category, since, until)
    run = FetchRun(source=source, category=category, parameters={"since": str(since), "until": str(until)})
    session.add(run)
    session.flush()
    started = time.monotonic()
    requests_before = client.requests_made
    counts = UpsertCounts()
    rejections: list[Rejection] = []
    papers_seen = 0
    error: str | None = None
    is_transient = False
    entries_read = 0
    entries_total: int | None = None

    def report(is_done: bool = False) -> None:
        if page_progress:
            page_progress(
                FetchProgress(
                    label, papers_seen, counts.new, counts.updated, entries_read, entries_total, is_done
                )
            )

    report()
    try:
        for page in pages:
            if isinstance(page, ArxivPage):
                page_counts = upsert_arxiv_papers(session, page.entries)
                papers_seen += len(page.entries)
            else:
                page_counts = upsert_hf_papers(session, page.items)
                papers_seen += len(page.items)
            counts.add(page_counts)
            rejections.extend(page.rejections)
            if progress:
                progress(f"{label}: {papers_seen} papers ({counts.new} new, {counts.updated} updated)")
            if isinstance(page, ArxivPage):
                entries_read += page.raw_entry_count
                entries_total = page.total_results if page.total_results is not None else entries_total
            else:
                entries_read += page.raw_item_count
            report()
    except TransientError as failure:
        error, is_transient = str(failure), True
    except PermanentError as failure:
        error = str(failure)

    if error is not None:
        run.status = "failed"
        logger.warning("Fetch run %s (%s) failed: %s", run.id, label, error)
    elif papers_seen == 0 and is_suspect_if_empty:
        run.status = "suspect"
        logger.warning(
            "Fetch run %s (%s) came back empty after a busy run; cursor not advanced", run.id, label
        )
    else:
        run.status = "ok"
        advance_cursor(session, source, category, until)
    report(is_done=True)
    run.finished_at = datetime.now(UTC)
    run.duration_s = time.monotonic() - started
    run.requests_count = client.requests_made - requests_before
    run.new_count, run.updated_count, run.unchanged_count = counts.new, counts.updated, counts.unchanged
    run.rejected_count = len(rejections)
    run.rejections = [{"item": r.item_ref, "reason": r.reason} for r in rejections[:MAX_STORED_REJECTIONS]]
    run.error = error
    session.flush()
    logger.info(
        "Fetch run %s (%s): %s, %d new, %d updated, %d unchanged, %d rejected, %d requests",
        run.id, label, run.status, counts.new, counts.updated, counts.unchanged, len(rejections), run.requests_count,
    )  # fmt: skip
    return FetchSummary(
        run_id=run.id,
        source=source,
        category=category,
        since=since,
        until=until,
        status=run.status,
        counts=counts,
        rejected=len(rejections),
        requests=run.requests_count,
        duration_s=run.duration_s,
        error=error,
        is_transient=is_transient,
        rejections=rejections,
    )
