"""Storing fetched papers on a real Postgres: bulk upserts, versions, Hugging Face merge, fetch runs."""

from __future__ import annotations

import dataclasses
from collections.abc import Iterator
from datetime import UTC, date, datetime, time

import httpx
import pytest
from sqlalchemy import event, func, select
from sqlalchemy.engine import Engine
from sqlalchemy.orm import Session, sessionmaker

from newsletter.config import Settings
from newsletter.db import session_scope
from newsletter.models import FetchCursor, FetchRun, Paper, PaperVersion
from newsletter.sources.daily_papers import HfRecord, parse_hf_daily_papers
from newsletter.sources.ingest import FetchOptions, FetchProgress, fetch, fetch_sources
from newsletter.sources.parse import PaperRecord, parse_arxiv_feed
from newsletter.sources.replay import ReplayServer, start_replay_server
from newsletter.sources.samplefeed import load_sample_daily_papers, load_sample_papers
from newsletter.sources.store import upsert_arxiv_papers, upsert_hf_papers
from tests.databases import papers_trigger
from tests.recordings import arxiv_recording, arxiv_xml, hf_recording

SINCE, UNTIL = date(2026, 11, 15), date(2026, 11, 19)


@pytest.fixture(scope="module")
def replay() -> Iterator[ReplayServer]:
    with start_replay_server() as server:
        yield server


@pytest.fixture
def replay_settings(settings: Settings, replay: ReplayServer) -> Settings:
    return settings.model_copy(
        update={
            "arxiv_base_url": replay.base_url,
            "hf_base_url": replay.base_url,
            "arxiv_min_interval_s": 0.001,
        }
    )


def recorded_papers() -> list[PaperRecord]:
    return parse_arxiv_feed(arxiv_recording("q_testing_s0_m10_bc5a6c384fe9.json")[1]).entries


def paper(session: Session, arxiv_id: str) -> Paper:
    return session.scalars(select(Paper).where(Paper.arxiv_id == arxiv_id)).one()


def test_upsert_inserts_new_papers_with_every_field(session: Session) -> None:
    counts = upsert_arxiv_papers(session, recorded_papers())

    assert (counts.new, counts.updated, counts.unchanged) == (10, 0, 0)
    stored = paper(session, "2202.12139")
    assert stored.title.startswith("Testing Deep Learning Models")
    assert stored.authors == ["Mohit Kumar Ahuja", "Arnaud Gotlieb", "Helge Spieker"]
    assert stored.categories == ["cs.SE", "cs.LG"] and stored.primary_category == "cs.SE"
    assert stored.doi == "10.1109/ICSTW55395.2022.00035"
    assert stored.published_at == datetime(2022, 2, 24, 15, 5, 19, tzinfo=UTC)
    assert stored.is_on_arxiv and not stored.is_on_hf
    assert counts.new_versions == 10


def test_upserting_the_same_page_again_changes_nothing(session: Session) -> None:
    upsert_arxiv_papers(session, recorded_papers())
    counts = upsert_arxiv_papers(session, recorded_papers())
    assert (counts.new, counts.updated, counts.unchanged, counts.new_versions) == (0, 0, 10, 0)


def test_upsert_uses_one_statement_per_page_not_one_per_paper(session: Session) -> None:
    statements: list[str] = []
    connection = session.connection()
    event.listen(connection, "before_cursor_execute", lambda *args: statements.append(args[2]))
    upsert_arxiv_papers(
        session, parse_arxiv_feed(arxiv_recording("q_testing_s0_m100_cfe7536492ca.json")[1]).entries
    )
    # Read what is stored, create the page's temporary table, upsert from it (versions included), drop
    # it: 4 whatever the page size (the COPY into the table goes through the driver, not SQLAlchemy).
    assert len(statements) == 4


def test_a_changed_title_updates_the_paper(session: Session) -> None:
    original = recorded_papers()
    upsert_arxiv_papers(session, original)
    edited = [dataclasses.replace(original[0], title="Testing Deep Learning Models, revised")]
    counts = upsert_arxiv_papers(session, edited)
    assert (counts.new, counts.updated, counts.unchanged) == (0, 1, 0)
    session.expire_all()
    assert paper(session, "2202.12139").title == "Testing Deep Learning Models, revised"


