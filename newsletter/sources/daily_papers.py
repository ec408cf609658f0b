"""Pure parser for Hugging Face Daily Papers JSON: bytes in, records out (the arXiv side and the checks
both sources share are in `parse`)."""

from __future__ import annotations

import json
import logging
from dataclasses import dataclass, field
from datetime import date, datetime
from typing import Any

from newsletter.errors import PermanentError
from newsletter.plaintext.characters import normalise_text
from newsletter.plaintext.latex import latex_to_text
from newsletter.postgres_text import without_nul
from newsletter.sources.arxiv_ids import split_versioned_id
from newsletter.sources.dates import (
    ARXIV_FIRST_DAY,
    DAILY_PAPERS_FIRST_DAY,
    fetch_clock,
    parse_hf_timestamp,
    plausible_date,
)
from newsletter.sources.parse import (
    MAX_COUNT,
    MAX_RESPONSE_BYTES,
    check_field_sizes,
    check_size,
    check_text_size,
    optional_text,
    plain_texts,
)
from newsletter.sources.refusals import EntryRejected, Rejection, brief, rejection
from newsletter.sources.urls import checked_thumbnail_url, checked_url

logger = logging.getLogger(__name__)


@dataclass(slots=True)
class HfRecord:
    arxiv_id: str
    title: str
    abstract: str
    authors: list[str]
    published: datetime | None
    featured_date: date | None
    upvotes: int
    github_repo: str | None = None
    github_stars: int | None = None
    project_page: str | None = None
    ai_keywords: list[str] = field(default_factory=list)
    ai_summary: str | None = None
    num_comments: int | None = None
    thumbnail_url: str | None = None
    clean_title: str = field(init=False, default="")
    clean_abstract: str = field(init=False, default="")

    def __post_init__(self) -> None:
        self.clean_title, self.clean_abstract = plain_texts(self.title, self.abstract)
        if self.ai_summary is not None:
            self.ai_summary = latex_to_text(self.ai_summary) or None


@dataclass(slots=True)
class HfPage:
    items: list[HfRecord]
    raw_item_count: int = 0
    rejections: list[Rejection] = field(default_factory=list)


def parse_hf_daily_papers(
    json_bytes: bytes,
    *,
    featured_on: date | None = None,
    max_bytes: int = MAX_RESPONSE_BYTES,
    now: datetime | None = None,
) -> HfPage:
    """`now` is when the page was fetched (default: the clock): no item's date may be far past it."""
    check_size(json_bytes, max_bytes, "Hugging Face response")
    now = now or fetch_clock()
    try:
        document = json.loads(json_bytes)
    except ValueError as error:  # JSONDecodeError, UnicodeDecodeError, a number of over 4,300 digits
        raise PermanentError(f"Hugging Face response is not valid JSON (truncated?): {error}") from error
    except RecursionError as error:
        # `[[[[…` a few thousand deep exhausts the decoder's stack; no real answer nests past 4 levels.
        raise PermanentError(
            "Hugging Face response is nested too deeply to be a Daily Papers list"
        ) from error
    if not isinstance(document, list):
        raise PermanentError(f"Hugging Face daily_papers answered a {type(document).__name__}, not a list")
    items: list[HfRecord] = []
    rejections: list[Rejection] = []
    for position, item in enumerate(document):
        try:
            items.append(parse_hf_item(item, featured_on, now))
        except EntryRejected as error:
            rejections.append(rejection(hf_item_ref(item, position), str(error)))
    if rejections:
        logger.info("Hugging Face page: %d items kept, %d rejected", len(items), len(rejections))
    return HfPage(items=items, raw_item_count=len(document), rejections=rejections)


def hf_item_ref(item: Any, position: int) -> str:
    if isinstance(item, dict) and isinstance(item.get("paper"), dict):
        paper_id = item["paper"].get("id")
        if isinstance(paper_id, str) and paper_id:
            return paper_id
    return f"item #{position}"


