"""A real Chromium (the system one, driven by Playwright; it never downloads a browser) against a real
uvicorn server, with a real Celery worker process sending the emails to the file outbox.

Sign up → read the confirmation from the outbox → confirm → change topics → unsubscribe; signing up
without JavaScript; labels, landmarks, contrast and fit on a phone; and a JavaScript-running link
scanner that opens every link of every kind of email and changes nothing. Screenshots are kept in
test-artifacts/web/ (ignored by git; each test records the folder as its `screenshots` property).
"""

from __future__ import annotations

import email
import email.policy
import re
import subprocess
import sys
import time
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from email.message import EmailMessage
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker

from newsletter.config import Settings
from newsletter.db import session_scope
from newsletter.links import urls as links
from newsletter.models import Delivery
from newsletter.subscribers.service import find_subscriber_by_email, subscriber_view

# CHROMIUM and CHROMIUM_ARGS stay importable from here for the browser tests that import them so.
from tests.browser_fixtures import ARTIFACTS, CHROMIUM, CHROMIUM_ARGS, NEEDS_CHROMIUM  # noqa: F401
from tests.factories import make_paper, make_subscriber
from tests.mail_factories import free_port, make_content, make_edition
from tests.web_fixtures import database_snapshot, links_in, send_every_kind_of_email, served

PHONE = {"width": 390, "height": 844}
EMAIL_TIMEOUT_S = 60

pytestmark = [pytest.mark.browser, NEEDS_CHROMIUM]

# WCAG 2.1 contrast of every visible piece of text against the first opaque background behind it:
# 4.5:1, or 3:1 for large text. Returns the failures.
CONTRAST_FAILURES_JS = """
() => {
  const parse = (value) => {
    const match = value.match(/rgba?\\(([^)]+)\\)/);
    if (!match) return null;
    const parts = match[1].split(",").map((part) => parseFloat(part));
    return { r: parts[0], g: parts[1], b: parts[2], a: parts.length > 3 ? parts[3] : 1 };
  };
  const channel = (v) => { v /= 255; return v <= 0.03928 ? v / 12.92 : Math.pow((v + 0.055) / 1.055, 2.4); };
  const luminance = (c) => 0.2126 * channel(c.r) + 0.7152 * channel(c.g) + 0.0722 * channel(c.b);
  const background = (element) => {
    for (let e = element; e; e = e.parentElement) {
      const color = parse(getComputedStyle(e).backgroundColor);
      if (color && color.a > 0.5) return color;
    }
    return { r: 255, g: 255, b: 255, a: 1 };
  };
  const failures = [];
  const walker = document.createTreeWalker(document.body, NodeFilter.SHOW_TEXT);
  while (walker.nextNode()) {
    const text = walker.currentNode.textContent.trim();
    const element = walker.currentNode.parentElement;
    const rect = element.getBoundingClientRect();
    const style = getComputedStyle(element);
    if (!text || rect.width <= 1 || rect.height <= 1 || style.visibility === "hidden") continue;
    const fg = luminance(parse(style.color));
    const bg = luminance(background(element));
    const ratio = (Math.max(fg, bg) + 0.05) / (Math.min(fg, bg) + 0.05);
    const size = parseFloat(style.fontSize);
    const isLarge = size >= 24 || (parseInt(style.fontWeight, 10) >= 700 && size >= 18.66);
    if (ratio < (isLarge ? 3 : 4.5)) failures.push(`${text.slice(0, 40)}: ${ratio.toFixed(2)}`);
  }
  return failures;
}
"""
UNLABELLED_CONTROLS_JS = """
() => Array.from(document.querySelectorAll("input, select, textarea"))
  .filter((el) => el.type !== "hidden" && !el.closest('[aria-hidden="true"]'))
  .filter((el) => !(el.labels && el.labels.length) && !el.getAttribute("aria-label"))
  .map((el) => el.name || el.id)
"""
SMALL_TAP_TARGETS_JS = """
() => Array.from(document.querySelectorAll(
    "button, input[type=email], input[type=search], input[type=text], input[type=time], select"))
  .filter((el) => !el.closest('[aria-hidden="true"]'))
  .filter((el) => el.getClientRects().length > 0)  // not rendered (a hidden field) is no target
  .filter((el) => el.getBoundingClientRect().height < 44)
  .map((el) => el.name || el.id || el.textContent.trim())
"""


@pytest.fixture
def live_settings(settings: Settings) -> Settings:
    return settings.model_copy(update={"public_base_url": f"http://127.0.0.1:{free_port()}"})