def test_a_new_version_updates_the_paper_and_records_the_version(session: Session) -> None:
    [v3] = parse_arxiv_feed(arxiv_xml("rsxiv_2025-11/query_doc.extracted.xml")).entries
    v2 = dataclasses.replace(v3, version=2, updated=datetime(2023, 1, 1, tzinfo=UTC))
    upsert_arxiv_papers(session, [v2])
    counts = upsert_arxiv_papers(session, [v3])

    assert (counts.updated, counts.new_versions) == (1, 1)
    stored = paper(session, "2206.06921")
    session.refresh(stored)
    assert stored.version == 3
    versions = session.scalars(
        select(PaperVersion.version).where(PaperVersion.paper_id == stored.id).order_by(PaperVersion.version)
    ).all()
    assert versions == [2, 3]


def test_an_older_version_fetched_late_never_replaces_a_newer_one(session: Session) -> None:
    [v3] = parse_arxiv_feed(arxiv_xml("rsxiv_2025-11/query_doc.extracted.xml")).entries
    upsert_arxiv_papers(session, [v3])
    counts = upsert_arxiv_papers(session, [dataclasses.replace(v3, version=1, title="Old title")])
    assert (counts.updated, counts.unchanged) == (0, 1)
    assert paper(session, "2206.06921").title == "Attainable forms of Assouad spectra"


def hf_items() -> dict[str, HfRecord]:
    page = parse_hf_daily_papers(hf_recording("sotawhat_2026-06/hf_daily_papers.json"))
    return {item.arxiv_id: item for item in page.items}


def test_a_paper_seen_only_on_hugging_face_is_stored_with_what_it_gives(session: Session) -> None:
    minimax = hf_items()["2606.13392"]
    counts = upsert_hf_papers(session, [minimax])

    assert counts.new == 1
    stored = paper(session, "2606.13392")
    assert stored.title == "MiniMax Sparse Attention"
    assert stored.is_on_hf and not stored.is_on_arxiv
    assert (stored.hf_upvotes, stored.github_stars) == (103, 251)
    assert stored.github_repo == "https://github.com/MiniMax-AI/MSA"
    assert stored.hf_featured_date == date(2026, 6, 12)
    assert stored.abstract == minimax.abstract


def test_arxiv_text_wins_over_hugging_face_and_signals_are_kept(session: Session) -> None:
    mana = parse_arxiv_feed(arxiv_xml("sotawhat_2026-06/arxiv_transformer.xml")).entries[0]
    signals = dataclasses.replace(hf_items()["2606.13392"], arxiv_id=mana.arxiv_id, title="Mana (HF title)")
    upsert_hf_papers(session, [signals])
    counts = upsert_arxiv_papers(session, [mana])
    assert counts.updated == 1

    again = upsert_hf_papers(session, [dataclasses.replace(signals, upvotes=150)])
    assert again.updated == 1
    session.expire_all()
    stored = paper(session, mana.arxiv_id)
    assert stored.title == "Mana: Dexterous Manipulation of Articulated Tools"
    assert stored.is_on_arxiv and stored.is_on_hf
    assert stored.hf_upvotes == 150


def test_the_same_hugging_face_day_again_changes_nothing(session: Session) -> None:
    items = list(hf_items().values())
    assert upsert_hf_papers(session, items).new == 30
    counts = upsert_hf_papers(session, items)
    assert (counts.new, counts.updated, counts.unchanged) == (0, 0, 30)


def test_fetch_through_the_replay_server_records_runs_and_cursors(
    session: Session, replay_settings: Settings
) -> None:
    messages: list[str] = []
    summaries = fetch(
        session,
        replay_settings,
        "arxiv",
        FetchOptions(SINCE, UNTIL, categories=("cs.CL", "cs.CV"), progress=messages.append),
    )

    assert [summary.status for summary in summaries] == ["ok", "ok"]
    sample = load_sample_papers()
    expected = {p.arxiv_id for p in sample if {"cs.CL", "cs.CV"} & set(p.categories)}
    assert session.scalar(select(func.count()).select_from(Paper)) == len(expected)
    run = session.get(FetchRun, summaries[0].run_id)
    assert run is not None and run.status == "ok" and run.category == "cs.CL"
    assert run.new_count == summaries[0].counts.new > 0
    assert run.requests_count >= 1 and run.duration_s is not None and run.finished_at is not None
    cursor = session.scalars(select(FetchCursor).where(FetchCursor.category == "cs.CV")).one()
    assert cursor.fetched_until == UNTIL
    assert messages


