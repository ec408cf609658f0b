"""Building editions: select for a chunk of due subscribers, store shared contents, one edition each."""

from __future__ import annotations

import gc
import logging
from collections import Counter
from collections.abc import Callable, Iterator, Sequence
from concurrent.futures import Future, ThreadPoolExecutor
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import date, datetime
from typing import NamedTuple

import psycopg
from sqlalchemy import text
from sqlalchemy.orm import Session, sessionmaker

from newsletter.config import Settings
from newsletter.db import session_scope
from newsletter.digests.quiet import LOOKBACK, quiet_day_note
from newsletter.digests.schedule import DueSubscriber, due_subscribers
from newsletter.digests.select import (
    DAILY_MAX_AGE,
    DAILY_WINDOW,
    WEEKLY_MAX_AGE,
    WEEKLY_WINDOW,
    Selection,
    Selector,
    Taste,
    TasteKey,
    load_candidates,
    load_keyword_matches,
    load_sent_papers,
    load_tastes,
)
from newsletter.embeddings import model_name
from newsletter.feedback.personal import ReaderTaste, load_reader_tastes
from newsletter.feedback.ranking import CandidateVectors, FeedbackPapers, ReaderViews
from newsletter.sqlarrays import array_literal, number_array_literal, word_array_literal
from newsletter.summaries.languages import is_llm_configured

logger = logging.getLogger(__name__)
# A build allocates a few objects per row it reads and per edition it plans; with the interpreter's
# default thresholds (700, 10, 10) the cyclic collector ran full collections over a growing heap, a
# quarter of the building process's CPU time at 100,000 subscribers. Rarer collections: +30 MB.
BUILD_GC_THRESHOLDS = (50_000, 20, 100)
COPY_ITEMS_SQL = (
    "COPY edition_items (content_id, rank, paper_id, paper_version, matched_topics, matched_keywords,"
    " score, reason) FROM STDIN"
)


@dataclass
class BuildReport:
    due: int = 0
    built: int = 0
    already_built: int = 0
    by_kind: Counter[str] = field(default_factory=Counter)
    distinct_contents: int = 0
    new_contents: int = 0
    candidates: int = 0
    # Candidates that reached us in the last 24 hours, and what it means when there are none.
    fresh_papers: int = 0
    quiet_note: str | None = None
    is_suspect_quiet: bool = False
    # With an LLM configured: the papers planned for readers, by their summary language (the LLM
    # summarizes these before the send).
    shown_papers: dict[str, set[int]] = field(default_factory=dict)

    def add(self, other: BuildReport) -> None:
        self.due += other.due
        self.built += other.built
        self.already_built += other.already_built
        self.by_kind.update(other.by_kind)
        self.distinct_contents += other.distinct_contents
        self.new_contents += other.new_contents
        self.candidates = max(self.candidates, other.candidates)
        self.fresh_papers = max(self.fresh_papers, other.fresh_papers)
        self.quiet_note = self.quiet_note or other.quiet_note
        self.is_suspect_quiet = self.is_suspect_quiet or other.is_suspect_quiet
        for language, paper_ids in other.shown_papers.items():
            self.shown_papers.setdefault(language, set()).update(paper_ids)


class PlannedEdition(NamedTuple):
    # A named tuple: made for every subscriber, three times faster than a frozen dataclass.
    subscriber_id: int
    edition_date: date
    kind: str
    selection: Selection | None


@dataclass(frozen=True)
class ChunkInputs:
    """Everything planning a chunk of due subscribers reads from Postgres."""

    due: list[DueSubscriber]
    tastes: dict[int, Taste]
    keyword_matches: dict[str, frozenset[int]]
    sent: dict[int, frozenset[int]]
    reader_tastes: dict[int, ReaderTaste]
    voted_papers: FeedbackPapers | None


