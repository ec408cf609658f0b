"""A 50,000-subscriber send through the SendGrid stand-in with 5 % of requests answered 429, and 5,000
RFC 8058 one-click unsubscribes posted to the served app within a minute, honoured by the next send.
Both sends run in a real worker (`send_due_deliveries`, which re-enqueues itself every 20,000 emails)."""

from __future__ import annotations

import asyncio
import re
import time
from collections import Counter
from collections.abc import Awaitable, Callable
from datetime import timedelta
from pathlib import Path
from urllib.parse import urlsplit

import httpx
import pytest
from sqlalchemy import text
from sqlalchemy.orm import Session, sessionmaker

from newsletter.config import Settings
from newsletter.db import session_scope
from newsletter.taskqueue import enqueue
from tests.fault_fixtures import (
    answered_requests,
    delivery_states,
    fault_environment,
    running,
    scalar,
    wait_until,
    web,
    worker,
)
from tests.load_fixtures import (
    Sample,
    client_fleet,
    closed_loop,
    latency_summary,
    seed_editions,
    status_counts,
    write_result,
)
from tests.mail_factories import EDITION_DAY, SendGridStandIn, running_stand_in

pytestmark = [pytest.mark.load, pytest.mark.usefixtures("redis_client"), pytest.mark.timeout(900)]
SEND_TASK = "workers.tasks.mail.send_due_deliveries"
MAX_PERSONALIZATIONS = 1000  # SendGrid's limit per request
WEB_PROCESSES = 2  # as docs/operations.md deploys the site, behind a proxy


def rate_limited_script(requests: int, every: int = 20) -> list[tuple[object, ...]]:
    """One request in `every` answered 429 (no reset header: the backend backs off and retries)."""
    return [("status", 429) if index % every == every - 1 else ("ok",) for index in range(requests)]


def open_deliveries(factory: sessionmaker[Session]) -> int:
    return int(scalar(factory, "SELECT count(*) FROM deliveries WHERE state IN ('pending', 'sending')"))


def test_a_50000_subscriber_send_with_5_percent_429s_accepts_each_address_once(
    settings: Settings,
    child_environment: dict[str, str],
    committed_session_factory: sessionmaker[Session],
    tmp_path: Path,
) -> None:
    factory = committed_session_factory
    readers = 50_000
    seed_editions(factory, readers, [EDITION_DAY])
    script = rate_limited_script(1000)
    with running_stand_in(SendGridStandIn(script=list(script), record_bodies=False)) as stand_in:
        environment = fault_environment(child_environment, stand_in, NEWSLETTER_SEND_RATE_PER_S="20000")
        with running([worker("worker", environment, tmp_path)]) as processes:
            started = time.perf_counter()
            enqueue(settings, SEND_TASK, EDITION_DAY.isoformat())
            wait_until(
                lambda: scalar(factory, "SELECT count(*) FROM deliveries") == readers and open_deliveries(factory) == 0,
                "every delivery settled",
                timeout_s=600,
                alive=processes,
                describe=lambda: str(delivery_states(factory)),
            )  # fmt: skip
            seconds = time.perf_counter() - started
            runs = len(set(re.findall(rf"Task {SEND_TASK}\[([0-9a-f-]+)\] succeeded", processes[0].output())))
        requests = answered_requests(stand_in, script)

    accepted = [request for request in requests if request.answer == ("ok",)]
    refused = [request for request in requests if request.answer != ("ok",)]
    accepted_emails = Counter(email for request in accepted for email in request.emails)
    sizes = [len(request.emails) for request in requests]
    states = delivery_states(factory)
    contents = scalar(factory, "SELECT count(DISTINCT content_id) FROM editions")
    write_result(
        "send_50000",
        {
            "subscribers": readers,
            "distinct_editions": contents,
            "requests": len(requests),
            "answered_429": len(refused),
            "accepted_personalizations": sum(accepted_emails.values()),
            "largest_request": max(sizes),
            "seconds": round(seconds, 1),
            "emails_per_s": round(readers / seconds),
            "task_runs": runs,
            "ledger": dict(states),
        },
    )
    assert len(refused) >= 0.04 * len(requests) and {r.answer for r in refused} == {("status", 429)}
    assert sum(accepted_emails.values()) == readers and len(accepted_emails) == readers
    assert max(sizes) <= MAX_PERSONALIZATIONS
    # One request per 1,000 of a group, plus one per group for the remainder, plus the 429s' retries.
    assert len(accepted) <= readers // MAX_PERSONALIZATIONS + contents
    assert states == {"sent": readers}
    assert runs >= 3  # 20,000 emails a run: the task re-enqueued itself until none were left


