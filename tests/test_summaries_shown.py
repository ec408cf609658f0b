"""The LLM summarizes only the papers readers are shown, in their language, against a local server that
speaks the OpenAI chat-completions protocol (no network)."""

from __future__ import annotations

import email
import email.policy
from datetime import UTC, datetime, timedelta
from http.server import ThreadingHTTPServer

from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker

from newsletter.catalog.site import front_page_paper_ids
from newsletter.config import Settings
from newsletter.db import session_scope
from newsletter.mail.deliver import send_pending
from newsletter.models import Summary
from newsletter.stats import LlmPrices, llm_usage_by_day
from newsletter.summaries.factory import make_llm_summarizer
from newsletter.summaries.hashing import llm_version_key
from newsletter.summaries.shown import summarize_for_readers
from newsletter.summaries.store import papers_without_current_summary, summarize_and_store
from tests.factories import make_paper, make_subscriber
from tests.llm_fixtures import (
    COMPLETION_TOKENS,
    PROMPT_TOKENS,
    asked,
    llm_server_fixture,  # noqa: F401
    with_llm,
)
from tests.mail_factories import EDITION_DAY, make_content, make_edition
from workers.celery_app import beat_schedule


def llm_rows(session: Session) -> list[tuple[int, str, str, str | None]]:
    rows = session.execute(
        select(Summary.paper_id, Summary.language, Summary.backend, Summary.fallback_reason).where(
            Summary.model == "test-model"
        )
    )
    return sorted((row[0], row[1], row[2], row[3]) for row in rows)


def emails_by_recipient(settings: Settings) -> dict[str, str]:
    messages = [
        email.message_from_bytes(path.read_bytes(), policy=email.policy.default)
        for path in settings.resolved_outbox_dir.glob("*.eml")
    ]
    return {str(message["To"]): message.get_body(("plain",)).get_content() for message in messages}


def test_only_the_papers_asked_for_are_sent_to_the_llm_and_a_second_run_asks_nothing(
    committed_session_factory: sessionmaker[Session], settings: Settings, llm_server: ThreadingHTTPServer
) -> None:
    with session_scope(committed_session_factory) as session:
        shown = [make_paper(session, title=f"Shown paper {n}") for n in range(2)]
        make_paper(session, title="A paper nobody is shown")
        shown_ids = [paper.id for paper in shown]
    llm = with_llm(settings, llm_server)

    counts = summarize_for_readers(committed_session_factory, llm, {"en": shown_ids})
    again = summarize_for_readers(committed_session_factory, llm, {"en": shown_ids})

    assert asked(llm_server) == [("en", "Shown paper 0"), ("en", "Shown paper 1")]
    assert (counts["en"].selected, counts["en"].stored) == (2, 2)
    assert (again["en"].selected, again["en"].stored) == (0, 0)
    with session_scope(committed_session_factory) as session:
        assert llm_rows(session) == [(paper_id, "en", "llm", None) for paper_id in shown_ids]


def test_without_an_llm_configured_nothing_is_asked(
    committed_session_factory: sessionmaker[Session], settings: Settings, llm_server: ThreadingHTTPServer
) -> None:
    with session_scope(committed_session_factory) as session:
        paper_id = make_paper(session).id
    offline = with_llm(settings, llm_server).model_copy(update={"summarizer": "extractive"})

    assert summarize_for_readers(committed_session_factory, offline, {"fr": [paper_id]}) == {}
    assert llm_server.requests == []


def seed_two_readers(factory: sessionmaker[Session]) -> tuple[list[int], int]:
    """One content of two papers sent to an English and a French reader, and a paper in no edition."""
    with session_scope(factory) as session:
        papers = [make_paper(session, title=f"Edition paper {n}", upvotes=10 + n) for n in range(2)]
        unshown = make_paper(session, title="Paper in no edition")
        content = make_content(session, papers)
        make_edition(session, make_subscriber(session, "alice@example.org"), content)
        french = make_subscriber(session, "beatrice@example.org")
        french.summary_language = "fr"
        make_edition(session, french, content)
        return [paper.id for paper in papers], unshown.id


def test_the_send_run_has_the_llm_summarize_the_edition_papers_in_each_readers_language_first(
    committed_session_factory: sessionmaker[Session], settings: Settings, llm_server: ThreadingHTTPServer
) -> None:
    paper_ids, unshown_id = seed_two_readers(committed_session_factory)
    llm = with_llm(settings, llm_server)

    report = send_pending(committed_session_factory, llm, edition_date=EDITION_DAY)

    assert (report.sent, report.failed, report.distinct_editions) == (2, 0, 2)
    assert asked(llm_server) == [
        ("en", "Edition paper 0"),
        ("en", "Edition paper 1"),
        ("fr", "Edition paper 0"),
        ("fr", "Edition paper 1"),
    ]
    emails = emails_by_recipient(llm)
    assert "Model note on Edition paper 0." in emails["alice@example.org"]
    assert "Note en français" not in emails["alice@example.org"]
    french = emails["beatrice@example.org"]
    assert (
        "Note en français sur Edition paper 0." in french
        and "Note en français sur Edition paper 1." in french
    )
    assert "Model note on" not in french
    # Titles stay as published.
    assert "Edition paper 0" in french
    with session_scope(committed_session_factory) as session:
        rows = llm_rows(session)
        assert {paper_id for paper_id, *_ in rows} == set(paper_ids)
        assert unshown_id not in {paper_id for paper_id, *_ in rows}
        # Tokens of every answer, in both languages, are counted for the day.
        [usage] = llm_usage_by_day(session, LlmPrices(1.0, 2.0), 7)
    assert (usage.model, usage.summaries) == ("test-model", 4)
    assert (usage.prompt_tokens, usage.completion_tokens) == (4 * PROMPT_TOKENS, 4 * COMPLETION_TOKENS)


