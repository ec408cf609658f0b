"""The Hugging Face client: paging, dedupe, retries and error mapping, on recorded answers."""

from __future__ import annotations

import json
from collections.abc import Callable
from datetime import date

import httpx
import pytest

from newsletter.errors import PermanentError, TransientError
from newsletter.sources.download import RetryPolicy
from newsletter.sources.hf import HfClient
from tests.recordings import hf_recording

BASE_URL = "https://huggingface.example"
JUNE_12 = json.loads(hf_recording("sotawhat_2026-06/hf_daily_papers.json"))

Handler = Callable[[httpx.Request], httpx.Response]


class Recorder:
    def __init__(self, handler: Handler) -> None:
        self.handler = handler
        self.requests: list[httpx.Request] = []
        self.sleeps: list[float] = []

    def __call__(self, request: httpx.Request) -> httpx.Response:
        self.requests.append(request)
        return self.handler(request)

    def client(self, **options: object) -> HfClient:
        http = httpx.Client(transport=httpx.MockTransport(self))
        return HfClient(http, BASE_URL, sleep=self.sleeps.append, **options)  # type: ignore[arg-type]


def paged(items: list[dict[str, object]]) -> Handler:
    """Slices the recorded day the way the API pages it (p from 0, limit per page)."""

    def handler(request: httpx.Request) -> httpx.Response:
        page, limit = int(request.url.params["p"]), int(request.url.params["limit"])
        return httpx.Response(200, json=items[page * limit : (page + 1) * limit])

    return handler


def test_fetch_day_asks_for_the_day_and_stops_after_a_short_page() -> None:
    recorder = Recorder(
        lambda request: httpx.Response(200, content=hf_recording("sotawhat_2026-06/hf_daily_papers.json"))
    )
    [page] = recorder.client().fetch_day(date(2026, 6, 12))

    assert len(page.items) == 30
    [request] = recorder.requests
    assert request.url.path == "/api/daily_papers"
    assert dict(request.url.params) == {"date": "2026-06-12", "p": "0", "limit": "100"}


def test_fetch_day_pages_until_a_short_page_and_keeps_every_paper() -> None:
    recorder = Recorder(paged(JUNE_12))
    pages = list(recorder.client(page_size=10).fetch_day(date(2026, 6, 12)))

    assert [request.url.params["p"] for request in recorder.requests] == ["0", "1", "2", "3"]
    ids = [item.arxiv_id for page in pages for item in page.items]
    assert ids == [item["paper"]["id"] for item in JUNE_12]
    upvotes = {item.arxiv_id: item.upvotes for page in pages for item in page.items}
    assert upvotes["2606.13681"] == 118


def test_fetch_day_drops_papers_repeated_across_pages() -> None:
    # A paper featured while we page moves everything down by one: the last of page 0 reappears.
    def handler(request: httpx.Request) -> httpx.Response:
        page = int(request.url.params["p"])
        return httpx.Response(200, json=JUNE_12[0:10] if page == 0 else JUNE_12[9:15])

    pages = list(Recorder(handler).client(page_size=10).fetch_day(date(2026, 6, 12)))
    ids = [item.arxiv_id for page in pages for item in page.items]
    assert len(ids) == len(set(ids)) == 15


def test_fetch_day_stops_when_the_server_ignores_the_page_parameter() -> None:
    recorder = Recorder(lambda request: httpx.Response(200, json=JUNE_12[:10]))
    pages = list(recorder.client(page_size=10).fetch_day(date(2026, 6, 12)))
    assert len(recorder.requests) == 2
    assert sum(len(page.items) for page in pages) == 10


def test_a_day_with_nothing_featured_is_one_empty_page() -> None:
    recorder = Recorder(lambda request: httpx.Response(200, json=[]))
    [page] = recorder.client().fetch_day(date(2026, 6, 13))
    assert page.items == [] and page.rejections == []


def test_malformed_items_are_rejected_and_the_rest_kept() -> None:
    items = json.loads(hf_recording("all-news-ai_2026-07-31/hf_daily_papers.json"))
    items[3]["paper"]["githubStars"] = "lots"
    items[4]["paper"]["upvotes"] = -1
    recorder = Recorder(lambda request: httpx.Response(200, json=items))
    [page] = recorder.client().fetch_day(date(2026, 7, 31))
    assert [item.arxiv_id for item in page.items] == ["2607.23193", "2607.27958", "2607.28582", "2607.28308"]
    # A bad optional field is dropped, a bad upvote count rejects the item.
    assert page.items[3].github_stars is None
    [rejection] = page.rejections
    assert rejection.item_ref == "2607.16922" and "upvotes" in rejection.reason


def test_429_with_retry_after_is_honoured_then_succeeds() -> None:
    answers = [httpx.Response(429, headers={"Retry-After": "7"}), httpx.Response(200, json=JUNE_12[:3])]
    recorder = Recorder(lambda request: answers.pop(0))
    [page] = recorder.client().fetch_day(date(2026, 6, 12))
    assert len(page.items) == 3
    [wait] = recorder.sleeps
    assert 7 <= wait <= 8


def test_server_errors_end_in_a_transient_error_after_bounded_attempts() -> None:
    recorder = Recorder(lambda request: httpx.Response(502, text="Bad Gateway"))
    client = recorder.client(retry_policy=RetryPolicy(max_attempts=4))
    with pytest.raises(TransientError, match="after 4 attempt"):
        list(client.fetch_day(date(2026, 6, 12)))
    assert len(recorder.requests) == 4 and len(recorder.sleeps) == 3


def test_client_errors_are_permanent_and_not_retried() -> None:
    recorder = Recorder(lambda request: httpx.Response(400, json={"error": "Invalid date"}))
    with pytest.raises(PermanentError, match="HTTP 400"):
        list(recorder.client().fetch_day(date(2026, 6, 12)))
    assert len(recorder.requests) == 1


def test_a_truncated_answer_is_refused_with_a_clear_error() -> None:
    body = hf_recording("sotawhat_2026-06/hf_daily_papers.json")
    recorder = Recorder(lambda request: httpx.Response(200, content=body[:4000]))
    with pytest.raises(PermanentError, match="not valid JSON"):
        list(recorder.client().fetch_day(date(2026, 6, 12)))
