"""Plain-data contexts for the templates, loaded before rendering; templates never touch the database.

An edition's body is shared by every subscriber with the same content, so the links that differ per
subscriber (view in browser, preferences, unsubscribe) are link slots in the shared context, filled per
recipient by the backend (SendGrid `substitutions`, or locally for file and SMTP). Each rendering names
its slots by fresh random keys: paper text is placed in the body too, and a fixed key (`%%…%%`) could be
spelled by a title or a repository URL, which would then carry every reader's own link.
"""

from __future__ import annotations

import secrets
from dataclasses import dataclass
from datetime import date
from functools import lru_cache
from typing import Any

from sqlalchemy import null, select
from sqlalchemy.orm import Session

from newsletter.config import Settings
from newsletter.errors import NotFound
from newsletter.feedback.ranking import forwardable_reason
from newsletter.links import urls as links
from newsletter.models import (
    Edition,
    EditionContent,
    EditionItem,
    Paper,
    Subscriber,
    SubscriberTopic,
    Topic,
)
from newsletter.models.subscriber import WEEKDAYS
from newsletter.plaintext.presentation import tldr_and_points
from newsletter.plaintext.shorten import shorten
from newsletter.sources.urls import ascii_host, url_problem
from newsletter.summaries.hashing import DEFAULT_LANGUAGE, llm_version_key
from newsletter.summaries.languages import reading_language
from newsletter.summaries.queries import current_key_points, key_points_in_language, paper_tags

MAX_TITLE_CHARS = 300
MAX_POINT_CHARS = 400
MAX_AUTHORS_SHOWN = 4

# "feedback" is the base of the reader's vote links: each paper appends "/up/<arXiv id>" or
# "/down/<arXiv id>", so one slot serves every paper and equal editions still share one body.
LINK_SLOTS = ("view_in_browser", "preferences", "unsubscribe", "feedback")


@dataclass(frozen=True)
class EditionGroupKey:
    """Subscribers whose emails are byte-identical apart from their own links."""

    edition_date: date
    kind: str
    content_id: int | None
    # The readers' summary language (titles stay as published); English when no LLM is configured.
    language: str = DEFAULT_LANGUAGE


def new_link_slots() -> dict[str, str]:
    """Slot keys for one rendering: 128 random bits each, URL-safe, so HTML escaping never changes them
    and no outside text (stored before the key existed) can contain one."""
    return {name: f"%%{name}-{secrets.token_hex(16)}%%" for name in LINK_SLOTS}


def _shorten(value: str, limit: int) -> str:
    # Whitespace runs are folded; no text needs escaping for the link slots (their keys are random).
    return shorten(value, limit)


@lru_cache(maxsize=8192)  # the same papers' links, edition after edition
def safe_web_url(value: str | None) -> str | None:
    """Only the links the parsers would store reach an email (`sources.urls`): never `javascript:`, a
    user name, a look-alike host in another script; a row stored before those checks is held to them too."""
    if not value:
        return None
    value = value.strip()
    return ascii_host(value) if url_problem(value) is None else None


def sender_context(settings: Settings) -> dict[str, str]:
    return {"name": settings.sender_name, "postal_address": settings.postal_address}


def recipient_links(settings: Settings, subscriber_id: int, edition_id: int | None) -> dict[str, str]:
    """One recipient's URL for each of LINK_SLOTS."""
    return {
        "preferences": links.preferences_url(settings, subscriber_id),
        "unsubscribe": links.unsubscribe_url(settings, subscriber_id),
        "feedback": links.feedback_url(settings, subscriber_id),
        "view_in_browser": (
            links.edition_url(settings, edition_id) if edition_id is not None else links.site_url(settings)
        ),
    }


