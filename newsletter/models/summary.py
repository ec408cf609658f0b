"""Structured summaries and the topic taxonomy papers are tagged with."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import BigInteger, Float, ForeignKey, Integer, String, Text, UniqueConstraint
from sqlalchemy.dialects.postgresql import ARRAY
from sqlalchemy.orm import Mapped, mapped_column

from newsletter.models.base import Base, created_at_column


class Topic(Base):
    __tablename__ = "topics"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    slug: Mapped[str] = mapped_column(String(64), unique=True)
    name: Mapped[str] = mapped_column(String(128), unique=True)
    description: Mapped[str] = mapped_column(Text, default="", server_default="")


class Summary(Base):
    __tablename__ = "summaries"

    id: Mapped[int] = mapped_column(BigInteger, primary_key=True)
    paper_id: Mapped[int] = mapped_column(ForeignKey("papers.id", ondelete="CASCADE"), index=True)
    # Hash of the title + abstract and the backend version: a re-run is a no-op, a changed abstract is new.
    input_hash: Mapped[str] = mapped_column(String(64))
    backend: Mapped[str] = mapped_column(String(32))
    backend_version: Mapped[str] = mapped_column(String(32))
    model: Mapped[str | None] = mapped_column(String(128))
    key_points: Mapped[list[str]] = mapped_column(ARRAY(Text))
    summary: Mapped[str] = mapped_column(Text)
    methodology: Mapped[str] = mapped_column(Text)
    results: Mapped[str] = mapped_column(Text)
    implications: Mapped[str] = mapped_column(Text)
    topics: Mapped[list[str]] = mapped_column(ARRAY(Text))
    # Why the configured backend's answer was not used (e.g. the faithfulness guard), if it was not.
    fallback_reason: Mapped[str | None] = mapped_column(Text)
    prompt_tokens: Mapped[int | None] = mapped_column(Integer)
    completion_tokens: Mapped[int | None] = mapped_column(Integer)
    duration_s: Mapped[float | None] = mapped_column(Float)
    # English for every paper at ingest; another language only for papers shown to its readers.
    language: Mapped[str] = mapped_column(String(8), default="en", server_default="en")
    created_at: Mapped[datetime] = created_at_column()

    __table_args__ = (UniqueConstraint("paper_id", "input_hash"),)


class PaperTopic(Base):
    __tablename__ = "paper_topics"

    paper_id: Mapped[int] = mapped_column(ForeignKey("papers.id", ondelete="CASCADE"), primary_key=True)
    topic_id: Mapped[int] = mapped_column(
        ForeignKey("topics.id", ondelete="CASCADE"), primary_key=True, index=True
    )
    # Order of the tag on the paper (0 = strongest).
    rank: Mapped[int] = mapped_column(Integer, default=0, server_default="0")