def test_5000_one_click_unsubscribes_in_a_minute_are_honoured_by_the_next_send(
    settings: Settings,
    child_environment: dict[str, str],
    committed_session_factory: sessionmaker[Session],
    tmp_path: Path,
) -> None:
    factory = committed_session_factory
    readers, leaving = 10_000, 5_000
    next_day = EDITION_DAY + timedelta(days=1)
    seed_editions(factory, readers, [EDITION_DAY, next_day])
    with session_scope(factory) as session:
        # Tomorrow's rows exist already: an unsubscribe must win over a row written before it.
        session.execute(
            text(
                "INSERT INTO deliveries (subscriber_id, edition_id, kind, state) "
                "SELECT subscriber_id, id, 'edition', 'pending' FROM editions WHERE edition_date = :day"
            ),
            {"day": next_day},
        )
    with running_stand_in(SendGridStandIn()) as stand_in:
        environment = fault_environment(
            child_environment,
            stand_in,
            NEWSLETTER_TRUSTED_PROXIES="127.0.0.1",
            NEWSLETTER_SEND_RATE_PER_S="20000",
        )
        with running([worker("worker", environment, tmp_path)]) as processes:
            enqueue(settings, SEND_TASK, EDITION_DAY.isoformat())
            first_day = f"SELECT count(*) FROM deliveries d JOIN editions e ON e.id = d.edition_id WHERE e.edition_date = '{EDITION_DAY}' AND d.state = 'sent'"  # fmt: skip
            wait_until(
                lambda: scalar(factory, first_day) == readers,
                "the first day sent",
                timeout_s=300,
                alive=processes,
            )
            first_requests = len(stand_in.requests)
            # The one-click URL each email carried, from what the provider received.
            one_click = {
                personalization["to"][0]["email"]: personalization["headers"]["List-Unsubscribe"]
                .split(",")[0]
                .strip("<> ")
                for request in stand_in.requests
                for personalization in request.body["personalizations"]
            }
            assert len(one_click) == readers
            leavers = sorted(one_click)[::2][:leaving]

            urls = []
            for number in range(WEB_PROCESSES):
                server, url = web(environment, tmp_path, name=f"web-{number + 1}")
                processes.append(server)
                urls.append(url)

            async def unsubscribe_all() -> list[Sample]:
                async with client_fleet(urls, clients=26, connections=2) as clients:

                    def post(index: int, address: str) -> Callable[[], Awaitable[httpx.Response]]:
                        path = urlsplit(one_click[address]).path
                        client = clients[index % len(clients)]
                        # What mailbox providers send (RFC 8058 §3.1): multipart SHOULD, urlencoded MAY.
                        if index % 2:
                            return lambda: client.post(path, data={"List-Unsubscribe": "One-Click"})
                        return lambda: client.post(path, files={"List-Unsubscribe": (None, "One-Click")})

                    return await closed_loop(
                        50, [post(index, address) for index, address in enumerate(leavers)]
                    )

            started = time.perf_counter()
            samples = asyncio.run(unsubscribe_all())
            unsubscribe_seconds = time.perf_counter() - started
            unsubscribed = scalar(factory, "SELECT count(*) FROM subscribers WHERE status = 'unsubscribed'")

            enqueue(settings, SEND_TASK, next_day.isoformat())
            wait_until(
                lambda: open_deliveries(factory) == 0, "the next day settled", timeout_s=300, alive=processes
            )
        next_requests = answered_requests(stand_in, [])[first_requests:]

    with session_scope(factory) as session:
        next_day_states = dict(
            session.execute(
                text(
                    "SELECT d.state || ':' || coalesce(d.last_error, ''), count(*) FROM deliveries d "
                    "JOIN editions e ON e.id = d.edition_id WHERE e.edition_date = :day GROUP BY 1"
                ),
                {"day": next_day},
            ).all()
        )
    sent_next = Counter(email for request in next_requests for email in request.emails)
    latency = latency_summary(samples)
    write_result(
        "unsubscribes_5000",
        {
            "unsubscribes": leaving,
            "seconds": round(unsubscribe_seconds, 1),
            "per_s": round(leaving / unsubscribe_seconds, 1),
            "statuses": status_counts(samples),
            "next_send_emails": sum(sent_next.values()),
            "next_send_to_unsubscribed": len(set(sent_next) & set(leavers)),
            "next_day_ledger": next_day_states,
            **latency,
        },
    )
    assert status_counts(samples) == {200: leaving}
    assert unsubscribe_seconds < 60, unsubscribe_seconds
    assert unsubscribed == leaving
    assert not set(sent_next) & set(leavers), "an unsubscribed reader got the next edition"
    assert set(sent_next) == set(one_click) - set(leavers) and max(sent_next.values()) == 1
    assert next_day_states == {"sent:": readers - leaving, "failed:subscriber not active": leaving}
