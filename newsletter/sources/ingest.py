"""Fetching a source over a window: a fetch_runs row per run, a cursor per source and category, the
pages stored as they arrive (`store.py`)."""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Iterator
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
from newsletter.plaintext.shorten import printable_prefix
from newsletter.redis_client import make_redis
from newsletter.sources.arxiv import ArxivClient
from newsletter.sources.daily_papers import HfPage
from newsletter.sources.download import RetryPolicy
from newsletter.sources.hf import HfClient
from newsletter.sources.parse import ArxivPage
from newsletter.sources.ratelimit import SharedRateLimiter
from newsletter.sources.refusals import Rejection
from newsletter.sources.runs import Source, advance_cursor, is_suspect_empty_run, window_start
from newsletter.sources.store import PageWriter, UpsertCounts, store_page

logger = logging.getLogger(__name__)

# A fetch_runs row keeps this many rejection reasons; the count is always exact.
MAX_STORED_REJECTIONS = 200
# A run's error as stored, logged and reported: the messages are a line, but some quote what a provider
# or the database sent.
MAX_ERROR_CHARS = 1_000
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


# ---------------------------------------------------------------- the entry points

SOURCES: tuple[Source, ...] = ("arxiv", "hf")


@dataclass(frozen=True, slots=True)
class FetchOptions:
    """What a fetch covers, and whom it tells how it goes."""

    # Default: each source and category continues from its own cursor, up to today.
    since: date | None = None
    until: date | None = None
    sources: tuple[Source, ...] = SOURCES
    # arXiv categories; default: settings.arxiv_categories.
    categories: tuple[str, ...] = ()
    progress: Callable[[str], None] | None = None
    page_progress: Callable[[FetchProgress], None] | None = None


def fetch_sources(
    session_factory: sessionmaker[Session], settings: Settings, options: FetchOptions = FetchOptions()
) -> list[FetchSummary]:
    """The fetch the product runs (task, `newsletter fetch`, `newsletter run`): each source over the
    window, its runs and cursors committed once per source, its pages stored by `settings.ingest_writers`
    connections of their own as they arrive (each page its own transaction)."""
    summaries: list[FetchSummary] = []
    with page_writer(session_factory, settings) as writer:
        for source in options.sources:
            if options.progress:
                options.progress(f"fetching {source}")
            with session_scope(session_factory) as session:
                summaries.extend(_fetch_source(session, settings, source, options, writer=writer))
    return summaries


def fetch(
    session: Session,
    settings: Settings,
    source: Source,
    options: FetchOptions = FetchOptions(),
    *,
    http: httpx.Client | None = None,
    retry_policy: RetryPolicy | None = None,
) -> list[FetchSummary]:
    """Fetch and store one source over a window, all in the caller's transaction (flushed, never
    committed): a run per arXiv category, one run for Hugging Face.

    Provider failures end that run as `failed` (recorded, with the error) and the next category still runs;
    the caller retries when a summary `is_transient`.
    """
    return _fetch_source(session, settings, source, options, http=http, retry_policy=retry_policy)


def _fetch_source(
    session: Session,
    settings: Settings,
    source: Source,
    options: FetchOptions,
    *,
    http: httpx.Client | None = None,
    retry_policy: RetryPolicy | None = None,
    writer: PageWriter | None = None,
) -> list[FetchSummary]:
    until = options.until or datetime.now(UTC).date()
    retry_policy = retry_policy or RetryPolicy(
        max_attempts=settings.http_max_attempts, backoff_base_s=settings.http_backoff_base_s
    )
    with _http_client(settings, http) as client:
        if source == "arxiv":
            return _fetch_arxiv(session, settings, options, until, client, retry_policy, writer)
        return [_fetch_hf(session, settings, options, until, client, retry_policy, writer)]


@contextmanager
def _http_client(settings: Settings, given: httpx.Client | None) -> Iterator[httpx.Client]:
    if given is not None:
        yield given
        return
    with httpx.Client(
        timeout=settings.http_timeout_s, headers={"User-Agent": USER_AGENT}, follow_redirects=True
    ) as client:
        yield client


def _fetch_arxiv(
    session: Session,
    settings: Settings,
    options: FetchOptions,
    until: date,
    http: httpx.Client,
    retry_policy: RetryPolicy,
    writer: PageWriter | None,
) -> list[FetchSummary]:
    redis_client = make_redis(settings)
    try:
        # Every process fetching arXiv shares one request slot, whatever the category.
        limiter = SharedRateLimiter(
            redis_client,
            settings.redis_prefix,
            min_interval_s=settings.arxiv_min_interval_s,
            lock_ttl_s=settings.http_timeout_s + 30,
        )
        arxiv = ArxivClient(http, settings.arxiv_base_url, limiter, retry_policy=retry_policy)
        summaries = []
        for category in options.categories or settings.arxiv_categories:
            start = options.since or window_start(session, "arxiv", category, until)
            pages = arxiv.fetch_window(category, start, until)
            summaries.append(
                record_run(session, "arxiv", category, start, until, arxiv, pages, options, writer)
            )
        return summaries
    finally:
        redis_client.close()


