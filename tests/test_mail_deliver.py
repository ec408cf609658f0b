"""The delivery ledger and sending through the file backend, on real Postgres."""

from __future__ import annotations

import email
import email.policy
import re
from datetime import timedelta

from sqlalchemy import select, text
from sqlalchemy.orm import Session, sessionmaker

from newsletter.config import Settings
from newsletter.db import session_scope
from newsletter.mail.backends.file import FileBackend
from newsletter.mail.context import edition_context
from newsletter.mail.deliver import send_pending
from newsletter.mail.ledger import (
    Recovered,
    claim_deliveries,
    create_deliveries_for_date,
    mark_handed,
    recover_stale_sending,
    stranded_transactional_deliveries,
)
from newsletter.mail.transactional import create_transactional_delivery, deliver_transactional
from newsletter.models import Delivery
from tests.factories import make_paper, make_subscriber
from tests.mail_factories import EDITION_DAY, make_content, make_edition


def states(session: Session) -> dict[str, int]:
    return dict(session.execute(text("SELECT state, count(*) FROM deliveries GROUP BY state")).all())


def seed_day(session: Session, readers: int = 3) -> list[int]:
    papers = [make_paper(session, upvotes=10 + n) for n in range(3)]
    content = make_content(session, papers, overflow_count=2)
    ids = []
    for _ in range(readers):
        ids.append(make_edition(session, make_subscriber(session), content).id)
    make_edition(session, make_subscriber(session, wants_empty_note=True), None)  # nothing_new
    make_edition(session, make_subscriber(session), None, kind="skipped")
    make_edition(session, make_subscriber(session, status="unsubscribed"), content)
    return ids


def test_create_deliveries_writes_one_row_per_sendable_edition_and_is_idempotent(session: Session) -> None:
    seed_day(session)
    assert create_deliveries_for_date(session, EDITION_DAY) == 4  # 3 papers + 1 nothing_new
    assert create_deliveries_for_date(session, EDITION_DAY) == 0
    assert states(session) == {"pending": 4}


def test_claim_moves_rows_to_sending_and_a_second_claim_skips_locked_rows(
    committed_session_factory: sessionmaker[Session],
) -> None:
    with session_scope(committed_session_factory) as session:
        seed_day(session)
        create_deliveries_for_date(session, EDITION_DAY)
    first = committed_session_factory()
    second = committed_session_factory()
    try:
        claimed_first = claim_deliveries(first, 2)
        # first's rows are locked: skipped, not waited on. A claim covers one edition group only.
        claimed_second = claim_deliveries(second, 10) + claim_deliveries(second, 10)
        assert len(claimed_first) == 2 and len(claimed_second) == 2
        assert not {c.delivery_id for c in claimed_first} & {c.delivery_id for c in claimed_second}
        assert len({c.group for c in claimed_second}) == 2
        assert all(c.attempts == 1 for c in claimed_first)
        first.commit()
        second.commit()
    finally:
        first.close()
        second.close()
    with session_scope(committed_session_factory) as session:
        assert states(session) == {"sending": 4}


def test_send_pending_writes_complete_eml_files_once_per_subscriber(
    committed_session_factory: sessionmaker[Session], settings: Settings
) -> None:
    with session_scope(committed_session_factory) as session:
        seed_day(session)
    report = send_pending(committed_session_factory, settings, edition_date=EDITION_DAY)
    assert (report.sent, report.failed, report.distinct_editions) == (4, 0, 2)
    files = sorted(settings.resolved_outbox_dir.glob("*.eml"))
    assert len(files) == 4
    # <UTC time>-<delivery id>.eml, so the outbox sorts by time and names the ledger row.
    assert all(re.fullmatch(r"\d{8}T\d{12}Z-\d+\.eml", file.name) for file in files), files
    message = email.message_from_bytes(files[0].read_bytes(), policy=email.policy.default)
    assert message["List-Unsubscribe-Post"] == "List-Unsubscribe=One-Click"
    assert message.get_body(("plain",)) is not None and message.get_body(("html",)) is not None
    assert "%%" not in files[0].read_text()
    again = send_pending(committed_session_factory, settings, edition_date=EDITION_DAY)
    assert again.sent == 0 and len(list(settings.resolved_outbox_dir.glob("*.eml"))) == 4
    with session_scope(committed_session_factory) as session:
        assert states(session) == {"sent": 4}
        assert session.scalar(select(Delivery.provider_message_id).limit(1))


