"""Which papers each subscriber gets: candidates, matches, never-resend, caps, order and reasons.

Everything the selection needs is loaded with a handful of set-based queries for a whole chunk of
subscribers; the per-subscriber work is pure Python over small in-memory structures, memoised on the
inputs that decide the outcome (topics, keywords, cap, window start, what was already sent), so a
hundred thousand subscribers with a few thousand distinct tastes cost a few thousand selections.
"""

from __future__ import annotations

import bisect
import hashlib
import heapq
import json
from collections import defaultdict
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import ARRAY, DateTime, Select, Text, cast, func, literal, select, text
from sqlalchemy.orm import Session

from newsletter.digests.trending import TrendingSignals, last_activity, signal_phrase, trending_score
from newsletter.feedback.personal import followed_topics
from newsletter.feedback.ranking import PersonalView, by_votes_reason
from newsletter.models import Paper, Topic
from newsletter.sqlarrays import number_array_literal
from newsletter.summaries.queries import first_summarized_at, is_summarized, paper_tags

# How far back an edition looks for papers that reached us when a subscriber has no earlier edition
# (or it is older).
DAILY_WINDOW = timedelta(days=3)
WEEKLY_WINDOW = timedelta(days=8)
# How old a paper's own activity (published, updated, featured) may be and still be news. Wider than the
# windows: arXiv's `published` is the submission time, up to ~4 days before the announcement over a
# weekend and longer over holidays; a backfill of last month's papers is not news.
DAILY_MAX_AGE = timedelta(days=7)
WEEKLY_MAX_AGE = timedelta(days=14)


@dataclass(frozen=True)
class Candidate:
    id: int
    arxiv_id: str
    version: int
    topics: tuple[str, ...]  # the paper's tags, strongest first
    score: float
    activity: datetime
    # When the paper could first go out: the newest of its activity, our first sight of it (or of its
    # latest version) and its first summary. "Since the last edition" is measured on this, not on arXiv's
    # dates, which precede the announcement.
    available_at: datetime
    signal: str


@dataclass(frozen=True)
class Taste:
    """Everything about one subscriber that decides their selection."""

    topics: frozenset[str]
    keywords: tuple[str, ...]
    max_papers: int
    _hash: int = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        # A taste keys the selection memo of every subscriber: hashed once, not once per lookup.
        object.__setattr__(self, "_hash", hash((self.topics, self.keywords, self.max_papers)))

    def __hash__(self) -> int:
        return self._hash


# A taste as load_tastes reads it: sorted topic ids, sorted keywords, the edition's cap.
TasteKey = tuple[tuple[int, ...], tuple[str, ...], int]


@dataclass(frozen=True)
class SelectedItem:
    paper_id: int
    paper_version: int
    matched_topics: tuple[str, ...]
    matched_keywords: tuple[str, ...]
    score: float
    reason: str


@dataclass(frozen=True)
class Selection:
    items: tuple[SelectedItem, ...]
    overflow_count: int
    content_key: str = field(default="")


def candidates_query(now: datetime, since: datetime) -> Select[Any]:
    """Summarized papers with a sign of life (published, updated, featured) in [since, now]."""
    activity = func.greatest(
        Paper.published_at, Paper.updated_at, cast(Paper.hf_featured_date, DateTime(timezone=True))
    )
    return select(
        Paper.id,
        Paper.arxiv_id,
        Paper.version,
        Paper.hf_upvotes,
        Paper.github_stars,
        Paper.published_at,
        Paper.updated_at,
        Paper.hf_featured_date,
        Paper.changed_at,
        first_summarized_at().label("summarized_at"),
        func.coalesce(paper_tags(), cast(literal("{}"), ARRAY(Text))).label("topics"),
    ).where(is_summarized(), activity >= since, activity <= now)


def available_at(activity: datetime, now: datetime, *arrivals: datetime | None) -> datetime:
    """The newest of `activity` and the arrival times; an arrival after `now` (a build run as of an
    earlier moment) does not count."""
    return max([activity, *(moment for moment in arrivals if moment is not None and moment <= now)])


def scored_candidate(
    paper_id: int,
    arxiv_id: str,
    version: int,
    topics: Sequence[str],
    signals: TrendingSignals,
    now: datetime,
    *arrivals: datetime | None,
) -> Candidate:
    """A paper as a candidate at `now`: its trending score, its activity and availability, its signal."""
    activity = last_activity(signals) or now
    return Candidate(
        id=paper_id,
        arxiv_id=arxiv_id,
        version=version,
        topics=tuple(topics),
        score=trending_score(signals, now),
        activity=activity,
        available_at=available_at(activity, now, *arrivals),
        signal=signal_phrase(signals),
    )