@pytest.fixture
def live_server(
    live_settings: Settings, committed_session_factory: sessionmaker[Session], redis_client: Any
) -> Iterator[str]:
    with served(live_settings) as base_url:
        yield base_url


@pytest.fixture
def mail_worker(
    live_settings: Settings,
    child_environment: dict[str, str],
    committed_session_factory: sessionmaker[Session],
    tmp_path: Path,
) -> Iterator[None]:
    """`newsletter worker`, consuming what the web requests enqueue (its links point at the live server)."""
    log_path = tmp_path / "worker.log"
    environment = {**child_environment, "NEWSLETTER_PUBLIC_BASE_URL": live_settings.public_base_url}
    with log_path.open("wb") as log:
        worker = subprocess.Popen(
            [sys.executable, "-m", "newsletter.cli", "worker", "--concurrency", "1", "--loglevel", "WARNING"],
            env=environment,
            stdout=log,
            stderr=subprocess.STDOUT,
        )
        try:
            yield
        finally:
            worker.terminate()
            worker.wait(timeout=30)
    output = log_path.read_text(errors="replace")
    assert "Traceback" not in output, output


@pytest.fixture
def browser(live_server: str, chromium: Any) -> Any:
    return chromium


@pytest.fixture
def page(browser: Any) -> Iterator[Any]:
    context = browser.new_context(viewport=PHONE, timezone_id="Europe/Berlin", is_mobile=True)
    tab = context.new_page()
    tab.set_default_timeout(15_000)
    yield tab
    context.close()


def shot(page: Any, name: str) -> None:
    page.screenshot(path=str(ARTIFACTS / f"{name}.png"), full_page=True)


def wait_for_email(
    factory: sessionmaker[Session], outbox: Path, subscriber_id: int, kind: str
) -> EmailMessage:
    """The `kind` email the worker sent to the subscriber, read back from the file outbox."""
    deadline = time.monotonic() + EMAIL_TIMEOUT_S
    while True:
        with session_scope(factory) as session:
            row = session.execute(
                select(Delivery.id, Delivery.state)
                .where(Delivery.subscriber_id == subscriber_id, Delivery.kind == kind)
                .order_by(Delivery.id.desc())
                .limit(1)
            ).one_or_none()
        if row is not None and row.state == "sent":
            [path] = outbox.glob(f"*-{row.id}.eml")
            return email.message_from_bytes(path.read_bytes(), policy=email.policy.default)  # type: ignore[return-value]
        assert time.monotonic() < deadline, f"no {kind} email sent (delivery {row})"
        time.sleep(0.2)


def link_of(message: EmailMessage, base: str, kind: str) -> str:
    part = message.get_body(("plain",))
    assert part is not None
    match = re.search(re.escape(base) + rf"/{kind}/[A-Za-z0-9_.\-]+", part.get_content())
    assert match, f"no {kind} link in the email"
    return match.group(0)


