"""The arXiv client: paging, dedupe, retries and error mapping, on recorded answers through httpx.MockTransport."""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator
from datetime import UTC, date, datetime, timedelta
from email.utils import format_datetime

import httpx
import pytest

from newsletter.errors import PermanentError, TransientError
from newsletter.sources.arxiv import ArxivClient
from newsletter.sources.download import RetryPolicy
from newsletter.sources.parse import parse_arxiv_feed
from newsletter.sources.ratelimit import SharedRateLimiter
from newsletter.sources.wireformat import render_atom_entry, render_atom_feed
from tests.recordings import ARXIV, arxiv_recording, arxiv_xml, shared_redis

BASE_URL = "https://export.arxiv.example"
EMPTY_FEED = arxiv_recording("id_0000.0000_s0_m100_8b51d9633a68.json")[1]
TESTING_PAGES = {
    0: "q_testing_s0_m10_bc5a6c384fe9.json",
    10: "q_testing_s10_m10_34e56e15aaac.json",
    20: "q_testing_s20_m10_348a237fecab.json",
    30: "q_testing_s30_m10_f2e39f0143dc.json",
    40: "q_testing_s40_m10_96dd32eb854c.json",
    50: "q_testing_s50_m10_7f488ab8598c.json",
}

Handler = Callable[[httpx.Request], httpx.Response]


@pytest.fixture
def limiter() -> Iterator[SharedRateLimiter]:
    with shared_redis() as (client, prefix):
        yield SharedRateLimiter(client, prefix, min_interval_s=0.001)


class Recorder:
    """Serves answers from a handler and keeps every request and every sleep the client asked for."""

    def __init__(self, handler: Handler) -> None:
        self.handler = handler
        self.requests: list[httpx.Request] = []
        self.sleeps: list[float] = []

    def __call__(self, request: httpx.Request) -> httpx.Response:
        self.requests.append(request)
        return self.handler(request)

    def client(self, limiter: SharedRateLimiter, **options: object) -> ArxivClient:
        http = httpx.Client(transport=httpx.MockTransport(self))
        return ArxivClient(http, BASE_URL, limiter, sleep=self.sleeps.append, **options)  # type: ignore[arg-type]


def sequence(*responses: httpx.Response | Exception) -> Handler:
    remaining = list(responses)

    def handler(request: httpx.Request) -> httpx.Response:
        answer = remaining.pop(0)
        if isinstance(answer, Exception):
            raise answer
        return answer

    return handler


def recorded(name: str) -> httpx.Response:
    status, body = arxiv_recording(name)
    return httpx.Response(status, content=body, headers={"Content-Type": "application/atom+xml"})


def test_fetch_window_asks_for_new_and_replaced_papers_of_the_window(limiter: SharedRateLimiter) -> None:
    recorder = Recorder(sequence(httpx.Response(200, content=EMPTY_FEED)))
    pages = list(
        recorder.client(limiter, page_size=250).fetch_window("cs.LG", date(2026, 11, 15), date(2026, 11, 19))
    )

    assert pages == []
    params = recorder.requests[0].url.params
    assert recorder.requests[0].url.path == "/api/query"
    assert params["search_query"] == (
        "cat:cs.LG AND (submittedDate:[202611150000 TO 202611192359] "
        "OR lastUpdatedDate:[202611150000 TO 202611192359])"
    )
    assert (params["start"], params["max_results"]) == ("0", "250")
    assert (params["sortBy"], params["sortOrder"]) == ("lastUpdatedDate", "descending")


def test_fetch_window_stitches_recorded_pages_until_an_empty_page(limiter: SharedRateLimiter) -> None:
    def handler(request: httpx.Request) -> httpx.Response:
        start = int(request.url.params["start"])
        return (
            recorded(TESTING_PAGES[start])
            if start in TESTING_PAGES
            else httpx.Response(200, content=EMPTY_FEED)
        )

    recorder = Recorder(handler)
    pages = list(
        recorder.client(limiter, page_size=10).fetch_window("cs.SE", date(2026, 1, 1), date(2026, 1, 2))
    )

    # totalResults says 214,881: only the empty page ends the loop.
    assert [int(request.url.params["start"]) for request in recorder.requests] == [0, 10, 20, 30, 40, 50, 60]
    ids = [paper.arxiv_id for page in pages for paper in page.entries]
    expected = {
        paper.arxiv_id
        for name in TESTING_PAGES.values()
        for paper in parse_arxiv_feed(arxiv_recording(name)[1]).entries
    }
    assert len(ids) == len(set(ids)) == len(expected)
    assert set(ids) == expected
    assert "2202.12139" in ids and "2403.16981" in ids