def _paper_context(
    settings: Settings,
    item: EditionItem,
    paper: Paper,
    tags: list[str],
    points: list[str],
    translated_points: list[str] | None = None,
) -> dict[str, Any]:
    authors = ", ".join(paper.authors[:MAX_AUTHORS_SHOWN])
    if len(paper.authors) > MAX_AUTHORS_SHOWN:
        authors += " et al."
    abs_url = safe_web_url(paper.abs_url) or f"https://arxiv.org/abs/{paper.arxiv_id}"
    reason = item.reason or " · ".join(
        [*item.matched_topics, *(f"keyword “{k}”" for k in item.matched_keywords)]
    )
    if translated_points:
        # Hugging Face's TL;DR is English: in another language the first key point is the TL;DR.
        tldr, points = tldr_and_points(None, None, translated_points)
    else:
        tldr, points = tldr_and_points(paper.tldr, paper.tldr_source, points)
    return {
        "arxiv_id": paper.arxiv_id,
        "title": _shorten(paper.title, MAX_TITLE_CHARS) or paper.arxiv_id,
        "url": links.paper_url(settings, paper.arxiv_id),
        # Appended to the reader's own feedback link (see PLACEHOLDERS).
        "vote_paths": {vote: links.vote_url("", vote, paper.arxiv_id) for vote in ("up", "down")},
        "authors": _shorten(authors, MAX_TITLE_CHARS),
        "tags": tags,
        # One line: Hugging Face's TL;DR (labelled) or the first key point, then the other key points.
        "tldr": {"text": _shorten(tldr.text, MAX_POINT_CHARS), "source_label": tldr.source_label}
        if tldr
        else None,
        "key_points": [_shorten(point, MAX_POINT_CHARS) for point in points[:4]],
        "reason": reason or "trending today",
        "upvotes": paper.hf_upvotes,
        "is_update": item.is_update,
        "version": item.paper_version,
        "abs_url": abs_url,
        "pdf_url": safe_web_url(paper.pdf_url) or f"https://arxiv.org/pdf/{paper.arxiv_id}",
        "code_url": safe_web_url(paper.github_repo),
    }


def content_context(
    session: Session, settings: Settings, key: EditionGroupKey, link_values: dict[str, str] | None = None
) -> dict[str, Any]:
    """The shared context of one edition group; links are fresh slots unless `link_values` are given."""
    papers: list[dict[str, Any]] = []
    overflow_count = 0
    if key.content_id is not None:
        content = session.get(EditionContent, key.content_id)
        if content is None:
            raise NotFound(f"edition content {key.content_id} does not exist")
        overflow_count = content.overflow_count
        language = reading_language(settings, key.language)
        translated = (
            key_points_in_language(language, llm_version_key(settings.llm_model, language))
            if language != DEFAULT_LANGUAGE
            else null()
        )
        rows = session.execute(
            select(EditionItem, Paper, paper_tags(), current_key_points(), translated)
            .join(Paper, Paper.id == EditionItem.paper_id)
            .where(EditionItem.content_id == key.content_id)
            .order_by(EditionItem.rank)
        ).all()
        papers = [
            _paper_context(settings, item, paper, list(tags or []), list(points or []), translated_points)
            for item, paper, tags, points, translated_points in rows
        ]
    link_slots = new_link_slots() if link_values is None else {}
    link_map = dict(link_slots) if link_values is None else {name: link_values[name] for name in LINK_SLOTS}
    count = len(papers)
    return {
        "kind": key.kind,
        "edition_date": key.edition_date.isoformat(),
        "date_label": key.edition_date.strftime("%A, %-d %B %Y"),
        "date_short": key.edition_date.strftime("%a %-d %b"),
        "headline": f"{count} {'paper' if count == 1 else 'papers'} trending in your topics",
        "preheader": _shorten(" · ".join(paper["title"] for paper in papers[:3]), 140)
        or "Nothing new in your topics today",
        "papers": papers,
        "paper_count": count,
        "overflow_count": overflow_count,
        "links": {**link_map, "site": links.site_url(settings)},
        "link_slots": link_slots,
        "sender": sender_context(settings),
        "footer_note": "",
    }


def template_name_for(edition_kind: str) -> str:
    return "edition" if edition_kind == "papers" else "nothing_new"


