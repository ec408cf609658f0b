"""The emailed links: unsubscribe (page and RFC 8058 one-click), preference center, archive, scanners."""

from __future__ import annotations

import json
import re
from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import select

from newsletter.db import session_scope
from newsletter.links import urls as links
from newsletter.models import ConsentEvent, Subscriber
from tests.factories import make_paper, make_subscriber
from tests.mail_factories import make_content, make_edition
from tests.web_fixtures import (
    ALICE_IP,
    BASE_URL,
    client_fixture,  # noqa: F401
    consent_actions,
    csrf_token,
    database_snapshot,
    deliveries,
    links_in,
    path,
    post_form,
    send_every_kind_of_email,
    subscriber_row,
)


@pytest.fixture
def alice_id(committed_session_factory) -> int:
    with session_scope(committed_session_factory) as session:
        return make_subscriber(session, "alice@example.org", topics=["NLP"], keywords=["retrieval"]).id


ONE_CLICK_BODIES = {
    # RFC 8058 §3.1: the POST SHOULD be multipart/form-data and MAY be urlencoded.
    "multipart": {"files": {"List-Unsubscribe": (None, "One-Click")}},
    "urlencoded": {
        "content": b"List-Unsubscribe=One-Click",
        "headers": {"content-type": "application/x-www-form-urlencoded"},
    },
    "no content type": {"content": b"List-Unsubscribe=One-Click"},
}


@pytest.mark.parametrize("encoding", sorted(ONE_CLICK_BODIES))
def test_one_click_unsubscribe_needs_no_cookie_nor_csrf_and_answers_200_without_redirect(
    settings, committed_session_factory, alice_id, encoding
):
    from fastapi.testclient import TestClient

    from newsletter.web.app import create_app

    with TestClient(create_app(settings), base_url=BASE_URL, follow_redirects=False) as bare:
        response = bare.post(
            path(links.one_click_unsubscribe_url(settings, alice_id)), **ONE_CLICK_BODIES[encoding]
        )
        assert not bare.cookies  # nothing was set up beforehand: no cookie went with the POST
    assert response.status_code == 200, response.text
    assert "location" not in response.headers
    assert subscriber_row(committed_session_factory, "alice@example.org").status == "unsubscribed"
    with session_scope(committed_session_factory) as session:
        [event] = session.execute(select(ConsentEvent)).scalars().all()
        assert (event.action, event.source, event.email) == ("unsubscribe", "one-click", "alice@example.org")
    # No goodbye email for a provider-initiated unsubscribe.
    assert deliveries(committed_session_factory, alice_id) == []


def test_one_click_without_the_rfc_8058_body_changes_nothing(
    client, settings, committed_session_factory, alice_id
):
    url = path(links.one_click_unsubscribe_url(settings, alice_id))
    for body in (
        {"content": b""},
        {"data": {"List-Unsubscribe": "Yes"}},
        {"files": {"other": (None, "One-Click")}},
        {"content": b"--x\r\nbroken", "headers": {"content-type": "multipart/form-data; boundary=x"}},
    ):
        assert client.post(url, **body).status_code == 400, body
    assert subscriber_row(committed_session_factory, "alice@example.org").status == "active"


def test_one_click_twice_is_a_quiet_success(client, settings, committed_session_factory, alice_id):
    url = path(links.one_click_unsubscribe_url(settings, alice_id))
    for _ in range(2):
        assert client.post(url, data={"List-Unsubscribe": "One-Click"}).status_code == 200
    assert consent_actions(committed_session_factory, "alice@example.org") == ["unsubscribe"]


