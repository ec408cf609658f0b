"""The one owner of `paper_votes`: recording, undoing and listing a reader's votes, and counting them.

A vote is "up" (more like this) or "down" (less like this); the latest vote on a paper replaces any
earlier one, and undo deletes it. Callers own the transaction: these functions flush, never commit.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import UTC, date, datetime

from sqlalchemy import delete, select, text
from sqlalchemy.dialects.postgresql import insert
from sqlalchemy.orm import Session

from newsletter.errors import InvalidInput, NotFound
from newsletter.models import Paper, PaperVote, Subscriber
from newsletter.models.feedback import VOTES
from newsletter.sources.arxiv_ids import split_versioned_id

logger = logging.getLogger(__name__)


@dataclass(frozen=True)
class VoteChange:
    subscriber_id: int
    paper_id: int
    arxiv_id: str
    title: str
    # The vote now stored (None after an undo) and the one it replaced.
    vote: str | None
    previous: str | None

    @property
    def is_changed(self) -> bool:
        return self.vote != self.previous


@dataclass(frozen=True)
class VoteView:
    paper_id: int
    arxiv_id: str
    title: str
    vote: str
    voted_at: datetime


@dataclass(frozen=True)
class VoteDay:
    day: date
    up: int
    down: int
    # Readers who cast at least one of these votes.
    voters: int


def parse_vote(value: str) -> str:
    vote = value.strip().lower()
    if vote not in VOTES:
        raise InvalidInput("A vote is either “up” (more like this) or “down” (less like this).")
    return vote


def find_paper(session: Session, arxiv_id: str) -> Paper:
    """The paper with this arXiv id (a version suffix such as v2 is ignored)."""
    parsed = split_versioned_id(arxiv_id)
    if parsed is None:
        raise NotFound("There is no paper with this id.")
    bare = parsed[0]
    paper = session.execute(select(Paper).where(Paper.arxiv_id == bare)).scalar_one_or_none()
    if paper is None:
        raise NotFound("There is no paper with this id.")
    return paper


def voting_subscriber(session: Session, subscriber_id: int, *, for_update: bool = False) -> Subscriber:
    """The reader a vote link names; NotFound once the subscription is deleted. Locked for a vote, so a
    vote and the subscriber's deletion cannot cross."""
    query = select(Subscriber).where(Subscriber.id == subscriber_id)
    subscriber = session.execute(query.with_for_update() if for_update else query).scalar_one_or_none()
    if subscriber is None:
        raise NotFound("This subscription does not exist any more, so there is nothing to vote with.")
    return subscriber


def current_vote(session: Session, subscriber_id: int, paper_id: int) -> str | None:
    return session.execute(
        select(PaperVote.vote).where(PaperVote.subscriber_id == subscriber_id, PaperVote.paper_id == paper_id)
    ).scalar_one_or_none()


def record_vote(
    session: Session, subscriber_id: int, arxiv_id: str, vote: str, now: datetime | None = None
) -> VoteChange:
    """Store the reader's vote on a paper, replacing an earlier one; repeating a vote changes nothing."""
    vote = parse_vote(vote)
    voting_subscriber(session, subscriber_id, for_update=True)
    paper = find_paper(session, arxiv_id)
    previous = current_vote(session, subscriber_id, paper.id)
    if previous != vote:
        statement = insert(PaperVote).values(
            subscriber_id=subscriber_id, paper_id=paper.id, vote=vote, voted_at=now or datetime.now(UTC)
        )
        session.execute(
            statement.on_conflict_do_update(
                index_elements=[PaperVote.subscriber_id, PaperVote.paper_id],
                set_={"vote": statement.excluded.vote, "voted_at": statement.excluded.voted_at},
            )
        )
        session.flush()
        logger.info("subscriber %s voted %s on paper %s (was %s)", subscriber_id, vote, paper.id, previous)
    return VoteChange(subscriber_id, paper.id, paper.arxiv_id, paper.title, vote, previous)


def remove_vote(session: Session, subscriber_id: int, arxiv_id: str) -> VoteChange:
    """Undo: the paper counts as never voted on. Removing a vote that is not there changes nothing."""
    voting_subscriber(session, subscriber_id, for_update=True)
    paper = find_paper(session, arxiv_id)
    previous = session.execute(
        delete(PaperVote)
        .where(PaperVote.subscriber_id == subscriber_id, PaperVote.paper_id == paper.id)
        .returning(PaperVote.vote)
    ).scalar_one_or_none()
    session.flush()
    if previous is not None:
        logger.info("subscriber %s removed their %s vote on paper %s", subscriber_id, previous, paper.id)
    return VoteChange(subscriber_id, paper.id, paper.arxiv_id, paper.title, None, previous)


def votes_of(session: Session, subscriber_id: int) -> list[VoteView]:
    """The reader's votes, newest first."""
    rows = session.execute(
        select(PaperVote.paper_id, Paper.arxiv_id, Paper.title, PaperVote.vote, PaperVote.voted_at)
        .join(Paper, Paper.id == PaperVote.paper_id)
        .where(PaperVote.subscriber_id == subscriber_id)
        .order_by(PaperVote.voted_at.desc(), PaperVote.paper_id)
    ).all()
    return [VoteView(*row) for row in rows]


def votes_per_day(session: Session, days: int = 7) -> list[VoteDay]:
    """The votes cast on each of the last `days` UTC days (today included), newest first; days without
    votes are left out. Only standing votes count: the table keeps the latest vote per reader and paper,
    so an undone vote is gone and a changed one counts on the day of the change."""
    rows = session.execute(
        text(
            "SELECT (voted_at AT TIME ZONE 'UTC')::date AS day,"
            " count(*) FILTER (WHERE vote = 'up'), count(*) FILTER (WHERE vote = 'down'),"
            " count(DISTINCT subscriber_id)"
            " FROM paper_votes"
            " WHERE voted_at >= CAST((now() AT TIME ZONE 'UTC')::date - :days AS timestamp) AT TIME ZONE 'UTC'"
            " GROUP BY 1 ORDER BY 1 DESC"
        ),
        {"days": days - 1},
    )
    return [VoteDay(day, int(up), int(down), int(voters)) for day, up, down, voters in rows]
