"""The first ten minutes, as a newcomer lives them: `newsletter demo --port P` served, the system Chromium
driven by Playwright (it never downloads a browser), and no mail client — the demo's Outbox page shows
what the demo sent, with links that point at the port it serves on."""

from __future__ import annotations

import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path
from typing import Any
from unittest import mock

import feedparser
import httpx
import pytest
from sqlalchemy.orm import Session, sessionmaker

from newsletter.db import session_scope
from newsletter.links import urls
from newsletter.links.tokens import make_token
from newsletter.subscribers.service import find_subscriber_by_email
from tests.browser_fixtures import ARTIFACTS, NEEDS_CHROMIUM
from tests.mail_factories import free_port

pytestmark = [pytest.mark.browser, pytest.mark.slow, NEEDS_CHROMIUM]
DESKTOP = {"width": 1280, "height": 800}
PHONE = {"width": 390, "height": 844}
SHORT_PHONE = {"width": 375, "height": 812}
DEMO_START_TIMEOUT_S = 240
EMAIL_TIMEOUT_S = 30


@pytest.fixture
def served_demo(
    child_environment: dict[str, str], committed_session_factory: sessionmaker[Session], tmp_path: Path
) -> Iterator[str]:
    """`newsletter demo --port P` with no public base URL configured, as a newcomer runs it."""
    port = free_port()
    environment = {k: v for k, v in child_environment.items() if k != "NEWSLETTER_PUBLIC_BASE_URL"}
    log_path = tmp_path / "demo.log"
    with log_path.open("wb") as log:
        demo = subprocess.Popen(
            [sys.executable, "-m", "newsletter.cli", "demo", "--port", str(port)],
            env=environment,
            stdout=log,
            stderr=subprocess.STDOUT,
        )
        base = f"http://127.0.0.1:{port}"
        deadline = time.monotonic() + DEMO_START_TIMEOUT_S
        while True:
            assert demo.poll() is None, log_path.read_text(errors="replace")
            assert time.monotonic() < deadline, "the demo never served the site"
            try:
                if httpx.get(base + "/healthz", timeout=2).status_code < 500:
                    break
            except httpx.TransportError:
                time.sleep(0.5)
        try:
            yield base
        finally:
            demo.send_signal(signal.SIGINT)
            try:
                demo.wait(timeout=30)
            except subprocess.TimeoutExpired:
                demo.kill()
    output = log_path.read_text(errors="replace")
    assert "Traceback" not in output, output


@pytest.fixture
def browser(served_demo: str, chromium: Any) -> Any:
    return chromium


def new_page(browser: Any, viewport: dict[str, int], **options: Any) -> Any:
    context = browser.new_context(viewport=viewport, timezone_id="Europe/Berlin", **options)
    page = context.new_page()
    page.set_default_timeout(15_000)
    return page


def shot(page: Any, name: str) -> None:
    page.screenshot(path=str(ARTIFACTS / f"demo-{name}.png"), full_page=True)


def open_newest_email(page: Any, base: str, subject_part: str, to: str) -> None:
    """The Outbox page, polled until the email arrives (the worker sends it), then the email itself."""
    deadline = time.monotonic() + EMAIL_TIMEOUT_S
    while True:
        page.goto(base + "/outbox")
        entry = page.locator("ol.outbox li", has_text=to).filter(has_text=subject_part)
        if entry.count():
            entry.first.get_by_role("link").click()
            return
        assert time.monotonic() < deadline, f"no email '{subject_part}' to {to} in the demo's outbox"
        time.sleep(0.5)


def test_a_newcomer_signs_up_confirms_from_the_demo_outbox_and_changes_topics(browser, served_demo):
    base = served_demo
    page = new_page(browser, DESKTOP)
    page.goto(base + "/")
    # Every page's header leads to the Outbox in the demo.
    assert page.get_by_role("navigation").get_by_role("link", name="Outbox").is_visible()
    page.get_by_role("navigation").get_by_role("link", name="Subscribe").click()
    page.get_by_label("Email address").fill("newcomer@example.org")
    page.get_by_label("NLP", exact=True).check()
    page.get_by_role("button", name="Subscribe").click()
    page.get_by_role("heading", name="Check your inbox").wait_for()

    open_newest_email(page, base, "Confirm your subscription", "newcomer@example.org")
    shot(page, "confirmation-email")
    # The emailed link points at the port the demo serves on (no public base URL was configured).
    confirm_link = page.locator('a[href*="/confirm/"]:not([target])').first
    assert confirm_link.get_attribute("href").startswith(base + "/confirm/")
    confirm_link.click()
    page.get_by_role("button", name="Confirm my subscription").click()
    page.get_by_role("heading", name="You are subscribed").wait_for()
    # The confirm page's link is forwardable, so it offers no preferences link: the welcome email does.
    open_newest_email(page, base, "Welcome to", "newcomer@example.org")
    page.locator('a[href*="/preferences/"]:not([target])').first.click()
    page.get_by_role("heading", name="Your preferences").wait_for()
    assert "Active" in page.locator("main").inner_text()

    page.get_by_label("Large Language Models").check()
    page.get_by_role("button", name="Save preferences").click()
    page.get_by_text("Your preferences are saved").wait_for()
    preview = page.locator("section", has=page.get_by_role("heading", name="Preview of your next email"))
    # The preview runs on the demo's clock: the sample's papers, never an empty list.
    assert "As of the demo's day" in preview.inner_text()
    assert preview.locator("article.card").count() > 0
    shot(page, "preferences")

    # The welcome email arrived as well, and its preference link works.
    open_newest_email(page, base, "Welcome", "newcomer@example.org")
    page.locator('a[href*="/preferences/"]').first.click()
    page.get_by_role("heading", name="Your preferences").wait_for()


