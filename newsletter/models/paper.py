"""Papers as fetched from arXiv and Hugging Face, their versions, and where fetching stands."""

from __future__ import annotations

from datetime import date, datetime
from typing import Any

from sqlalchemy import (
    BigInteger,
    CheckConstraint,
    Computed,
    Date,
    DateTime,
    Float,
    ForeignKey,
    Index,
    Integer,
    String,
    Text,
    UniqueConstraint,
)
from sqlalchemy.dialects.postgresql import ARRAY, JSONB, TSVECTOR
from sqlalchemy.orm import Mapped, mapped_column

from newsletter.models.base import Base, created_at_column, one_of

FETCH_SOURCES = ("arxiv", "hf")
FETCH_RUN_STATUSES = ("running", "ok", "suspect", "failed")
# Where a paper's one-line TL;DR came from: Hugging Face's `ai_summary`.
TLDR_SOURCES = ("hf",)

# Title weighs more than abstract in keyword search; `english` stems (accumulation ~ accumulates).
SEARCH_VECTOR_SQL = (
    "setweight(to_tsvector('english'::regconfig, coalesce(title, '')), 'A') || "
    "setweight(to_tsvector('english'::regconfig, coalesce(abstract, '')), 'B')"
)


class Paper(Base):
    __tablename__ = "papers"

    id: Mapped[int] = mapped_column(BigInteger, primary_key=True)
    # Bare arXiv id without version: 2611.01234 or astro-ph/0601001.
    arxiv_id: Mapped[str] = mapped_column(String(64), unique=True)
    version: Mapped[int] = mapped_column(Integer, default=1, server_default="1")
    # Plain text, as readers are shown it; the source's own text (LaTeX) is kept in the *_raw columns.
    title: Mapped[str] = mapped_column(Text)
    abstract: Mapped[str] = mapped_column(Text, default="", server_default="")
    title_raw: Mapped[str] = mapped_column(Text, default="", server_default="")
    abstract_raw: Mapped[str] = mapped_column(Text, default="", server_default="")
    authors: Mapped[list[str]] = mapped_column(ARRAY(Text), default=list, server_default="{}")
    categories: Mapped[list[str]] = mapped_column(ARRAY(Text), default=list, server_default="{}")
    primary_category: Mapped[str | None] = mapped_column(String(32))
    published_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True), index=True)
    updated_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    abs_url: Mapped[str | None] = mapped_column(Text)
    pdf_url: Mapped[str | None] = mapped_column(Text)
    comment: Mapped[str | None] = mapped_column(Text)
    journal_ref: Mapped[str | None] = mapped_column(Text)
    doi: Mapped[str | None] = mapped_column(Text)

    # Hugging Face Daily Papers signals (the trending signal).
    hf_upvotes: Mapped[int | None] = mapped_column(Integer)
    hf_featured_date: Mapped[date | None] = mapped_column(Date, index=True)
    hf_num_comments: Mapped[int | None] = mapped_column(Integer)
    github_repo: Mapped[str | None] = mapped_column(Text)
    github_stars: Mapped[int | None] = mapped_column(Integer)
    project_page: Mapped[str | None] = mapped_column(Text)
    # Checked by `sources.urls.thumbnail_problem`: an image on Hugging Face's thumbnail host only.
    hf_thumbnail_url: Mapped[str | None] = mapped_column(Text)
    ai_keywords: Mapped[list[str]] = mapped_column(ARRAY(Text), default=list, server_default="{}")
    tldr: Mapped[str | None] = mapped_column(Text)
    tldr_source: Mapped[str | None] = mapped_column(String(16))

    is_on_arxiv: Mapped[bool] = mapped_column(default=False, server_default="false")
    is_on_hf: Mapped[bool] = mapped_column(default=False, server_default="false")
    first_seen_at: Mapped[datetime] = created_at_column()
    changed_at: Mapped[datetime] = created_at_column()

    search_vector: Mapped[Any] = mapped_column(TSVECTOR, Computed(SEARCH_VECTOR_SQL, persisted=True))

    # Migration 0004 also sets toast_tuple_target = 8160 on this table: a paper's row (abstract and search
    # vector, 3-4 KB) stays in the heap uncompressed instead of being compressed and toasted on insert.
    __table_args__ = (
        Index("ix_papers_search_vector", "search_vector", postgresql_using="gin"),
        CheckConstraint("version >= 1", name="version_positive"),
        CheckConstraint(
            f"{one_of('tldr_source', TLDR_SOURCES)} AND tldr IS NOT NULL OR tldr_source IS NULL",
            name="tldr_source",
        ),
    )


class PaperVersion(Base):
    """Each arXiv version seen, so a subscriber's earlier copy can be told from a new version."""

    __tablename__ = "paper_versions"

    id: Mapped[int] = mapped_column(BigInteger, primary_key=True)
    paper_id: Mapped[int] = mapped_column(ForeignKey("papers.id", ondelete="CASCADE"))
    version: Mapped[int] = mapped_column(Integer)
    updated_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    seen_at: Mapped[datetime] = created_at_column()

    __table_args__ = (UniqueConstraint("paper_id", "version"),)


class FetchRun(Base):
    __tablename__ = "fetch_runs"

    id: Mapped[int] = mapped_column(BigInteger, primary_key=True)
    source: Mapped[str] = mapped_column(String(16))
    category: Mapped[str | None] = mapped_column(String(32))
    parameters: Mapped[dict[str, Any]] = mapped_column(JSONB, default=dict, server_default="{}")
    status: Mapped[str] = mapped_column(String(16), default="running", server_default="running")
    started_at: Mapped[datetime] = created_at_column()
    finished_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    duration_s: Mapped[float | None] = mapped_column(Float)
    requests_count: Mapped[int] = mapped_column(Integer, default=0, server_default="0")
    new_count: Mapped[int] = mapped_column(Integer, default=0, server_default="0")
    updated_count: Mapped[int] = mapped_column(Integer, default=0, server_default="0")
    unchanged_count: Mapped[int] = mapped_column(Integer, default=0, server_default="0")
    rejected_count: Mapped[int] = mapped_column(Integer, default=0, server_default="0")
    # [{"item": "...", "reason": "..."}]: a rejected entry keeps its reason.
    rejections: Mapped[list[dict[str, Any]]] = mapped_column(JSONB, default=list, server_default="[]")
    error: Mapped[str | None] = mapped_column(Text)

    __table_args__ = (
        CheckConstraint(one_of("source", FETCH_SOURCES), name="source"),
        CheckConstraint(one_of("status", FETCH_RUN_STATUSES), name="status"),
        Index("ix_fetch_runs_source_started_at", "source", "started_at"),
    )


class FetchCursor(Base):
    """How far each source and category has been fetched, so the next run starts there."""

    __tablename__ = "fetch_cursors"

    source: Mapped[str] = mapped_column(String(16), primary_key=True)
    # "" for sources without categories (Hugging Face).
    category: Mapped[str] = mapped_column(String(32), primary_key=True)
    fetched_until: Mapped[date] = mapped_column(Date)
    updated_at: Mapped[datetime] = created_at_column()

    __table_args__ = (CheckConstraint(one_of("source", FETCH_SOURCES), name="source"),)
