"""Hugging Face thumbnails: parsed from the recording, checked like every outside URL and held to Hugging
Face's thumbnail host, stored, and shown on the home, topic and paper pages with a sized, lazy <img>."""

from __future__ import annotations

import json
import logging
import re
from datetime import UTC, datetime
from typing import Any

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import select, update
from sqlalchemy.orm import Session, sessionmaker

from newsletter.config import Settings
from newsletter.db import session_scope
from newsletter.models import Paper
from newsletter.sources.daily_papers import parse_hf_daily_papers
from newsletter.sources.store import upsert_hf_papers
from newsletter.sources.urls import thumbnail_problem
from newsletter.web.app import create_app
from tests.factories import make_paper
from tests.recordings import hf_recording
from tests.test_sources_urls import hf_body as hf_item_with_links
from tests.web_fixtures import BASE_URL, client_fixture  # noqa: F401

CDN = "https://cdn-thumbnails.huggingface.co/social-thumbnails/papers"
GOOD_THUMBNAIL = f"{CDN}/2611.00001.png"
HOSTILE: list[Any] = [
    "javascript:alert(1)",
    "JaVaScRiPt:alert(document.cookie)//.png",
    "data:image/png;base64,iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAYAAAAfFcSJAAAADUlEQVR42mP8z8DwHwAFBQIAX8jx0gAAAABJRU5ErkJggg==",
    "data:image/svg+xml,<svg onload=alert(1)>",
    "https://user:secret@cdn-thumbnails.huggingface.co/social-thumbnails/papers/2611.00001.png",
    "https://cdn-thumbnails.huggingface.co@evil.example/social-thumbnails/papers/2611.00001.png",
    "https://evil.example/social-thumbnails/papers/2611.00001.png",
    "https://cdn-thumbnails.huggingface.co.evil.example/social-thumbnails/papers/2611.00001.png",
    "https://huggingface.co/social-thumbnails/papers/2611.00001.png",
    "http://cdn-thumbnails.huggingface.co/social-thumbnails/papers/2611.00001.png",
    "https://cdn-thumbnails.huggingface.co:8443/social-thumbnails/papers/2611.00001.png",
    "//cdn-thumbnails.huggingface.co/social-thumbnails/papers/2611.00001.png",
    f"{CDN}/2611.00001.svg",
    f"{CDN}/2611.00001.html",
    f"{CDN}/../../../admin.png",
    "https://cdn-thumbnails.huggingface.co/avatars/x.png",
    f"{GOOD_THUMBNAIL}?track=1",
    f"{GOOD_THUMBNAIL}#x",
    f"{CDN}/2611.00001.png\r\nSet-Cookie: a=b",
    f"{CDN}/2611.\u202e00001.png",
    f"{CDN}/" + "a" * 100_000 + ".png",
    f'{CDN}/x.png" onerror="alert(1)',
    ["https://cdn-thumbnails.huggingface.co/social-thumbnails/papers/2611.00001.png"],
    {"url": GOOD_THUMBNAIL},
    12345,
    True,
]


def hf_body(thumbnail: Any) -> bytes:
    [item] = json.loads(hf_item_with_links("https://github.com/example/repo", "https://example.org/"))
    item["thumbnail"] = thumbnail
    return json.dumps([item]).encode()


def test_every_paper_of_the_recorded_day_keeps_its_thumbnail() -> None:
    body = hf_recording("all-news-ai_2026-07-31/hf_daily_papers.json")
    items = parse_hf_daily_papers(body).items
    assert len(items) == len(json.loads(body)) > 0
    for item in items:
        assert item.thumbnail_url == f"{CDN}/{item.arxiv_id}.png"


@pytest.mark.parametrize("thumbnail", HOSTILE, ids=lambda value: repr(value)[:60])
def test_a_hostile_thumbnail_is_dropped_with_a_log_line_and_the_paper_kept(
    thumbnail: Any, caplog: pytest.LogCaptureFixture
) -> None:
    with caplog.at_level(logging.WARNING, logger="newsletter.sources.urls"):
        [item] = parse_hf_daily_papers(hf_body(thumbnail)).items
    assert item.arxiv_id == "2611.00001"
    assert item.thumbnail_url is None
    assert [r.getMessage() for r in caplog.records if "thumbnail dropped" in r.getMessage()]


