"""Pure parsers for arXiv Atom pages and Hugging Face Daily Papers JSON: bytes in, records out."""

from __future__ import annotations

import gc
import logging
import re
import xml.etree.ElementTree as ElementTree
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import datetime

import defusedxml
import defusedxml.ElementTree

from newsletter.errors import PermanentError
from newsletter.plaintext.characters import normalise_text
from newsletter.plaintext.latex import latex_to_text
from newsletter.sources.arxiv_ids import (
    ENTRY_ID_PATTERN,
    ERROR_ID_PATTERN,
    MAX_VERSION,
    canonical_id,
)
from newsletter.sources.dates import (
    ARXIV_FIRST_DAY,
    check_date,
    date_problem,
    fetch_clock,
    log_dropped,
    parse_timestamp,
)
from newsletter.sources.refusals import EntryRejected, Rejection, brief, rejection
from newsletter.sources.urls import checked_url

logger = logging.getLogger(__name__)

# arXiv allows 2,000 entries per page; at ~3 KB each a real page stays far below this.
MAX_RESPONSE_BYTES = 32 * 1024 * 1024

ATOM = "{http://www.w3.org/2005/Atom}"
ARXIV = "{http://arxiv.org/schemas/atom}"
OPENSEARCH = "{http://a9.com/-/spec/opensearch/1.1/}"
# Qualified tag names built once: building f-strings for every child compared was measurably slower.
ENTRY = f"{ATOM}entry"
ID = f"{ATOM}id"
TITLE = f"{ATOM}title"
SUMMARY = f"{ATOM}summary"
AUTHOR = f"{ATOM}author"
NAME = f"{ATOM}name"
CATEGORY = f"{ATOM}category"
LINK = f"{ATOM}link"
PUBLISHED = f"{ATOM}published"
UPDATED = f"{ATOM}updated"
AFFILIATION = f"{ARXIV}affiliation"
PRIMARY_CATEGORY = f"{ARXIV}primary_category"
COMMENT = f"{ARXIV}comment"
JOURNAL_REF = f"{ARXIV}journal_ref"
DOI = f"{ARXIV}doi"
TOTAL_RESULTS = f"{OPENSEARCH}totalResults"
START_INDEX = f"{OPENSEARCH}startIndex"
ITEMS_PER_PAGE = f"{OPENSEARCH}itemsPerPage"
FEED = f"{ATOM}feed"

# cs.LG, astro-ph.CO, cond-mat.str-el, hep-ph; legacy feeds also list MSC ("35", "28A80 (Primary)") and
# ACM ("F.2.2") classes as <category>, which are not arXiv categories.
CATEGORY_PATTERN = re.compile(r"^[a-z][a-z\-]*(\.[A-Za-z\-]+)?$")
# papers.primary_category is varchar(32); the longest real category (cond-mat.mes-hall) has 17.
MAX_CATEGORY_CHARS = 32
# Title plus abstract: arXiv caps abstracts at 1,920 characters. Far beyond that, Postgres cannot build
# the search vector (a tsvector holds at most 1 MB), so such an entry could never be stored.
MAX_ENTRY_TEXT_CHARS = 200_000
# Caps on the other outside fields, far above any real paper's (the longest author lists, of the LHC
# collaborations, hold about 5,000 names): an entry beyond one is rejected with the reason, so that no
# feed can store megabytes that every page showing the paper would then carry.
MAX_AUTHORS = 10_000
MAX_NAME_CHARS = 300
MAX_KEYWORDS = 100
MAX_KEYWORD_CHARS = 100
MAX_NOTE_CHARS = 2_000  # a comment, journal reference, DOI or Hugging Face summary
# The hosts an arXiv entry's abstract and PDF links may name.
ARXIV_HOSTS = ("arxiv.org", "www.arxiv.org", "export.arxiv.org")
# The count columns (upvotes, stars, comments) are Postgres integers.
MAX_COUNT = 2**31 - 1


@dataclass(slots=True)
class PaperRecord:
    arxiv_id: str
    version: int
    title: str
    abstract: str
    authors: list[str]
    categories: list[str]
    primary_category: str
    published: datetime
    updated: datetime
    abs_url: str
    pdf_url: str | None = None
    comment: str | None = None
    journal_ref: str | None = None
    doi: str | None = None
    # Author name -> affiliations, only when the feed gives any (old papers mostly).
    affiliations: dict[str, list[str]] | None = None
    # `title` and `abstract` are as the source sent them (LaTeX); these are what readers are shown.
    clean_title: str = field(init=False, default="")
    clean_abstract: str = field(init=False, default="")

    def __post_init__(self) -> None:
        self.clean_title, self.clean_abstract = plain_texts(self.title, self.abstract)


@dataclass(slots=True)
class ArxivPage:
    entries: list[PaperRecord]
    total_results: int | None
    start_index: int | None
    items_per_page: int | None
    # Every <entry> element, ghosts included: paging advances by this, not by len(entries).
    raw_entry_count: int = 0
    rejections: list[Rejection] = field(default_factory=list)


