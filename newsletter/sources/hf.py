"""The Hugging Face Daily Papers client: every paper featured on one day, paged, retried."""

from __future__ import annotations

import dataclasses
import logging
import time
from collections.abc import Callable, Iterator
from datetime import date

import httpx

from newsletter.sources.daily_papers import HfPage, parse_hf_daily_papers
from newsletter.sources.download import RetryPolicy, call_with_retries, get_body
from newsletter.sources.parse import MAX_RESPONSE_BYTES

logger = logging.getLogger(__name__)

# Clients cap `limit` at 100; a day has at most ~50 featured papers, so one page is the norm.
DEFAULT_PAGE_SIZE = 100
# A server that ignores `p` would otherwise be paged forever.
MAX_PAGES_PER_DAY = 20


class HfClient:
    def __init__(
        self,
        http: httpx.Client,
        base_url: str,
        *,
        page_size: int = DEFAULT_PAGE_SIZE,
        retry_policy: RetryPolicy | None = None,
        sleep: Callable[[float], None] = time.sleep,
        max_response_bytes: int = MAX_RESPONSE_BYTES,
    ) -> None:
        self.http = http
        self.daily_papers_url = f"{base_url.rstrip('/')}/api/daily_papers"
        self.page_size = page_size
        self.retry_policy = retry_policy or RetryPolicy()
        self.sleep = sleep
        self.max_response_bytes = max_response_bytes
        self.requests_made = 0

    def fetch_day(self, day: date) -> Iterator[HfPage]:
        """Yield each page of the day until a short page; a paper repeated across pages comes once."""
        seen: set[str] = set()
        for page_number in range(MAX_PAGES_PER_DAY):
            page = self.fetch_page(day, page_number)
            fresh = [item for item in page.items if item.arxiv_id not in seen]
            if page.items and not fresh:
                logger.warning("Hugging Face %s page %d repeats earlier papers; stopping", day, page_number)
                break
            seen.update(item.arxiv_id for item in fresh)
            yield dataclasses.replace(page, items=fresh)
            if page.raw_item_count < self.page_size:
                break
        logger.info("Hugging Face %s: %d papers", day, len(seen))

    def fetch_page(self, day: date, page_number: int) -> HfPage:
        params: dict[str, str | int] = {"date": day.isoformat(), "p": page_number, "limit": self.page_size}

        def one_request() -> bytes:
            self.requests_made += 1
            return get_body(
                self.http,
                self.daily_papers_url,
                params,
                provider="Hugging Face",
                max_bytes=self.max_response_bytes,
            )

        body = call_with_retries(
            one_request,
            policy=self.retry_policy,
            sleep=self.sleep,
            describe=f"Hugging Face daily_papers {day} p={page_number}",
        )
        return parse_hf_daily_papers(body, featured_on=day, max_bytes=self.max_response_bytes)