def test_dry_run_renders_and_counts_but_writes_nothing(
    committed_session_factory: sessionmaker[Session], settings: Settings
) -> None:
    with session_scope(committed_session_factory) as session:
        seed_day(session)
    report = send_pending(committed_session_factory, settings, edition_date=EDITION_DAY, dry_run=True)
    assert (report.sent, report.distinct_editions, report.dry_run) == (4, 2, True)
    assert not settings.resolved_outbox_dir.exists()
    with session_scope(committed_session_factory) as session:
        assert states(session) == {}


def test_a_subscriber_who_unsubscribed_after_the_row_was_written_gets_nothing(
    committed_session_factory: sessionmaker[Session], settings: Settings
) -> None:
    with session_scope(committed_session_factory) as session:
        seed_day(session, readers=2)
        create_deliveries_for_date(session, EDITION_DAY)
        session.execute(
            text(
                "UPDATE subscribers SET status = 'unsubscribed' WHERE id = (SELECT min(subscriber_id) FROM deliveries)"
            )
        )
    report = send_pending(committed_session_factory, settings, edition_date=EDITION_DAY)
    assert (report.sent, report.skipped) == (2, 1)
    assert len(list(settings.resolved_outbox_dir.glob("*.eml"))) == 2


def test_a_row_a_dead_worker_had_handed_to_the_backend_becomes_unknown_never_pending(
    committed_session_factory: sessionmaker[Session], settings: Settings
) -> None:
    with session_scope(committed_session_factory) as session:
        seed_day(session, readers=1)
        create_deliveries_for_date(session, EDITION_DAY)
        claimed = claim_deliveries(session, 1)
        mark_handed(session, [item.delivery_id for item in claimed])
    with session_scope(committed_session_factory) as session:
        assert recover_stale_sending(session, timedelta(hours=1)) == Recovered(0, 0)  # a live worker's
        assert recover_stale_sending(session, timedelta(0)) == Recovered(in_doubt=1, released=0)
    report = send_pending(committed_session_factory, settings, edition_date=EDITION_DAY)
    assert report.sent == 1  # only the untouched row
    with session_scope(committed_session_factory) as session:
        assert states(session) == {"unknown": 1, "sent": 1}


def test_a_row_a_dead_worker_claimed_but_never_handed_over_is_sent_by_the_next_run(
    committed_session_factory: sessionmaker[Session], settings: Settings
) -> None:
    # A worker that dies while claiming or rendering has sent nothing: its rows must not be lost.
    with session_scope(committed_session_factory) as session:
        seed_day(session, readers=1)
        create_deliveries_for_date(session, EDITION_DAY)
        claim_deliveries(session, 1)
    with session_scope(committed_session_factory) as session:
        assert recover_stale_sending(session, timedelta(0)) == Recovered(in_doubt=0, released=1)
    report = send_pending(committed_session_factory, settings, edition_date=EDITION_DAY)
    assert report.sent == 2
    assert len(list(settings.resolved_outbox_dir.glob("*.eml"))) == 2
    with session_scope(committed_session_factory) as session:
        assert states(session) == {"sent": 2}


def test_the_run_stops_past_the_error_limit_and_says_so(
    committed_session_factory: sessionmaker[Session], settings: Settings
) -> None:
    with session_scope(committed_session_factory) as session:
        seed_day(session, readers=3)
    # An outbox path that is a file: every write fails with a permanent error for that message.
    settings.resolved_outbox_dir.parent.mkdir(parents=True, exist_ok=True)
    settings.resolved_outbox_dir.write_text("not a directory")
    limited = settings.model_copy(update={"send_max_errors": 0})
    report = send_pending(committed_session_factory, limited, edition_date=EDITION_DAY)
    assert report.stopped_reason and "NEWSLETTER_SEND_MAX_ERRORS" in report.stopped_reason
    assert report.failed >= 1
    with session_scope(committed_session_factory) as session:
        assert states(session).get("pending", 0) >= 1  # the rest wait for the next run


