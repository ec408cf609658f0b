"""Selecting and building editions on a real database."""

import gc
import json
from datetime import UTC, datetime, time, timedelta
from pathlib import Path

import pytest
from sqlalchemy import func, select
from sqlalchemy.orm import Session, sessionmaker

from newsletter.config import Settings
from newsletter.digests.build import build_editions_chunk
from newsletter.models import Edition, EditionContent, EditionItem, Paper, Summary
from newsletter.subscribers.service import delete_subscriber
from tests.factories import make_paper, make_subscriber

NOW = datetime(2026, 11, 21, 8, 0, tzinfo=UTC)  # past the default 07:00 UTC send time
FIXTURES = Path(__file__).resolve().parent / "fixtures"


def build(session: Session, settings: Settings, now: datetime = NOW, **options):
    report, planned, _ = build_editions_chunk(session, settings, now, **options)
    return report, planned


def edition_items(session: Session, subscriber_id: int) -> list[EditionItem]:
    return list(
        session.execute(
            select(EditionItem)
            .join(Edition, Edition.content_id == EditionItem.content_id)
            .where(Edition.subscriber_id == subscriber_id)
            .order_by(Edition.edition_date, EditionItem.rank)
        ).scalars()
    )


def test_edition_holds_papers_of_the_subscribers_topics_best_first(
    session: Session, settings: Settings
) -> None:
    nlp_hot = make_paper(session, topics=["NLP"], upvotes=80)
    nlp_cold = make_paper(session, topics=["NLP"], upvotes=1)
    make_paper(session, topics=["Robotics"], upvotes=500)
    alice = make_subscriber(session, topics=["NLP"])

    report, _ = build(session, settings)

    assert report.built == 1 and report.by_kind["papers"] == 1
    items = edition_items(session, alice.id)
    assert [item.paper_id for item in items] == [nlp_hot.id, nlp_cold.id]
    assert items[0].matched_topics == ["NLP"]
    assert items[0].reason == "Trending #1 in NLP · 80 upvotes"
    assert items[1].reason == "Trending #2 in NLP · 1 upvote"


def test_keyword_alerts_use_stemmed_full_text_search(session: Session, settings: Settings) -> None:
    example = json.loads((FIXTURES / "keyword-alert-example.json").read_text())
    papers = [
        make_paper(session, title=result["title"], abstract=result["abstract"], topics=["Theory"])
        for result in example["results"]
    ]
    unrelated = make_paper(session, title="Graph pooling", abstract="We pool graphs.", topics=["Theory"])
    # Sentences of the example with only an inflected form of the word: found only through the stem.
    inflected = [
        make_paper(session, title=f"Caching statistics {n}", abstract=sentence, topics=["Theory"])
        for n, sentence in enumerate(
            [
                "SCA continuously accumulates task-specific knowledge from all encountered test samples.",
                "This ensures that the accumulated knowledge grows persistently over time.",
            ]
        )
    ]
    bob = make_subscriber(session, topics=["Robotics"], keywords=[example["query"]])

    build(session, settings)

    found = {item.paper_id for item in edition_items(session, bob.id)}
    by_title = {paper.title: paper.id for paper in papers}
    # Exactly the lexical matches: "accumulation" finds "accumulates", "accumulated", "accumulate"; the
    # papers that match only in meaning (contamination building up) are not found by stemming.
    assert found == {
        by_title["Statistics Caching Test-Time Adaptation for Vision-Language Models"],
        by_title["Artificial Generational Intelligence: Cultural Accumulation in Reinforcement Learning"],
        *(paper.id for paper in inflected),
    }
    assert unrelated.id not in found
    item = edition_items(session, bob.id)[0]
    assert item.matched_keywords == ["accumulation"] and "keyword “accumulation”" in item.reason


def test_a_paper_is_never_sent_twice_not_even_in_a_new_version(session: Session, settings: Settings) -> None:
    paper = make_paper(session, topics=["NLP"], upvotes=10)
    alice = make_subscriber(session, topics=["NLP"])
    build(session, settings)
    assert [item.paper_id for item in edition_items(session, alice.id)] == [paper.id]

    # The next day, nothing new: the same paper is not sent again.
    next_day = NOW + timedelta(days=1)
    report, _ = build(session, settings, next_day)
    assert report.by_kind == {"skipped": 1}

    # A new version appears: fresh activity, but the reader already has the paper.
    session.execute(
        Paper.__table__.update()
        .where(Paper.id == paper.id)
        .values(version=2, updated_at=next_day + timedelta(hours=1))
    )
    report, _ = build(session, settings, next_day + timedelta(days=1))
    assert report.by_kind == {"skipped": 1}
    assert [(item.paper_id, item.paper_version) for item in edition_items(session, alice.id)] == [
        (paper.id, 1)
    ]

    # A reader who never got it does get the new version.
    bob = make_subscriber(session, "bob@example.org", topics=["NLP"])
    build(session, settings, next_day + timedelta(days=2))
    assert [(item.paper_id, item.paper_version) for item in edition_items(session, bob.id)] == [(paper.id, 2)]
    assert not any(item.is_update for item in edition_items(session, bob.id))


