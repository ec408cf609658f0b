"""The bundled sample feed and the replay server, through the real HTTP clients and parsers."""

from __future__ import annotations

import json
import tempfile
from collections.abc import Iterator
from datetime import UTC, date, datetime, time
from pathlib import Path

import httpx
import pytest

from newsletter.plaintext.characters import normalise_text
from newsletter.plaintext.latex import latex_to_text
from newsletter.sources.arxiv import ArxivClient
from newsletter.sources.hf import HfClient
from newsletter.sources.parse import parse_arxiv_feed
from newsletter.sources.ratelimit import SharedRateLimiter
from newsletter.sources.replay import ReplayServer, start_replay_server
from newsletter.sources.samplefeed import (
    SAMPLE_FEED_DIR,
    SAMPLE_TODAY,
    TLDRS_FILE,
    build_sample_feed,
    load_sample_daily_papers,
    load_sample_papers,
    load_tldrs,
    synthesise_feed,
    write_sample_feed,
)
from newsletter.sources.wireformat import render_atom_entry, render_atom_feed
from newsletter.summaries.guard import unsupported_numbers
from tests.recordings import shared_redis

CORPUS = Path(__file__).resolve().parent / "fixtures" / "corpus" / "papers.json"
SINCE, UNTIL = date(2026, 11, 15), date(2026, 11, 19)


@pytest.fixture(scope="module")
def server() -> Iterator[ReplayServer]:
    with start_replay_server() as running:
        yield running


@pytest.fixture
def arxiv(server: ReplayServer) -> Iterator[ArxivClient]:
    with shared_redis() as (client, prefix), httpx.Client(timeout=10) as http:
        yield ArxivClient(
            http, server.base_url, SharedRateLimiter(client, prefix, min_interval_s=0.001), page_size=40
        )


def in_window(moment: datetime) -> bool:
    return datetime.combine(SINCE, time.min, UTC) <= moment <= datetime.combine(UNTIL, time.max, UTC)


def test_replay_serves_a_category_window_through_the_real_client(arxiv: ArxivClient) -> None:
    papers = [paper for page in arxiv.fetch_window("cs.CL", SINCE, UNTIL) for paper in page.entries]

    expected = {
        paper.arxiv_id
        for paper in load_sample_papers()
        if "cs.CL" in paper.categories and (in_window(paper.published) or in_window(paper.updated))
    }
    assert len(expected) > 40, "the window should need more than one page of 40"
    assert {paper.arxiv_id for paper in papers} == expected
    assert len(papers) == len(expected)
    assert arxiv.requests_made == len(expected) // 40 + 1


def test_replay_window_includes_replaced_versions_submitted_earlier(arxiv: ArxivClient) -> None:
    papers = [paper for page in arxiv.fetch_window("cs.LG", SINCE, UNTIL) for paper in page.entries]
    replaced = [paper for paper in papers if paper.version > 1]
    assert replaced, "the sample feed has v2 papers"
    assert all(paper.published.date() < SINCE and in_window(paper.updated) for paper in replaced)


def test_replay_answers_nothing_outside_the_sample_window(arxiv: ArxivClient) -> None:
    assert list(arxiv.fetch_window("cs.LG", date(2025, 1, 1), date(2025, 1, 2))) == []
    assert arxiv.requests_made == 1


def test_replay_answers_id_lists(arxiv: ArxivClient) -> None:
    wanted = [paper.arxiv_id for paper in load_sample_papers()[:3]]
    page = arxiv.fetch_ids(wanted)
    assert sorted(paper.arxiv_id for paper in page.entries) == sorted(wanted)


def test_replay_serves_daily_papers_through_the_real_client(server: ReplayServer) -> None:
    shipped = load_sample_daily_papers()
    day = max(shipped, key=lambda featured: len(shipped[featured]))
    with httpx.Client(timeout=10) as http:
        client = HfClient(http, server.base_url, page_size=5)
        items = [item for page in client.fetch_day(day) for item in page.items]
        assert [item.arxiv_id for item in items] == [entry["paper"]["id"] for entry in shipped[day]]
        assert all(item.featured_date == day for item in items)
        assert client.requests_made == len(items) // 5 + 1
        assert [item for page in client.fetch_day(date(2020, 1, 1)) for item in page.items] == []