def test_pacer_spaces_sends_at_the_configured_rate() -> None:
    now = [0.0]
    sleeps: list[float] = []

    def sleep(seconds: float) -> None:
        sleeps.append(seconds)
        now[0] += seconds

    from newsletter.mail.deliver import Pacer

    pacer = Pacer(10.0, clock=lambda: now[0], sleep=sleep)
    pacer.wait_for(5)
    pacer.wait_for(5)
    pacer.wait_for(1)
    assert sleeps == [0.5, 0.5]


def test_preview_context_has_real_signed_links(session: Session, settings: Settings) -> None:
    content = make_content(session, [make_paper(session, title="<b>Bold</b> claim", upvotes=3)])
    edition = make_edition(session, make_subscriber(session), content)
    context = edition_context(session, settings, edition.id)
    assert context["links"]["unsubscribe"].startswith("https://papers.example.org/unsubscribe/")
    assert context["papers"][0]["title"] == "<b>Bold</b> claim"
    # Without a TL;DR from Hugging Face the first key point is the TL;DR, unlabelled, and not listed again.
    assert context["papers"][0]["tags"] == ["NLP"] and context["papers"][0]["key_points"] == [
        "Two.",
        "Three.",
    ]
    assert context["papers"][0]["tldr"] == {"text": "One.", "source_label": None}
    assert "secret" not in repr(context).lower()


def test_transactional_email_is_sent_once_even_when_the_task_runs_twice(
    committed_session_factory: sessionmaker[Session], settings: Settings
) -> None:
    with session_scope(committed_session_factory) as session:
        subscriber = make_subscriber(session, "pending@example.org", status="pending")
        delivery_id = create_transactional_delivery(session, subscriber.id, "confirmation")
    assert deliver_transactional(committed_session_factory, settings, delivery_id) == "sent"
    assert deliver_transactional(committed_session_factory, settings, delivery_id) == "sent"
    files = list(settings.resolved_outbox_dir.glob("*.eml"))
    assert len(files) == 1
    message = email.message_from_bytes(files[0].read_bytes(), policy=email.policy.default)
    assert message["Subject"] == "Confirm your subscription to ML Papers Daily"
    assert message["List-Unsubscribe"] is None  # not subscribed yet: no list headers
    assert "https://papers.example.org/confirm/" in message.get_body(("plain",)).get_content()


def test_welcome_to_a_bounced_address_is_not_sent(
    committed_session_factory: sessionmaker[Session], settings: Settings
) -> None:
    with session_scope(committed_session_factory) as session:
        subscriber = make_subscriber(session, status="bounced")
        delivery_id = create_transactional_delivery(session, subscriber.id, "welcome")
    assert deliver_transactional(committed_session_factory, settings, delivery_id) == "failed"
    with session_scope(committed_session_factory) as session:
        assert "bounced" in (session.get_one(Delivery, delivery_id).last_error or "")
    assert not settings.resolved_outbox_dir.exists()


def test_stranded_transactional_deliveries_are_old_pending_non_edition_rows(session: Session) -> None:
    newcomer = make_subscriber(session, status="pending")
    stranded = create_transactional_delivery(session, newcomer.id, "confirmation")
    fresh = create_transactional_delivery(session, newcomer.id, "confirmation")
    in_flight = create_transactional_delivery(session, make_subscriber(session).id, "welcome")
    seed_day(session, readers=1)
    create_deliveries_for_date(session, EDITION_DAY)  # pending edition rows belong to the send run
    session.execute(text("UPDATE deliveries SET state = 'sending' WHERE id = :id"), {"id": in_flight})
    session.execute(
        text("UPDATE deliveries SET created_at = now() - interval '11 minutes' WHERE id <> :fresh"),
        {"fresh": fresh},
    )

    assert stranded_transactional_deliveries(session, timedelta(minutes=10)) == [stranded]
    assert stranded_transactional_deliveries(session, timedelta(minutes=12)) == []


