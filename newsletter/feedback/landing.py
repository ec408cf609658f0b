"""What the page behind a vote link shows: the paper and the reader's vote on it now."""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy.orm import Session

from newsletter.feedback.votes import current_vote, find_paper, parse_vote, voting_subscriber

# What a vote changes, in the reader's words (shown before and after recording it).
VOTE_EFFECTS = {
    "up": "Papers like this one will rank higher in your next emails.",
    "down": "This paper and papers very like it will not be sent to you again; related papers rank lower.",
}
VOTE_LABELS = {"up": "More like this", "down": "Less like this"}


@dataclass(frozen=True)
class VoteProposal:
    subscriber_id: int
    arxiv_id: str
    paper_id: int
    title: str
    vote: str
    current_vote: str | None

    @property
    def is_recorded(self) -> bool:
        return self.current_vote == self.vote

    @property
    def label(self) -> str:
        return VOTE_LABELS[self.vote]

    @property
    def effect(self) -> str:
        return VOTE_EFFECTS[self.vote]


def vote_proposal(session: Session, subscriber_id: int, arxiv_id: str, vote: str) -> VoteProposal:
    """Checks everything a vote needs (its value, the paper, the reader) without changing anything."""
    vote = parse_vote(vote)
    voting_subscriber(session, subscriber_id)
    paper = find_paper(session, arxiv_id)
    current = current_vote(session, subscriber_id, paper.id)
    return VoteProposal(
        subscriber_id=subscriber_id,
        arxiv_id=paper.arxiv_id,
        paper_id=paper.id,
        title=paper.title,
        vote=vote,
        current_vote=current,
    )
