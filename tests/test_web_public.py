"""The public site: today's papers, filters, the paper page, the signup form on the page."""

from __future__ import annotations

from datetime import UTC, datetime

from newsletter.db import session_scope
from tests.factories import make_paper
from tests.web_fixtures import client_fixture  # noqa: F401


def seed(factory) -> None:
    with session_scope(factory) as session:
        make_paper(
            session,
            title="Retrieval-augmented generation for code",
            topics=["Large Language Models"],
            published_at=datetime(2026, 11, 21, 9, tzinfo=UTC),
            upvotes=40,
            arxiv_id="2611.00001",
        )
        make_paper(
            session,
            title="Diffusion for video editing",
            topics=["Computer Vision"],
            published_at=datetime(2026, 11, 21, 10, tzinfo=UTC),
            upvotes=12,
            arxiv_id="2611.00002",
        )
        make_paper(
            session,
            title="Older graph paper",
            topics=["Graph Learning"],
            published_at=datetime(2026, 11, 19, 10, tzinfo=UTC),
            arxiv_id="2611.00003",
        )
        make_paper(
            session,
            title="An old-style identifier",
            topics=["Theory"],
            published_at=datetime(2026, 11, 18, 10, tzinfo=UTC),
            arxiv_id="math/0601001",
        )


def test_home_shows_the_latest_day_with_counts_and_the_signup_form(client, committed_session_factory):
    seed(committed_session_factory)
    html = client.get("/").text
    assert "<strong>2</strong> papers on Saturday 21 November 2026" in html
    assert "updated every 8 hours" in html and "3 days of history" in html
    assert "Retrieval-augmented generation for code" in html and "Older graph paper" not in html
    assert "One." in html  # key points
    assert 'href="/papers/2611.00001"' in html
    assert 'name="email"' in html and 'value="computer-vision"' in html
    assert html.index("Retrieval-augmented") < html.index("Diffusion for video")


def test_filters_by_topic_day_and_keyword(client, committed_session_factory):
    seed(committed_session_factory)
    by_topic = client.get("/", params={"topic": "computer-vision"}).text
    assert "Diffusion for video" in by_topic and "Retrieval-augmented" not in by_topic
    by_day = client.get("/", params={"day": "2026-11-19"}).text
    assert "Older graph paper" in by_day and "Diffusion for video" not in by_day
    by_search = client.get("/", params={"q": "retrieval generation"}).text
    assert "Retrieval-augmented" in by_search and "Diffusion for video" not in by_search
    assert client.get("/", params={"day": "yesterday"}).status_code == 422


def test_paper_page_shows_the_structured_summary_and_links(client, committed_session_factory):
    seed(committed_session_factory)
    html = client.get("/papers/2611.00001").text
    for fragment in (
        "Key points",
        "A summary.",
        "A method.",
        "Some results.",
        "Some implications.",
        "https://arxiv.org/abs/2611.00001",
        "https://arxiv.org/pdf/2611.00001",
        "Hugging Face",
    ):
        assert fragment in html
    assert client.get("/papers/math%2F0601001").status_code == 200
    assert client.get("/papers/9999.99999").status_code == 404


def test_head_on_public_pages_works(client, committed_session_factory):
    seed(committed_session_factory)
    assert client.head("/").status_code == 200
    assert client.head("/papers/2611.00001").status_code == 200


def test_home_says_today_when_the_latest_papers_are_from_today(client, committed_session_factory):
    with session_scope(committed_session_factory) as session:
        for number in range(3):
            make_paper(session, title=f"Fresh paper {number}", published_at=datetime.now(UTC))
    today = datetime.now(UTC).date()
    assert f"<strong>3</strong> papers today {today.strftime('%A %-d %B %Y')}" in client.get("/").text


def test_paper_page_links_the_code_and_the_project_page(client, committed_session_factory):
    with session_scope(committed_session_factory) as session:
        paper = make_paper(session, arxiv_id="2611.00042", upvotes=3)
        paper.github_repo = "https://github.com/example/retrieval-heads"
        paper.project_page = "https://example.org/retrieval-heads"
    html = client.get("/papers/2611.00042").text
    assert '<a href="https://github.com/example/retrieval-heads" rel="noopener noreferrer">Code</a>' in html
    assert '<a href="https://example.org/retrieval-heads" rel="noopener noreferrer">Project page</a>' in html
    assert 'href="https://huggingface.co/papers/2611.00042"' in html


def test_card_read_more_leads_to_the_paper_page(client, committed_session_factory):
    seed(committed_session_factory)
    home = client.get("/", params={"day": "2026-11-21"}).text
    assert 'href="/papers/2611.00002">Read more' in home
    assert "Diffusion for video editing" in client.get("/papers/2611.00002").text