def test_an_active_address_gets_a_manage_email_and_an_expired_link_offers_a_new_one(
    browser, served_demo, settings, committed_session_factory
):
    base = served_demo
    page = new_page(browser, PHONE, is_mobile=True)
    # ada is one of the demo's confirmed readers: signing up again changes nothing, and she is told how
    # to manage her subscription (the page says what it says to anyone).
    page.goto(base + "/subscribe")
    page.get_by_label("Email address").fill("ada@demo.example")
    page.get_by_label("NLP", exact=True).check()
    page.get_by_role("button", name="Subscribe").click()
    page.get_by_role("heading", name="Check your inbox").wait_for()
    open_newest_email(page, base, "Manage your", "ada@demo.example")
    shot(page, "manage-email")
    page.locator('a[href*="/preferences/"]').first.click()
    page.get_by_role("heading", name="Your preferences").wait_for()

    page.goto(base + "/subscribe")
    page.get_by_label("Email address").fill("late@example.org")
    page.get_by_label("Robotics").check()
    page.get_by_role("button", name="Subscribe").click()
    page.get_by_role("heading", name="Check your inbox").wait_for()
    with session_scope(committed_session_factory) as session:
        late = find_subscriber_by_email(session, "late@example.org")
        assert late is not None
        late_id = late.id
    # A confirmation link signed eight days ago, as the demo signs them.
    eight_days_ago = time.time() - timedelta(days=8).total_seconds()
    with mock.patch("time.time", return_value=eight_days_ago):
        expired_link = f"{base}/confirm/{make_token(settings, 'confirm', late_id)}"
    page.goto(expired_link)
    page.get_by_role("heading", name="This confirmation link has expired").wait_for()
    shot(page, "expired-link")
    page.get_by_role("button", name="Send me a new link").click()
    page.get_by_role("heading", name="Check your inbox").wait_for()
    # Two confirmations reach the outbox: the first signup's and the new one; the newest confirms.
    deadline = time.monotonic() + EMAIL_TIMEOUT_S
    while True:
        page.goto(base + "/outbox")
        entries = page.locator("ol.outbox li", has_text="late@example.org")
        if entries.count() >= 2:
            break
        assert time.monotonic() < deadline, "no second confirmation in the outbox"
        time.sleep(0.5)
    entries.first.get_by_role("link").click()
    page.locator('a[href*="/confirm/"]:not([target])').first.click()
    page.get_by_role("button", name="Confirm my subscription").click()
    page.get_by_role("heading", name="You are subscribed").wait_for()


def test_the_signup_form_is_in_the_first_screen_pages_pass_axe_and_feeds_parse(
    browser, served_demo, settings, committed_session_factory
):
    from axe_playwright_python.sync_playwright import Axe

    base = served_demo
    for viewport in (DESKTOP, PHONE):
        page = new_page(browser, viewport)
        page.goto(base + "/")
        # Without scrolling: the promise, the sample, the email field and the button.
        for element in (
            page.get_by_role("heading", level=1),
            page.locator(".sample"),
            page.get_by_label("Email address"),
            page.locator("#signup-form").get_by_role("button", name="Subscribe"),
        ):
            box = element.bounding_box()
            assert box is not None and box["y"] >= 0 and box["y"] + box["height"] <= viewport["height"], (
                viewport,
                box,
            )
        assert page.evaluate("window.scrollY") == 0
    # A shorter phone (375 × 812) holds the promise and the whole form; the sample goes below the form.
    page = new_page(browser, SHORT_PHONE)
    page.goto(base + "/")
    for element in (
        page.get_by_label("Email address"),
        page.locator("#signup-form").get_by_role("button", name="Subscribe"),
    ):
        box = element.bounding_box()
        assert box is not None and box["y"] + box["height"] <= SHORT_PHONE["height"], box
    sample, form = page.locator(".sample").bounding_box(), page.locator("#signup-form").bounding_box()
    assert sample is not None and form is not None and sample["y"] > form["y"]

    with session_scope(committed_session_factory) as session:
        ada = find_subscriber_by_email(session, "ada@demo.example")
        assert ada is not None
        ada_id = ada.id
    demo_settings = settings.model_copy(update={"public_base_url": base})
    paper_path = page.locator(".papers article.card h3 a").first.get_attribute("href")
    pages = {
        "home": base + "/",
        "paper": base + paper_path,
        "topic": base + "/topics/nlp",
        "signup": base + "/subscribe",
        "preferences": urls.preferences_url(demo_settings, ada_id),
        "outbox": base + "/outbox",
    }
    for viewport, scheme in ((DESKTOP, "light"), (PHONE, "dark")):
        themed = new_page(browser, viewport, color_scheme=scheme)
        for name, url in pages.items():
            themed.goto(url)
            results = Axe().run(themed)
            assert results.violations_count == 0, (name, scheme, results.generate_report())
        themed.context.close()

    for path in ("/feeds/trending.atom", "/feeds/topics/nlp.atom"):
        response = page.request.get(base + path)
        feed = feedparser.parse(response.body())
        assert response.status == 200 and not feed.bozo and feed.version == "atom10", path
        assert feed.entries and all(entry.title and entry.link for entry in feed.entries), path
    private = page.request.get(urls.private_feed_url(demo_settings, ada_id))
    feed = feedparser.parse(private.body())
    assert private.status == 200 and not feed.bozo and feed.version == "atom10"
    # ada's demo edition went out: her feed lists its papers.
    assert feed.entries
