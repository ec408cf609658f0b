"""Records written back in the providers' wire formats (arXiv Atom 2026, Daily Papers JSON), for the sample
feed and the replay server, so both exercise the real parsers."""

from __future__ import annotations

import hashlib
from collections.abc import Sequence
from datetime import UTC, date, datetime
from typing import Any
from urllib.parse import quote
from xml.sax.saxutils import escape, quoteattr

from newsletter.sources.parse import PaperRecord

ATOM_HEADER = (
    "<?xml version='1.0' encoding='UTF-8'?>\n"
    '<feed xmlns:opensearch="http://a9.com/-/spec/opensearch/1.1/" '
    'xmlns:arxiv="http://arxiv.org/schemas/atom" xmlns="http://www.w3.org/2005/Atom">\n'
)
CATEGORY_SCHEME = "http://arxiv.org/schemas/atom"


def atom_timestamp(value: datetime) -> str:
    return value.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def render_atom_entry(record: PaperRecord) -> str:
    # Field order, link attributes and http:// in <id> follow the 2026 recordings.
    versioned = f"{record.arxiv_id}v{record.version}"
    lines = [
        "  <entry>",
        f"    <id>http://arxiv.org/abs/{versioned}</id>",
        f"    <title>{escape(record.title)}</title>",
        f"    <updated>{atom_timestamp(record.updated)}</updated>",
        f'    <link href={quoteattr(record.abs_url)} rel="alternate" type="text/html"/>',
    ]
    if record.pdf_url:
        lines.append(
            f'    <link href={quoteattr(record.pdf_url)} rel="related" type="application/pdf" title="pdf"/>'
        )
    lines.append(f"    <summary>{escape(record.abstract)}</summary>")
    lines.extend(
        f"    <category term={quoteattr(term)} scheme={quoteattr(CATEGORY_SCHEME)}/>"
        for term in record.categories
    )
    lines.append(f"    <published>{atom_timestamp(record.published)}</published>")
    if record.comment:
        lines.append(f"    <arxiv:comment>{escape(record.comment)}</arxiv:comment>")
    lines.append(f"    <arxiv:primary_category term={quoteattr(record.primary_category)}/>")
    if record.journal_ref:
        lines.append(f"    <arxiv:journal_ref>{escape(record.journal_ref)}</arxiv:journal_ref>")
    for author in record.authors:
        affiliations = (record.affiliations or {}).get(author, [])
        lines.append("    <author>")
        lines.append(f"      <name>{escape(author)}</name>")
        lines.extend(f"      <arxiv:affiliation>{escape(each)}</arxiv:affiliation>" for each in affiliations)
        lines.append("    </author>")
    if record.doi:
        lines.append(f"    <arxiv:doi>{escape(record.doi)}</arxiv:doi>")
        lines.append(
            f'    <link rel="related" href={quoteattr("https://doi.org/" + record.doi)} title="doi"/>'
        )
    lines.append("  </entry>\n")
    return "\n".join(lines)


def render_atom_feed(
    entries: Sequence[str],
    *,
    search_query: str,
    start: int,
    max_results: int,
    total_results: int,
    generated_at: datetime,
) -> bytes:
    """`entries` are pre-rendered with `render_atom_entry`, so a server can render each record once."""
    query_text = f"search_query={search_query}&id_list=&start={start}&max_results={max_results}"
    feed_id = hashlib.sha1(query_text.encode(), usedforsecurity=False).hexdigest()[:27]
    link = (
        f"https://arxiv.org/api/query?search_query={quote(search_query, safe=':')}"
        f"&start={start}&max_results={max_results}&id_list="
    )
    head = (
        ATOM_HEADER
        + f"  <id>https://arxiv.org/api/{feed_id}</id>\n"
        + f"  <title>arXiv Query: {escape(query_text)}</title>\n"
        + f"  <updated>{atom_timestamp(generated_at)}</updated>\n"
        + f'  <link href={quoteattr(link)} type="application/atom+xml"/>\n'
        + f"  <opensearch:itemsPerPage>{max_results}</opensearch:itemsPerPage>\n"
        + f"  <opensearch:totalResults>{total_results}</opensearch:totalResults>\n"
        + f"  <opensearch:startIndex>{start}</opensearch:startIndex>\n"
    )
    return (head + "".join(entries) + "</feed>\n").encode("utf-8")


def hf_timestamp(value: datetime | date) -> str:
    if isinstance(value, datetime):
        return value.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S.000Z")
    return f"{value.isoformat()}T00:00:00.000Z"


def fake_object_id(*parts: str) -> str:
    # Hugging Face ids are 24 hex characters (MongoDB ObjectIds); derived, so the files stay stable.
    return hashlib.sha1("/".join(parts).encode(), usedforsecurity=False).hexdigest()[:24]


SAMPLE_SUBMITTER = {
    "_id": fake_object_id("sample-curator"),
    "avatarUrl": "https://cdn-avatars.huggingface.co/v1/production/uploads/sample/avatar.png",
    "isPro": False,
    "fullname": "Sample Curator",
    "user": "sample-curator",
    "type": "user",
    "name": "sample-curator",
}


def render_hf_item(
    record: PaperRecord,
    *,
    featured_on: date,
    upvotes: int,
    num_comments: int,
    github_repo: str | None = None,
    github_stars: int | None = None,
    project_page: str | None = None,
    ai_keywords: Sequence[str] = (),
    ai_summary: str | None = None,
) -> dict[str, Any]:
    """One Daily Papers item shaped like the 2026 recordings; optional keys are left out, not null."""
    paper: dict[str, Any] = {
        "id": record.arxiv_id,
        "authors": [
            {"_id": fake_object_id(record.arxiv_id, name), "name": name, "hidden": False}
            for name in record.authors
        ],
        "publishedAt": hf_timestamp(record.published.date()),
        "submittedOnDailyAt": hf_timestamp(featured_on),
        "title": record.title,
        "submittedOnDailyBy": SAMPLE_SUBMITTER,
        "summary": record.abstract,
        "upvotes": upvotes,
        "discussionId": fake_object_id(record.arxiv_id, "discussion"),
    }
    if ai_summary:
        paper["ai_summary"] = ai_summary
    if ai_keywords:
        paper["ai_keywords"] = list(ai_keywords)
    if github_repo:
        paper["githubRepo"] = github_repo
        paper["githubStars"] = github_stars or 0
    if project_page:
        paper["projectPage"] = project_page
    return {
        "paper": paper,
        "publishedAt": hf_timestamp(record.published),
        "title": record.title,
        "summary": record.abstract,
        "thumbnail": f"https://cdn-thumbnails.huggingface.co/social-thumbnails/papers/{record.arxiv_id}.png",
        "numComments": num_comments,
        "submittedBy": SAMPLE_SUBMITTER,
        "isAuthorParticipating": False,
    }