def _edition(session: Session, edition_id: int) -> tuple[Edition, EditionGroupKey]:
    row = session.execute(
        select(Edition, Subscriber.summary_language)
        .join(Subscriber, Subscriber.id == Edition.subscriber_id)
        .where(Edition.id == edition_id)
    ).one_or_none()
    if row is None:
        # Its subscription was deleted, and its editions with it; the id means nothing to a reader.
        raise NotFound("This edition is no longer kept: the subscription it was sent to was deleted.")
    edition, language = row
    return edition, EditionGroupKey(edition.edition_date, edition.kind, edition.content_id, language)


def edition_context(session: Session, settings: Settings, edition_id: int) -> dict[str, Any]:
    """One subscriber's edition with its real links (previews)."""
    edition, key = _edition(session, edition_id)
    return content_context(
        session, settings, key, recipient_links(settings, edition.subscriber_id, edition.id)
    )


def archived_edition_context(session: Session, settings: Settings, edition_id: int) -> dict[str, Any]:
    """An edition as its "view in browser" page shows it: without the reader's own links and without the
    titles of papers they liked, since that page's link travels with every forwarded email."""
    _, key = _edition(session, edition_id)
    context = content_context(session, settings, key, {name: "" for name in LINK_SLOTS})
    for paper in context["papers"]:
        paper["reason"] = forwardable_reason(paper["reason"])
    return context


def schedule_words(subscriber: Subscriber) -> str:
    """When their emails come, in words: "every day at 07:00 (UTC)", "every Friday at 21:15 (Asia/Kolkata)"."""
    days = f"every {WEEKDAYS[subscriber.weekly_day]}" if subscriber.frequency == "weekly" else "every day"
    return f"{days} at {subscriber.send_time:%H:%M} ({subscriber.timezone})"


def words_list(names: list[str]) -> str:
    """ "NLP", "NLP and Robotics", "NLP, Robotics and Theory"."""
    return " and ".join([", ".join(names[:-1]), names[-1]]) if len(names) > 1 else "".join(names)


def edition_date_of(session: Session, edition_id: int) -> date | None:
    return session.scalar(select(Edition.edition_date).where(Edition.id == edition_id))


def transactional_context(
    session: Session, settings: Settings, subscriber: Subscriber, kind: str
) -> dict[str, Any]:
    """Context of a transactional email (real links: each is sent once)."""
    topics = list(
        session.execute(
            select(Topic.name)
            .join(SubscriberTopic, SubscriberTopic.topic_id == Topic.id)
            .where(SubscriberTopic.subscriber_id == subscriber.id)
            .order_by(Topic.name)
        ).scalars()
    )
    is_subscribed = kind in ("welcome", "manage")
    return {
        "email": subscriber.email,
        "topics": topics,
        "topics_words": words_list(topics),
        "schedule": schedule_words(subscriber),
        "preheader": {
            "confirmation": "One click to confirm your subscription.",
            "welcome": "Your subscription is confirmed.",
            "unsubscribed": "You will not receive the newsletter any more.",
            "manage": "You are already subscribed: change or stop it here.",
            "data_link": "The link you asked for: download or delete your data.",
        }[kind],
        "links": {
            "confirm": links.confirm_url(settings, subscriber.id) if kind == "confirmation" else "",
            "preferences": links.preferences_url(settings, subscriber.id) if is_subscribed else "",
            "unsubscribe": links.unsubscribe_url(settings, subscriber.id) if is_subscribed else "",
            "data": links.data_url(settings, subscriber.id) if kind == "data_link" else "",
            "view_in_browser": "",
            "site": links.site_url(settings),
        },
        "data_link_hours": round(settings.data_link_hours),
        "sender": sender_context(settings),
        "footer_note": {
            "confirmation": "You receive this email because this address was entered on our sign-up form.",
            "welcome": "",
            "unsubscribed": "You receive this email to confirm your unsubscribe request.",
            "manage": "You receive this email because this address was entered on our sign-up form.",
            "data_link": "You receive this email because someone asked for it from your preferences page.",
        }[kind],
    }