@pytest.mark.parametrize("thumbnail", [None, "", "   "])
def test_a_missing_thumbnail_is_no_thumbnail_and_not_logged(
    thumbnail: Any, caplog: pytest.LogCaptureFixture
) -> None:
    with caplog.at_level(logging.WARNING, logger="newsletter.sources.urls"):
        [item] = parse_hf_daily_papers(hf_body(thumbnail)).items
    assert item.thumbnail_url is None
    assert caplog.records == []


def test_old_style_ids_and_every_image_kind_pass_the_check() -> None:
    for url in (f"{CDN}/astro-ph/0601001.png", f"{CDN}/2611.00001v2.jpg", f"{CDN}/2611.00001.webp"):
        assert thumbnail_problem(url) is None


def test_a_good_thumbnail_is_stored_and_a_hostile_one_never(session: Session) -> None:
    [good] = parse_hf_daily_papers(hf_body(GOOD_THUMBNAIL)).items
    upsert_hf_papers(session, [good])
    stored = session.execute(select(Paper.hf_thumbnail_url).where(Paper.arxiv_id == "2611.00001"))
    assert stored.scalar_one() == GOOD_THUMBNAIL
    for thumbnail in HOSTILE:
        [item] = parse_hf_daily_papers(hf_body(thumbnail)).items
        upsert_hf_papers(session, [item])
        stored = session.execute(select(Paper.hf_thumbnail_url).where(Paper.arxiv_id == "2611.00001"))
        assert stored.scalar_one() is None


def seed_thumbnails(factory: sessionmaker[Session]) -> None:
    with session_scope(factory) as session:
        for arxiv_id, upvotes in (("2611.00001", 30), ("2611.00002", 20)):
            paper = make_paper(
                session,
                title=f"Paper {arxiv_id} <b>bold</b>",
                topics=["Computer Vision"],
                published_at=datetime(2026, 11, 21, 9, tzinfo=UTC),
                upvotes=upvotes,
                arxiv_id=arxiv_id,
            )
            paper.hf_thumbnail_url = f"{CDN}/{arxiv_id}.png"
        make_paper(session, title="No thumbnail here", topics=["Computer Vision"], upvotes=10)


IMG = re.compile(r"<img [^>]*>")


def thumbnails_in(html: str) -> list[str]:
    return [tag for tag in IMG.findall(html) if 'class="thumb' in tag]


def test_home_topic_and_paper_pages_show_sized_lazy_thumbnails_with_alt_text(
    client: TestClient, committed_session_factory: sessionmaker[Session]
) -> None:
    seed_thumbnails(committed_session_factory)
    for path, count in (("/", 2), ("/topics/computer-vision", 2), ("/papers/2611.00001", 1)):
        page = client.get(path)
        tags = thumbnails_in(page.text)
        assert len(tags) == count, path
        for tag in tags:
            assert re.search(rf'src="{re.escape(CDN)}/2611\.0000[12]\.png"', tag)
            assert 'loading="lazy"' in tag and 'decoding="async"' in tag
            assert re.search(r'width="\d+"', tag) and re.search(r'height="\d+"', tag)
            # The title is escaped inside the alt text.
            assert 'alt="Hugging Face thumbnail of Paper 2611.0000' in tag and "&lt;b&gt;bold" in tag
        policy = page.headers["content-security-policy"]
        [img_src] = [part.strip() for part in policy.split(";") if part.strip().startswith("img-src")]
        assert img_src.split() == ["img-src", "'self'", "data:", "https://cdn-thumbnails.huggingface.co"]


def test_a_stored_thumbnail_that_fails_the_check_is_not_shown(
    client: TestClient, committed_session_factory: sessionmaker[Session]
) -> None:
    seed_thumbnails(committed_session_factory)
    with session_scope(committed_session_factory) as session:
        session.execute(
            update(Paper).where(Paper.arxiv_id == "2611.00001").values(hf_thumbnail_url="javascript:alert(1)")
        )
    assert len(thumbnails_in(client.get("/").text)) == 1
    html = client.get("/papers/2611.00001").text
    assert thumbnails_in(html) == [] and "javascript:" not in html


def test_thumbnails_turned_off_show_none(settings: Settings, committed_session_factory) -> None:
    seed_thumbnails(committed_session_factory)
    app = create_app(settings.model_copy(update={"site_thumbnails": False}), signup_answer_seconds=0)
    with TestClient(app, base_url=BASE_URL) as client:
        for path in ("/", "/topics/computer-vision", "/papers/2611.00001"):
            assert thumbnails_in(client.get(path).text) == []
