"""The public site: today's papers, filters, the paper page, the signup form on the page."""

from __future__ import annotations

import re
from datetime import UTC, datetime

from newsletter.db import session_scope
from newsletter.links import urls as links
from tests.factories import make_paper, make_subscriber
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
    assert "<strong>2</strong> papers on Saturday 21 November 2026" in html and "Latest:" not in html
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
    # The site's counts under an earlier day's heading say they are the latest day's.
    assert "Latest: <strong>2</strong> papers on Saturday 21 November 2026" in by_day
    by_search = client.get("/", params={"q": "retrieval generation"}).text
    assert "Retrieval-augmented" in by_search and "Diffusion for video" not in by_search
    assert "1 paper matches “retrieval generation”" in by_search


def test_a_topic_opens_on_its_own_newest_day(client, committed_session_factory):
    seed(committed_session_factory)
    # Graph Learning has no paper on the site's latest day (21 November): its page shows 19 November.
    for path, params in (("/topics/graph-learning", {}), ("/", {"topic": "graph-learning"})):
        html = client.get(path, params=params).text
        assert "Papers of Thursday 19 November" in html and "Older graph paper" in html, path
        assert "No papers match" not in html
        assert "Latest: <strong>2</strong> papers on Saturday 21 November 2026" in html


def test_an_unreadable_day_shows_the_latest_day_with_a_note(client, committed_session_factory):
    seed(committed_session_factory)
    page = client.get("/", params={"day": "yesterday"})
    assert page.status_code == 200
    assert "That day could not be read" in page.text and "Retrieval-augmented" in page.text


def test_the_day_menu_the_day_links_and_the_stats_count_the_same_days(client, committed_session_factory):
    seed(committed_session_factory)
    html = client.get("/").text
    assert "3 days of history" in html
    menu = html.split('id="day"')[1].split("</select>")[0]
    assert menu.count('<option value="20') == 3
    assert 'href="?day=2026-11-19" rel="prev"' in html and 'rel="next"' not in html
    older = client.get("/", params={"day": "2026-11-19"}).text
    assert 'href="?day=2026-11-21" rel="next"' in older and 'href="?day=2026-11-18" rel="prev"' in older


def test_cards_show_rank_and_only_the_signals_that_exist(client, committed_session_factory):
    with session_scope(committed_session_factory) as session:
        make_paper(
            session,
            title="Much discussed",
            topics=["NLP"],
            published_at=datetime(2026, 11, 21, 9, tzinfo=UTC),
            upvotes=40,
            arxiv_id="2611.00011",
            comments=3,
            stars=1234,
        )
        make_paper(
            session,
            title="Quiet one",
            topics=["NLP"],
            published_at=datetime(2026, 11, 21, 9, tzinfo=UTC),
            upvotes=0,
            arxiv_id="2611.00012",
        )
    papers = client.get("/").text.split('id="papers-heading"')[1]
    first, second = papers.split('<article class="card">')[1:3]
    assert "#1" in first and "40 upvotes" in first and "3 comments" in first and "1,234 GitHub stars" in first
    assert "#2" in second and "upvote" not in second and "comment" not in second and "star" not in second
    # Tags lead to the topic's own page, which names its feed.
    assert '<a href="/topics/nlp">NLP</a>' in first
    topic = client.get("/topics/nlp")
    assert topic.status_code == 200 and "Much discussed" in topic.text
    assert 'type="application/atom+xml"' in topic.text and 'href="/feeds/topics/nlp.atom"' in topic.text
    assert client.get("/topics/no-such-topic").status_code == 404


def test_the_first_screen_has_the_promise_a_sample_and_the_signup_form(client, committed_session_factory):
    seed(committed_session_factory)
    html = client.get("/").text
    hero = html.split('<div class="hero">')[1].split('id="papers-heading"')[0]
    assert "One email a day" in hero and "Top paper · 21 Nov" in hero
    assert "Retrieval-augmented generation for code" in hero and 'id="signup-form"' in hero
    # The 599-zone list is not in the page: a short menu, any zone can be typed in.
    assert html.count("<option") < 120 and 'name="timezone_other"' in html


def test_a_paper_id_with_its_version_leads_to_the_paper(client, committed_session_factory):
    seed(committed_session_factory)
    response = client.get("/papers/2611.00001v1", follow_redirects=False)
    assert response.status_code == 301 and response.headers["location"] == "/papers/2611.00001"
    assert "Retrieval-augmented" in client.get("/papers/2611.00001v3").text
    # A version in other digits is no version: one address per paper.
    assert client.get("/papers/2611.00001v\u0661", follow_redirects=False).status_code == 404
    # An old id's subject class is no part of the id (arxiv_ids.split_versioned_id, as the parsers read it).
    named = client.get("/papers/math.AG/0601001v2", follow_redirects=False)
    assert named.status_code == 301 and named.headers["location"] == "/papers/math/0601001"


def test_pages_are_compressed_and_static_files_cached_for_a_year(client, committed_session_factory):
    seed(committed_session_factory)
    page = client.get("/", headers={"accept-encoding": "gzip"})
    assert page.headers["content-encoding"] == "gzip"
    css = re.search(r'href="(/static/site\.[0-9a-f]{12}\.css)"', page.text)
    assert css is not None
    asset = client.get(css.group(1))
    assert asset.status_code == 200 and "immutable" in asset.headers["cache-control"]
    assert "max-age=31536000" in asset.headers["cache-control"]
    favicon = client.get("/favicon.ico")
    assert favicon.status_code == 200 and favicon.headers["content-type"].startswith("image/svg+xml")
    robots = client.get("/robots.txt")
    assert robots.status_code == 200 and "User-agent: *" in robots.text
    assert '<meta name="description" content="One email a day' in page.text


def test_token_pages_are_never_indexed(client, settings, committed_session_factory):
    with session_scope(committed_session_factory) as session:
        reader_id = make_subscriber(session, "reader@example.org").id
    for url in (
        links.preferences_url(settings, reader_id),
        links.unsubscribe_url(settings, reader_id),
        links.data_url(settings, reader_id),
        # A vote link's page (an unknown paper: the error page is the token's page too).
        links.vote_url(links.feedback_url(settings, reader_id), "up", "2611.99999"),
    ):
        page = client.get(url.removeprefix(settings.public_base_url))
        assert page.headers["x-robots-tag"] == "noindex, nofollow", url
        assert '<meta name="robots" content="noindex, nofollow">' in page.text
    assert "x-robots-tag" not in client.get("/").headers


def test_options_names_the_methods_each_path_serves(client):
    subscribe = client.options("/subscribe")
    assert subscribe.status_code == 204
    assert set(subscribe.headers["allow"].split(", ")) == {"GET", "HEAD", "OPTIONS", "POST"}
    assert "POST" not in client.options("/").headers["allow"]
    assert "POST" in client.options("/preferences/some-token").headers["allow"]


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