def plain_texts(title: object, abstract: object) -> tuple[str, str]:
    # Records are also built by hand (sample feeds, wire-format writers) with whatever a test gives them.
    return (
        latex_to_text(title) if isinstance(title, str) else "",
        latex_to_text(abstract) if isinstance(abstract, str) else "",
    )


class ArxivApiError(PermanentError):
    """arXiv answered with its error feed (one entry titled "Error"): a bad query, never a paper."""


@contextmanager
def cycle_collector_paused() -> Iterator[None]:
    """Tree building allocates ~20 objects per entry, none in cycles; the collector's repeated passes over
    them cost a third of the parse time on a 10,000-entry page."""
    was_enabled = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if was_enabled:
            gc.enable()


def is_category(term: str) -> bool:
    return len(term) <= MAX_CATEGORY_CHARS and CATEGORY_PATTERN.match(term) is not None


def check_text_size(title: str, abstract: str) -> None:
    size = len(title) + len(abstract)
    if size > MAX_ENTRY_TEXT_CHARS:
        raise EntryRejected(f"title and abstract are {size} characters, over the {MAX_ENTRY_TEXT_CHARS} cap")


def check_field_sizes(authors: list[str], keywords: list[str], notes: dict[str, str | None]) -> None:
    if len(authors) > MAX_AUTHORS:
        raise EntryRejected(f"{len(authors)} authors, over the {MAX_AUTHORS} cap")
    if any(len(name) > MAX_NAME_CHARS for name in authors):
        raise EntryRejected(f"an author name is over {MAX_NAME_CHARS} characters")
    if len(keywords) > MAX_KEYWORDS or any(len(keyword) > MAX_KEYWORD_CHARS for keyword in keywords):
        raise EntryRejected(f"over {MAX_KEYWORDS} keywords, or one over {MAX_KEYWORD_CHARS} characters")
    for name, value in notes.items():
        if value is not None and len(value) > MAX_NOTE_CHARS:
            raise EntryRejected(f"{name} is {len(value)} characters, over the {MAX_NOTE_CHARS} cap")


def check_size(body: bytes, max_bytes: int, what: str) -> None:
    if len(body) > max_bytes:
        raise PermanentError(
            f"{what} is {len(body)} bytes, over the {max_bytes}-byte cap; refusing to parse it"
        )


# ---------------------------------------------------------------- arXiv Atom


def parse_arxiv_feed(
    xml_bytes: bytes, *, max_bytes: int = MAX_RESPONSE_BYTES, now: datetime | None = None
) -> ArxivPage:
    """`now` is when the page was fetched (default: the clock): no entry's date may be far past it."""
    check_size(xml_bytes, max_bytes, "arXiv response")
    with cycle_collector_paused():
        return parse_checked_arxiv_feed(xml_bytes, now or fetch_clock())


def parse_checked_arxiv_feed(xml_bytes: bytes, now: datetime) -> ArxivPage:
    try:
        # forbid_dtd: arXiv never sends a DTD, so any DOCTYPE is hostile (billion laughs, XXE).
        root = defusedxml.ElementTree.fromstring(xml_bytes, forbid_dtd=True)
    except defusedxml.DefusedXmlException as error:
        raise PermanentError(f"arXiv response refused as unsafe XML: {error!r}") from error
    except ElementTree.ParseError as error:
        raise PermanentError(f"arXiv response is not well-formed XML (truncated?): {error}") from error
    if root.tag != FEED:
        raise PermanentError(f"arXiv response is not an Atom feed (root element {brief(root.tag)})")

    check_error_feed(root)
    entries: list[PaperRecord] = []
    rejections: list[Rejection] = []
    raw_entry_count = 0
    for position, entry in enumerate(root.iterfind(ENTRY)):
        raw_entry_count += 1
        entry_id = entry.findtext(ID)
        try:
            entries.append(parse_arxiv_entry(entry, entry_id, now))
        except EntryRejected as error:
            item_ref = entry_id.strip() if entry_id else f"entry #{position} (no id)"
            rejections.append(rejection(item_ref, str(error)))
    if rejections:
        logger.info("arXiv page: %d entries kept, %d rejected", len(entries), len(rejections))
    return ArxivPage(
        entries=entries,
        total_results=read_int(root, TOTAL_RESULTS),
        start_index=read_int(root, START_INDEX),
        items_per_page=read_int(root, ITEMS_PER_PAGE),
        raw_entry_count=raw_entry_count,
        rejections=rejections,
    )


def check_error_feed(root: ElementTree.Element) -> None:
    """Raise ArxivApiError when the page is arXiv's error feed: exactly one entry, its id an error URL.
    Anything else that mentions an error is one more entry that is not a paper, rejected on its own, so
    that no entry can fail its whole page (and every later fetch of the window with it)."""
    entries = root.findall(ENTRY)
    if len(entries) != 1:
        return
    entry_id = (entries[0].findtext(ID) or "").strip()
    if ERROR_ID_PATTERN.match(entry_id):
        message = normalise_text(entries[0].findtext(SUMMARY) or "") or entry_id
        raise ArxivApiError(f"arXiv API error: {brief(message)}")


