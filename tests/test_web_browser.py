"""A real Chromium (the system one, driven by Playwright) against a real uvicorn server.

Sign up → read the confirmation from the file outbox → confirm → change topics → unsubscribe, with
screenshots kept under test-artifacts/web/. And a JavaScript-running link scanner that changes nothing.
"""

from __future__ import annotations

import email
import email.policy
import re
import socket
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
import uvicorn
from sqlalchemy import select

from newsletter import links
from newsletter.config import Settings
from newsletter.db import session_scope
from newsletter.models import Delivery
from newsletter.subscribers.service import find_subscriber_by_email, subscriber_view
from newsletter.web.app import create_app
from tests.factories import make_paper, make_subscriber
from tests.mail_factories import make_content, make_edition
from tests.web_fixtures import database_snapshot

CHROMIUM = Path("/usr/bin/chromium")
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]
ARTIFACTS = Path(__file__).resolve().parent.parent / "test-artifacts" / "web"
PHONE = {"width": 390, "height": 844}

pytestmark = [
    pytest.mark.browser,
    pytest.mark.skipif(
        not CHROMIUM.exists(), reason="the system chromium is not installed (apt-get install chromium)"
    ),
]


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


@pytest.fixture
def live_settings(settings: Settings) -> Settings:
    port = free_port()
    return settings.model_copy(update={"public_base_url": f"http://127.0.0.1:{port}"})


@pytest.fixture
def live_server(live_settings: Settings, committed_session_factory, redis_client) -> Iterator[str]:
    port = int(live_settings.public_base_url.rsplit(":", 1)[1])
    server = uvicorn.Server(
        uvicorn.Config(create_app(live_settings), host="127.0.0.1", port=port, log_level="warning")
    )
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    deadline = time.monotonic() + 15
    while not server.started:
        assert time.monotonic() < deadline, "uvicorn did not start"
        time.sleep(0.05)
    yield live_settings.public_base_url
    server.should_exit = True
    thread.join(timeout=10)


@pytest.fixture
def browser_page(live_server: str) -> Iterator[object]:
    from playwright.sync_api import sync_playwright

    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_ARGS)
        context = browser.new_context(viewport=PHONE, timezone_id="Europe/Berlin", is_mobile=True)
        page = context.new_page()
        page.set_default_timeout(15_000)
        yield page
        context.close()
        browser.close()


def send_latest(factory, settings: Settings, subscriber_id: int, kind: str) -> str:
    """Send the subscriber's latest `kind` delivery through the file backend; the email's text part."""
    deliver = pytest.importorskip("newsletter.mail.deliver", reason="the mail module is not there yet")
    with session_scope(factory) as session:
        delivery_id = session.execute(
            select(Delivery.id)
            .where(Delivery.subscriber_id == subscriber_id, Delivery.kind == kind)
            .order_by(Delivery.id.desc())
            .limit(1)
        ).scalar_one()
    assert deliver.deliver_transactional(factory, settings, delivery_id) == "sent"
    [eml] = sorted(settings.resolved_outbox_dir.glob(f"*-{delivery_id}.eml"))
    message = email.message_from_bytes(eml.read_bytes(), policy=email.policy.default)
    return message.get_body(("plain",)).get_content()  # type: ignore[union-attr]


def link_in(text: str, base: str, kind: str) -> str:
    match = re.search(re.escape(base) + rf"/{kind}/[A-Za-z0-9_.\-]+", text)
    assert match, f"no {kind} link in the email"
    return match.group(0)


def shot(page, name: str) -> None:
    page.screenshot(path=str(ARTIFACTS / f"{name}.png"), full_page=True)


def test_signup_confirm_change_topics_and_unsubscribe_in_a_real_browser(
    browser_page, live_server, live_settings, committed_session_factory
):
    page = browser_page
    with session_scope(committed_session_factory) as session:
        make_paper(session, title="Retrieval heads in long-context models", topics=["NLP"], upvotes=30)
    page.goto(live_server + "/")
    shot(page, "01-home")
    page.fill("#email", "walker@example.org")
    page.check("input[name=topics][value=nlp]")
    page.fill("#keywords", "retrieval")
    # The tiny script filled the zone from the browser (Europe/Berlin here).
    assert page.input_value("#timezone") == "Europe/Berlin"
    shot(page, "02-signup-filled")
    page.click("#signup-form button[type=submit]")
    page.wait_for_selector("text=Check your inbox")
    shot(page, "03-check-inbox")

    with session_scope(committed_session_factory) as session:
        walker = find_subscriber_by_email(session, "walker@example.org")
        assert walker is not None and walker.status == "pending" and walker.timezone == "Europe/Berlin"
        walker_id = walker.id
    confirmation = send_latest(committed_session_factory, live_settings, walker_id, "confirmation")
    page.goto(link_in(confirmation, live_server, "confirm"))
    shot(page, "04-confirm")
    with session_scope(committed_session_factory) as session:
        assert subscriber_view(session, walker_id).status == "pending"
    page.click("text=Confirm my subscription")
    page.wait_for_selector("text=You are subscribed")
    shot(page, "05-confirmed")

    welcome = send_latest(committed_session_factory, live_settings, walker_id, "welcome")
    page.goto(link_in(welcome, live_server, "preferences"))
    page.uncheck("input[name=topics][value=nlp]")
    page.check("input[name=topics][value=robotics]")
    page.click("#preferences-form button[type=submit]")
    page.wait_for_selector("text=Your preferences are saved")
    shot(page, "06-preferences-saved")
    with session_scope(committed_session_factory) as session:
        assert subscriber_view(session, walker_id).topic_names == ["Robotics"]

    page.goto(link_in(welcome, live_server, "unsubscribe"))
    shot(page, "07-unsubscribe")
    page.click("button:has-text('Unsubscribe')")
    page.wait_for_selector("text=You are unsubscribed")
    shot(page, "08-unsubscribed")
    with session_scope(committed_session_factory) as session:
        assert subscriber_view(session, walker_id).status == "unsubscribed"


def test_a_javascript_running_link_scanner_changes_nothing(
    browser_page, live_server, live_settings, committed_session_factory
):
    with session_scope(committed_session_factory) as session:
        pending = make_subscriber(session, "scanned-pending@example.org", status="pending")
        active = make_subscriber(session, "scanned-active@example.org")
        edition_id = make_edition(session, active, make_content(session, [make_paper(session)])).id
        ids = [pending.id, active.id]
    before = database_snapshot(committed_session_factory)
    for subscriber_id in ids:
        for url in (
            links.confirm_url(live_settings, subscriber_id),
            links.preferences_url(live_settings, subscriber_id),
            links.unsubscribe_url(live_settings, subscriber_id),
            links.one_click_unsubscribe_url(live_settings, subscriber_id),
            links.edition_url(live_settings, edition_id),
        ):
            response = browser_page.goto(url, wait_until="networkidle")
            assert response is not None and response.status == 200, url
    assert database_snapshot(committed_session_factory) == before
