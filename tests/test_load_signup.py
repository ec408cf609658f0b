"""200 signups a second for 30 seconds against `newsletter web` (uvicorn) on real Postgres and Redis.

Two web processes, as docs/operations.md deploys them behind a proxy; the client spreads requests
over them in turn. Each request comes from its own client address through the trusted proxy
(X-Forwarded-For), as real visitors would: the per-IP limit (10 an hour) is the product's and stays
on — the point is to measure the app, not to collect 429s. One address in ten is submitted twice at
once (a double click). The arrivals keep their schedule whatever the answers (open loop), so a server
slower than the offered rate shows up as latency, not as a politely slower client.
"""

from __future__ import annotations

import asyncio
import re
import time
from collections.abc import Awaitable, Callable
from pathlib import Path

import httpx
import pytest
from sqlalchemy import text
from sqlalchemy.orm import Session, sessionmaker

from newsletter.db import session_scope
from newsletter.web.csrf import COOKIE_NAME
from tests.fault_fixtures import cpu_seconds, running, web
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
RATE_PER_S = 200
DURATION_S = 30
WEB_PROCESSES = 2
# Generous on purpose: on a shared 2-core machine the app serves fewer than 200 signups a second and
# the rest queue (docs/reliability.md has the measured numbers). A stuck server still fails this.
P99_BOUND_S = 240.0
COOKIE = re.compile(rf"{COOKIE_NAME}=([A-Za-z0-9_-]+)")


def client_address(index: int) -> str:
    return f"10.{(index >> 16) & 255}.{(index >> 8) & 255}.{index & 255}"


def test_200_signups_a_second_for_30_seconds_answer_without_5xx_and_store_one_row_per_address(
    child_environment: dict[str, str], committed_session_factory: sessionmaker[Session], tmp_path: Path
) -> None:
    total = RATE_PER_S * DURATION_S
    # Every tenth request repeats the one before it: the same address twice within 5 ms.
    addresses = [
        f"signup{index - 1 if index % 10 == 9 else index}@load.example.org" for index in range(total)
    ]
    environment = child_environment | {"NEWSLETTER_TRUSTED_PROXIES": "127.0.0.1"}
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

        async def run() -> list[Sample]:
            async with client_fleet(urls) as clients:

                def signup(index: int) -> Callable[[], Awaitable[httpx.Response]]:
                    data = {**signup_fields(addresses[index]), "csrf_token": token}
                    headers = {
                        "X-Forwarded-For": client_address(index),
                        "Cookie": f"{COOKIE_NAME}={cookie[1]}",
                        "Connection": "close",  # each signup is its own visitor on its own connection
                    }
                    client = clients[index % len(clients)]
                    return lambda: client.post("/subscribe", data=data, headers=headers)

                return await open_loop(RATE_PER_S, [signup(index) for index in range(total)])

        cpu_before = sum(cpu_seconds(process) for process in processes)
        started = time.perf_counter()
        samples = asyncio.run(run())
        elapsed = time.perf_counter() - started
        cpu_used = sum(cpu_seconds(process) for process in processes) - cpu_before
        logs = "".join(process.output() for process in processes)

    statuses = status_counts(samples)
    with session_scope(committed_session_factory) as session:
        rows = dict(
            session.execute(
                text(
                    "SELECT email, count(*) FROM subscribers WHERE email LIKE '%@load.example.org' GROUP BY email"
                )
            ).all()
        )
        confirmations = session.execute(
            text("SELECT count(*) FROM deliveries WHERE kind = 'confirmation' AND state = 'pending'")
        ).scalar_one()
    latency = latency_summary(samples)
    late = max(sample.started_late_s for sample in samples)
    write_result(
        "signups",
        {
            "offered": f"{total} requests at {RATE_PER_S}/s for {DURATION_S} s",
            "web_processes": WEB_PROCESSES,
            "seconds_until_last_answer": round(elapsed, 1),
            "answered_per_s": round(total / elapsed, 1),
            "web_cpu_ms_per_signup": round(1000 * cpu_used / total, 1),
            "statuses": statuses,
            "errors": error_counts(samples),
            "unanswered_after_s": sorted({round(sample.seconds) for sample in samples if sample.status == 0})[
                :20
            ],
            "distinct_addresses": len(set(addresses)),
            "subscriber_rows": sum(rows.values()),
            "pending_confirmations": confirmations,
            "client_started_late_max_s": round(late, 3),
            **latency,
        },
    )
    assert statuses == {200: total}, statuses  # no 5xx, no 429, no request left without an answer
    assert set(rows) == set(addresses) and set(rows.values()) == {1}, "an address has no row or two"
    assert confirmations >= len(set(addresses))
    assert "Traceback" not in logs, logs[-3000:]
    assert latency["p99_ms"] < P99_BOUND_S * 1000, latency
    # The client kept (nearly) the arrival schedule: every request started within 37.5 s, i.e. at 160/s
    # or more; a client far behind would measure itself, not the app.
    assert late < 7.5, late
