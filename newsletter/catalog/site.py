"""The questions the public site asks: today's papers, one paper, how much history there is."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, date, datetime, time
from typing import Any

from sqlalchemy import ColumnElement, Date, Select, cast, func, or_, select
from sqlalchemy.orm import Session

from newsletter.errors import NotFound
from newsletter.mail.context import safe_web_url
from newsletter.models import Paper
from newsletter.plaintext.presentation import (
    Tldr,
    made_by,
    sections_without_repeats,
    shown_points,
    tldr_and_points,
)
from newsletter.sources.urls import thumbnail_problem
from newsletter.summaries.queries import current_key_points, current_summary, has_topic, paper_tags

MAX_QUERY_CHARS = 200
CARDS_PER_PAGE = 100
MAX_DAYS_LISTED = 366


@dataclass(frozen=True)
class PaperCard:
    arxiv_id: str
    title: str
    authors: list[str]
    tags: list[str]
    key_points: list[str]
    upvotes: int | None
    published_at: datetime | None
    comments: int | None
    github_stars: int | None
    changed_at: datetime | None = None
    # Hugging Face's thumbnail of the paper, re-checked before any page shows it.
    thumbnail_url: str | None = None


@dataclass(frozen=True)
class PaperDetail:
    id: int
    arxiv_id: str
    version: int
    title: str
    authors: list[str]
    abstract: str
    tags: list[str]
    published_at: datetime | None
    upvotes: int | None
    abs_url: str
    pdf_url: str
    code_url: str | None
    project_url: str | None
    hf_url: str | None
    # The one-line TL;DR (Hugging Face's, labelled, or the first key point) and the key points under it.
    tldr: Tldr | None
    key_points: list[str]
    # Each section without the sentences the TL;DR, key points or an earlier section already said.
    summary: str | None
    methodology: str | None
    results: str | None
    implications: str | None
    # How the summary was made: "extractive-5", or the model name (with "checked" for the LLM's guard).
    made_by: str | None = None
    thumbnail_url: str | None = None


@dataclass(frozen=True)
class SiteStats:
    latest_day: date | None
    papers_on_latest_day: int
    days_of_history: int
    total_papers: int


def _paper_day() -> ColumnElement[date]:
    # The day a paper belongs to on the site: the day Hugging Face featured it, else its arXiv date.
    return func.coalesce(Paper.hf_featured_date, cast(func.timezone("UTC", Paper.published_at), Date))


def _card_columns() -> tuple[Any, ...]:
    # In PaperCard's order, tags and key points as arrays.
    return (
        Paper.arxiv_id,
        Paper.title,
        Paper.authors,
        paper_tags(),
        current_key_points(),
        Paper.hf_upvotes,
        Paper.published_at,
        Paper.hf_num_comments,
        Paper.github_stars,
        Paper.changed_at,
        Paper.hf_thumbnail_url,
    )


def shown_thumbnail(url: str | None) -> str | None:
    """The stored thumbnail if it still passes the check (rows written before it, or by hand, may not)."""
    return url if url and thumbnail_problem(url) is None else None


def _card(row: Any) -> PaperCard:
    arxiv_id, title, authors, tags, points, upvotes, published, comments, stars, changed, thumbnail = row
    return PaperCard(
        arxiv_id,
        title,
        list(authors or []),
        list(tags or []),
        shown_points(list(points or []))[:3],
        upvotes,
        published,
        comments,
        stars,
        changed,
        shown_thumbnail(thumbnail),
    )


def site_stats(session: Session) -> SiteStats:
    day = _paper_day()
    latest, days, total = session.execute(
        select(func.max(day), func.count(func.distinct(day)), func.count()).select_from(Paper)
    ).one()
    on_latest = 0
    if latest is not None:
        on_latest = session.execute(select(func.count()).select_from(Paper).where(day == latest)).scalar_one()
    return SiteStats(latest, int(on_latest), int(days or 0), int(total or 0))


def recent_days(session: Session, topic: str | None = None, limit: int = MAX_DAYS_LISTED) -> list[date]:
    """The days that have papers (of `topic`, name or slug, when given), newest first: the day menu and
    the prev/next links, so they list as many days as the stats count (up to `limit`)."""
    day = _paper_day()
    statement = select(day).where(day.is_not(None))
    if topic:
        statement = statement.where(has_topic(topic))
    return list(session.execute(statement.group_by(day).order_by(day.desc()).limit(limit)).scalars())


def papers_for_day(
    session: Session,
    day: date | None,
    topic: str | None = None,
    query: str | None = None,
    limit: int = CARDS_PER_PAGE,
) -> list[PaperCard]:
    """Cards for the home page: one day's papers (all days when None), optionally of one topic (name or
    slug) and matching a full-text query, most upvoted first."""
    statement = _day_listing(select(*_card_columns()), day, topic, query, limit)
    return [_card(row) for row in session.execute(statement)]


def front_page_paper_ids(session: Session, limit: int = CARDS_PER_PAGE) -> list[int]:
    """The papers the home page lists with no filter (the latest day's, most upvoted first)."""
    latest = session.scalar(select(func.max(_paper_day())))
    if latest is None:
        return []
    return list(session.scalars(_day_listing(select(Paper.id), latest, None, None, limit)))


def _day_listing(
    statement: Select[Any], day: date | None, topic: str | None, query: str | None, limit: int
) -> Select[Any]:
    if day is not None:
        start = datetime.combine(day, time(0, 0), tzinfo=UTC)
        statement = statement.where(
            or_(
                Paper.hf_featured_date == day,
                (Paper.hf_featured_date.is_(None))
                & (Paper.published_at >= start)
                # The day's last instant, not the next midnight: 9999-12-31 has none.
                & (Paper.published_at <= datetime.combine(day, time.max, tzinfo=UTC)),
            )
        )
    if topic:
        statement = statement.where(has_topic(topic))
    if query:
        statement = statement.where(
            Paper.search_vector.op("@@")(func.websearch_to_tsquery("english", query[:MAX_QUERY_CHARS]))
        )
    return statement.order_by(
        Paper.hf_upvotes.desc().nulls_last(), Paper.published_at.desc().nulls_last(), Paper.arxiv_id
    ).limit(limit)


def trending_papers(session: Session, topic: str | None = None, limit: int = 50) -> list[PaperCard]:
    """The latest papers across days (newest day first, most upvoted first within a day), optionally of
    one topic: what the Atom feeds carry."""
    day = _paper_day()
    statement = select(*_card_columns()).where(day.is_not(None))
    if topic:
        statement = statement.where(has_topic(topic))
    statement = statement.order_by(
        day.desc(),
        Paper.hf_upvotes.desc().nulls_last(),
        Paper.published_at.desc().nulls_last(),
        Paper.arxiv_id,
    ).limit(limit)
    return [_card(row) for row in session.execute(statement)]


def papers_by_ids(session: Session, paper_ids: list[int]) -> list[PaperCard]:
    """Cards for given papers, in the given order (the preference center's preview)."""
    if not paper_ids:
        return []
    rows = session.execute(select(Paper.id, *_card_columns()).where(Paper.id.in_(paper_ids))).all()
    by_id = {row[0]: _card(row[1:]) for row in rows}
    return [by_id[paper_id] for paper_id in paper_ids if paper_id in by_id]


def paper_detail(session: Session, arxiv_id: str) -> PaperDetail:
    row = session.execute(select(Paper, paper_tags()).where(Paper.arxiv_id == arxiv_id)).one_or_none()
    if row is None:
        raise NotFound(f"no paper {arxiv_id[:64]}")
    paper, tags = row
    summary = session.scalars(current_summary(paper.id)).one_or_none()
    tldr, points = tldr_and_points(paper.tldr, paper.tldr_source, list(summary.key_points) if summary else [])
    shown = [tldr.text] if tldr else []
    sections = sections_without_repeats(
        [*shown, *points],
        {
            "summary": summary.summary if summary else None,
            "methodology": summary.methodology if summary else None,
            "results": summary.results if summary else None,
            "implications": summary.implications if summary else None,
        },
    )
    return PaperDetail(
        id=paper.id,
        arxiv_id=paper.arxiv_id,
        version=paper.version,
        title=paper.title,
        authors=list(paper.authors or []),
        abstract=paper.abstract,
        tags=list(tags or []),
        published_at=paper.published_at,
        upvotes=paper.hf_upvotes,
        abs_url=safe_web_url(paper.abs_url) or f"https://arxiv.org/abs/{paper.arxiv_id}",
        pdf_url=safe_web_url(paper.pdf_url) or f"https://arxiv.org/pdf/{paper.arxiv_id}",
        code_url=safe_web_url(paper.github_repo),
        project_url=safe_web_url(paper.project_page),
        hf_url=f"https://huggingface.co/papers/{paper.arxiv_id}" if paper.is_on_hf else None,
        tldr=tldr,
        key_points=points,
        summary=sections["summary"] or None,
        methodology=sections["methodology"] or None,
        results=sections["results"] or None,
        implications=sections["implications"] or None,
        made_by=(
            made_by(summary.backend, summary.backend_version, summary.model, summary.fallback_reason)
            if summary
            else None
        ),
        thumbnail_url=shown_thumbnail(paper.hf_thumbnail_url),
    )