def _fetch_hf(
    session: Session,
    settings: Settings,
    options: FetchOptions,
    until: date,
    http: httpx.Client,
    retry_policy: RetryPolicy,
    writer: PageWriter | None,
) -> FetchSummary:
    hf = HfClient(http, settings.hf_base_url, retry_policy=retry_policy)
    start = options.since or window_start(session, "hf", None, until)
    days = [start + timedelta(days=offset) for offset in range((until - start).days + 1)]
    pages = (page for day in days for page in hf.fetch_day(day))
    return record_run(session, "hf", None, start, until, hf, pages, options, writer)


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


@dataclass(slots=True)
class RunTally:
    """What one run has seen so far."""

    label: str
    counts: UpsertCounts = field(default_factory=UpsertCounts)
    rejections: list[Rejection] = field(default_factory=list)
    papers_seen: int = 0
    # Entries read (ghosts and repeats included) and what the provider says it has; HF says not.
    entries_read: int = 0
    entries_total: int | None = None
    error: str | None = None
    is_transient: bool = False

    def add_page(self, page: ArxivPage | HfPage) -> None:
        self.rejections.extend(page.rejections)
        if isinstance(page, ArxivPage):
            self.papers_seen += len(page.entries)
            self.entries_read += page.raw_entry_count
            self.entries_total = page.total_results if page.total_results is not None else self.entries_total
        else:
            self.papers_seen += len(page.items)
            self.entries_read += page.raw_item_count

    def add_stored(self, stored: list[UpsertCounts]) -> None:
        for page_counts in stored:
            self.counts.add(page_counts)

    def progress(self, is_done: bool = False) -> FetchProgress:
        counts = self.counts
        return FetchProgress(
            self.label,
            self.papers_seen,
            counts.new,
            counts.updated,
            self.entries_read,
            self.entries_total,
            is_done,
        )


def record_run(
    session: Session,
    source: Source,
    category: str | None,
    since: date,
    until: date,
    client: ArxivClient | HfClient,
    pages: Iterator[ArxivPage] | Iterator[HfPage],
    options: FetchOptions,
    writer: PageWriter | None = None,
) -> FetchSummary:
    """Store each page as it comes; the fetch_runs row says how the run went, whatever happened."""
    is_suspect_if_empty = is_suspect_empty_run(session, source, category, since, until)
    run = FetchRun(source=source, category=category, parameters={"since": str(since), "until": str(until)})
    session.add(run)
    session.flush()
    started = time.monotonic()
    requests_before = client.requests_made
    tally = RunTally(label=f"{source} {category or ''} {since}..{until}".replace("  ", " "))
    store_pages(session, pages, tally, options, writer)
    if tally.error is not None:
        run.status = "failed"
        logger.warning("Fetch run %s (%s) failed: %s", run.id, tally.label, tally.error)
    elif tally.papers_seen == 0 and is_suspect_if_empty:
        run.status = "suspect"
        logger.warning(
            "Fetch run %s (%s) came back empty after a busy run; cursor not advanced", run.id, tally.label
        )
    else:
        run.status = "ok"
        advance_cursor(session, source, category, until)
    if options.page_progress:
        options.page_progress(tally.progress(is_done=True))
    counts, rejections = tally.counts, tally.rejections
    run.finished_at = datetime.now(UTC)
    run.duration_s = time.monotonic() - started
    run.requests_count = client.requests_made - requests_before
    run.new_count, run.updated_count, run.unchanged_count = counts.new, counts.updated, counts.unchanged
    run.rejected_count = len(rejections)
    run.rejections = [{"item": r.item_ref, "reason": r.reason} for r in rejections[:MAX_STORED_REJECTIONS]]
    run.error = tally.error
    session.flush()
    logger.info(
        "Fetch run %s (%s): %s, %d new, %d updated, %d unchanged, %d rejected, %d requests",
        run.id, tally.label, run.status, counts.new, counts.updated, counts.unchanged, len(rejections), run.requests_count,
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
        error=tally.error,
        is_transient=tally.is_transient,
        rejections=rejections,
    )


def store_pages(
    session: Session,
    pages: Iterator[ArxivPage] | Iterator[HfPage],
    tally: RunTally,
    options: FetchOptions,
    writer: PageWriter | None,
) -> None:
    """Store the pages in the session's transaction, or hand them to the writer while the next ones are
    fetched; with a writer, every page handed over is stored (or has failed) on return, and a page the
    database refused ends the run with the database's error. Provider errors end it too."""

    def report() -> None:
        if options.page_progress:
            options.page_progress(tally.progress())

    report()
    try:
        for page in pages:
            tally.add_page(page)
            if writer is None:
                tally.counts.add(store_page(session, page))
            else:
                tally.add_stored(writer.submit(page))
            if options.progress:
                counts = tally.counts
                options.progress(
                    f"{tally.label}: {tally.papers_seen} papers ({counts.new} new, {counts.updated} updated)"
                )
            report()
            if writer is not None and writer.failure is not None:
                break  # the database refused a page: the cursor stays, the next run fetches it again
    except TransientError as failure:
        tally.error, tally.is_transient = run_error(str(failure)), True
    except PermanentError as failure:
        tally.error = run_error(str(failure))
    if writer is not None:
        stored, page_error = writer.finish()
        tally.add_stored(stored)
        if page_error is not None and tally.error is None:
            error, tally.is_transient = page_failure(page_error)
            tally.error = run_error(error)


def run_error(message: str) -> str:
    """A run's error on one printable line of bounded length, whatever the message quotes."""
    return printable_prefix(message, MAX_ERROR_CHARS)