def parse_hf_item(item: Any, featured_on: date | None, now: datetime) -> HfRecord:
    if not isinstance(item, dict) or not isinstance(item.get("paper"), dict):
        raise EntryRejected("item has no `paper` object")
    paper: dict[str, Any] = item["paper"]
    paper_id = paper.get("id")
    parsed_id = split_versioned_id(paper_id) if isinstance(paper_id, str) else None
    if parsed_id is None:
        raise EntryRejected(f"paper id {brief(paper_id)} is not an arXiv id")
    title = first_string(paper.get("title"), item.get("title"))
    if title is None or not normalise_text(title):
        raise EntryRejected("paper has no title")
    upvotes = paper.get("upvotes", 0)
    if not is_count(upvotes):
        raise EntryRejected(f"upvotes {brief(upvotes)} is not an integer from 0 to {MAX_COUNT}")
    authors_raw = paper.get("authors") or []
    if not isinstance(authors_raw, list):
        raise EntryRejected("authors is not a list")
    names = (
        normalise_text(storable_text(author["name"]))
        for author in authors_raw
        if isinstance(author, dict) and isinstance(author.get("name"), str)
    )
    authors = [name for name in names if name]
    featured = plausible_date(
        parse_hf_timestamp(paper.get("submittedOnDailyAt"), "submittedOnDailyAt"),
        "submittedOnDailyAt",
        DAILY_PAPERS_FIRST_DAY,
        now,
        parsed_id[0],
    )
    # The paper's arXiv date, which can be far older than the Daily Papers.
    published = plausible_date(
        parse_hf_timestamp(paper.get("publishedAt"), "publishedAt"),
        "publishedAt",
        ARXIV_FIRST_DAY,
        now,
        parsed_id[0],
    )
    keywords = paper.get("ai_keywords") or []
    if isinstance(keywords, list):
        keywords = [normalise_text(storable_text(k)) for k in keywords if isinstance(k, str)]
    abstract = first_string(paper.get("summary"), item.get("summary")) or ""
    check_text_size(title, abstract)
    ai_summary = optional_text(first_string(paper.get("ai_summary")))
    check_field_sizes(authors, keywords if isinstance(keywords, list) else [], {"ai_summary": ai_summary})
    stars = paper.get("githubStars")
    comments = item.get("numComments")
    return HfRecord(
        arxiv_id=parsed_id[0],
        title=normalise_text(title),
        abstract=normalise_text(abstract),
        authors=authors,
        published=published,
        featured_date=featured.date() if featured else featured_on,
        upvotes=upvotes,
        github_repo=checked_url(first_string(paper.get("githubRepo")), "githubRepo", parsed_id[0]),
        github_stars=stars if is_count(stars) else None,
        project_page=checked_url(first_string(paper.get("projectPage")), "projectPage", parsed_id[0]),
        ai_keywords=[keyword for keyword in keywords if keyword] if isinstance(keywords, list) else [],
        ai_summary=ai_summary,
        num_comments=comments if is_count(comments) else None,
        thumbnail_url=checked_thumbnail_url(item.get("thumbnail"), parsed_id[0]),
    )


def first_string(*values: Any) -> str | None:
    for value in values:
        if isinstance(value, str):
            value = storable_text(value)
            if value.strip():
                return value
    return None


def storable_text(value: str) -> str:
    # JSON can spell NUL (which Postgres text cannot hold) and unpaired surrogates as \u escapes.
    value = without_nul(value)
    try:
        value.encode("utf-8")
    except UnicodeEncodeError as error:
        raise EntryRejected("text holds an unpaired surrogate, which is not valid Unicode") from error
    return value


def is_count(value: Any) -> bool:
    # bool is an int subclass; `true` upvotes is malformed, not 1.
    return isinstance(value, int) and not isinstance(value, bool) and 0 <= value <= MAX_COUNT
