"""Outside URLs are checked at ingest: only plain http(s) web addresses are stored, the rest dropped and logged."""

from __future__ import annotations

import json
import logging
from datetime import UTC, date, datetime
from typing import Any

import pytest

from newsletter.mail.context import safe_web_url
from newsletter.sources.daily_papers import parse_hf_daily_papers
from newsletter.sources.parse import PaperRecord, parse_arxiv_feed
from newsletter.sources.urls import MAX_URL_CHARS, url_problem
from newsletter.sources.wireformat import render_atom_entry, render_atom_feed, render_hf_item

GOOD = [
    "https://github.com/example/repo",
    "http://example.org",
    "https://project.example.co.uk/a/b?c=d#e",
    "https://bücher.example/seite",
    "https://xn--bcher-kva.example/",
    "HTTPS://GITHUB.COM/Example/Repo",
    "https://github.com:443/example/repo",
]
BAD = [
    "javascript:alert(1)",
    "JaVaScRiPt:alert(1)",
    "data:text/html,<script>alert(1)</script>",
    "vbscript:msgbox(1)",
    "file:///etc/passwd",
    "ftp://example.org/paper.pdf",
    "//evil.example/steal",
    "github.com/example/repo",
    "https://user:secret@github.com/example/repo",
    "https://github.com@evil.example/",
    "https://localhost/admin",
    "http://127.0.0.1:8000/admin",
    "http://[::1]/",
    "http://169.254.169.254/latest/meta-data",
    "https:///no-host",
    "https://exa mple.org/",
    "https://example.org/a b",
    "https://example.org/\r\nSet-Cookie: x",
    "https://git\u200bhub.com/example/repo",
    "https://example.org/\u202egnp.exe",
    "https://example.org/repo\U000e0069\U000e0067\U000e006e",  # tag characters spelling hidden text
    "https://example.org:99999/",
    "https://example.org:abc/",
    "https://-bad-.example/",
    "https://example.123/",
    "https://example.org/" + "a" * MAX_URL_CHARS,
]


@pytest.mark.parametrize("url", GOOD)
def test_plain_web_addresses_are_accepted(url: str) -> None:
    assert url_problem(url) is None


@pytest.mark.parametrize("url", BAD)
def test_anything_but_a_plain_web_address_is_refused_with_a_reason(url: str) -> None:
    assert url_problem(url)


def paper_record(**fields: Any) -> PaperRecord:
    """A paper as a source hands it over, with the given identity and links."""
    published = datetime(2026, 11, 19, 9, 0, tzinfo=UTC)
    return PaperRecord(
        abstract="We study a problem.",
        authors=["Ada Lovelace"],
        categories=["cs.CL"],
        primary_category="cs.CL",
        published=published,
        updated=published,
        **fields,
    )


def hf_body(github_repo: str, project_page: str) -> bytes:
    record = paper_record(
        arxiv_id="2611.00001",
        version=1,
        title="A featured paper",
        abs_url="https://arxiv.org/abs/2611.00001v1",
    )
    item = render_hf_item(record, featured_on=date(2026, 11, 19), upvotes=3, num_comments=0)
    item["paper"].update(githubRepo=github_repo, projectPage=project_page)
    return json.dumps([item]).encode()


@pytest.mark.parametrize("url", BAD)
def test_a_hugging_face_item_keeps_its_paper_but_not_a_bad_repository_or_project_page(
    url: str, caplog: pytest.LogCaptureFixture
) -> None:
    with caplog.at_level(logging.WARNING, logger="newsletter.sources.urls"):
        [item] = parse_hf_daily_papers(hf_body(url, url)).items
    assert item.arxiv_id == "2611.00001"
    assert (item.github_repo, item.project_page) == (None, None)
    logged = [record.getMessage() for record in caplog.records]
    assert any("githubRepo dropped" in line for line in logged)
    assert any("projectPage dropped" in line for line in logged)


def test_a_hugging_face_item_keeps_good_links() -> None:
    [item] = parse_hf_daily_papers(hf_body(GOOD[0], GOOD[2])).items
    assert (item.github_repo, item.project_page) == (GOOD[0], GOOD[2])


def parsed_entry(record: PaperRecord) -> PaperRecord:
    """The record as the arXiv parser reads it back from a feed holding it alone."""
    feed = render_atom_feed(
        [render_atom_entry(record)],
        search_query="cat:cs.CL",
        start=0,
        max_results=10,
        total_results=1,
        generated_at=datetime(2026, 11, 19, 12, 0, tzinfo=UTC),
    )
    [entry] = parse_arxiv_feed(feed).entries
    return entry


@pytest.mark.parametrize(
    "url",
    [
        "javascript:alert(1)",
        "https://user:pw@arxiv.org/abs/x",
        "http://localhost/",
        # Well-formed, but not arXiv: a paper's own links may not lead to a look-alike of it.
        "https://arxiv-login.example/abs/2611.00002",
        "https://arxiv.org.evil.example/pdf/2611.00002",
        "https://arx\u0456v.org/pdf/2611.00002",  # a Cyrillic і
    ],
)
def test_an_arxiv_entry_with_bad_links_keeps_the_canonical_abstract_link_and_no_pdf(url: str) -> None:
    entry = parsed_entry(
        paper_record(arxiv_id="2611.00002", version=2, title="A paper", abs_url=url, pdf_url=url)
    )
    assert entry.abs_url == "https://arxiv.org/abs/2611.00002v2"
    assert entry.pdf_url is None


def test_an_arxiv_entry_keeps_its_own_links_on_arxiv() -> None:
    record = paper_record(
        arxiv_id="2611.00003",
        version=1,
        title="A paper",
        abs_url="http://arxiv.org/abs/2611.00003v1",
        pdf_url="https://export.arxiv.org/pdf/2611.00003v1",
    )
    entry = parsed_entry(record)
    assert entry.abs_url == "https://arxiv.org/abs/2611.00003v1"
    assert entry.pdf_url == "https://export.arxiv.org/pdf/2611.00003v1"


def test_a_host_in_another_script_is_stored_as_what_it_is() -> None:
    # `gіthub.com` with a Cyrillic і reads as GitHub in a link's text; its IDNA form does not.
    [item] = parse_hf_daily_papers(hf_body("https://g\u0456thub.com/example/repo", GOOD[3])).items
    assert item.github_repo == "https://xn--gthub-n2e.com/example/repo"
    assert item.project_page == "https://xn--bcher-kva.example/seite"


@pytest.mark.parametrize(
    ("stored", "shown"),
    [
        ("https://github.com/example/repo", "https://github.com/example/repo"),
        ("https://g\u0456thub.com/example/repo", "https://xn--gthub-n2e.com/example/repo"),
        ("https://evil.example\\@github.com/", None),  # a row stored before the checks
        ("https://user:pw@github.com/", None),
        ("javascript:alert(1)", None),
        ("https://git\u200bhub.com/", None),
    ],
)
def test_an_email_or_page_links_only_what_the_parsers_would_store(stored: str, shown: str | None) -> None:
    assert safe_web_url(stored) == shown
