"""Editions: what one subscriber receives on one edition date, and the shared contents they point to.

Subscribers whose selections come out identical (same papers, order, reasons and overflow) share one
EditionContent row: its items are stored once and the email body is rendered once downstream, however
many subscribers receive it. At 100,000 subscribers this is a few thousand contents instead of a million
item rows.
"""

from __future__ import annotations

from datetime import date, datetime

from sqlalchemy import (
    BigInteger,
    Boolean,
    CheckConstraint,
    Date,
    ForeignKey,
    Index,
    Integer,
    SmallInteger,
    String,
    Text,
    UniqueConstraint,
)
from sqlalchemy.dialects.postgresql import ARRAY
from sqlalchemy.orm import Mapped, mapped_column

from newsletter.models.base import Base, created_at_column, one_of

# papers: an email with papers; nothing_new: the short note for those who asked for it;
# skipped: nothing matched and no note wanted (recorded so the day counts as done).
EDITION_KINDS = ("papers", "nothing_new", "skipped")


class EditionContent(Base):
    __tablename__ = "edition_contents"

    id: Mapped[int] = mapped_column(BigInteger, primary_key=True)
    # sha256 of the ordered (paper id, version, update flag, reason) list and the overflow count.
    content_key: Mapped[str] = mapped_column(String(64), unique=True)
    item_count: Mapped[int] = mapped_column(SmallInteger)
    # Matching papers left out by the caps ("N more papers in your topics did not fit this email").
    overflow_count: Mapped[int] = mapped_column(Integer, default=0, server_default="0")
    created_at: Mapped[datetime] = created_at_column()


class EditionItem(Base):
    __tablename__ = "edition_items"

    # edition_contents.id and papers.id, without foreign keys: items are written only by
    # digests/build.py, for the contents it has just inserted and papers it has just read, and nothing
    # deletes a content or a paper. The checks cost a trigger per row and key (migration 0016); whatever
    # comes to delete either must delete its items itself (docs/editions.md, "Scale").
    content_id: Mapped[int] = mapped_column(BigInteger, primary_key=True)
    rank: Mapped[int] = mapped_column(SmallInteger, primary_key=True)
    paper_id: Mapped[int] = mapped_column(BigInteger)
    # The version sent: a later version may come back once, marked as updated.
    paper_version: Mapped[int] = mapped_column(Integer)
    is_update: Mapped[bool] = mapped_column(Boolean, default=False, server_default="false")
    matched_topics: Mapped[list[str]] = mapped_column(ARRAY(Text), default=list, server_default="{}")
    matched_keywords: Mapped[list[str]] = mapped_column(ARRAY(Text), default=list, server_default="{}")
    score: Mapped[float] = mapped_column(default=0.0, server_default="0")
    # Why it is there, in words: "NLP · keyword “retrieval” · 42 upvotes".
    reason: Mapped[str] = mapped_column(Text, default="", server_default="")

    __table_args__ = (UniqueConstraint("content_id", "paper_id"),)


class Edition(Base):
    __tablename__ = "editions"

    id: Mapped[int] = mapped_column(BigInteger, primary_key=True)
    subscriber_id: Mapped[int] = mapped_column(ForeignKey("subscribers.id", ondelete="CASCADE"))
    edition_date: Mapped[date] = mapped_column(Date)
    kind: Mapped[str] = mapped_column(String(16), default="papers", server_default="papers")
    # edition_contents.id (None for nothing_new and skipped editions), without a foreign key: the build
    # stores it from the same transaction's contents, and nothing deletes a content (see EditionItem).
    content_id: Mapped[int | None] = mapped_column(BigInteger)
    created_at: Mapped[datetime] = created_at_column()

    __table_args__ = (
        # The database, not the scheduler, guarantees one edition per subscriber per edition date.
        UniqueConstraint("subscriber_id", "edition_date"),
        Index("ix_editions_edition_date", "edition_date"),
        CheckConstraint(one_of("kind", EDITION_KINDS), name="kind"),
        CheckConstraint("(kind = 'papers') = (content_id IS NOT NULL)", name="content_matches_kind"),
    )
