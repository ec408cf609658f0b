"""Atom feeds: all trending papers, one per topic, and each subscriber's private feed of editions; read
back with feedparser as a feed reader would, with conditional GETs answered 304."""

from __future__ import annotations

from datetime import UTC, datetime

import feedparser
import pytest
from lxml import etree

from newsletter.db import session_scope
from newsletter.links import urls
from newsletter.links.tokens import make_token
from newsletter.subscribers.service import pause, suppress
from tests.factories import make_paper, make_subscriber
from tests.mail_factories import make_content, make_edition
from tests.web_fixtures import client_fixture  # noqa: F401

ATOM_NS = "{http://www.w3.org/2005/Atom}"
HOSTILE_TITLE = "<script>alert(1)</script> {{x}} %%unsubscribe%% \x07\x1b \u202etxet"


def seed(factory) -> None:
    with session_scope(factory) as session:
        make_paper(
            session,
            title="Retrieval heads",
            topics=["NLP", "Large Language Models"],
            published_at=datetime(2026, 11, 21, 9, tzinfo=UTC),
            upvotes=40,
            arxiv_id="2611.00001",
        )
        make_paper(
            session,
            title=HOSTILE_TITLE,
            topics=["Computer Vision"],
            published_at=datetime(2026, 11, 20, 9, tzinfo=UTC),
            upvotes=3,
            arxiv_id="2611.00002",
        )


def parsed(body: bytes) -> feedparser.FeedParserDict:
    feed = feedparser.parse(body)
    assert not feed.bozo, feed.get("bozo_exception")
    assert feed.version == "atom10"
    # RFC 4287: a feed and each entry have an id, a title and an updated date.
    root = etree.fromstring(body)
    for element in [root, *root.iter(f"{ATOM_NS}entry")]:
        for name in ("id", "title", "updated"):
            assert element.find(f"{ATOM_NS}{name}") is not None, name
    return feed


def test_the_trending_feed_carries_title_key_point_tags_and_links(client, committed_session_factory):
    seed(committed_session_factory)
    response = client.get("/feeds/trending.atom")
    assert response.status_code == 200
    assert response.headers["content-type"].startswith("application/atom+xml")
    feed = parsed(response.content)
    first, second = feed.entries
    assert first.title == "Retrieval heads"
    assert first.summary == "One."
    assert [tag.term for tag in first.tags] == ["NLP", "Large Language Models"]
    assert first.link == "https://papers.example.org/papers/2611.00001"
    assert 'href="https://arxiv.org/abs/2611.00001"' in first.content[0].value
    # Hostile text stays text: escaped, control characters and the right-to-left override removed, never
    # markup.
    assert second.title == HOSTILE_TITLE.replace("\x07", "").replace("\x1b", "").replace("\u202e", "")
    assert b"<script>" not in response.content


def test_a_stored_title_that_filtering_empties_reads_as_the_papers_id(client, committed_session_factory):
    # Stored before noncharacters were hidden characters: the title was not empty when the feed chose it
    # over the id, and feedgen refused an entry without a title (the feed answered 500).
    with session_scope(committed_session_factory) as session:
        make_paper(session, title="\ufffe\uffff", arxiv_id="2611.00041")
        make_paper(session, title="\u202e \U000e0020\x07", arxiv_id="2611.00042")
    response = client.get("/feeds/trending.atom")
    assert response.status_code == 200
    assert sorted(entry.title for entry in parsed(response.content).entries) == ["2611.00041", "2611.00042"]


def test_each_topic_has_its_feed_and_pages_name_theirs(client, committed_session_factory):
    seed(committed_session_factory)
    feed = parsed(client.get("/feeds/topics/computer-vision.atom").content)
    assert [entry.link for entry in feed.entries] == ["https://papers.example.org/papers/2611.00002"]
    assert client.get("/feeds/topics/nothing.atom").status_code == 404
    home = client.get("/").text
    assert (
        '<link rel="alternate" type="application/atom+xml"' in home and 'href="/feeds/trending.atom"' in home
    )
    assert 'href="/feeds/topics/nlp.atom"' in client.get("/topics/nlp").text


def test_feeds_answer_conditional_requests_with_304(client, committed_session_factory):
    seed(committed_session_factory)
    first = client.get("/feeds/trending.atom")
    etag, modified = first.headers["etag"], first.headers["last-modified"]
    assert client.get("/feeds/trending.atom", headers={"if-none-match": etag}).status_code == 304
    assert client.get("/feeds/trending.atom", headers={"if-modified-since": modified}).status_code == 304
    assert client.get("/feeds/trending.atom", headers={"if-none-match": '"other"'}).status_code == 200
    old = "Mon, 01 Jan 2024 00:00:00 GMT"
    assert client.get("/feeds/trending.atom", headers={"if-modified-since": old}).status_code == 200


def test_the_private_feed_lists_the_subscribers_editions_and_its_token_reads_nothing_else(
    client, settings, committed_session_factory
):
    seed(committed_session_factory)
    with session_scope(committed_session_factory) as session:
        alice = make_subscriber(session, "alice@example.org", topics=["NLP"])
        bob = make_subscriber(session, "bob@example.org", topics=["Computer Vision"])
        paper = make_paper(session, title="Only in Alice's edition", arxiv_id="2611.00003")
        make_edition(session, alice, make_content(session, [paper]))
        alice_id, bob_id = alice.id, bob.id
    feed_url = urls.private_feed_url(settings, alice_id)
    path = feed_url.removeprefix(settings.public_base_url)
    response = client.get(path)
    assert response.status_code == 200 and response.headers["x-robots-tag"] == "noindex, nofollow"
    assert "private" in response.headers["cache-control"]
    feed = parsed(response.content)
    assert [entry.title for entry in feed.entries] == ["Only in Alice's edition"]
    assert (
        parsed(
            client.get(urls.private_feed_url(settings, bob_id).removeprefix(settings.public_base_url)).content
        ).entries
        == []
    )
    # The preference page links the feed; the feed token opens no other page.
    preferences = client.get(urls.preferences_url(settings, alice_id).removeprefix(settings.public_base_url))
    assert "/feeds/private/" in preferences.text
    token = path.removeprefix("/feeds/private/").removesuffix(".atom")
    for page in (f"/preferences/{token}", f"/unsubscribe/{token}", f"/confirm/{token}", f"/editions/{token}"):
        assert client.get(page).status_code == 400, page
    # And no other token opens the feed.
    other = make_token(settings, "preferences", alice_id)
    assert client.get(f"/feeds/private/{other}.atom").status_code == 400


@pytest.mark.parametrize("reason", ["unsubscribe", "bounce", "complaint"])
def test_the_private_feed_ends_with_the_subscription(client, settings, committed_session_factory, reason):
    with session_scope(committed_session_factory) as session:
        alice = make_subscriber(session, "alice@example.org", topics=["NLP"])
        make_edition(session, alice, make_content(session, [make_paper(session, title="Kept for Alice")]))
        alice_id = alice.id
    path = urls.private_feed_url(settings, alice_id).removeprefix(settings.public_base_url)
    assert "Kept for Alice" in client.get(path).text
    with session_scope(committed_session_factory) as session:
        pause(session, alice_id)  # mail paused, the reading goes on
    assert "Kept for Alice" in client.get(path).text
    with session_scope(committed_session_factory) as session:
        assert suppress(session, "alice@example.org", reason, "test")
    ended = client.get(path)
    assert ended.status_code == 404 and "ended with the subscription" in ended.text
    assert "Kept for Alice" not in ended.text