def trending_order(candidates: Iterable[Candidate]) -> list[Candidate]:
    """Best trending score first; equal scores by arXiv id, so the order never depends on the query."""
    return sorted(candidates, key=lambda candidate: (-candidate.score, candidate.arxiv_id))


def load_candidates(session: Session, now: datetime, since: datetime) -> list[Candidate]:
    """Summarized papers with a sign of life (published, updated, featured) in [since, now], scored,
    best first."""
    return trending_order(
        scored_candidate(
            row.id,
            row.arxiv_id,
            row.version,
            row.topics,
            TrendingSignals(
                upvotes=row.hf_upvotes,
                github_stars=row.github_stars,
                published_at=row.published_at,
                updated_at=row.updated_at,
                featured_date=row.hf_featured_date,
            ),
            now,
            row.changed_at,
            row.summarized_at,
        )
        for row in session.execute(candidates_query(now, since))
    )


def load_tastes(
    session: Session,
    subscriber_ids: Sequence[int],
    max_papers: dict[int, int],
    interned: dict[TasteKey, Taste] | None = None,
) -> dict[int, Taste]:
    """Each subscriber's taste; equal tastes are one object (across calls that pass the same
    `interned`): the selector's memo then hashes and compares them by identity, mostly.

    Topics come as sorted ids, one row per subscriber who has any (a range of one index for a chunk of
    consecutive ids), and become a taste through `interned`, keyed by those ids: building and hashing a
    taste for each of a million subscribers was a tenth of a build."""
    topic_ids = followed_topics(session, subscriber_ids)
    keywords: dict[int, list[str]] = dict(
        session.execute(
            text(
                """
                SELECT subscriber_id, array_agg(keyword ORDER BY keyword) FROM keyword_alerts
                WHERE subscriber_id = ANY(CAST(:ids AS bigint[])) GROUP BY subscriber_id
                """
            ),
            {"ids": number_array_literal(subscriber_ids)},
        ).all()
    )
    topic_names = {topic_id: name for topic_id, name in session.execute(select(Topic.id, Topic.name))}
    interned = {} if interned is None else interned
    tastes = {}
    for subscriber_id in subscriber_ids:
        key = (
            topic_ids.get(subscriber_id, ()),
            tuple(keywords.get(subscriber_id, ())),
            max_papers[subscriber_id],
        )
        taste = interned.get(key)
        if taste is None:
            taste = interned[key] = Taste(frozenset(topic_names[i] for i in key[0]), key[1], key[2])
        tastes[subscriber_id] = taste
    return tastes


def load_keyword_matches(
    session: Session, keywords: Iterable[str], candidate_ids: Sequence[int]
) -> dict[str, frozenset[int]]:
    """Candidate papers each keyword alert finds, with Postgres full-text search and English stemming. A
    keyword is words, never a query: a paper matches when it holds each of them, and "-", "or" and quotes
    mean nothing (`plainto_tsquery`; `websearch_to_tsquery` read "- rlhf" as "without rlhf")."""
    distinct = sorted(set(keywords))
    matches: dict[str, set[int]] = {keyword: set() for keyword in distinct}
    if not distinct or not candidate_ids:
        return {keyword: frozenset() for keyword in distinct}
    rows = session.execute(
        text(
            """
            SELECT k.keyword, p.id
            FROM unnest(CAST(:keywords AS text[])) AS k(keyword)
            JOIN papers p ON p.id = ANY(:ids)
             AND p.search_vector @@ plainto_tsquery('english', k.keyword)
            """
        ),
        {"keywords": distinct, "ids": list(candidate_ids)},
    )
    for keyword, paper_id in rows:
        matches[keyword].add(paper_id)
    return {keyword: frozenset(ids) for keyword, ids in matches.items()}


def load_sent_papers(
    session: Session, subscriber_ids: Sequence[int], candidate_ids: Sequence[int]
) -> dict[int, frozenset[int]]:
    """For each subscriber, the candidate papers already sent to them (in any edition, any version)."""
    sent: dict[int, set[int]] = defaultdict(set)
    if not subscriber_ids or not candidate_ids:
        return {}
    rows = session.execute(
        text(
            """
            SELECT DISTINCT e.subscriber_id, i.paper_id
            FROM editions e JOIN edition_items i ON i.content_id = e.content_id
            WHERE e.subscriber_id = ANY(CAST(:subscriber_ids AS bigint[]))
              AND i.paper_id = ANY(CAST(:paper_ids AS bigint[]))
            """
        ),
        {
            "subscriber_ids": number_array_literal(subscriber_ids),
            "paper_ids": number_array_literal(candidate_ids),
        },
    )
    for subscriber_id, paper_id in rows:
        sent[subscriber_id].add(paper_id)
    return {subscriber_id: frozenset(papers) for subscriber_id, papers in sent.items()}


