"""Readers' votes on papers (one row per subscriber and paper, the latest vote) and the model learned from them."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import BigInteger, CheckConstraint, Float, ForeignKey, Integer, String
from sqlalchemy.dialects.postgresql import ARRAY, REAL
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


class ReaderModel(Base):
    """One reader's learned taste: a logistic regression over paper embeddings and words, refitted after each
    vote."""

    __tablename__ = "reader_models"

    subscriber_id: Mapped[int] = mapped_column(
        ForeignKey("subscribers.id", ondelete="CASCADE"), primary_key=True
    )
    # The embedding model the weights apply to: another model's vectors make them meaningless.
    embedding_model: Mapped[str] = mapped_column(String(64))
    weights: Mapped[list[float]] = mapped_column(ARRAY(REAL))
    # The words that weigh most in the model (ids in the word vocabulary it was fitted with) and their
    # weights: the rest of the vocabulary counts for nothing.
    word_vocabulary: Mapped[str | None] = mapped_column(String(64))
    word_ids: Mapped[list[int]] = mapped_column(ARRAY(Integer), server_default="{}")
    word_weights: Mapped[list[float]] = mapped_column(ARRAY(REAL), server_default="{}")
    intercept: Mapped[float] = mapped_column(Float)
    # Votes the fit learned from; the edition's personal weight grows with it.
    vote_count: Mapped[int] = mapped_column(Integer)
    fitted_at: Mapped[datetime] = created_at_column()
