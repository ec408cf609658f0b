"""The public site: today's papers with filters, and one page per paper."""

from __future__ import annotations

from datetime import UTC, date, datetime
from urllib.parse import quote

from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from sqlalchemy.orm import Session

from newsletter.catalog.similar import similar_papers
from newsletter.catalog.site import MAX_QUERY_CHARS, paper_detail, papers_for_day, recent_days, site_stats
from newsletter.config import Settings
from newsletter.errors import NotFound
from newsletter.postgres_text import without_nul
from newsletter.sources.arxiv_ids import split_versioned_id
from newsletter.subscribers.validation import topic_choices
from newsletter.web.deps import SessionDep, SettingsDep
from newsletter.web.pages import render

router = APIRouter()


def parse_day(value: str | None) -> tuple[date | None, str | None]:
    """The asked-for day, or None and a note when it cannot be read (the page then shows the latest)."""
    if not value:
        return None, None
    try:
        return date.fromisoformat(value), None
    except ValueError:
        return None, "That day could not be read (it should look like 2026-11-21): showing the latest day."


def signup_defaults() -> dict[str, object]:
    return {
        "email": "",
        "topics": [],
        "keywords": "",
        "frequency": "daily",
        "weekly_day": 0,
        "send_time": "07:00",
        "timezone": "UTC",
    }


@router.api_route("/", methods=["GET", "HEAD"], response_class=HTMLResponse)
def home(
    request: Request,
    session: SessionDep,
    settings: SettingsDep,
    topic: str | None = None,
    day: str | None = None,
    q: str | None = None,
) -> HTMLResponse:
    return paper_list_page(request, session, settings, without_nul(topic), day, q)


@router.api_route("/topics/{slug}", methods=["GET", "HEAD"], response_class=HTMLResponse)
def topic_page(
    request: Request,
    session: SessionDep,
    settings: SettingsDep,
    slug: str,
    day: str | None = None,
    q: str | None = None,
) -> HTMLResponse:
    return paper_list_page(request, session, settings, without_nul(slug)[:64], day, q, is_topic_page=True)


def paper_list_page(
    request: Request,
    session: Session,
    settings: Settings,
    topic: str,
    day: str | None,
    q: str | None,
    *,
    is_topic_page: bool = False,
) -> HTMLResponse:
    query = without_nul(q).strip()[:MAX_QUERY_CHARS]
    topics = topic_choices(session)
    chosen_topic = next((t for t in topics if topic in (t.slug, t.name)), None) if topic else None
    if is_topic_page and chosen_topic is None:
        raise NotFound("There is no such topic.")
    stats = site_stats(session)
    chosen_day, day_note = parse_day(without_nul(day))
    # A topic's page opens on the newest day with papers of that topic, not on a day without any.
    days = recent_days(session, chosen_topic.name if chosen_topic else None)
    latest = days[0] if days else (None if chosen_topic else stats.latest_day)
    shown_day = chosen_day if chosen_day is not None or query else latest
    papers = papers_for_day(session, shown_day, topic or None, query or None)
    older, newer = neighbour_days(days, shown_day)
    # A search without a day searches every day: the menu then says "All days".
    menu_day = None if query and chosen_day is None else shown_day
    return render(
        request,
        "home.html",
        {
            "stats": stats,
            "today": datetime.now(UTC).date(),
            "fetch_interval_hours": settings.fetch_interval_hours,
            "papers": papers,
            "sample": papers_for_day(session, stats.latest_day, limit=1),
            "shown_day": shown_day,
            "day_note": day_note,
            "day_requested": chosen_day is not None,
            "older_day": older,
            "newer_day": newer,
            "days": days,
            "topics": topics,
            "topic_slugs": {t.name: t.slug for t in topics},
            "chosen_topic": chosen_topic,
            "is_topic_page": is_topic_page,
            "filters": {"topic": topic or "", "day": menu_day.isoformat() if menu_day else "", "q": query},
            "form": signup_defaults(),
        },
    )


def neighbour_days(days: list[date], shown: date | None) -> tuple[date | None, date | None]:
    """The days with papers just before and just after `shown` (`days` is newest first)."""
    older = next((day for day in days if shown is not None and day < shown), None)
    newer = next((day for day in reversed(days) if shown is not None and day > shown), None)
    return older, newer


@router.api_route("/papers/{arxiv_id:path}", methods=["GET", "HEAD"], response_class=HTMLResponse)
def paper_page(request: Request, session: SessionDep, arxiv_id: str) -> Response:
    wanted = without_nul(arxiv_id)[:64]
    # An id with its version (2611.01365v1) or subject class (math.AG/0601001) names the same paper: one
    # address per paper.
    parsed = split_versioned_id(wanted)
    if parsed is not None and parsed[0] != wanted:
        return RedirectResponse(f"/papers/{quote(parsed[0], safe='/')}", status_code=301)
    topics = topic_choices(session)
    paper = paper_detail(session, wanted)
    return render(
        request,
        "paper.html",
        {
            "paper": paper,
            "similar": similar_papers(session, paper.id),
            "topic_slugs": {t.name: t.slug for t in topics},
        },
    )