def test_a_french_answer_the_guard_refuses_leaves_the_english_summary_and_the_send_goes_on(
    committed_session_factory: sessionmaker[Session], settings: Settings, llm_server: ThreadingHTTPServer
) -> None:
    llm_server.invents_in_french = True
    seed_two_readers(committed_session_factory)
    llm = with_llm(settings, llm_server)

    report = send_pending(committed_session_factory, llm, edition_date=EDITION_DAY)

    assert (report.sent, report.failed) == (2, 0)
    french = emails_by_recipient(llm)["beatrice@example.org"]
    assert "Model note on Edition paper 0." in french and "Note en français" not in french
    with session_scope(committed_session_factory) as session:
        refused = [row for row in llm_rows(session) if row[1] == "fr"]
        assert len(refused) == 2
        assert all(reason and "faithfulness guard" in reason and "94 %" in reason for *_, reason in refused)
        # The refused answers were paid for: their tokens count.
        [usage] = llm_usage_by_day(session, LlmPrices(), 7)
    assert usage.prompt_tokens == 4 * PROMPT_TOKENS
    # Kept, so the next run does not pay for them again.
    send_pending(committed_session_factory, llm, edition_date=EDITION_DAY)
    assert len(llm_server.requests) == 4


def test_without_an_llm_a_reader_who_chose_french_gets_the_english_summary_and_no_model_is_asked(
    committed_session_factory: sessionmaker[Session], settings: Settings, llm_server: ThreadingHTTPServer
) -> None:
    seed_two_readers(committed_session_factory)
    offline = with_llm(settings, llm_server).model_copy(update={"summarizer": "extractive"})

    report = send_pending(committed_session_factory, offline, edition_date=EDITION_DAY)

    assert (report.sent, report.failed) == (2, 0)
    assert llm_server.requests == []
    emails = emails_by_recipient(offline)
    # The factory's offline summary: key points "One.", "Two.", "Three.".
    assert all("Two." in text and "Note en français" not in text for text in emails.values())


def test_the_front_page_papers_are_the_latest_days_most_upvoted(session: Session) -> None:
    day = datetime(2026, 11, 20, 9, 0, tzinfo=UTC)
    older = make_paper(session, published_at=day - timedelta(days=1), upvotes=500)
    low = make_paper(session, published_at=day, upvotes=3)
    high = make_paper(session, published_at=day, upvotes=40)

    assert front_page_paper_ids(session) == [high.id, low.id]
    assert front_page_paper_ids(session, limit=1) == [high.id]
    assert older.id not in front_page_paper_ids(session)


def test_beat_summarizes_the_front_page_only_with_an_llm_configured(settings: Settings) -> None:
    assert "summarize-front-page" not in beat_schedule(settings)
    with_llm_configured = settings.model_copy(update={"summarizer": "llm"})
    entry = beat_schedule(with_llm_configured)["summarize-front-page"]
    assert entry["task"] == "workers.tasks.summaries.summarize_front_page"


def test_the_send_run_waits_for_a_paper_another_run_is_summarizing_and_does_not_pay_twice(
    committed_session_factory: sessionmaker[Session], settings: Settings, llm_server: ThreadingHTTPServer
) -> None:
    with session_scope(committed_session_factory) as session:
        paper_id = make_paper(session, title="Being summarized").id
    llm = with_llm(settings, llm_server)
    # Another run (the queued task) has claimed the paper and is waiting for the model.
    other = committed_session_factory()
    [claimed] = papers_without_current_summary(other, llm_version_key("test-model"), 10, among_ids=[paper_id])
    sleeps: list[float] = []

    def other_run_finishes(seconds: float) -> None:
        sleeps.append(seconds)
        summarize_and_store(other, make_llm_summarizer(llm), [claimed], replaces_topics=False)
        other.commit()

    try:
        counts = summarize_for_readers(
            committed_session_factory,
            llm,
            {"en": [paper_id]},
            waits_for_others=True,
            sleep=other_run_finishes,
        )
    finally:
        other.close()

    assert counts["en"].selected == 0  # the locked paper was not taken a second time
    assert sleeps == [1.0]
    assert asked(llm_server) == [("en", "Being summarized")]
    with session_scope(committed_session_factory) as session:
        assert llm_rows(session) == [(paper_id, "en", "llm", None)]


def test_the_wait_for_another_run_is_bounded(
    committed_session_factory: sessionmaker[Session], settings: Settings, llm_server: ThreadingHTTPServer
) -> None:
    with session_scope(committed_session_factory) as session:
        paper_id = make_paper(session).id
    llm = with_llm(settings, llm_server).model_copy(update={"llm_timeout_s": 10.0})
    other = committed_session_factory()
    papers_without_current_summary(other, llm_version_key("test-model"), 10, among_ids=[paper_id])
    now = [0.0]

    def stuck(seconds: float) -> None:
        now[0] += seconds

    try:
        summarize_for_readers(
            committed_session_factory,
            llm,
            {"en": [paper_id]},
            waits_for_others=True,
            clock=lambda: now[0],
            sleep=stuck,
        )
    finally:
        other.close()

    # Up to the timeout of each attempt and one more, then the offline summary is shown.
    assert 40.0 <= now[0] <= 41.0
    assert llm_server.requests == []