def test_signup_confirm_change_topics_and_unsubscribe_in_a_real_browser(
    page, live_server, live_settings, committed_session_factory, mail_worker
):
    outbox = live_settings.resolved_outbox_dir
    with session_scope(committed_session_factory) as session:
        make_paper(
            session,
            title="Retrieval heads in long-context models",
            topics=["NLP"],
            published_at=datetime.now(UTC) - timedelta(hours=2),
            upvotes=30,
        )
    page.goto(live_server + "/")
    assert page.get_by_role("heading", name="Retrieval heads in long-context models").is_visible()
    shot(page, "01-home")
    page.get_by_label("Email address").fill("walker@example.org")
    page.get_by_label("NLP").check()
    # Schedule, zone and keywords sit behind one disclosure on the home page, so the form fits a screen.
    page.get_by_text("Schedule, time zone, keywords").click()
    page.get_by_label("Keyword alerts").fill("retrieval")
    # The small script set the zone from the browser (Europe/Berlin here); it stays editable.
    assert page.get_by_label("Time zone").input_value() == "Europe/Berlin"
    shot(page, "02-signup-filled")
    page.get_by_role("button", name="Subscribe").click()
    page.get_by_role("heading", name="Check your inbox").wait_for()
    shot(page, "03-check-inbox")

    with session_scope(committed_session_factory) as session:
        walker = find_subscriber_by_email(session, "walker@example.org")
        assert walker is not None and walker.status == "pending" and walker.timezone == "Europe/Berlin"
        walker_id = walker.id
    # The request only queued it: the worker process sent it.
    confirmation = wait_for_email(committed_session_factory, outbox, walker_id, "confirmation")
    assert confirmation["To"] == "walker@example.org"
    page.goto(link_of(confirmation, live_server, "confirm"))
    shot(page, "04-confirm")
    with session_scope(committed_session_factory) as session:
        assert subscriber_view(session, walker_id).status == "pending"  # opening the link did nothing
    page.get_by_role("button", name="Confirm my subscription").click()
    page.get_by_role("heading", name="You are subscribed").wait_for()
    shot(page, "05-confirmed")

    welcome = wait_for_email(committed_session_factory, outbox, walker_id, "welcome")
    page.goto(link_of(welcome, live_server, "preferences"))
    preview = page.locator("section", has=page.get_by_role("heading", name="Preview of your next email"))
    assert "Retrieval heads in long-context models" in preview.inner_text()
    shot(page, "06-preferences")
    page.get_by_label("NLP").uncheck()
    page.get_by_label("Robotics").check()
    page.get_by_role("button", name="Save preferences").click()
    page.get_by_text("Your preferences are saved").wait_for()
    shot(page, "07-preferences-saved")
    with session_scope(committed_session_factory) as session:
        assert subscriber_view(session, walker_id).topic_names == ["Robotics"]

    unsubscribe_link = link_of(welcome, live_server, "unsubscribe")
    page.goto(unsubscribe_link)
    shot(page, "08-unsubscribe")
    # A way back: to the site (the page's link is forwardable: it leads to no account page), nothing changed.
    page.get_by_role("link", name="No, keep my subscription").click()
    page.wait_for_url(live_server + "/")
    with session_scope(committed_session_factory) as session:
        assert subscriber_view(session, walker_id).status == "active"
    page.goto(unsubscribe_link)
    page.get_by_role("button", name="Unsubscribe").click()
    page.get_by_role("heading", name="You are unsubscribed").wait_for()
    shot(page, "09-unsubscribed")
    with session_scope(committed_session_factory) as session:
        assert subscriber_view(session, walker_id).status == "unsubscribed"
    goodbye = wait_for_email(committed_session_factory, outbox, walker_id, "unsubscribed")
    assert goodbye["To"] == "walker@example.org"


def test_signup_without_javascript_works_and_defaults_the_zone_to_utc(
    browser, live_server, committed_session_factory
):
    context = browser.new_context(viewport=PHONE, timezone_id="Asia/Tokyo", java_script_enabled=False)
    page = context.new_page()
    page.goto(live_server + "/")
    assert page.get_by_label("Time zone").input_value() == "UTC"
    page.get_by_label("Email address").fill("plain@example.org")
    page.get_by_label("Computer Vision").check()
    page.get_by_text("Schedule, time zone, keywords").click()
    page.get_by_role("radio", name="Weekly").check()
    page.get_by_label("Send time").fill("18:30")
    page.get_by_role("button", name="Subscribe").click()
    page.get_by_role("heading", name="Check your inbox").wait_for()
    shot(page, "10-no-javascript-check-inbox")
    context.close()
    with session_scope(committed_session_factory) as session:
        plain = find_subscriber_by_email(session, "plain@example.org")
        assert plain is not None
        view = subscriber_view(session, plain.id)
    assert (view.status, view.timezone, view.frequency, view.send_time.strftime("%H:%M")) == (
        "pending",
        "UTC",
        "weekly",
        "18:30",
    )
    assert view.topic_names == ["Computer Vision"]


def test_every_page_has_labels_landmarks_contrast_and_fits_a_phone(
    page, live_server, live_settings, committed_session_factory
):
    with session_scope(committed_session_factory) as session:
        paper = make_paper(session, title="A paper with a long title " * 4, upvotes=8, arxiv_id="2611.04242")
        pending = make_subscriber(session, "a11y-pending@example.org", status="pending")
        active = make_subscriber(session, "a11y-active@example.org", keywords=["retrieval"])
        edition_id = make_edition(session, active, make_content(session, [paper])).id
        pending_id, active_id = pending.id, active.id
    pages = {
        "home": live_server + "/",
        "paper": live_server + "/papers/2611.04242",
        "subscribe": live_server + "/subscribe",
        "confirm": links.confirm_url(live_settings, pending_id),
        "preferences": links.preferences_url(live_settings, active_id),
        "unsubscribe": links.unsubscribe_url(live_settings, active_id),
        "edition": links.edition_url(live_settings, edition_id),
        "not-found": live_server + "/no-such-page",
    }
    for name, url in pages.items():
        page.goto(url)
        shot(page, f"a11y-{name}")
        assert page.evaluate("document.documentElement.lang") == "en", name
        for role in ("banner", "main", "contentinfo", "navigation"):
            assert page.get_by_role(role).count() == 1, (name, role)
        assert page.locator("h1").count() == 1, name
        assert page.evaluate(UNLABELLED_CONTROLS_JS) == [], name
        assert page.evaluate(CONTRAST_FAILURES_JS) == [], name
        assert page.evaluate(SMALL_TAP_TARGETS_JS) == [], name
        # Nothing wider than the phone: no sideways scrolling.
        assert page.evaluate("document.documentElement.scrollWidth <= window.innerWidth"), name
        # The first Tab reaches the skip link, which leads to the main content.
        page.keyboard.press("Tab")
        assert page.evaluate("document.activeElement.getAttribute('href')") == "#main", name