def test_unsubscribe_page_has_a_button_and_a_way_back_and_only_post_unsubscribes(
    client, settings, committed_session_factory, alice_id
):
    url = path(links.unsubscribe_url(settings, alice_id))
    page = client.get(url)
    assert page.status_code == 200
    assert "Unsubscribe</button>" in page.text
    assert "keep my subscription" in page.text
    assert client.head(url).status_code == 200
    assert subscriber_row(committed_session_factory, "alice@example.org").status == "active"
    response = client.post(url, data={"csrf_token": csrf_token(page.text)})
    assert response.status_code == 200 and "You are unsubscribed" in response.text
    assert subscriber_row(committed_session_factory, "alice@example.org").status == "unsubscribed"
    assert deliveries(committed_session_factory, alice_id) == [("unsubscribed", "sent")]
    with session_scope(committed_session_factory) as session:
        [withdrawal] = session.execute(select(ConsentEvent)).scalars().all()
        assert (withdrawal.action, withdrawal.source, str(withdrawal.ip)) == ("unsubscribe", "web", ALICE_IP)


def test_unsubscribe_form_without_csrf_is_refused(client, settings, committed_session_factory, alice_id):
    response = client.post(path(links.unsubscribe_url(settings, alice_id)), data={})
    assert response.status_code == 403
    assert subscriber_row(committed_session_factory, "alice@example.org").status == "active"


def test_preferences_change_topics_keywords_time_and_zone(
    client, settings, committed_session_factory, alice_id
):
    url = path(links.preferences_url(settings, alice_id))
    page = client.get(url)
    assert page.status_code == 200 and "alice@example.org" in page.text
    response = post_form(
        client,
        url,
        {
            "topics": ["robotics", "Graph Learning"],
            "keywords": "agents\nmessage passing",
            "frequency": "weekly",
            "weekly_day": "4",
            "send_time": "18:15",
            "timezone": "America/New_York",
        },
        follow_redirects=False,
    )
    assert response.status_code == 303
    assert client.get(response.headers["location"]).text.count("Your preferences are saved") == 1
    with session_scope(committed_session_factory) as session:
        from newsletter.subscribers.service import subscriber_view

        view = subscriber_view(session, alice_id)
    assert view.topic_names == ["Graph Learning", "Robotics"]
    assert view.keywords == ["agents", "message passing"]
    assert (view.frequency, view.weekly_day, view.send_time.strftime("%H:%M"), view.timezone) == (
        "weekly",
        4,
        "18:15",
        "America/New_York",
    )
    assert consent_actions(committed_session_factory, "alice@example.org") == ["preferences"]


def test_preferences_with_unknown_topic_are_refused(client, settings, committed_session_factory, alice_id):
    url = path(links.preferences_url(settings, alice_id))
    response = post_form(client, url, {"topics": ["astrology"], "send_time": "07:00", "timezone": "UTC"})
    assert response.status_code == 422 and "Unknown topic" in response.text


def test_every_wrong_preference_is_said_at_once_and_nothing_is_saved(
    client, settings, committed_session_factory, alice_id
):
    url = path(links.preferences_url(settings, alice_id))
    keywords = ", ".join(f"word{index}" for index in range(25))
    response = post_form(
        client, url, {"keywords": keywords, "send_time": "7 o'clock", "timezone": "Mars/Olympus"}
    )
    assert response.status_code == 422
    for message in ("At most 20 keywords.", "Send time must look like 07:30.", "not a time zone we know"):
        assert message in response.text, message
    assert 'id="keywords-error"' in response.text and 'id="timezone-error"' in response.text
    assert subscriber_row(committed_session_factory, "alice@example.org").timezone != "Mars/Olympus"


def test_pause_and_resume(client, settings, committed_session_factory, alice_id):
    url = path(links.preferences_url(settings, alice_id))
    paused = post_form(client, url + "/pause")
    assert paused.status_code == 200
    assert subscriber_row(committed_session_factory, "alice@example.org").status == "paused"
    # The preview says nothing is sent while paused, rather than when the next email would go.
    page = client.get(url).text
    assert "Your emails are paused: nothing is sent until you resume" in page and "Next email:" not in page
    assert post_form(client, url + "/resume").status_code == 200
    assert subscriber_row(committed_session_factory, "alice@example.org").status == "active"
    assert consent_actions(committed_session_factory, "alice@example.org") == ["pause", "resume"]