def test_fetch_reports_progress_of_each_run_from_start_to_end(
    session: Session, replay_settings: Settings
) -> None:
    states: list[FetchProgress] = []
    [summary] = fetch(
        session,
        replay_settings,
        "arxiv",
        FetchOptions(SINCE, UNTIL, categories=("cs.LG",), page_progress=states.append),
    )

    first, *pages, last = states
    # Shown before the first request, so a slow provider still shows a bar.
    assert (first.entries_read, first.entries_total, first.is_done) == (0, None, False)
    assert pages and all(state.entries_total is not None for state in pages)
    reads = [state.entries_read for state in states]
    assert reads == sorted(reads)
    assert last.is_done and last.label == first.label and "cs.LG" in last.label
    assert last.papers_seen == summary.counts.new + summary.counts.updated + summary.counts.unchanged
    assert last.entries_read >= last.papers_seen and last.entries_total == pages[0].entries_total

    hf_states: list[FetchProgress] = []
    fetch(session, replay_settings, "hf", FetchOptions(SINCE, UNTIL, page_progress=hf_states.append))
    assert hf_states[-1].is_done and hf_states[-1].papers_seen > 0
    assert all(state.entries_total is None for state in hf_states)


def test_rerunning_a_window_inserts_nothing_new(session: Session, replay_settings: Settings) -> None:
    fetch(session, replay_settings, "arxiv", FetchOptions(SINCE, UNTIL, categories=("cs.LG",)))
    [again] = fetch(session, replay_settings, "arxiv", FetchOptions(SINCE, UNTIL, categories=("cs.LG",)))
    assert (again.counts.new, again.counts.updated) == (0, 0)
    assert again.counts.unchanged > 100


def test_fetching_hugging_face_stores_signals_and_hf_only_papers(
    session: Session, replay_settings: Settings
) -> None:
    fetch(
        session,
        replay_settings,
        "arxiv",
        FetchOptions(SINCE, UNTIL, categories=("cs.LG", "cs.CL", "cs.CV", "cs.AI", "stat.ML")),
    )
    [summary] = fetch(session, replay_settings, "hf", FetchOptions(date(2026, 11, 16), date(2026, 11, 20)))

    featured = {entry["paper"]["id"] for items in load_sample_daily_papers().values() for entry in items}
    assert summary.status == "ok" and summary.counts.new + summary.counts.updated == len(featured)
    hf_only = session.scalars(select(Paper).where(Paper.is_on_hf, Paper.is_on_arxiv.is_(False))).all()
    assert hf_only, "the sample feed leaves some featured papers off arXiv"
    assert all(stored.hf_upvotes is not None and stored.title for stored in hf_only)


def test_a_provider_error_fails_that_run_and_the_next_category_still_runs(
    session: Session, replay_settings: Settings, replay: ReplayServer
) -> None:
    broken = replay_settings.model_copy(update={"arxiv_base_url": f"{replay.base_url}/missing"})
    summaries = fetch(session, broken, "arxiv", FetchOptions(SINCE, UNTIL, categories=("cs.LG", "cs.CL")))
    assert [summary.status for summary in summaries] == ["failed", "failed"]
    assert "HTTP 404" in (summaries[0].error or "") and not summaries[0].is_transient
    run = session.get(FetchRun, summaries[1].run_id)
    assert run is not None and run.error and run.status == "failed"
    assert session.scalar(select(func.count()).select_from(FetchCursor)) == 0


def test_an_empty_weekday_after_a_busy_run_is_suspect(session: Session, replay_settings: Settings) -> None:
    [busy] = fetch(session, replay_settings, "arxiv", FetchOptions(SINCE, UNTIL, categories=("cs.LG",)))
    assert busy.status == "ok"
    # Monday 2026-11-23 is past the sample feed: arXiv "answers" nothing for an announcement day.
    [empty] = fetch(
        session,
        replay_settings,
        "arxiv",
        FetchOptions(date(2026, 11, 23), date(2026, 11, 23), categories=("cs.LG",)),
    )
    assert empty.status == "suspect"
    cursor = session.scalars(select(FetchCursor.fetched_until).where(FetchCursor.category == "cs.LG")).one()
    assert cursor == UNTIL


