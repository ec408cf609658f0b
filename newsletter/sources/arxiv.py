"""The arXiv API client: one category and date window at a time, paged, polite, retried."""

from __future__ import annotations

import dataclasses
import logging
import time
from collections.abc import Callable, Iterable, Iterator
from datetime import date

import httpx

from newsletter.errors import PermanentError
from newsletter.sources.download import RetryPolicy, call_with_retries, get_body
from newsletter.sources.parse import (
    MAX_RESPONSE_BYTES,
    ArxivApiError,
    ArxivPage,
    PaperRecord,
    parse_arxiv_feed,
)
from newsletter.sources.ratelimit import RequestSlots

logger = logging.getLogger(__name__)

DEFAULT_PAGE_SIZE = 500
# The API allows max_results up to 2,000 per request and refuses to page past 30,000 per query.
MAX_PAGE_SIZE = 2000
MAX_RESULTS_PER_QUERY = 30_000


def window_query(category: str, since: date, until: date) -> str:
    """New submissions and replaced versions (v2+) of the window, in one query."""
    span = f"[{since:%Y%m%d}0000 TO {until:%Y%m%d}2359]"
    return f"cat:{category} AND (submittedDate:{span} OR lastUpdatedDate:{span})"


def keep_newest_versions(entries: Iterable[PaperRecord], newest_seen: dict[str, int]) -> list[PaperRecord]:
    """Drop entries whose id was already seen at this version or newer; remember what is kept."""
    kept: dict[str, PaperRecord] = {}
    for entry in entries:
        seen_version = newest_seen.get(entry.arxiv_id)
        if seen_version is not None and seen_version >= entry.version:
            continue
        newest_seen[entry.arxiv_id] = entry.version
        kept[entry.arxiv_id] = entry
    return list(kept.values())


class ArxivClient:
    def __init__(
        self,
        http: httpx.Client,
        base_url: str,
        limiter: RequestSlots,
        *,
        page_size: int = DEFAULT_PAGE_SIZE,
        retry_policy: RetryPolicy | None = None,
        sleep: Callable[[float], None] = time.sleep,
        max_response_bytes: int = MAX_RESPONSE_BYTES,
    ) -> None:
        if not 1 <= page_size <= MAX_PAGE_SIZE:
            raise ValueError(f"page_size must be between 1 and {MAX_PAGE_SIZE}, got {page_size}")
        self.http = http
        self.query_url = f"{base_url.rstrip('/')}/api/query"
        self.limiter = limiter
        self.page_size = page_size
        self.retry_policy = retry_policy or RetryPolicy()
        self.sleep = sleep
        self.max_response_bytes = max_response_bytes
        # Every HTTP request made, retries included, for the fetch-run record.
        self.requests_made = 0

    def fetch_window(self, category: str, since: date, until: date) -> Iterator[ArxivPage]:
        """Yield each page of the window; an id reappears only when a newer version turns up."""
        query = window_query(category, since, until)
        newest_seen: dict[str, int] = {}
        start = 0
        while start < MAX_RESULTS_PER_QUERY:
            page = self.fetch_page(search_query=query, start=start)
            # totalResults has been seen at 1 with no entries: an empty page is the only reliable end.
            if page.raw_entry_count == 0:
                break
            fresh = keep_newest_versions(page.entries, newest_seen)
            if page.entries and not fresh and start > 0:
                # Nothing but repeats: the server is ignoring `start`; paging on would never end.
                logger.warning("arXiv %s start=%d repeats earlier papers; stopping", category, start)
                break
            yield dataclasses.replace(page, entries=fresh)
            # Advance by what came back (ghost entries included): arXiv sometimes sends short pages.
            start += page.raw_entry_count
            if page.total_results is not None and start >= page.total_results:
                break
        logger.info("arXiv %s %s..%s: %d papers", category, since, until, len(newest_seen))

    def fetch_ids(self, arxiv_ids: list[str]) -> ArxivPage:
        return self.fetch_page(id_list=",".join(arxiv_ids), start=0, max_results=max(1, len(arxiv_ids)))

    def fetch_page(
        self, *, search_query: str = "", id_list: str = "", start: int = 0, max_results: int | None = None
    ) -> ArxivPage:
        params: dict[str, str | int] = {
            "search_query": search_query,
            "id_list": id_list,
            "sortBy": "lastUpdatedDate",
            "sortOrder": "descending",
            "start": start,
            "max_results": max_results or self.page_size,
        }

        def one_request() -> bytes:
            with self.limiter.request_slot():
                self.requests_made += 1
                return get_body(
                    self.http,
                    self.query_url,
                    params,
                    provider="arXiv",
                    max_bytes=self.max_response_bytes,
                    explain_client_error=self.explain_error_feed,
                )

        body = call_with_retries(
            one_request,
            policy=self.retry_policy,
            sleep=self.sleep,
            describe=f"arXiv query {search_query or id_list!r} start={start}",
        )
        return parse_arxiv_feed(body, max_bytes=self.max_response_bytes)

    def explain_error_feed(self, body: bytes) -> str | None:
        """A 400 from arXiv is an Atom feed whose one entry carries the reason."""
        try:
            parse_arxiv_feed(body, max_bytes=self.max_response_bytes)
        except ArxivApiError as error:
            return str(error)
        except PermanentError:
            return None
        return None
