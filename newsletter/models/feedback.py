"""Readers' votes on papers: one row per (subscriber, paper), the latest vote."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import BigInteger, CheckConstraint, ForeignKey, String
from sqlalchemy.orm import Mapped, mapped_column

from newsletter.models.base import Base, created_at_column, one_of

VOTES = ("up", "down")


class PaperVote(Base):
    """ "More like this" (up) or "Less like this" (down). A later vote on the same paper replaces the row;
    undoing a vote deletes it."""

    __tablename__ = "paper_votes"

    subscriber_id: Mapped[int] = mapped_column(
        ForeignKey("subscribers.id", ondelete="CASCADE"), primary_key=True
    )
    paper_id: Mapped[int] = mapped_column(
        BigInteger, ForeignKey("papers.id", ondelete="CASCADE"), primary_key=True, index=True
    )
    vote: Mapped[str] = mapped_column(String(4))
    voted_at: Mapped[datetime] = created_at_column()

    __table_args__ = (CheckConstraint(one_of("vote", VOTES), name="vote"),)