def test_a_message_reported_by_the_webhook_before_the_answer_still_records_its_message_id(
    session: Session,
) -> None:
    import json

    from newsletter.mail.backends import SendResult
    from newsletter.mail.ledger import record_results
    from newsletter.mail.webhook import store_events
    from newsletter.subscribers.provider_events import process_pending_events

    seed_day(session, readers=1)
    create_deliveries_for_date(session, EDITION_DAY)
    claimed = claim_deliveries(session, 1)[0]
    event = {"email": claimed.email, "event": "processed", "timestamp": 1_800_000_000,
             "sg_message_id": "MSG9.filter-1", "delivery_id": str(claimed.delivery_id)}  # fmt: skip
    store_events(session, json.dumps([event]).encode())
    assert process_pending_events(session)["settled"] == 1

    record_results(
        session, "sendgrid", [SendResult([claimed.delivery_id], "sent", provider_message_id="MSG9")]
    )

    delivery = session.get_one(Delivery, claimed.delivery_id)
    session.refresh(delivery)
    assert (delivery.state, delivery.provider_message_id) == ("sent", "MSG9")
    assert delivery.sent_at is not None


def test_a_dry_run_counts_exactly_what_the_run_then_sends(
    committed_session_factory: sessionmaker[Session], settings: Settings
) -> None:
    from datetime import UTC, datetime

    with session_scope(committed_session_factory) as session:
        content = make_content(session, [make_paper(session)])
        for day in (EDITION_DAY, EDITION_DAY - timedelta(days=1)):
            make_edition(session, make_subscriber(session), content, edition_date=day)
        # Five days old and never handed to a send run: stale news, not sent now.
        make_edition(session, make_subscriber(session), content, edition_date=EDITION_DAY - timedelta(days=5))
    now = datetime(2026, 11, 21, 9, 0, tzinfo=UTC)

    dry = send_pending(committed_session_factory, settings, dry_run=True, now=now)
    real = send_pending(committed_session_factory, settings, now=now)

    assert (dry.sent, dry.distinct_editions) == (2, 2)
    assert (real.sent, real.distinct_editions) == (2, 2)


def test_a_send_run_capped_at_max_emails_leaves_the_rest_for_the_next_run(
    committed_session_factory: sessionmaker[Session], settings: Settings
) -> None:
    with session_scope(committed_session_factory) as session:
        for _ in range(3):
            content = make_content(session, [make_paper(session)])
            make_edition(session, make_subscriber(session), content)
            make_edition(session, make_subscriber(session), content)

    first = send_pending(committed_session_factory, settings, edition_date=EDITION_DAY, max_emails=3)
    second = send_pending(committed_session_factory, settings, edition_date=EDITION_DAY, max_emails=3)

    # Claims are whole edition groups: the cap is reached after two groups of two.
    assert (first.claimed, first.sent, second.sent) == (4, 4, 2)
    with session_scope(committed_session_factory) as session:
        assert states(session) == {"sent": 6}


class TwoAtATime(FileBackend):
    """The file backend with requests of two recipients: a group of three takes two claims."""

    max_batch = 2


def test_a_group_claimed_in_parts_is_rendered_once_and_a_single_reader_edition_too(
    committed_session_factory: sessionmaker[Session], settings: Settings
) -> None:
    with session_scope(committed_session_factory) as session:
        seed_day(session)  # three readers share one content, one gets the nothing-new note
        own = make_content(session, [make_paper(session, upvotes=99)])
        make_edition(session, make_subscriber(session), own)  # a personalized edition: its own content
    report = send_pending(
        committed_session_factory, settings, edition_date=EDITION_DAY, backend=TwoAtATime(settings)
    )
    assert (report.sent, report.failed) == (5, 0)
    # The shared content (2 + 1 recipients), the note and the single reader's: three renderings.
    assert report.distinct_editions == 3
    assert len(list(settings.resolved_outbox_dir.glob("*.eml"))) == 5
