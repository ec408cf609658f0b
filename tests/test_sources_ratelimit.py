"""The shared arXiv limiter on a real Redis: the gap between requests holds across threads and processes."""

from __future__ import annotations

import math
import multiprocessing
import threading
import time
from datetime import date

import httpx
import pytest
import redis

from newsletter.errors import TransientError
from newsletter.sources.arxiv import ArxivClient
from newsletter.sources.ratelimit import SharedRateLimiter
from newsletter.sources.replay import ReplayServer, start_replay_server
from tests.recordings import TEST_REDIS_URL, shared_redis

INTERVAL_S = 0.2
SINCE, UNTIL = date(2026, 11, 15), date(2026, 11, 19)


def fetch_window_through_limiter(redis_url: str, prefix: str, base_url: str, category: str) -> int:
    """What one worker does; module-level so a spawned process can run it."""
    client = redis.Redis.from_url(redis_url)
    limiter = SharedRateLimiter(client, prefix, min_interval_s=INTERVAL_S)
    with httpx.Client(timeout=10) as http:
        arxiv = ArxivClient(http, base_url, limiter, page_size=25)
        return sum(len(page.entries) for page in arxiv.fetch_window(category, SINCE, UNTIL))


def requests_for(paper_count: int) -> int:
    # Pages of 25 until the reported total is reached; an empty window still costs one request.
    return max(1, math.ceil(paper_count / 25))


def assert_requests_spaced(server: ReplayServer, expected_count: int) -> None:
    arrivals = sorted(request.at_monotonic for request in server.requests)
    assert len(arrivals) == expected_count
    gaps = [later - earlier for earlier, later in zip(arrivals, arrivals[1:], strict=False)]
    assert min(gaps) >= INTERVAL_S, f"two requests {min(gaps):.3f} s apart"


def test_two_fetchers_in_threads_never_request_closer_than_the_interval() -> None:
    with shared_redis() as (client, prefix), start_replay_server() as server:
        results: list[int] = []
        threads = [
            threading.Thread(
                target=lambda category=category: results.append(
                    fetch_window_through_limiter(TEST_REDIS_URL, prefix, server.base_url, category)
                )
            )
            for category in ("cs.LG", "cs.CL")
        ]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join(timeout=60)

        assert len(results) == 2 and all(results)
        assert_requests_spaced(server, expected_count=sum(requests_for(count) for count in results))


def test_two_fetcher_processes_never_request_closer_than_the_interval() -> None:
    with shared_redis() as (client, prefix), start_replay_server() as server:
        context = multiprocessing.get_context("spawn")
        with context.Pool(2) as pool:
            results = pool.starmap(
                fetch_window_through_limiter,
                [
                    (TEST_REDIS_URL, prefix, server.base_url, "cs.LG"),
                    (TEST_REDIS_URL, prefix, server.base_url, "cs.CV"),
                ],
            )
        assert all(results)
        assert_requests_spaced(server, expected_count=sum(requests_for(count) for count in results))


def test_a_second_holder_waits_for_the_first_to_finish_and_then_the_interval() -> None:
    with shared_redis() as (client, prefix):
        first = SharedRateLimiter(client, prefix, min_interval_s=INTERVAL_S)
        second = SharedRateLimiter(client, prefix, min_interval_s=INTERVAL_S)
        first_released = threading.Event()
        moments: dict[str, float] = {}

        def hold_a_slow_request() -> None:
            with first.request_slot():
                moments["first_in"] = time.monotonic()
                time.sleep(0.3)
                moments["first_out"] = time.monotonic()
            first_released.set()

        holder = threading.Thread(target=hold_a_slow_request)
        holder.start()
        time.sleep(0.05)
        with second.request_slot():
            moments["second_in"] = time.monotonic()
        holder.join()

        # One connection at a time, and the interval counts from the end of the previous request.
        assert moments["second_in"] >= moments["first_out"] + INTERVAL_S


def test_keys_live_under_the_given_prefix_and_expire() -> None:
    with shared_redis() as (client, prefix):
        limiter = SharedRateLimiter(client, prefix, min_interval_s=INTERVAL_S)
        with limiter.request_slot():
            assert client.get(f"{prefix}arxiv:connection-lock") is not None
        assert client.exists(f"{prefix}arxiv:connection-lock") == 0
        assert 0 < client.pttl(f"{prefix}arxiv:next-slot") <= INTERVAL_S * 1000 + 60_000
        assert {key.decode() for key in client.scan_iter(match=f"{prefix}*")} == {f"{prefix}arxiv:next-slot"}


def test_a_lock_left_by_a_crashed_holder_expires() -> None:
    with shared_redis() as (client, prefix):
        client.set(f"{prefix}arxiv:connection-lock", "crashed-worker", px=300)
        limiter = SharedRateLimiter(client, prefix, min_interval_s=0.01)
        started = time.monotonic()
        with limiter.request_slot():
            waited = time.monotonic() - started
        assert 0.2 <= waited < 2


def test_waiting_too_long_for_the_lock_is_a_transient_error() -> None:
    with shared_redis() as (client, prefix):
        client.set(f"{prefix}arxiv:connection-lock", "busy-worker", px=5000)
        limiter = SharedRateLimiter(client, prefix, min_interval_s=0.01, acquire_timeout_s=0.2)
        with pytest.raises(TransientError, match="connection lock"), limiter.request_slot():
            pass


def test_releasing_does_not_delete_a_lock_someone_else_now_holds() -> None:
    with shared_redis() as (client, prefix):
        limiter = SharedRateLimiter(client, prefix, min_interval_s=0.01)
        with limiter.request_slot():
            # Our lock expired mid-request and another worker took it.
            client.set(f"{prefix}arxiv:connection-lock", "other-worker", px=5000)
        assert client.get(f"{prefix}arxiv:connection-lock") == b"other-worker"