# A 2×1 PNG: what the CDN answers for the thumbnail that loads.
TWO_BY_ONE_PNG = bytes.fromhex(
    "89504e470d0a1a0a0000000d49484452000000020000000108020000007b40e8dd0000000d49444154789c63f8cf"
    "0004ff01070001ffe2239e590000000049454e44ae426082"
)
THUMBNAIL_CDN = "https://cdn-thumbnails.huggingface.co/social-thumbnails/papers"


def test_thumbnails_load_from_the_cdn_and_one_that_fails_keeps_its_box(
    page, live_server, committed_session_factory
):
    with session_scope(committed_session_factory) as session:
        for arxiv_id, upvotes in (("2611.07001", 30), ("2611.07002", 20)):
            paper = make_paper(session, title=f"Thumbnail {arxiv_id}", upvotes=upvotes, arxiv_id=arxiv_id)
            paper.hf_thumbnail_url = f"{THUMBNAIL_CDN}/{arxiv_id}.png"
    refused: list[str] = []
    page.on(
        "console",
        lambda message: refused.append(message.text) if "Content Security" in message.text else None,
    )
    # No network here: the CDN answers through Playwright, one image served, the other failing.
    page.route(
        f"{THUMBNAIL_CDN}/2611.07001.png",
        lambda route: route.fulfill(body=TWO_BY_ONE_PNG, content_type="image/png"),
    )
    page.route(f"{THUMBNAIL_CDN}/2611.07002.png", lambda route: route.abort("connectionfailed"))
    for path in ("/", "/papers/2611.07001"):
        page.goto(live_server + path)
        thumbnails = page.locator("img.thumb")
        for index in range(thumbnails.count()):
            thumbnails.nth(index).scroll_into_view_if_needed()
        page.wait_for_function(
            "() => Array.from(document.querySelectorAll('img.thumb')).every((img) => img.complete)"
        )
        shot(page, f"thumbnails{path.replace('/', '-')}")
        boxes = page.evaluate(
            """() => Array.from(document.querySelectorAll('img.thumb')).map((img) => ({
                src: img.getAttribute('src'), loaded: img.naturalWidth > 0,
                width: img.getBoundingClientRect().width, height: img.getBoundingClientRect().height}))"""
        )
        assert boxes, path
        for box in boxes:
            assert box["loaded"] == box["src"].endswith("2611.07001.png"), box
            # Loaded or not, the box is the size the page reserved for it.
            assert box["width"] > 50 and abs(box["width"] / box["height"] - 120 / 63) < 0.05, box
    assert refused == []


def test_a_javascript_running_link_scanner_changes_nothing_but_through_vote_links(
    page, live_server, live_settings, committed_session_factory
):
    sent = send_every_kind_of_email(committed_session_factory, live_settings)
    # A vote link's page submits its vote by script, so that a reader needs no second tap: a scanner
    # that runs scripts votes through it (docs/security.md). Every other link changes nothing.
    urls = [url for url in links_in(sent.messages, live_server) if "/feedback/" not in url]
    opened = {re.sub(r"/(confirm|preferences|unsubscribe|editions)/[^/]+", r"/\1/TOKEN", url) for url in urls}
    assert {
        live_server + path
        for path in (
            "/",
            "/confirm/TOKEN",
            "/preferences/TOKEN",
            "/unsubscribe/TOKEN",
            "/unsubscribe/TOKEN/one-click",
            "/editions/TOKEN",
        )
    } <= opened
    before = database_snapshot(committed_session_factory)
    for url in urls:
        response = page.goto(url, wait_until="networkidle")
        assert response is not None and response.status == 200, url
    assert database_snapshot(committed_session_factory) == before