def test_caps_per_edition_and_per_topic_count_the_overflow(session: Session, settings: Settings) -> None:
    settings.max_papers_per_topic = 2
    nlp = [make_paper(session, topics=["NLP"], upvotes=100 - n) for n in range(5)]
    cv = [make_paper(session, topics=["Computer Vision"], upvotes=50 - n) for n in range(5)]
    carol = make_subscriber(session, topics=["NLP", "Computer Vision"], max_papers=3)

    build(session, settings)

    items = edition_items(session, carol.id)
    assert [item.paper_id for item in items] == [nlp[0].id, nlp[1].id, cv[0].id]
    content = session.get(EditionContent, items[0].content_id)
    assert content.overflow_count == 10 - 3


def test_quiet_day_sends_nothing_unless_a_note_was_asked_for(session: Session, settings: Settings) -> None:
    make_paper(session, topics=["Robotics"], upvotes=5)
    quiet = make_subscriber(session, topics=["Theory"])
    noted = make_subscriber(session, topics=["Theory"], wants_empty_note=True)

    report, _ = build(session, settings)

    kinds = dict(session.execute(select(Edition.subscriber_id, Edition.kind)).all())
    assert kinds == {quiet.id: "skipped", noted.id: "nothing_new"}
    assert report.by_kind == {"skipped": 1, "nothing_new": 1}


def test_old_papers_fall_outside_the_window(session: Session, settings: Settings) -> None:
    make_paper(session, topics=["NLP"], published_at=NOW - timedelta(days=10), upvotes=300)
    fresh = make_paper(session, topics=["NLP"], published_at=NOW - timedelta(hours=5))
    alice = make_subscriber(session, topics=["NLP"])
    build(session, settings)
    assert [item.paper_id for item in edition_items(session, alice.id)] == [fresh.id]


def test_unsummarized_papers_wait_for_their_summary(session: Session, settings: Settings) -> None:
    make_paper(session, topics=["NLP"], summarized=False)
    alice = make_subscriber(session, topics=["NLP"])
    report, _ = build(session, settings)
    assert report.by_kind == {"skipped": 1}
    assert edition_items(session, alice.id) == []


def test_identical_selections_share_one_content(session: Session, settings: Settings) -> None:
    make_paper(session, topics=["NLP"], upvotes=3)
    make_paper(session, topics=["Robotics"], upvotes=3)
    readers = [make_subscriber(session, topics=["NLP"]) for _ in range(5)]
    make_subscriber(session, topics=["Robotics"])

    report, _ = build(session, settings)

    assert report.built == 6 and report.distinct_contents == 2
    contents = {
        edition.content_id
        for edition in session.execute(select(Edition)).scalars()
        if edition.subscriber_id in {r.id for r in readers}
    }
    assert len(contents) == 1
    assert session.execute(select(func.count()).select_from(EditionItem)).scalar_one() == 2


def test_deleting_a_reader_takes_their_editions_and_leaves_the_shared_content(
    session: Session, settings: Settings
) -> None:
    # editions.subscriber_id is the one foreign key of the edition tables (migration 0016): it cascades.
    paper = make_paper(session, topics=["NLP"], upvotes=3)
    alice, bob = make_subscriber(session, topics=["NLP"]), make_subscriber(session, topics=["NLP"])
    build(session, settings)

    delete_subscriber(session, alice.id, "test")
    session.flush()
    session.expire_all()

    assert session.execute(select(Edition.subscriber_id)).scalars().all() == [bob.id]
    assert [item.paper_id for item in edition_items(session, bob.id)] == [paper.id]
    assert session.execute(select(func.count()).select_from(EditionContent)).scalar_one() == 1


def test_rebuilding_and_dry_runs_write_nothing_new(session: Session, settings: Settings) -> None:
    make_paper(session, topics=["NLP"], upvotes=3)
    make_subscriber(session, topics=["NLP"])
    make_subscriber(session, topics=["NLP"], status="paused")
    make_subscriber(session, topics=["NLP"], status="unsubscribed")

    dry, planned = build(session, settings, dry_run=True)
    assert dry.due == 1 and len(planned) == 1
    assert session.execute(select(func.count()).select_from(Edition)).scalar_one() == 0

    first, _ = build(session, settings)
    again, _ = build(session, settings)
    assert first.built == 1 and again.due == 0 and again.built == 0
    assert session.execute(select(func.count()).select_from(Edition)).scalar_one() == 1


