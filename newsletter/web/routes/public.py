"""The public site: today's papers with filters, and one page per paper."""

from __future__ import annotations

from datetime import UTC, date, datetime

from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse

from newsletter.catalog.site import MAX_QUERY_CHARS, paper_detail, papers_for_day, recent_days, site_stats
from newsletter.errors import InvalidInput
from newsletter.subscribers.validation import topic_choices
from newsletter.web.deps import SessionDep, SettingsDep
from newsletter.web.pages import render

router = APIRouter()


def parse_day(value: str | None) -> date | None:
    if not value:
        return None
    try:
        return date.fromisoformat(value)
    except ValueError as error:
        raise InvalidInput("The day must look like 2026-11-21.") from error


def without_nul(value: str | None) -> str:
    # A URL can carry %00, which no Postgres text parameter accepts; it means nothing in a search.
    return (value or "").replace("\x00", "")


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
    query = without_nul(q).strip()[:MAX_QUERY_CHARS]
    topic = without_nul(topic)
    stats = site_stats(session)
    chosen_day = parse_day(day)
    shown_day = chosen_day if chosen_day is not None or query else stats.latest_day
    topics = topic_choices(session)
    return render(
        request,
        "home.html",
        {
            "stats": stats,
            "today": datetime.now(UTC).date(),
            "fetch_interval_hours": settings.fetch_interval_hours,
            "papers": papers_for_day(session, shown_day, topic or None, query or None),
            "shown_day": shown_day,
            "days": recent_days(session),
            "topics": topics,
            "filters": {"topic": topic or "", "day": day or "", "q": query},
            "form": signup_defaults(),
        },
    )


@router.api_route("/papers/{arxiv_id:path}", methods=["GET", "HEAD"], response_class=HTMLResponse)
def paper_page(request: Request, session: SessionDep, arxiv_id: str) -> HTMLResponse:
    return render(request, "paper.html", {"paper": paper_detail(session, without_nul(arxiv_id)[:64])})