class EditionPlanner:
    """What each due subscriber gets at one moment; candidates are loaded once for all chunks."""

    def __init__(self, session: Session, settings: Settings, now: datetime) -> None:
        self.now = now
        self.candidates = load_candidates(session, now, now - max(DAILY_MAX_AGE, WEEKLY_MAX_AGE))
        self.candidate_ids = [candidate.id for candidate in self.candidates]
        self.fresh_papers = sum(
            1 for candidate in self.candidates if candidate.available_at >= now - LOOKBACK
        )
        self.selector = Selector(self.candidates, {}, settings.max_papers_per_topic)
        # Loaded on the first chunk with a reader who voted: before any vote, nothing of this runs.
        self.candidate_vectors: CandidateVectors | None = None
        self._voted_papers = FeedbackPapers()
        self.tastes: dict[TasteKey, Taste] = {}  # every distinct taste of the build, as one object each
        self._looked_up: set[int] = set()
        self._keywords: set[str] = set()  # keywords whose matches were loaded

    def _feedback_papers(self, session: Session, paper_ids: set[int]) -> FeedbackPapers:
        """Vectors and titles of the papers a chunk's readers voted on, each loaded once per build."""
        missing = sorted(paper_ids - self._looked_up)
        if missing:
            loaded = FeedbackPapers.load(session, missing, model_name())
            self._voted_papers.vectors.update(loaded.vectors)
            self._voted_papers.titles.update(loaded.titles)
            self._looked_up.update(missing)
        vectors, titles = self._voted_papers.vectors, self._voted_papers.titles
        return FeedbackPapers(
            {paper_id: vectors[paper_id] for paper_id in paper_ids if paper_id in vectors},
            {paper_id: titles[paper_id] for paper_id in paper_ids if paper_id in titles},
        )

    def _candidate_vectors(self, session: Session) -> CandidateVectors:
        if self.candidate_vectors is None:
            self.candidate_vectors = CandidateVectors(session, self.candidate_ids, model_name())
        return self.candidate_vectors

    def plan(self, session: Session, due: Sequence[DueSubscriber]) -> list[PlannedEdition]:
        """Computed, not stored (this is the `--dry-run` answer)."""
        return self.plan_loaded(self.load(session, due))

    def load(self, session: Session, due: Sequence[DueSubscriber]) -> ChunkInputs:
        """What planning these subscribers reads from Postgres. The build loads the next chunk on another
        thread while this one is planned: this touches only the build's caches of what was loaded."""
        if not due:
            return ChunkInputs(list(due), {}, {}, {}, {}, None)
        subscriber_ids = [subscriber.id for subscriber in due]
        tastes = load_tastes(
            session, subscriber_ids, {subscriber.id: subscriber.max_papers for subscriber in due}, self.tastes
        )
        new_keywords = {keyword for taste in tastes.values() for keyword in taste.keywords} - self._keywords
        self._keywords.update(new_keywords)
        keyword_matches = load_keyword_matches(session, new_keywords, self.candidate_ids)
        sent = load_sent_papers(session, subscriber_ids, self.candidate_ids)
        reader_tastes = load_reader_tastes(session, subscriber_ids, model_name)
        voted_papers = None
        if reader_tastes:
            self._candidate_vectors(session)
            voted_ids = {i for taste in reader_tastes.values() for i in (*taste.hidden_ids, *taste.liked_ids)}
            voted_papers = self._feedback_papers(session, voted_ids)
        return ChunkInputs(list(due), tastes, keyword_matches, sent, reader_tastes, voted_papers)

    def plan_loaded(self, inputs: ChunkInputs) -> list[PlannedEdition]:
        """The plan of a loaded chunk: pure Python and numpy, no query."""
        due, tastes, sent, reader_tastes = inputs.due, inputs.tastes, inputs.sent, inputs.reader_tastes
        self.selector.add_keyword_matches(inputs.keyword_matches)
        if reader_tastes:
            assert self.candidate_vectors is not None and inputs.voted_papers is not None
            reader_views = ReaderViews(
                self.candidate_vectors,
                reader_tastes,
                inputs.voted_papers,
                self.candidate_ids,
                {reader: self.selector.relevant_ids(tastes[reader]) for reader in reader_tastes},
            )

        planned = []
        # (window start, freshness limit) by frequency: computed once per chunk, not for each subscriber.
        windows = {
            "daily": (self.now - DAILY_WINDOW, self.now - DAILY_MAX_AGE),
            "weekly": (self.now - WEEKLY_WINDOW, self.now - WEEKLY_MAX_AGE),
        }
        nothing_sent: frozenset[int] = frozenset()
        for subscriber in due:
            since, fresh_after = windows["weekly" if subscriber.frequency == "weekly" else "daily"]
            if subscriber.last_edition_at is not None and subscriber.last_edition_at > since:
                since = subscriber.last_edition_at
            personal = reader_views.view(subscriber.id) if subscriber.id in reader_tastes else None
            selection = self.selector.select(
                tastes[subscriber.id], since, fresh_after, sent.get(subscriber.id, nothing_sent), personal
            )
            if selection.items:
                kind = "papers"
            elif subscriber.wants_empty_note:
                kind = "nothing_new"
            else:
                kind = "skipped"
            planned.append(
                PlannedEdition(
                    subscriber.id, subscriber.edition_date, kind, selection if selection.items else None
                )
            )
        return planned