def test_fetch_window_drops_papers_repeated_on_overlapping_pages(limiter: SharedRateLimiter) -> None:
    # arXiv's pages shift when papers arrive mid-paging; the recording at start=5 overlaps start=0.
    overlapping = {0: "q_testing_s0_m10_bc5a6c384fe9.json", 10: "q_testing_s5_m10_c0e94a259d4a.json"}

    def handler(request: httpx.Request) -> httpx.Response:
        start = int(request.url.params["start"])
        return (
            recorded(overlapping[start]) if start in overlapping else httpx.Response(200, content=EMPTY_FEED)
        )

    pages = list(
        Recorder(handler)
        .client(limiter, page_size=10)
        .fetch_window("cs.SE", date(2026, 1, 1), date(2026, 1, 1))
    )

    first_ids = [paper.arxiv_id for paper in pages[0].entries]
    second_ids = [paper.arxiv_id for paper in pages[1].entries]
    assert len(first_ids) == 10
    assert len(second_ids) == 5
    assert not set(first_ids) & set(second_ids)


def feed_of(*papers_and_versions: tuple[str, int]) -> bytes:
    template = parse_arxiv_feed(arxiv_xml("rsxiv_2025-11/query_doc.extracted.xml")).entries[0]
    entries = []
    for arxiv_id, version in papers_and_versions:
        template.arxiv_id, template.version = arxiv_id, version
        template.abs_url = f"https://arxiv.org/abs/{arxiv_id}v{version}"
        entries.append(render_atom_entry(template))
    return render_atom_feed(
        entries, search_query="x", start=0, max_results=10, total_results=1000, generated_at=datetime.now(UTC)
    )


def test_fetch_window_keeps_the_newest_version_across_pages(limiter: SharedRateLimiter) -> None:
    recorder = Recorder(
        sequence(
            httpx.Response(200, content=feed_of(("2611.00001", 2), ("2611.00002", 1))),
            httpx.Response(200, content=feed_of(("2611.00001", 1), ("2611.00003", 1))),
            httpx.Response(200, content=feed_of(("2611.00001", 3), ("2611.00003", 1))),
            httpx.Response(200, content=EMPTY_FEED),
        )
    )
    pages = list(
        recorder.client(limiter, page_size=2).fetch_window("cs.LG", date(2026, 11, 1), date(2026, 11, 2))
    )

    seen = [[(paper.arxiv_id, paper.version) for paper in page.entries] for page in pages]
    assert seen == [
        [("2611.00001", 2), ("2611.00002", 1)],
        [("2611.00003", 1)],
        [("2611.00001", 3)],
    ]


def test_fetch_window_stops_on_an_empty_page_even_when_total_results_says_one(
    limiter: SharedRateLimiter,
) -> None:
    recorder = Recorder(
        sequence(httpx.Response(200, content=arxiv_xml("rsxiv_2025-08_legacy/query_empty.xml")))
    )
    assert list(recorder.client(limiter).fetch_window("math.AP", date(2022, 1, 31), date(2022, 1, 31))) == []
    assert len(recorder.requests) == 1


def test_fetch_window_counts_ghost_entries_when_paging(limiter: SharedRateLimiter) -> None:
    recorder = Recorder(
        sequence(httpx.Response(200, content=arxiv_xml("rsxiv_2025-08_legacy/query_missing_id.xml")))
    )
    [page] = recorder.client(limiter, page_size=10).fetch_window(
        "math.AP", date(2022, 1, 31), date(2022, 1, 31)
    )
    # Four raw entries reach totalResults=4, so no second request; the three ghosts are reported.
    assert [paper.arxiv_id for paper in page.entries] == ["2201.13452"]
    assert len(page.rejections) == 3
    assert len(recorder.requests) == 1


def test_plain_text_429_is_retried_and_never_parsed_as_xml(limiter: SharedRateLimiter) -> None:
    recorder = Recorder(
        sequence(
            httpx.Response(429, text="Rate exceeded.", headers={"Content-Type": "text/plain"}),
            recorded("id_1605.08386_s0_m100_199195aa31ad.json"),
        )
    )
    page = recorder.client(limiter).fetch_ids(["1605.08386"])
    assert [paper.arxiv_id for paper in page.entries] == ["1605.08386"]
    assert len(recorder.requests) == 2
    assert len(recorder.sleeps) == 1


def test_persistent_throttling_ends_in_a_transient_error_after_bounded_attempts(
    limiter: SharedRateLimiter,
) -> None:
    recorder = Recorder(lambda request: httpx.Response(429, text="Rate exceeded."))
    client = recorder.client(
        limiter, retry_policy=RetryPolicy(max_attempts=3, backoff_base_s=2, backoff_max_s=60)
    )
    with pytest.raises(TransientError, match=r"after 3 attempt.*Rate exceeded"):
        client.fetch_ids(["1605.08386"])
    assert len(recorder.requests) == 3
    assert len(recorder.sleeps) == 2
    # Full jitter: each wait is random but within the exponential envelope.
    assert all(0 <= wait <= 2 * 2**attempt for attempt, wait in enumerate(recorder.sleeps, start=1))
    assert client.requests_made == 3


def test_recorded_503_with_retry_after_seconds_is_honoured(limiter: SharedRateLimiter) -> None:
    exchange = json.loads(
        (ARXIV / "oai-pmh_paperhive/oaipmh-listrecords---should-list-identifiers-from-arxiv.json").read_text()
    )[0]
    headers = dict(zip(exchange["rawHeaders"][::2], exchange["rawHeaders"][1::2], strict=True))
    recorder = Recorder(
        sequence(
            httpx.Response(
                exchange["status"], text=exchange["response"], headers={"Retry-After": headers["Retry-After"]}
            ),
            recorded("id_1605.08386_s0_m100_199195aa31ad.json"),
        )
    )
    recorder.client(limiter).fetch_ids(["1605.08386"])
    [wait] = recorder.sleeps
    assert 10 <= wait <= 11