def test_an_empty_weekend_is_normal(session: Session, replay_settings: Settings) -> None:
    fetch(session, replay_settings, "arxiv", FetchOptions(SINCE, UNTIL, categories=("cs.LG",)))
    # Friday and Saturday evenings have no announcement.
    [weekend] = fetch(
        session,
        replay_settings,
        "arxiv",
        FetchOptions(date(2026, 11, 20), date(2026, 11, 21), categories=("cs.LG",)),
    )
    assert weekend.status == "ok"


def test_rejections_are_recorded_on_the_run(session: Session, replay_settings: Settings) -> None:
    # A ghost-laden legacy page, served the way arXiv served it.
    body = arxiv_xml("rsxiv_2025-08_legacy/query_missing_id.xml")
    http = httpx.Client(transport=httpx.MockTransport(lambda request: httpx.Response(200, content=body)))
    [summary] = fetch(
        session, replay_settings, "arxiv", FetchOptions(SINCE, UNTIL, categories=("math.AP",)), http=http
    )
    run = session.get(FetchRun, summary.run_id)
    assert run is not None and run.rejected_count == 3
    assert all("without <id>" in rejection["reason"] for rejection in run.rejections)
    assert summary.counts.new == 1


# ---------------------------------------------------------------- with a page writer, as the product fetches


def test_fetching_every_source_through_the_writer_stores_and_records_each_run(
    committed_session_factory: sessionmaker[Session], replay_settings: Settings
) -> None:
    assert replay_settings.ingest_writers == 2

    summaries = fetch_sources(committed_session_factory, replay_settings, FetchOptions(SINCE, UNTIL))

    assert {summary.status for summary in summaries} == {"ok"}
    with session_scope(committed_session_factory) as session:
        stored = session.scalar(select(func.count()).select_from(Paper))
        runs = session.scalars(select(FetchRun).order_by(FetchRun.id)).all()
        cursors = session.scalars(select(FetchCursor.fetched_until)).all()
    assert stored == sum(summary.counts.new for summary in summaries) > 200
    assert [run.new_count for run in runs] == [summary.counts.new for summary in summaries]
    assert len(cursors) == len(summaries) and set(cursors) == {UNTIL}
    again = fetch_sources(committed_session_factory, replay_settings, FetchOptions(SINCE, UNTIL))
    assert sum(summary.counts.new + summary.counts.updated for summary in again) == 0


def only_in_cs_lg() -> str:
    """A sample paper in the window that the cs.LG run fetches and the cs.CL run does not."""
    low, high = datetime.combine(SINCE, time.min, UTC), datetime.combine(UNTIL, time.max, UTC)
    return next(
        paper.arxiv_id
        for paper in load_sample_papers()
        if "cs.LG" in paper.categories and "cs.CL" not in paper.categories and low <= paper.published <= high
    )


@pytest.mark.parametrize(
    ("refusal", "is_transient"),
    [
        ("RAISE EXCEPTION 'refused % for the test', NEW.arxiv_id", False),
        ("PERFORM pg_terminate_backend(pg_backend_pid())", True),
    ],
    ids=["refused", "connection lost"],
)
def test_a_page_the_database_refuses_fails_its_run_and_leaves_its_cursor(
    engine: Engine,
    committed_session_factory: sessionmaker[Session],
    replay_settings: Settings,
    refusal: str,
    is_transient: bool,
) -> None:
    refused = only_in_cs_lg()
    with papers_trigger(engine, refused, refusal):
        cs_lg, cs_cl = fetch_sources(
            committed_session_factory,
            replay_settings,
            FetchOptions(SINCE, UNTIL, sources=("arxiv",), categories=("cs.LG", "cs.CL")),
        )

    assert cs_lg.status == "failed" and (cs_lg.error or "").startswith("storing a page failed")
    assert cs_lg.is_transient is is_transient
    assert cs_cl.status == "ok" and cs_cl.counts.new > 0
    with session_scope(committed_session_factory) as session:
        run = session.get(FetchRun, cs_lg.run_id)
        assert run is not None and run.status == "failed" and run.error == cs_lg.error
        cursors = dict(session.execute(select(FetchCursor.category, FetchCursor.fetched_until)).all())
        assert cursors == {"cs.CL": UNTIL}  # cs.LG is fetched again from where it was
        assert session.scalars(select(Paper).where(Paper.arxiv_id == refused)).one_or_none() is None