def test_subscribers_before_their_send_time_wait(session: Session, settings: Settings) -> None:
    make_paper(session, topics=["NLP"])
    make_subscriber(session, topics=["NLP"], send_time=time(9, 30))
    report, _ = build(session, settings)
    assert report.due == 0
    report, _ = build(session, settings, NOW.replace(hour=9, minute=30))
    assert report.built == 1


def test_array_literals_survive_quotes_and_backslashes(session: Session) -> None:
    from sqlalchemy import text

    from newsletter.sqlarrays import array_literal

    values = ['say "hi"', "back\\slash", "comma, brace }{", "", "NLP"]
    assert (
        session.execute(text("SELECT CAST(:v AS text[])"), {"v": array_literal(values)}).scalar_one()
        == values
    )


def test_keyword_alerts_with_odd_characters_are_stored_literally(
    session: Session, settings: Settings
) -> None:
    paper = make_paper(
        session, title='Say "hello" to retrieval', abstract="Retrieval, retrieval.", topics=["Theory"]
    )
    dana = make_subscriber(session, topics=["Robotics"], keywords=['"hello" retrieval'])
    build(session, settings)
    items = edition_items(session, dana.id)
    assert [item.paper_id for item in items] == [paper.id]
    assert items[0].matched_keywords == ['"hello" retrieval']


def test_a_keyword_is_words_never_a_search_operator(session: Session, settings: Settings) -> None:
    # Stored before pasted bullets were taken off: "- rlhf" once read as "papers without rlhf".
    rlhf = make_paper(session, title="RLHF at scale", abstract="We study rlhf.", topics=["Theory"])
    make_paper(session, title="Graph pooling", abstract="We pool graphs.", topics=["Theory"])  # no keyword
    either = make_paper(
        session, title="Sparse or dense", abstract="Sparse or dense retrieval.", topics=["Theory"]
    )
    erin = make_subscriber(session, topics=["Robotics"], keywords=["- rlhf", "sparse or retrieval"])
    build(session, settings)
    items = edition_items(session, erin.id)
    assert {item.paper_id for item in items} == {rlhf.id, either.id}  # not `other`
    assert {tuple(item.matched_keywords) for item in items} == {("- rlhf",), ("sparse or retrieval",)}


def seen_at(session: Session, paper: Paper, moment: datetime) -> None:
    """The paper reached us (fetched and summarized) at `moment`."""
    from sqlalchemy import text

    session.execute(
        text("UPDATE papers SET first_seen_at = :at, changed_at = :at WHERE id = :id"),
        {"at": moment, "id": paper.id},
    )
    session.execute(
        text("UPDATE summaries SET created_at = :at WHERE paper_id = :id"), {"at": moment, "id": paper.id}
    )


def test_a_paper_submitted_before_the_last_edition_but_announced_after_it_comes_in_the_next(
    session: Session, settings: Settings
) -> None:
    # arXiv's `published` is the submission time, a day or more before the announcement that brings it.
    first = make_paper(session, topics=["NLP"], published_at=NOW - timedelta(hours=20))
    seen_at(session, first, NOW - timedelta(hours=2))
    alice = make_subscriber(session, topics=["NLP"])
    build(session, settings)
    announced = make_paper(session, topics=["NLP"], published_at=NOW - timedelta(hours=30))
    seen_at(session, announced, NOW + timedelta(hours=18))
    # A backfill brings an old paper in today: it is not news.
    backfilled = make_paper(session, topics=["NLP"], published_at=NOW - timedelta(days=20))
    seen_at(session, backfilled, NOW + timedelta(hours=18))

    report, _ = build(session, settings, NOW + timedelta(days=1))

    assert report.by_kind == {"papers": 1}
    assert [item.paper_id for item in edition_items(session, alice.id)] == [first.id, announced.id]


