"""Building Atom documents with feedgen from the catalog's paper cards.

Every text field comes from outside (titles, authors, key points): feedgen escapes it through lxml, and
characters XML cannot carry at all (NUL and other controls) are removed first, so one hostile title never
breaks a feed.
"""

from __future__ import annotations

import hashlib
import hmac
import re
from dataclasses import dataclass
from datetime import UTC, datetime
from html import escape
from urllib.parse import quote

from feedgen.feed import FeedGenerator
from sqlalchemy import select
from sqlalchemy.orm import Session

from newsletter.catalog.site import PaperCard, papers_by_ids, trending_papers
from newsletter.config import Settings
from newsletter.links import urls
from newsletter.models import Edition, EditionItem, Topic
from newsletter.plaintext.characters import without_hidden

NOT_XML = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f\ufffe\uffff]")
ENTRIES_PER_FEED = 50
EDITIONS_PER_PRIVATE_FEED = 30
# Before any paper exists a feed is still valid Atom, with this as its date.
EPOCH = datetime(2026, 1, 1, tzinfo=UTC)


@dataclass(frozen=True)
class AtomDocument:
    body: bytes
    updated: datetime
    etag: str


def _text(value: str | None) -> str:
    # Not XML, or not for a reader (bidi overrides, invisible characters: `plaintext.characters`).
    return NOT_XML.sub("", without_hidden(value or ""))


def _moment(card: PaperCard) -> datetime:
    return card.changed_at or card.published_at or EPOCH


def _content_html(card: PaperCard, paper_url: str) -> str:
    arxiv_id = quote(card.arxiv_id, safe="/")
    parts = [f"<p>{escape(_text(point))}</p>" for point in card.key_points[:1]]
    if card.tags:
        parts.append(f"<p>Topics: {escape(_text(', '.join(card.tags)))}</p>")
    parts.append(
        f'<p><a href="{escape(paper_url)}">Summary</a> · '
        f'<a href="https://arxiv.org/abs/{escape(arxiv_id)}">arXiv</a> · '
        f'<a href="https://arxiv.org/pdf/{escape(arxiv_id)}">PDF</a></p>'
    )
    return "".join(parts)


def build_atom(
    settings: Settings, feed_id: str, title: str, self_url: str, site_url: str, cards: list[PaperCard]
) -> AtomDocument:
    feed = FeedGenerator()
    feed.id(feed_id)
    feed.title(_text(title))
    feed.author({"name": _text(settings.sender_name)})
    feed.link(href=site_url, rel="alternate", type="text/html")
    feed.link(href=self_url, rel="self", type="application/atom+xml")
    feed.language("en")
    updated = max((_moment(card) for card in cards), default=EPOCH)
    feed.updated(updated)
    for card in cards:
        paper_url = urls.paper_url(settings, card.arxiv_id)
        entry = feed.add_entry(order="append")
        entry.id(paper_url)
        # Atom requires a title: one that filtering empties (a paper stored before a rule) reads as its id.
        entry.title(_text(card.title).strip() or card.arxiv_id)
        # One link per entry: feedgen 1.0 writes an entry's links without their `rel`, and two
        # alternates of one type are not valid Atom. The other links go in the content.
        entry.link(href=paper_url)
        entry.content(_content_html(card, paper_url), type="html")
        entry.updated(_moment(card))
        if card.published_at is not None:
            entry.published(card.published_at)
        if card.key_points:
            entry.summary(_text(card.key_points[0]))
        for author in card.authors[:10]:
            if _text(author).strip():
                entry.author({"name": _text(author)})
        for tag in card.tags:
            entry.category(term=_text(tag), label=_text(tag))
    body = feed.atom_str(pretty=False)
    return AtomDocument(body, updated, '"' + hashlib.sha256(body).hexdigest()[:32] + '"')


def trending_feed(session: Session, settings: Settings, topic: Topic | None = None) -> AtomDocument:
    cards = trending_papers(session, topic.slug if topic else None, ENTRIES_PER_FEED)
    if topic is None:
        path, title, site = "/feeds/trending.atom", f"{settings.sender_name}: trending papers", "/"
    else:
        path = f"/feeds/topics/{topic.slug}.atom"
        title, site = f"{settings.sender_name}: {topic.name}", f"/topics/{topic.slug}"
    base = settings.public_base_url.rstrip("/")
    return build_atom(settings, base + path, title, base + path, base + site, cards)


def subscriber_edition_paper_ids(session: Session, subscriber_id: int, editions: int) -> list[int]:
    """The papers of a subscriber's latest editions, newest edition first, in each edition's order."""
    latest = (
        select(Edition.id, Edition.content_id, Edition.edition_date)
        .where(Edition.subscriber_id == subscriber_id, Edition.content_id.is_not(None))
        .order_by(Edition.edition_date.desc())
        .limit(editions)
        .subquery()
    )
    rows = session.execute(
        select(EditionItem.paper_id)
        .join(latest, latest.c.content_id == EditionItem.content_id)
        .order_by(latest.c.edition_date.desc(), EditionItem.rank)
    ).scalars()
    return list(dict.fromkeys(rows))


def private_feed(session: Session, settings: Settings, subscriber_id: int, self_url: str) -> AtomDocument:
    paper_ids = subscriber_edition_paper_ids(session, subscriber_id, EDITIONS_PER_PRIVATE_FEED)
    cards = papers_by_ids(session, paper_ids)
    # A stable id that does not reveal the subscriber's row number.
    key = settings.secret_key.get_secret_value().encode()
    feed_id = (
        "urn:newsletter:private-feed:"
        + hmac.new(key, f"feed:{subscriber_id}".encode(), "sha256").hexdigest()[:24]
    )
    title = f"{settings.sender_name}: your editions"
    return build_atom(settings, feed_id, title, self_url, settings.public_base_url.rstrip("/") + "/", cards)
