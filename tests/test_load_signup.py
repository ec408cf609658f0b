"""200 signups a second for 30 seconds against `newsletter web` (uvicorn) on real Postgres and Redis.

Two web processes, as docs/operations.md deploys them behind a proxy; the client spreads requests
over them in turn. Each request comes from its own client address through the trusted proxy
(X-Forwarded-For), as real visitors would: the per-IP limit (10 an hour) is the product's and stays
on — the point is to measure the app, not to collect 429s. One address in ten is submitted twice at
once (a double click). The arrivals keep their schedule whatever the answers (open loop), so a server
slower than the offered rate shows up as latency, not as a politely slower client. A short run well
below capacity first gives the latency of an unloaded signup.
"""

from __future__ import annotations

import asyncio
import re
import time
from collections.abc import Awaitable, Callable, Sequence
from pathlib import Path
from typing import Any

import httpx
import pytest
from sqlalchemy import text
from sqlalchemy.orm import Session, sessionmaker

from newsletter.db import session_scope
from newsletter.web.csrf import COOKIE_NAME
from tests.fault_fixtures import ChildProcess, cpu_seconds, running, web
from tests.load_fixtures import (
    Sample,
    client_fleet,
    error_counts,
    latency_summary,
    open_loop,
    status_counts,
    write_result,
)
from tests.web_fixtures import csrf_token, signup_fields

pytestmark = [pytest.mark.load, pytest.mark.usefixtures("redis_client"), pytest.mark.timeout(900)]
RATE_PER_S, DURATION_S = 200, 30
CALM_RATE_PER_S, CALM_DURATION_S = 25, 10
WEB_PROCESSES = 2
# Generous on purpose: on a shared 2-core machine the app serves fewer than 200 signups a second and
# the rest queue (docs/reliability.md has the measured numbers). A stuck server still fails this.
P99_BOUND_S = 240.0
CALM_P99_BOUND_S = 10.0
COOKIE = re.compile(rf"{COOKIE_NAME}=([A-Za-z0-9_-]+)")


def client_address(index: int) -> str:
    return f"10.{(index >> 16) & 255}.{(index >> 8) & 255}.{index & 255}"


def signup_addresses(prefix: str, total: int) -> list[str]:
    """Every tenth request repeats the one before it: the same address twice within milliseconds."""
    return [f"{prefix}{index - 1 if index % 10 == 9 else index}@load.example.org" for index in range(total)]


def offer_signups(
    urls: Sequence[str], cookie: str, token: str, rate_per_s: float, addresses: Sequence[str], first_ip: int
) -> list[Sample]:
    async def run() -> list[Sample]:
        async with client_fleet(urls) as clients:

            def signup(index: int) -> Callable[[], Awaitable[httpx.Response]]:
                data = {**signup_fields(addresses[index]), "csrf_token": token}
                headers = {
                    "X-Forwarded-For": client_address(first_ip + index),
                    "Cookie": f"{COOKIE_NAME}={cookie}",
                    "Connection": "close",  # each signup is its own visitor on its own connection
                }
                client = clients[index % len(clients)]
                return lambda: client.post("/subscribe", data=data, headers=headers)

            return await open_loop(rate_per_s, [signup(index) for index in range(len(addresses))])

    return asyncio.run(run())


def measured(
    samples: Sequence[Sample], seconds: float, processes: Sequence[ChildProcess], cpu: float
) -> dict[str, Any]:
    return {
        "seconds_until_last_answer": round(seconds, 1),
        "answered_per_s": round(len(samples) / seconds, 1),
        "web_cpu_ms_per_signup": round(1000 * cpu / len(samples), 1),
        "statuses": status_counts(samples),
        "errors": error_counts(samples),
        "client_started_late_max_s": round(max(sample.started_late_s for sample in samples), 3),
        **latency_summary(samples),
    }


def test_200_signups_a_second_for_30_seconds_answer_without_5xx_and_store_one_row_per_address(
    child_environment: dict[str, str], committed_session_factory: sessionmaker[Session], tmp_path: Path
) -> None:
    calm = signup_addresses("calm", CALM_RATE_PER_S * CALM_DURATION_S)
    addresses = signup_addresses("signup", RATE_PER_S * DURATION_S)
    environment = child_environment | {"NEWSLETTER_TRUSTED_PROXIES": "127.0.0.1"}
    results: dict[str, dict[str, Any]] = {}
    with running([]) as processes:
        urls = []
        for number in range(WEB_PROCESSES):
            server, url = web(environment, tmp_path, name=f"web-{number + 1}")
            processes.append(server)
            urls.append(url)
        page = httpx.get(f"{urls[0]}/subscribe")
        cookie = COOKIE.search(page.headers["set-cookie"])
        assert cookie, page.headers
        token = csrf_token(page.text)  # the double-submit token fits every server (one secret key)

        for name, rate, batch, first_ip in (
            ("below_capacity", CALM_RATE_PER_S, calm, 50_000),
            ("offered_200_per_s", RATE_PER_S, addresses, 0),
        ):
            cpu_before = sum(cpu_seconds(process) for process in processes)
            started = time.perf_counter()
            samples = offer_signups(urls, cookie[1], token, rate, batch, first_ip)
            elapsed = time.perf_counter() - started
            cpu = sum(cpu_seconds(process) for process in processes) - cpu_before
            results[name] = {
                "offered": f"{len(batch)} at {rate}/s",
                **measured(samples, elapsed, processes, cpu),
            }
        logs = "".join(process.output() for process in processes)

    with session_scope(committed_session_factory) as session:
        rows = dict(
            session.execute(
                text(
                    "SELECT email, count(*) FROM subscribers WHERE email LIKE '%@load.example.org' GROUP BY email"
                )
            ).all()
        )
    write_result(
        "signups",
        {"web_processes": WEB_PROCESSES, **results, "distinct_addresses": len(set(calm + addresses)),
         "subscriber_rows": sum(rows.values())},
    )  # fmt: skip
    for name, result in results.items():
        # No 5xx, no 429, no request left without an answer.
        assert set(result["statuses"]) == {200}, (name, result["statuses"], result["errors"])
    assert set(rows) == set(calm + addresses) and set(rows.values()) == {1}, "an address has no row or two"
    assert "Traceback" not in logs, logs[-3000:]
    assert results["below_capacity"]["p99_ms"] < CALM_P99_BOUND_S * 1000, results["below_capacity"]
    assert results["offered_200_per_s"]["p99_ms"] < P99_BOUND_S * 1000, results["offered_200_per_s"]
    # The client kept (nearly) the arrival schedule: every request started within 37.5 s, i.e. at 160/s
    # or more; a client far behind would measure itself, not the app.
    assert results["offered_200_per_s"]["client_started_late_max_s"] < 7.5, results