def test_a_paper_summarized_just_after_an_edition_comes_in_the_next(
    session: Session, settings: Settings
) -> None:
    alice = make_subscriber(session, topics=["NLP"])
    late = make_paper(session, topics=["NLP"], published_at=NOW - timedelta(hours=10), summarized=False)
    seen_at(session, late, NOW - timedelta(hours=1))
    report, _ = build(session, settings)
    assert report.by_kind == {"skipped": 1}  # fetched, but its summary was not ready at send time

    session.add(
        Summary(
            paper_id=late.id, input_hash="late", backend="extractive", backend_version="test",
            key_points=["One."], summary="S.", methodology="M.", results="R.", implications="I.",
            topics=["NLP"], created_at=NOW + timedelta(minutes=10),
        )
    )  # fmt: skip
    session.flush()
    report, _ = build(session, settings, NOW + timedelta(days=1))
    assert report.by_kind == {"papers": 1}
    assert [item.paper_id for item in edition_items(session, alice.id)] == [late.id]


def test_a_build_without_new_papers_tells_a_quiet_saturday_from_a_suspect_friday(
    session: Session, settings: Settings
) -> None:
    make_paper(session, topics=["NLP"], published_at=NOW - timedelta(days=3))  # nothing from the last day
    make_subscriber(session, topics=["NLP"])
    make_subscriber(session, topics=["Robotics"], wants_empty_note=True)

    saturday, _ = build(session, settings, dry_run=True)
    friday, _ = build(session, settings, NOW - timedelta(days=1), dry_run=True)

    assert (saturday.fresh_papers, saturday.is_suspect_quiet) == (0, False)
    assert saturday.quiet_note and "quiet day by design" in saturday.quiet_note
    assert friday.is_suspect_quiet and friday.quiet_note and "check fetching" in friday.quiet_note
    make_paper(session, topics=["NLP"], published_at=NOW - timedelta(hours=3))
    fresh, _ = build(session, settings, NOW - timedelta(hours=1), dry_run=True)
    assert (fresh.fresh_papers, fresh.quiet_note, fresh.by_kind["papers"]) == (1, None, 1)


def test_build_due_editions_commits_chunk_by_chunk_so_a_crash_keeps_what_was_built(
    committed_session_factory: sessionmaker[Session], settings: Settings
) -> None:
    from newsletter.digests.build import build_due_editions

    with committed_session_factory.begin() as session:
        make_paper(session, topics=["NLP"], upvotes=5)
        for _ in range(5):
            make_subscriber(session, topics=["NLP"])
    chunks: list[int] = []

    def crash_after_the_first_chunk(planned) -> None:
        chunks.append(len(planned))
        raise RuntimeError("worker lost")

    with pytest.raises(RuntimeError, match="worker lost"):
        build_due_editions(
            committed_session_factory, settings, NOW, chunk=2, on_plan=crash_after_the_first_chunk
        )
    with committed_session_factory() as session:
        assert session.execute(select(func.count()).select_from(Edition)).scalar_one() == 2

    rerun = build_due_editions(
        committed_session_factory, settings, NOW, chunk=2, on_plan=lambda p: chunks.append(len(p))
    )

    assert chunks == [2, 2, 1, 0] and (rerun.due, rerun.built, rerun.by_kind["papers"]) == (3, 3, 3)
    with committed_session_factory() as session:
        assert session.execute(select(func.count()).select_from(Edition)).scalar_one() == 5
        assert session.execute(select(func.count()).select_from(EditionContent)).scalar_one() == 1


def test_build_due_editions_collects_garbage_rarely_and_restores_the_collector(
    committed_session_factory: sessionmaker[Session], settings: Settings
) -> None:
    from newsletter.digests.build import BUILD_GC_THRESHOLDS, build_due_editions

    with committed_session_factory.begin() as session:
        make_paper(session, topics=["NLP"], upvotes=5)
        make_subscriber(session, topics=["NLP"])
    before = gc.get_threshold()
    during: list[tuple[int, ...]] = []

    report = build_due_editions(
        committed_session_factory, settings, NOW, on_plan=lambda _: during.append(gc.get_threshold())
    )

    assert report.built == 1 and set(during) == {BUILD_GC_THRESHOLDS}
    assert gc.get_threshold() == before


def test_with_an_llm_the_build_reports_the_papers_shown_by_reader_language(
    session: Session, settings: Settings
) -> None:
    nlp = make_paper(session, topics=["NLP"], upvotes=80)
    robots = make_paper(session, topics=["Robotics"], upvotes=50)
    make_paper(session, topics=["Theory"], upvotes=500)  # nobody's topic: never shown
    make_subscriber(session, topics=["NLP"])
    french = make_subscriber(session, topics=["Robotics"])
    french.summary_language = "fr"
    session.flush()

    offline, _ = build(session, settings, dry_run=True)
    assert offline.shown_papers == {}

    report, _ = build(session, settings.model_copy(update={"summarizer": "llm"}))

    assert report.shown_papers == {"en": {nlp.id}, "fr": {robots.id}}