class Selector:
    """Selects editions for many subscribers against one candidate set, memoising equal inputs."""

    def __init__(
        self,
        candidates: Sequence[Candidate],
        keyword_matches: dict[str, frozenset[int]],
        max_per_topic: int,
    ) -> None:
        self.candidates = list(candidates)  # best first
        self.keyword_matches = keyword_matches
        self.max_per_topic = max_per_topic
        # Candidates' activity and availability times, ascending: two bisects tell which candidates a
        # window admits, so subscribers with equal windows share one memo entry.
        self._activity_sorted = sorted(candidate.activity for candidate in self.candidates)
        self._available_sorted = sorted(candidate.available_at for candidate in self.candidates)
        # Positions (in score order) of the candidates of each topic and of each keyword's matches:
        # a subscriber's selection walks only the candidates that can match.
        self._positions_by_topic: dict[str, list[int]] = defaultdict(list)
        for position, candidate in enumerate(self.candidates):
            for topic in candidate.topics:
                self._positions_by_topic[topic].append(position)
        self._position_of = {candidate.id: position for position, candidate in enumerate(self.candidates)}
        # Each candidate's place in its topics' trending order, for the "why" line ("Trending #2 in NLP").
        self._topic_rank = {
            (topic, position): rank
            for topic, positions in self._positions_by_topic.items()
            for rank, position in enumerate(positions, start=1)
        }
        self._memo: dict[tuple[object, ...], Selection] = {}
        self._relevant: dict[Taste, tuple[list[int], list[int]]] = {}
        self._in_window_memo: dict[tuple[datetime, datetime], list[bool]] = {}
        self._items: dict[tuple[frozenset[str], tuple[str, ...]], dict[int, SelectedItem]] = {}
        self._window_positions: dict[tuple[datetime, datetime], tuple[int, int]] = {}

    def select(
        self,
        taste: Taste,
        since: datetime,
        fresh_after: datetime,
        sent: frozenset[int],
        personal: PersonalView | None = None,
    ) -> Selection:
        """Papers available since `since` whose own activity is after `fresh_after`, none of `sent`; with
        `personal` (a reader who voted), ordered and filtered by their feedback, and never shared with
        another."""
        if personal is not None:
            return self._select(taste, since, fresh_after, sent, personal)
        # Most subscribers share a window (no recent edition): bisecting aware datetimes once per window,
        # not once per subscriber, was a tenth of a build.
        window = self._window_positions.get((since, fresh_after))
        if window is None:
            window = (
                bisect.bisect_left(self._available_sorted, since),
                bisect.bisect_left(self._activity_sorted, fresh_after),
            )
            self._window_positions[(since, fresh_after)] = window
        # Only what is both sent and still a candidate can change the outcome.
        key = (taste, *window, sent)
        selection = self._memo.get(key)
        if selection is None:
            selection = self._select(taste, since, fresh_after, sent)
            self._memo[key] = selection
        return selection

    def relevant_ids(self, taste: Taste) -> list[int]:
        """The candidates the taste's topics and keywords find, best trending score first."""
        return self._relevant_positions(taste)[1]

    def _relevant_positions(self, taste: Taste) -> tuple[list[int], list[int]]:
        """The positions (best first) and ids of the candidates the taste's topics and keywords find."""
        found = self._relevant.get(taste)
        if found is not None:
            return found
        positions: set[int] = set()
        for topic in taste.topics:
            positions.update(self._positions_by_topic.get(topic, ()))
        for keyword in taste.keywords:
            positions.update(
                self._position_of[paper_id]
                for paper_id in self.keyword_matches.get(keyword, ())
                if paper_id in self._position_of
            )
        ordered = sorted(positions)
        found = (ordered, [self.candidates[position].id for position in ordered])
        self._relevant[taste] = found
        return found

    def add_keyword_matches(self, keyword_matches: dict[str, frozenset[int]]) -> None:
        """Matches of keywords not seen yet in this build (a taste's candidates are worked out only once
        the matches of all its keywords are in)."""
        self.keyword_matches.update(keyword_matches)

    def _in_window(self, since: datetime, fresh_after: datetime) -> list[bool]:
        """Whether each candidate (by position) is available since `since` and active after
        `fresh_after`; the few windows of a build are computed once each."""
        found = self._in_window_memo.get((since, fresh_after))
        if found is None:
            found = [
                candidate.available_at >= since and candidate.activity >= fresh_after
                for candidate in self.candidates
            ]
            self._in_window_memo[(since, fresh_after)] = found
        return found

    def _select(
        self,
        taste: Taste,
        since: datetime,
        fresh_after: datetime,
        sent: frozenset[int],
        personal: PersonalView | None = None,
    ) -> Selection:
        positions: Iterable[int] = (
            self._relevant_positions(taste)[0]
            if personal is None
            else map(self._position_of.__getitem__, personal.ranked)
        )
        in_window = self._in_window(since, fresh_after)
        # Every paper in the window and not sent yet counts as matched (chosen or overflow), whether or
        # not a cap then leaves it out.
        eligible = [position for position in positions if in_window[position]]
        if sent:  # never the same paper twice, whatever its version
            eligible = [position for position in eligible if self.candidates[position].id not in sent]
        chosen: list[SelectedItem] = []
        per_topic: dict[str, int] = defaultdict(int)
        items = self._items_of(taste)
        # Candidates are in trending order: a position past the last one the trending order alone would
        # reach (before caps) was brought in by the reader's votes.
        trending_reach = (
            heapq.nsmallest(taste.max_papers, eligible)[-1]
            if personal is not None and len(eligible) > taste.max_papers
            else None
        )
        for position in eligible:
            if len(chosen) >= taste.max_papers:
                break
            item = items.get(position) or self._item(taste, position, items)
            # A paper counts against the cap of its strongest matching tag; keyword finds are uncapped
            # per tag, since the subscriber asked for them by name. The cap keeps an edition varied while
            # nothing says which of a reader's topics they prefer: a reader who voted (`personal`) has
            # said it, and their votes decide the mix (docs/feedback.md).
            if (
                personal is None
                and not item.matched_keywords
                and per_topic[item.matched_topics[0]] >= self.max_per_topic
            ):
                continue
            if item.matched_topics:
                per_topic[item.matched_topics[0]] += 1
            if personal is not None:
                reason = personal.reasons.get(item.paper_id)
                if reason is None and trending_reach is not None and position > trending_reach:
                    reason = by_votes_reason(item.reason)
                if reason is not None:
                    item = SelectedItem(
                        item.paper_id,
                        item.paper_version,
                        item.matched_topics,
                        item.matched_keywords,
                        item.score,
                        reason,
                    )
            chosen.append(item)
        selected = tuple(chosen)
        overflow = len(eligible) - len(selected)
        return Selection(items=selected, overflow_count=overflow, content_key=content_key(selected, overflow))

    def _items_of(self, taste: Taste) -> dict[int, SelectedItem]:
        """The items (by position) a taste's topics and keywords make of candidates, with their trending
        reason: computed once per build for every reader of those topics and keywords."""
        return self._items.setdefault((taste.topics, taste.keywords), {})

    def _item(self, taste: Taste, position: int, items: dict[int, SelectedItem]) -> SelectedItem:
        candidate = self.candidates[position]
        matched_topics = tuple(topic for topic in candidate.topics if topic in taste.topics)
        matched_keywords = tuple(
            keyword for keyword in taste.keywords if candidate.id in self.keyword_matches.get(keyword, ())
        )
        item = SelectedItem(
            paper_id=candidate.id,
            paper_version=candidate.version,
            matched_topics=matched_topics,
            matched_keywords=matched_keywords,
            score=round(candidate.score, 6),
            reason=reason_text(
                matched_topics,
                matched_keywords,
                candidate,
                self._topic_rank.get((matched_topics[0], position)) if matched_topics else None,
            ),
        )
        items[position] = item
        return item


def reason_text(
    matched_topics: Sequence[str],
    matched_keywords: Sequence[str],
    candidate: Candidate,
    topic_rank: int | None = None,
) -> str:
    """Why a paper is in the edition, in words, never a score: "Trending #2 in NLP · 42 upvotes"."""
    parts = []
    if matched_topics:
        # The strongest matching tag with the paper's place in today's trending order of that tag.
        parts.append(f"Trending #{topic_rank} in {matched_topics[0]}" if topic_rank else matched_topics[0])
    parts.extend(f"keyword “{keyword}”" for keyword in matched_keywords)
    parts.append(candidate.signal)
    return " · ".join(parts)


def content_key(items: Sequence[SelectedItem], overflow_count: int) -> str:
    """Equal keys mean an identical email body: same papers, versions, order, reasons and overflow."""
    payload = [[item.paper_id, item.paper_version, item.reason] for item in items]
    digest = hashlib.sha256(json.dumps([payload, overflow_count], ensure_ascii=False).encode())
    return digest.hexdigest()