def store_contents(session: Session, selections: Sequence[Selection]) -> tuple[dict[str, int], int]:
    """Content ids by content key, inserting the contents (and their items) not stored yet.

    Every list travels as one array literal or one COPY: psycopg dumps a Python list element by element,
    which for a chunk with a thousand personalized editions (ten thousand items) cost more than Postgres
    took to store them."""
    by_key = {selection.content_key: selection for selection in selections}
    if not by_key:
        return {}, 0
    keys = word_array_literal(list(by_key))
    inserted = session.execute(
        text(
            """
            INSERT INTO edition_contents (content_key, item_count, overflow_count)
            SELECT * FROM unnest(CAST(:keys AS text[]), CAST(:item_counts AS smallint[]),
                                 CAST(:overflow_counts AS int[]))
            ON CONFLICT (content_key) DO NOTHING
            RETURNING id, content_key
            """
        ),
        {
            "keys": keys,
            "item_counts": number_array_literal([len(selection.items) for selection in by_key.values()]),
            "overflow_counts": number_array_literal(
                [selection.overflow_count for selection in by_key.values()]
            ),
        },
    ).all()
    # Only the builder that created a content writes its items: a concurrent builder waits on the
    # unique key above and then finds the content complete.
    if inserted:
        driver_connection = session.connection().connection.driver_connection
        assert isinstance(driver_connection, psycopg.Connection)
        # Contents share item objects (a taste's items serve all its readers): each is formatted once,
        # by identity (the selections keep every item alive meanwhile).
        formatted: dict[int, tuple[object, ...]] = {}
        with driver_connection.cursor() as cursor, cursor.copy(COPY_ITEMS_SQL) as copy:
            for content_id, key in inserted:
                for rank, item in enumerate(by_key[key].items):
                    row = formatted.get(id(item))
                    if row is None:
                        row = formatted[id(item)] = (
                            item.paper_id, item.paper_version,
                            # Postgres parses each list from its literal, as it would from a file.
                            array_literal(item.matched_topics), array_literal(item.matched_keywords),
                            item.score, item.reason,
                        )  # fmt: skip
                    copy.write_row((content_id, rank, *row))
    ids: dict[str, int] = dict(
        session.execute(
            text(
                "SELECT content_key, id FROM edition_contents WHERE content_key = ANY(CAST(:keys AS text[]))"
            ),
            {"keys": keys},
        ).all()
    )
    return ids, len(inserted)


def store_editions(session: Session, planned: Sequence[PlannedEdition], now: datetime) -> BuildReport:
    report = BuildReport(due=len(planned))
    selections = [edition.selection for edition in planned if edition.selection is not None]
    content_ids, report.new_contents = store_contents(session, selections)
    report.distinct_contents = len(content_ids)
    if not planned:
        return report
    columns = {
        "subscriber_ids": number_array_literal([edition.subscriber_id for edition in planned]),
        "dates": word_array_literal([edition.edition_date.isoformat() for edition in planned]),
        "kinds": word_array_literal([edition.kind for edition in planned]),
        "content_ids": number_array_literal(
            [content_ids[edition.selection.content_key] if edition.selection else None for edition in planned]
        ),
        # The build's own clock, so "papers since the last edition" agrees with the selection.
        "now": now,
    }
    # One statement for the whole chunk; the unique (subscriber, date) key makes a rerun, a second
    # beat or a concurrent builder insert nothing twice.
    created = session.execute(
        text(
            """
            INSERT INTO editions (subscriber_id, edition_date, kind, content_id, created_at)
            SELECT planned.*, CAST(:now AS timestamptz)
            FROM unnest(CAST(:subscriber_ids AS bigint[]), CAST(:dates AS date[]),
                        CAST(:kinds AS text[]), CAST(:content_ids AS bigint[])) AS planned
            ON CONFLICT (subscriber_id, edition_date) DO NOTHING
            RETURNING kind
            """
        ),
        columns,
    ).scalars()
    report.by_kind.update(created)
    report.built = sum(report.by_kind.values())
    report.already_built = report.due - report.built
    return report


def build_editions_chunk(
    session: Session,
    settings: Settings,
    now: datetime,
    *,
    after_id: int | None = None,
    only_ids: list[int] | None = None,
    limit: int = 10_000,
    dry_run: bool = False,
    planner: EditionPlanner | None = None,
) -> tuple[BuildReport, list[PlannedEdition], int | None]:
    """Build (or, dry, plan) the editions of one chunk of due subscribers.

    Returns the report, the plan, and the last subscriber id seen (the keyset cursor for the next
    chunk; None when there are no more due subscribers). Pass the same `planner` to every chunk of one
    build so candidates and keyword matches are loaded once.
    """
    due = due_subscribers(session, now, limit=limit, after_id=after_id, only_ids=only_ids)
    if not due:
        return BuildReport(), [], None
    planner = planner or EditionPlanner(session, settings, now)
    planned = planner.plan(session, due)
    report = planned_report(planned) if dry_run else store_editions(session, planned, now)
    return chunk_report(report, settings, planner, due, planned, after_id), planned, due[-1].id