def test_replay_answers_unknown_paths_with_404() -> None:
    server, base_url = start_replay_server()
    try:
        assert httpx.get(f"{base_url}/api/nothing-here").status_code == 404
        assert [request.path for request in server.requests] == ["/api/nothing-here"]
    finally:
        server.stop()


def test_sample_feed_has_what_the_demo_needs() -> None:
    papers = load_sample_papers()
    daily = load_sample_daily_papers()
    arxiv_ids = [paper.arxiv_id for paper in papers]
    featured = {entry["paper"]["id"]: featured_on for featured_on, items in daily.items() for entry in items}

    assert len(arxiv_ids) == len(set(arxiv_ids)) > 200
    assert all(arxiv_id.startswith("2611.") for arxiv_id in arxiv_ids)
    assert {"cs.LG", "cs.CL", "cs.CV", "cs.AI", "stat.ML"} <= {
        c for paper in papers for c in paper.categories
    }
    assert any(paper.version == 2 for paper in papers)
    assert set(featured) - set(arxiv_ids), "some papers are known only from Hugging Face"
    assert any(entry["paper"].get("githubRepo") for items in daily.values() for entry in items)
    published = {paper.arxiv_id: paper.updated.date() for paper in papers}
    assert all(
        featured_on >= published[arxiv_id]
        for arxiv_id, featured_on in featured.items()
        if arxiv_id in published
    )
    assert max(daily) <= SAMPLE_TODAY


def test_sample_feed_builder_reproduces_the_shipped_files() -> None:
    corpus = json.loads(CORPUS.read_text(encoding="utf-8"))
    with tempfile.TemporaryDirectory() as directory:
        written = write_sample_feed(
            build_sample_feed(corpus, load_tldrs(CORPUS.with_name(TLDRS_FILE))), Path(directory)
        )
        for path in written:
            shipped = SAMPLE_FEED_DIR / path.relative_to(directory)
            assert path.read_bytes() == shipped.read_bytes(), f"{shipped} is stale: rebuild the sample feed"


def test_atom_writer_round_trips_through_the_parser() -> None:
    papers = load_sample_papers()[:50]
    body = render_atom_feed(
        [render_atom_entry(paper) for paper in papers],
        search_query="cat:cs.LG",
        start=0,
        max_results=50,
        total_results=50,
        generated_at=datetime(2026, 11, 20, tzinfo=UTC),
    )
    assert parse_arxiv_feed(body).entries == papers


def test_synthesised_benchmark_feed_parses_to_distinct_papers() -> None:
    corpus = [{"title": paper.title, "abstract": paper.abstract} for paper in load_sample_papers()]
    page = parse_arxiv_feed(synthesise_feed(corpus, 1_000))
    assert len({paper.arxiv_id for paper in page.entries}) == 1_000
    assert page.rejections == []


def test_the_sample_feeds_tldrs_are_one_line_summaries_not_the_abstracts_first_sentence() -> None:
    corpus = {item["title"]: item for item in json.loads(CORPUS.read_text(encoding="utf-8"))}
    featured = {title for title, item in corpus.items() if isinstance(item.get("upvotes"), int)}
    tldrs = load_tldrs(CORPUS.with_name(TLDRS_FILE))
    daily = load_sample_daily_papers()
    shipped = {
        item["paper"]["title"]: item["paper"]["ai_summary"] for items in daily.values() for item in items
    }
    by_shown_title = {normalise_text(title): tldr for title, tldr in tldrs.items()}

    assert set(tldrs) == featured
    assert len(shipped) == len(featured)
    assert shipped == {title: by_shown_title[title] for title in shipped}
    for title, tldr in tldrs.items():
        abstract = latex_to_text(corpus[title]["abstract"])
        first_sentence = abstract.split(". ")[0]
        assert "\n" not in tldr and 40 <= len(tldr) <= 220, title
        assert not tldr.startswith(first_sentence[:60]), title
        # Facts from the paper: no number its title and abstract do not state.
        assert unsupported_numbers(tldr, f"{latex_to_text(title)} {abstract}") == [], title