def test_retry_after_as_an_http_date_is_honoured(limiter: SharedRateLimiter) -> None:
    when = format_datetime(datetime.now(UTC) + timedelta(seconds=30), usegmt=True)
    recorder = Recorder(
        sequence(
            httpx.Response(503, headers={"Retry-After": when}),
            recorded("id_1605.08386_s0_m100_199195aa31ad.json"),
        )
    )
    recorder.client(limiter).fetch_ids(["1605.08386"])
    [wait] = recorder.sleeps
    assert 27 <= wait <= 33


def test_a_retry_after_longer_than_the_policy_allows_is_handed_to_the_caller(
    limiter: SharedRateLimiter,
) -> None:
    recorder = Recorder(sequence(httpx.Response(429, headers={"Retry-After": "3600"})))
    with pytest.raises(TransientError) as raised:
        recorder.client(limiter).fetch_ids(["1605.08386"])
    assert raised.value.retry_after_s == 3600
    assert recorder.sleeps == []


def test_timeouts_and_dropped_connections_are_retried(limiter: SharedRateLimiter) -> None:
    recorder = Recorder(
        sequence(
            httpx.ReadTimeout("read timed out"),
            httpx.ConnectError("connection refused"),
            httpx.RemoteProtocolError("peer closed connection"),
            recorded("id_astro-ph_0601001_s0_m100_3150dca9dc76.json"),
        )
    )
    page = recorder.client(limiter).fetch_ids(["astro-ph/0601001"])
    assert [paper.arxiv_id for paper in page.entries] == ["astro-ph/0601001"]
    assert recorder.requests[-1].url.params["id_list"] == "astro-ph/0601001"
    assert len(recorder.sleeps) == 3


def test_http_400_error_feed_is_permanent_and_not_retried(limiter: SharedRateLimiter) -> None:
    recorder = Recorder(sequence(recorded("id_abc_s0_m100_b79c8dcf6bc3.json")))
    with pytest.raises(PermanentError, match="incorrect id format for abc"):
        recorder.client(limiter).fetch_ids(["abc"])
    assert len(recorder.requests) == 1 and recorder.sleeps == []


def test_error_feed_answered_with_200_is_still_an_error(limiter: SharedRateLimiter) -> None:
    _, body = arxiv_recording("id_abc_s0_m100_b79c8dcf6bc3.json")
    recorder = Recorder(sequence(httpx.Response(200, content=body)))
    with pytest.raises(PermanentError, match="arXiv API error"):
        list(recorder.client(limiter).fetch_window("cs.LG", date(2026, 11, 1), date(2026, 11, 2)))


def test_other_client_errors_are_permanent(limiter: SharedRateLimiter) -> None:
    recorder = Recorder(sequence(httpx.Response(404, text="no such page")))
    with pytest.raises(PermanentError, match="HTTP 404"):
        recorder.client(limiter).fetch_ids(["1605.08386"])
    assert len(recorder.requests) == 1


def test_an_oversized_answer_is_refused_while_reading(limiter: SharedRateLimiter) -> None:
    recorder = Recorder(sequence(recorded("q_testing_s0_m100_cfe7536492ca.json")))
    with pytest.raises(PermanentError, match="cap"):
        recorder.client(limiter, max_response_bytes=50_000).fetch_ids(["1605.08386"])


def test_a_truncated_answer_is_refused_with_a_clear_error(limiter: SharedRateLimiter) -> None:
    _, body = arxiv_recording("q_testing_s0_m10_bc5a6c384fe9.json")
    recorder = Recorder(sequence(httpx.Response(200, content=body[:5000])))
    with pytest.raises(PermanentError, match="not well-formed"):
        recorder.client(limiter).fetch_ids(["2202.12139"])


def test_every_request_goes_through_the_shared_limiter() -> None:
    with shared_redis() as (client, prefix):
        limiter = SharedRateLimiter(client, prefix, min_interval_s=0.05)
        recorder = Recorder(
            sequence(httpx.Response(500), recorded("id_1605.08386_s0_m100_199195aa31ad.json"))
        )
        recorder.client(limiter).fetch_ids(["1605.08386"])
        assert client.exists(f"{prefix}arxiv:next-slot")
        assert not client.exists(f"{prefix}arxiv:connection-lock")


def test_fetch_window_stops_when_the_server_ignores_start(limiter: SharedRateLimiter) -> None:
    recorder = Recorder(lambda request: recorded("q_testing_s0_m10_bc5a6c384fe9.json"))
    pages = list(
        recorder.client(limiter, page_size=10).fetch_window("cs.SE", date(2026, 1, 1), date(2026, 1, 2))
    )
    assert len(recorder.requests) == 2
    assert [len(page.entries) for page in pages] == [10]