def planned_report(planned: Sequence[PlannedEdition]) -> BuildReport:
    """What a dry run reports: the plan's counts, nothing stored."""
    report = BuildReport(due=len(planned), by_kind=Counter(edition.kind for edition in planned))
    report.distinct_contents = len({e.selection.content_key for e in planned if e.selection})
    return report


def chunk_report(
    report: BuildReport,
    settings: Settings,
    planner: EditionPlanner,
    due: Sequence[DueSubscriber],
    planned: Sequence[PlannedEdition],
    after_id: int | None,
) -> BuildReport:
    """A chunk's report completed with what the build saw: candidates, a quiet day, shown papers."""
    report.candidates, report.fresh_papers = len(planner.candidates), planner.fresh_papers
    if is_llm_configured(settings):
        report.shown_papers = shown_papers(due, planned)
    note = quiet_day_note(planner.now, planner.fresh_papers)
    if note is not None:
        report.quiet_note, report.is_suspect_quiet = note
    logger.info(
        "editions chunk after id %s: %d due, %d built, %d distinct contents",
        after_id,
        report.due,
        report.built,
        report.distinct_contents,
    )
    return report


def shown_papers(due: Sequence[DueSubscriber], planned: Sequence[PlannedEdition]) -> dict[str, set[int]]:
    """The papers of the planned editions, by the summary language of their readers."""
    languages = {subscriber.id: subscriber.summary_language for subscriber in due}
    papers: dict[str, set[int]] = {}
    for edition in planned:
        if edition.selection is not None:
            papers.setdefault(languages[edition.subscriber_id], set()).update(
                item.paper_id for item in edition.selection.items
            )
    return papers


@contextmanager
def rarer_collections() -> Iterator[None]:
    """The cyclic garbage collector at BUILD_GC_THRESHOLDS while the block runs."""
    thresholds = gc.get_threshold()
    gc.set_threshold(*BUILD_GC_THRESHOLDS)
    try:
        yield
    finally:
        gc.set_threshold(*thresholds)


def build_due_editions(
    session_factory: sessionmaker[Session],
    settings: Settings,
    now: datetime,
    *,
    chunk: int = 10_000,
    dry_run: bool = False,
    on_plan: Callable[[list[PlannedEdition]], None] | None = None,
) -> BuildReport:
    """Build every due subscriber's edition, one transaction per chunk of subscribers: a crash keeps
    what was built, and a rerun skips it.

    Three threads, so Postgres and Python work at the same time instead of taking turns: a chunk's reads
    run in a read transaction on one thread while the chunk before is planned, and each planned chunk
    is stored in a transaction of its own on another. One chunk at most is loaded ahead and one waits to
    be stored; `on_plan` sees a chunk once it is stored.
    """
    total = BuildReport()
    after_id: int | None = None
    planner: EditionPlanner | None = None

    def store(planned: list[PlannedEdition]) -> BuildReport:
        with session_scope(session_factory) as session:
            return store_editions(session, planned, now)

    def finish(
        report: BuildReport, due: list[DueSubscriber], planned: list[PlannedEdition], cursor: int | None
    ) -> None:
        assert planner is not None
        total.add(chunk_report(report, settings, planner, due, planned, cursor))
        if on_plan is not None:
            on_plan(planned)

    def load(after_id: int | None) -> ChunkInputs:
        assert planner is not None
        with session_scope(session_factory) as session:
            return planner.load(session, due_subscribers(session, now, limit=chunk, after_id=after_id))

    with (
        rarer_collections(),
        ThreadPoolExecutor(max_workers=1, thread_name_prefix="editions-load") as loader,
        ThreadPoolExecutor(max_workers=1, thread_name_prefix="editions-store") as storer,
    ):
        with session_scope(session_factory) as session:
            planner = EditionPlanner(session, settings, now)
        loading = loader.submit(load, None)
        storing: tuple[Future[BuildReport], list[DueSubscriber], list[PlannedEdition], int | None] | None
        storing = None
        while True:
            inputs = loading.result()
            due = inputs.due
            if due:  # the next chunk's reads run in Postgres while this one is planned
                loading = loader.submit(load, due[-1].id)
            planned = planner.plan_loaded(inputs)
            if storing is not None:
                stored, stored_due, stored_planned, stored_after = storing
                storing = None
                finish(stored.result(), stored_due, stored_planned, stored_after)
            if not due:
                if on_plan is not None:
                    on_plan(planned)
                break
            if dry_run:
                finish(planned_report(planned), due, planned, after_id)
            else:
                storing = (storer.submit(store, planned), due, planned, after_id)
            after_id = due[-1].id
    if total.quiet_note:
        logger.log(
            logging.WARNING if total.is_suspect_quiet else logging.INFO, "editions: %s", total.quiet_note
        )
    return total