def test_preferences_page_previews_the_next_edition(client, settings, committed_session_factory, alice_id):
    with session_scope(committed_session_factory) as session:
        make_paper(
            session,
            title="Retrieval heads in long-context models",
            topics=["NLP"],
            published_at=datetime.now(UTC) - timedelta(hours=3),
            upvotes=20,
        )
        make_paper(
            session,
            title="Legged robots on ice",
            topics=["Robotics"],
            published_at=datetime.now(UTC) - timedelta(hours=3),
            upvotes=50,
        )
    html = client.get(path(links.preferences_url(settings, alice_id))).text
    preview = html.split('id="preview-heading"')[1]
    assert "Retrieval heads in long-context models" in preview
    assert "Legged robots on ice" not in preview  # not in Alice's topics
    # Outside the demo the page says when the next email goes out, in the reader's zone.
    assert re.search(r"Next email: \w+day \d\d:\d\d [\w/]+, about 1 paper\.", preview)
    snapshot = database_snapshot(committed_session_factory)
    assert snapshot["deliveries"] == [] and snapshot["editions"] == 0  # nothing was built or sent


def test_export_gives_json_with_preferences_and_consent(
    client, settings, committed_session_factory, alice_id
):
    response = post_form(client, path(links.data_url(settings, alice_id)) + "/export")
    assert response.status_code == 200
    assert response.headers["content-type"].startswith("application/json")
    assert "attachment" in response.headers["content-disposition"]
    data = json.loads(response.text)
    assert data["email"] == "alice@example.org"
    assert data["preferences"]["topics"] == ["NLP"] and data["preferences"]["keywords"] == ["retrieval"]


def test_delete_erases_the_subscriber_and_keeps_the_consent_proof(
    client, settings, committed_session_factory, alice_id
):
    url = path(links.data_url(settings, alice_id))
    refused = post_form(client, url + "/delete")
    assert refused.status_code == 422
    response = post_form(client, url + "/delete", {"confirm_delete": "yes"})
    assert response.status_code == 200 and "deleted" in response.text
    assert subscriber_row(committed_session_factory, "alice@example.org") is None
    with session_scope(committed_session_factory) as session:
        events = session.execute(select(ConsentEvent)).scalars().all()
        assert [(e.action, e.subscriber_id, e.email) for e in events] == [
            ("delete", None, "alice@example.org")
        ]
    assert client.get(url).status_code == 404


def test_archive_shows_the_edition_with_its_papers(client, settings, committed_session_factory):
    with session_scope(committed_session_factory) as session:
        reader = make_subscriber(session, "reader@example.org")
        paper = make_paper(session, title="Sparse retrieval at scale", upvotes=12)
        edition_id = make_edition(session, reader, make_content(session, [paper])).id
    response = client.get(path(links.edition_url(settings, edition_id)))
    assert response.status_code == 200
    assert "Sparse retrieval at scale" in response.text
    assert client.get(path(links.edition_url(settings, edition_id + 1000))).status_code == 404
    assert client.get("/editions/not-a-token").status_code == 400


# Every kind of page an email links to; the scanners' tests check the emails really hold each.
EMAILED_PAGES = [
    r"/",
    r"/confirm/[^/]+",
    r"/preferences/[^/]+",
    r"/unsubscribe/[^/]+",
    r"/unsubscribe/[^/]+/one-click",
    r"/editions/[^/]+",
    r"/papers/[^/]+",
]


def assert_every_kind_of_page(urls: list[str]) -> None:
    paths = [path(url) for url in urls]
    for page in EMAILED_PAGES:
        assert any(re.fullmatch(page, found) for found in paths), f"no {page} link in the emails"


def test_link_scanners_get_and_head_on_every_emailed_link_change_nothing(
    client, settings, committed_session_factory
):
    sent = send_every_kind_of_email(committed_session_factory, settings)
    urls = links_in(sent.messages, BASE_URL)
    assert_every_kind_of_page(urls)
    # Every email to a subscriber (welcome and editions) carries the signed preference-center link.
    subscribed = [message for message in sent.messages if message["List-Unsubscribe"]]
    assert len(subscribed) == 3
    for message in subscribed:
        own_links = links_in([message], BASE_URL)
        assert any("/preferences/" in url for url in own_links), message["Subject"]
    before = database_snapshot(committed_session_factory)
    for url in urls:
        for method in ("GET", "HEAD"):
            response = client.request(method, path(url), follow_redirects=False)
            assert response.status_code == 200, (method, url, response.status_code)
    assert database_snapshot(committed_session_factory) == before
    with session_scope(committed_session_factory) as session:
        statuses = dict(session.execute(select(Subscriber.email, Subscriber.status)).all())
    assert statuses == {
        "scanned-pending@example.org": "pending",
        "scanned-active@example.org": "active",
        "scanned-quiet@example.org": "active",
        "scanned-gone@example.org": "unsubscribed",
    }


