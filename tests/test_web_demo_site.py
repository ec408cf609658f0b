"""The site as the demo serves it: the Outbox page (demo only), previews on the demo clock, and links
that point at the port the site is served on."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
import redis
from fastapi.testclient import TestClient
from sqlalchemy.orm import Session, sessionmaker

from newsletter.config import Settings
from newsletter.db import session_scope
from newsletter.demo import FIRST_DEMO_NOW, LAST_DEMO_NOW, DayDelivered, DemoClock, DemoSite
from newsletter.links import urls as links
from newsletter.mail.transactional import create_transactional_delivery, deliver_transactional
from newsletter.web.app import create_app
from tests.factories import make_paper, make_subscriber
from tests.test_web_links import path
from tests.web_fixtures import BASE_URL, client_fixture, csrf_token  # noqa: F401


@pytest.fixture
def demo_client(
    settings: Settings, committed_session_factory: sessionmaker[Session], redis_client: redis.Redis
) -> Iterator[TestClient]:
    app = create_app(settings, signup_answer_seconds=0, demo=DemoSite(DemoClock()))
    with TestClient(app, base_url=BASE_URL) as test_client:
        yield test_client


@pytest.fixture
def last_day_client(
    settings: Settings, committed_session_factory: sessionmaker[Session], redis_client: redis.Redis
) -> Iterator[TestClient]:
    app = create_app(settings, signup_answer_seconds=0, demo=DemoSite(DemoClock(now=LAST_DEMO_NOW)))
    with TestClient(app, base_url=BASE_URL) as test_client:
        yield test_client


def send_confirmation(factory: sessionmaker[Session], settings: Settings, email: str) -> None:
    with session_scope(factory) as session:
        subscriber = make_subscriber(session, email, status="pending")
        delivery_id = create_transactional_delivery(session, subscriber.id, "confirmation")
    deliver_transactional(factory, settings, delivery_id)


def test_the_outbox_lists_sent_emails_newest_first_and_shows_each_with_its_links(
    demo_client, settings, committed_session_factory
):
    send_confirmation(committed_session_factory, settings, "first@example.org")
    send_confirmation(committed_session_factory, settings, "second@example.org")
    page = demo_client.get("/outbox")
    assert page.status_code == 200
    assert 'href="/outbox"' in page.text  # the header link
    assert page.text.index("second@example.org") < page.text.index("first@example.org")
    newest = page.text.split('<ol class="outbox">')[1].split('href="')[1].split('"')[0]
    email_page = demo_client.get(newest)
    assert email_page.status_code == 200
    assert f"{settings.public_base_url}/confirm/" in email_page.text
    # The email's own inline styles are allowed there; scripts still are not.
    policy = email_page.headers["content-security-policy"]
    assert "style-src 'unsafe-inline'" in policy and "script-src" not in policy
    assert "default-src 'none'" in policy


@pytest.mark.parametrize("name", ["..%2F..%2Fetc%2Fpasswd", "x.eml", "20261121T120000000000Z-1.eml"])
def test_the_outbox_serves_only_the_files_it_wrote(demo_client, name):
    assert demo_client.get(f"/outbox/{name}").status_code == 404


def test_the_outbox_exists_only_in_the_demo(client):
    assert client.get("/outbox").status_code == 404
    assert 'href="/outbox"' not in client.get("/").text
    token = csrf_token(client.get("/subscribe").text)
    assert client.post("/outbox/next-day", data={"csrf_token": token}).status_code == 404


def test_tomorrow_is_delivered_only_by_a_form_post_and_only_while_the_worker_runs(demo_client):
    site = demo_client.app.state.demo
    page = demo_client.get("/outbox")
    assert "The demo's day: 19 Nov 2026" in page.text
    # Without the demo's worker (this site was not started by `newsletter demo`) there is no button.
    assert "Deliver tomorrow's editions" not in page.text
    assert demo_client.get("/outbox/next-day").status_code == 404  # a GET changes nothing
    assert demo_client.head("/outbox/next-day").status_code == 404
    assert demo_client.post("/outbox/next-day").status_code == 403  # no CSRF token
    token = csrf_token(demo_client.get("/subscribe").text)
    assert demo_client.post("/outbox/next-day", data={"csrf_token": token}).status_code == 404
    assert site.clock.now == FIRST_DEMO_NOW


def test_past_the_samples_last_day_the_outbox_says_there_is_no_further_day(last_day_client):
    site = last_day_client.app.state.demo
    assert site.clock.next_day is None
    page = last_day_client.get("/outbox")
    assert "The demo's day: 20 Nov 2026" in page.text
    assert "Deliver tomorrow's editions" not in page.text
    assert "there is no further day with new papers" in page.text
    token = csrf_token(last_day_client.get("/subscribe").text)
    answer = last_day_client.post("/outbox/next-day", data={"csrf_token": token}, follow_redirects=False)
    assert answer.status_code == 303 and answer.headers["location"] == "/outbox?last_day=true"
    assert "there is no further day with new papers" in last_day_client.get(answer.headers["location"]).text
    assert site.clock.now == LAST_DEMO_NOW


def test_the_demo_clock_moves_one_day_at_a_time_within_the_sample():
    clock = DemoClock()
    delivered = clock.advance(lambda now: DayDelivered(now, editions=0, emails=0))
    assert delivered is not None and delivered.moment == LAST_DEMO_NOW == clock.now
    assert clock.next_day is None
    assert clock.advance(lambda now: DayDelivered(now, editions=0, emails=0)) is None
    assert clock.now == LAST_DEMO_NOW


def test_the_demo_preview_uses_the_demo_clock(demo_client, settings, committed_session_factory):
    with session_scope(committed_session_factory) as session:
        make_paper(
            session,
            title="Paper of the demo day",
            topics=["NLP"],
            published_at=FIRST_DEMO_NOW.replace(hour=3),
            upvotes=12,
        )
        reader = make_subscriber(session, "reader@example.org", topics=["NLP"])
        reader_id = reader.id
    html = demo_client.get(path(links.preferences_url(settings, reader_id))).text
    preview = html.split('id="preview-heading"')[1]
    assert "Paper of the demo day" in preview and "As of the demo's day, Thursday 19 November" in preview


def test_a_port_given_on_the_command_line_is_used_unless_a_base_url_is_configured(monkeypatch):
    monkeypatch.delenv("NEWSLETTER_PUBLIC_BASE_URL", raising=False)
    unset = Settings(_env_file=None)  # type: ignore[call-arg]
    assert unset.served_on(8123).public_base_url == "http://127.0.0.1:8123"
    configured = Settings(_env_file=None, public_base_url="https://papers.example.org")  # type: ignore[call-arg]
    assert configured.served_on(8123).public_base_url == "https://papers.example.org"
