"""SendGrid answering 429, 5xx and never at all during a day's run driven by beat and a real worker.

The backend's rules one by one (429 waits for the reset, 5xx retried, a request without an answer is
`unknown` and never resent) are tested in `tests/test_mail_sendgrid.py`; here they meet the ledger,
the beat and the error limit in one run.
"""

from __future__ import annotations

import time
from pathlib import Path

import pytest
from sqlalchemy.orm import Session, sessionmaker

from newsletter.config import Settings
from tests.fault_fixtures import (
    answered_requests,
    assert_each_reader_got_exactly_one_delivery,
    beat,
    fault_environment,
    running,
    scalar,
    seed_due_readers,
    today_utc,
    wait_until_everyone_settled,
    worker,
)
from tests.mail_factories import SendGridStandIn, running_stand_in

# redis_client: removes the run's Redis keys (queues, unacked tasks) afterwards.
pytestmark = [pytest.mark.faults, pytest.mark.usefixtures("redis_client")]


def test_429s_5xx_and_a_request_never_answered_end_with_one_email_per_reader(
    settings: Settings,
    child_environment: dict[str, str],
    committed_session_factory: sessionmaker[Session],
    tmp_path: Path,
) -> None:
    factory = committed_session_factory
    emails = seed_due_readers(factory, settings, 600, topics=8)
    day = today_utc(factory)
    script: list[tuple[object, ...]] = [
        ("status", 429, {"X-RateLimit-Reset": str(int(time.time()) + 8)}),  # waits for the reset
        ("ok",),
        ("status", 429),  # no reset header: backoff
        ("ok",),
        ("status", 500),
        ("status", 503),
        ("ok",),
        ("hang",),  # read, never answered: in doubt, never resent
        ("ok",),
        # Five 5xx in a row: the request gives up, its rows go back to pending and the run stops.
        *[("status", 502)] * 5,
    ]
    with running_stand_in(SendGridStandIn(script=list(script), record_bodies=False)) as stand_in:
        environment = fault_environment(child_environment, stand_in)
        with running([]) as processes:
            processes += [worker("worker", environment, tmp_path), beat("beat", environment, tmp_path)]
            took = wait_until_everyone_settled(
                factory, emails, day, processes, what="every reader's edition settled", timeout_s=240
            )
        requests = answered_requests(stand_in, script)
        log = processes[0].output()

    assert len(requests) > len(script), "the run ended before the script did"
    unanswered = [request for request in requests if request.answer == ("hang",)]
    states = assert_each_reader_got_exactly_one_delivery(factory, emails, day, requests)
    assert states == {"sent": len(emails) - len(unanswered[0].emails), "unknown": len(unanswered[0].emails)}
    # The group refused five times was sent on a later run: claimed twice.
    assert scalar(factory, "SELECT max(attempts) FROM deliveries") == 2
    assert "is not accepting mail" in log
    refused = sum(1 for request in requests if request.answer[0] == "status")
    print(f"sendgrid faults: {len(requests)} requests ({refused} refused, 1 never answered), "
          f"settled in {took:.1f} s, states {states}")  # fmt: skip