def test_no_get_route_writes():
    # Every route that changes state is POST-only: GET and HEAD routes never share a handler with POST.
    from newsletter.web.routes import archive, confirm, preferences, public, signup, unsubscribe

    checked = 0
    routes = [
        route
        for module in (archive, confirm, preferences, public, signup, unsubscribe)
        for route in module.router.routes
    ]
    for route in routes:
        methods = getattr(route, "methods", None) or set()
        if "GET" in methods:
            assert "POST" not in methods, route.path
            checked += 1
    assert checked >= 8


BROWSER_FORMS = ["", "/pause", "/resume", "/data-link"]


@pytest.mark.parametrize("action", BROWSER_FORMS)
def test_every_preference_center_form_refuses_a_post_without_its_csrf_token(
    client, settings, committed_session_factory, alice_id, action
):
    url = path(links.preferences_url(settings, alice_id)) + action
    client.get(path(links.preferences_url(settings, alice_id)))  # the cookie alone is not enough
    fields = {"confirm_delete": "yes", "topics": ["robotics"], "send_time": "09:00", "timezone": "UTC"}
    for data in (fields, {**fields, "csrf_token": "0" * 64}):
        assert client.post(url, data=data).status_code == 403
    alice = subscriber_row(committed_session_factory, "alice@example.org")
    assert alice is not None and alice.status == "active"
    assert consent_actions(committed_session_factory, "alice@example.org") == []


def test_every_form_post_checks_csrf_except_the_one_click_endpoint():
    from fastapi.routing import APIRoute

    from newsletter.web.csrf import require_csrf
    from newsletter.web.routes import archive, confirm, my_data, preferences, public, signup, unsubscribe

    unchecked = []
    posts = [
        route
        for module in (archive, confirm, my_data, preferences, public, signup, unsubscribe)
        for route in module.router.routes
        if isinstance(route, APIRoute) and "POST" in route.methods
    ]
    for route in posts:
        if require_csrf not in [dependency.call for dependency in route.dependant.dependencies]:
            unchecked.append(route.path)
    assert len(posts) >= 8
    assert unchecked == ["/unsubscribe/{token}/one-click"]


def test_link_actions_are_limited_per_ip(settings, committed_session_factory, redis_client, alice_id):
    from fastapi.testclient import TestClient

    from newsletter.web.app import create_app
    from newsletter.web.ratelimit import LINK_ACTIONS_PER_IP

    app = create_app(settings)
    url = path(links.preferences_url(settings, alice_id))
    with TestClient(app, base_url=BASE_URL, client=("198.51.100.50", 5000)) as busy:
        token = csrf_token(busy.get(url).text)
        for _ in range(LINK_ACTIONS_PER_IP.max_hits):
            assert busy.post(url + "/pause", data={"csrf_token": token}).status_code == 200
        for action in ("/resume", "/data-link", ""):
            blocked = busy.post(url + action, data={"csrf_token": token})
            assert blocked.status_code == 429 and "Too many" in blocked.text
        unsubscribe = path(links.unsubscribe_url(settings, alice_id))
        assert busy.post(unsubscribe, data={"csrf_token": token}).status_code == 429
        # Reading pages is not limited.
        assert busy.get(url).status_code == 200
    assert subscriber_row(committed_session_factory, "alice@example.org").status == "paused"
    with TestClient(app, base_url=BASE_URL, client=("198.51.100.51", 5000)) as other:
        assert post_form(other, url + "/resume").status_code == 200
    assert subscriber_row(committed_session_factory, "alice@example.org").status == "active"
