"""Sending when Postgres drops the connection: a database error is not a broken edition."""

from __future__ import annotations

import threading
import time

from sqlalchemy import Engine, text
from sqlalchemy.exc import OperationalError
from sqlalchemy.orm import Session, sessionmaker

from newsletter.config import Settings
from newsletter.db import session_scope
from newsletter.mail.deliver import send_pending
from newsletter.mail.handover import SendReport
from tests.factories import make_paper, make_subscriber
from tests.mail_factories import EDITION_DAY, make_content, make_edition


def waiting_backend(engine: Engine) -> int | None:
    with engine.connect() as conn:
        return conn.execute(
            text(
                "SELECT pid FROM pg_stat_activity WHERE datname = current_database() "
                "AND wait_event_type = 'Lock' AND pid <> pg_backend_pid()"
            )
        ).scalar()


def test_a_connection_dropped_while_loading_an_edition_leaves_its_deliveries_for_the_next_run(
    settings: Settings, committed_session_factory: sessionmaker[Session], engine: Engine
) -> None:
    factory = committed_session_factory
    with session_scope(factory) as session:
        content = make_content(session, [make_paper(session, upvotes=3)])
        for _ in range(3):
            make_edition(session, make_subscriber(session), content)
    outcome: list[SendReport | Exception] = []

    def send() -> None:
        try:
            outcome.append(send_pending(factory, settings, edition_date=EDITION_DAY))
        except Exception as error:  # the run's own outcome is what the test looks at
            outcome.append(error)

    # The sender claims the rows, then blocks loading the edition's content; its connection is
    # terminated right there, inside that transaction.
    with engine.connect() as blocker, blocker.begin():
        blocker.execute(text("LOCK TABLE edition_contents IN ACCESS EXCLUSIVE MODE"))
        sender = threading.Thread(target=send)
        sender.start()
        deadline = time.monotonic() + 30
        while (pid := waiting_backend(engine)) is None:
            assert time.monotonic() < deadline, "the sender never reached the edition's content"
            time.sleep(0.05)
        with engine.connect() as killer:
            assert killer.execute(text("SELECT pg_terminate_backend(:pid)"), {"pid": pid}).scalar()
    sender.join(timeout=30)

    assert len(outcome) == 1 and isinstance(outcome[0], OperationalError), outcome
    with session_scope(factory) as session:
        states = session.execute(text("SELECT state, attempts FROM deliveries")).all()
    # Not failed for good (the edition is fine), not in doubt (nothing was offered): pending again.
    assert sorted(states) == [("pending", 0)] * 3
    again = send_pending(factory, settings, edition_date=EDITION_DAY)
    assert again.sent == 3
    assert len(list(settings.resolved_outbox_dir.glob("*.eml"))) == 3