def read_int(root: ElementTree.Element, tag: str) -> int | None:
    text = root.findtext(tag)
    if text is None:
        return None
    try:
        return int(text.strip())
    except ValueError:
        return None


def parse_arxiv_entry(entry: ElementTree.Element, entry_id: str | None, now: datetime) -> PaperRecord:
    # One pass over the children is measurably faster than a findtext per field.
    title = abstract = published = updated = comment = journal_ref = doi = primary = None
    authors: list[str] = []
    affiliations: dict[str, list[str]] = {}
    categories: list[str] = []
    abs_url = pdf_url = None
    for child in entry:
        tag = child.tag
        # Authors are the most frequent child, so they are tested first.
        if tag == AUTHOR:
            name = ""
            author_affiliations = []
            for part in child:
                if part.tag == NAME:
                    name = normalise_text(part.text or "")
                elif part.tag == AFFILIATION and part.text and part.text.strip():
                    author_affiliations.append(normalise_text(part.text))
            if name:
                authors.append(name)
                if author_affiliations:
                    affiliations[name] = author_affiliations
        elif tag == TITLE:
            title = child.text or ""
        elif tag == SUMMARY:
            abstract = child.text or ""
        elif tag == CATEGORY:
            term = child.get("term", "").strip()
            if is_category(term) and term not in categories:
                categories.append(term)
        elif tag == LINK:
            href = child.get("href", "")
            # 2025-11 links carry no rel/type/title, so the URL path decides.
            if child.get("title") == "pdf" or "/pdf/" in href:
                pdf_url = pdf_url or href
            elif child.get("rel") == "alternate" or "/abs/" in href:
                abs_url = abs_url or href
        elif tag == PUBLISHED:
            published = child.text
        elif tag == UPDATED:
            updated = child.text
        elif tag == PRIMARY_CATEGORY:
            primary = child.get("term", "").strip() or None
            if primary is not None and not is_category(primary):
                primary = None
        elif tag == COMMENT:
            comment = child.text
        elif tag == JOURNAL_REF:
            journal_ref = child.text
        elif tag == DOI:
            doi = child.text

    if not entry_id or not entry_id.strip():
        raise EntryRejected("entry without <id> (a ghost entry arXiv sends for missing ids)")
    match = ENTRY_ID_PATTERN.search(entry_id.strip())
    if match is None:
        raise EntryRejected(f"entry id {brief(entry_id.strip())} is not an arXiv abstract URL")
    arxiv_id, version = canonical_id(match)
    if not 1 <= version <= MAX_VERSION:
        raise EntryRejected(f"version {version} is not from 1 to {MAX_VERSION}")
    # `is None`, not falsiness: a real paper (2104.12255) is titled "0".
    if title is None or not normalise_text(title):
        raise EntryRejected("entry has no title")
    if not categories and primary is None:
        raise EntryRejected("entry has no category")
    check_text_size(title, abstract or "")
    comment, journal_ref, doi = optional_text(comment), optional_text(journal_ref), optional_text(doi)
    check_field_sizes(authors, [], {"comment": comment, "journal reference": journal_ref, "doi": doi})
    published_at = parse_timestamp(published, "published")
    check_date(published_at, "<published>", ARXIV_FIRST_DAY, now)
    updated_at = parse_timestamp(updated, "updated") if updated else published_at
    if (problem := date_problem(updated_at, ARXIV_FIRST_DAY, now)) is not None:
        log_dropped(arxiv_id, "<updated>", updated_at, problem)
        updated_at = published_at
    # A paper's own links lead to arXiv: an entry cannot send readers to a look-alike of it.
    pdf_url = checked_url(pdf_url, "pdf link", arxiv_id, hosts=ARXIV_HOSTS)
    return PaperRecord(
        arxiv_id=arxiv_id,
        version=version,
        title=normalise_text(title),
        abstract=normalise_text(abstract or ""),
        authors=authors,
        categories=categories or [primary or ""],
        primary_category=primary or categories[0],
        published=published_at,
        updated=updated_at,
        abs_url=prefer_https(
            checked_url(abs_url, "abs link", arxiv_id, hosts=ARXIV_HOSTS)
            or f"https://arxiv.org/abs/{arxiv_id}v{version}"
        ),
        pdf_url=prefer_https(pdf_url) if pdf_url else None,
        comment=comment,
        journal_ref=journal_ref,
        doi=doi,
        affiliations=affiliations or None,
    )


def optional_text(text: str | None) -> str | None:
    if text is None:
        return None
    return normalise_text(text) or None


def prefer_https(url: str) -> str:
    # Old feeds use http:// links, new ones https://; one spelling keeps re-fetches from looking like edits.
    if url.startswith("http://arxiv.org/"):
        return "https://" + url[len("http://") :]
    return url
