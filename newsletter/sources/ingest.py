"""Fetching a source over a window: a fetch_runs row per run, a cursor per source and category, the
pages stored as they arrive (`store.py`)."""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta

import httpx
from sqlalchemy.exc import DBAPIError, OperationalError
from sqlalchemy.orm import Session, sessionmaker

from newsletter.config import Settings
from newsletter.db import session_scope
from newsletter.errors import PermanentError, TransientError
from newsletter.models import FetchRun
from newsletter.redis_client import make_redis
from newsletter.sources.arxiv import ArxivClient
from newsletter.sources.download import RetryPolicy
from newsletter.sources.hf import HfClient
from newsletter.sources.parse import ArxivPage, HfPage, Rejection
from newsletter.sources.ratelimit import SharedRateLimiter
from newsletter.sources.runs import Source, advance_cursor, is_suspect_empty_run, window_start
from newsletter.sources.store import PageWriter, UpsertCounts, store_page

logger = logging.getLogger(__name__)

# A fetch_runs row keeps this many rejection reasons; the count is always exact.
MAX_STORED_REJECTIONS = 200
USER_AGENT = "newsletter-ingest/0.1 (+https://papers.example.org; one request per 3 s)"


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
    writer: PageWriter | None = None,
) -> list[FetchSummary]:
    """Fetch and store one source over a window: a run per arXiv category, one run for Hugging Face.

    Provider failures end that run as `failed` (recorded, with the error) and the next category still runs;
    the caller retries when a summary `is_transient`. Without a `writer` the papers are stored in the
    session's transaction; with one, each page is committed by the writer as soon as it is stored. The
    runs and cursors are only flushed, never committed.
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
                        session,
                        "arxiv",
                        category,
                        start,
                        until,
                        arxiv,
                        pages,
                        progress,
                        page_progress,
                        writer,
                    )
                )
            return summaries
        hf = HfClient(http, settings.hf_base_url, retry_policy=retry_policy)
        start = since or window_start(session, "hf", None, until)
        days = [start + timedelta(days=offset) for offset in range((until - start).days + 1)]
        hf_pages = (page for day in days for page in hf.fetch_day(day))
        return [record_run(session, "hf", None, start, until, hf, hf_pages, progress, page_progress, writer)]
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
    """Every source over a window (default: each from its own cursor to today), the pages stored by
    `settings.ingest_writers` connections as they arrive and the runs committed once per source."""
    summaries: list[FetchSummary] = []
    with page_writer(session_factory, settings) as writer:
        for source in SOURCES:
            if progress:
                progress(f"fetching {source}")
            with session_scope(session_factory) as session:
                summaries.extend(
                    fetch(session, settings, source, since, until, progress=progress, writer=writer)
                )
    return summaries


@contextmanager
def page_writer(session_factory: sessionmaker[Session], settings: Settings) -> Iterator[PageWriter | None]:
    """The configured page writer; none (pages stored in the run's own transaction) when
    `ingest_writers` is 0."""
    if settings.ingest_writers == 0:
        yield None
        return
    with PageWriter(session_factory, settings.ingest_writers) as writer:
        yield writer


def page_failure(failure: DBAPIError) -> tuple[str, bool]:
    """The run's error for a page the database refused, and whether a later run may succeed."""
    reason = str(failure.orig).strip().splitlines()[0] if failure.orig else type(failure).__name__
    return f"storing a page failed: {reason}", isinstance(failure, OperationalError)


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
    writer: PageWriter | None = None,
) -> FetchSummary:
    """Store each page as it comes; the fetch_runs row says how the run went, whatever happened.

    With a writer, the pages are stored while the next ones are fetched; every page handed to it is
    stored (or has failed) before the run is recorded, and a page that could not be stored ends the run
    as `failed` with the database's error.
    """
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

    def add_stored(stored: list[UpsertCounts]) -> None:
        for page_counts in stored:
            counts.add(page_counts)

    report()
    try:
        for page in pages:
            papers_seen += len(page.entries) if isinstance(page, ArxivPage) else len(page.items)
            rejections.extend(page.rejections)
            if writer is None:
                counts.add(store_page(session, page))
            else:
                add_stored(writer.submit(page))
            if progress:
                progress(f"{label}: {papers_seen} papers ({counts.new} new, {counts.updated} updated)")
            if isinstance(page, ArxivPage):
                entries_read += page.raw_entry_count
                entries_total = page.total_results if page.total_results is not None else entries_total
            else:
                entries_read += page.raw_item_count
            report()
            if writer is not None and writer.failure is not None:
                break  # the database refused a page: the cursor stays, the next run fetches it again
    except TransientError as failure:
        error, is_transient = str(failure), True
    except PermanentError as failure:
        error = str(failure)
    if writer is not None:
        stored, page_error = writer.finish()
        add_stored(stored)
        if page_error is not None and error is None:
            error, is_transient = page_failure(page_error)

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
