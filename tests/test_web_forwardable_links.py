"""A link printed in an email body is forwarded: it must never grant more than reading.

The edition ("view in browser"), unsubscribe and confirm pages mint no preferences, data or delete
link; downloading or deleting the data needs a fresh link emailed to the address on request, valid for
`data_link_hours`; edition links expire after `edition_link_days` with a page that points to the
public archive. Only the clock is moved.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from datetime import timedelta

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker

from newsletter.config import Settings
from newsletter.db import session_scope
from newsletter.links import urls as links
from newsletter.mail.transactional import deliver_transactional
from newsletter.models import Delivery, EditionItem, Subscriber
from newsletter.web.ratelimit import DATA_LINKS_PER_SUBSCRIBER
from tests.factories import make_paper, make_subscriber
from tests.mail_factories import EDITION_DAY, make_content, make_edition
from tests.web_fixtures import (
    BASE_URL,
    client_fixture,  # noqa: F401
    csrf_token,
    database_snapshot,
    deliveries,
    path,
    post_form,
    read_outbox,
    subscriber_row,
)

# Anything that would let the holder change the subscription or reach the data.
CAPABILITY = re.compile(r"/(preferences|my-data)/|/export\b|/delete\b|/data-link\b")


@pytest.fixture
def people(committed_session_factory: sessionmaker[Session]) -> dict[str, int]:
    with session_scope(committed_session_factory) as session:
        alice = make_subscriber(session, "alice@example.org")
        bob = make_subscriber(session, "bob@example.org", status="pending")
        paper = make_paper(session, title="Sparse retrieval at scale", upvotes=12)
        edition = make_edition(session, alice, make_content(session, [paper]))
        return {"alice": alice.id, "bob": bob.id, "edition": edition.id}


def assert_no_capability(html: str) -> None:
    found = CAPABILITY.findall(html)
    assert not found, found


def test_the_edition_page_shows_the_papers_and_no_account_link(
    client: TestClient, settings: Settings, people: dict[str, int]
) -> None:
    page = client.get(path(links.edition_url(settings, people["edition"])))
    assert page.status_code == 200 and "Sparse retrieval at scale" in page.text
    assert_no_capability(page.text)


def test_the_edition_page_does_not_name_the_papers_the_reader_liked(
    client: TestClient, settings: Settings, committed_session_factory: sessionmaker[Session]
) -> None:
    with session_scope(committed_session_factory) as session:
        reader = make_subscriber(session, "carol@example.org")
        papers = [make_paper(session, title=f"Pick {index}") for index in range(3)]
        content = make_content(session, papers)
        reasons = [
            "Like 2 papers you liked, e.g. “A private liked paper”",
            "Like “Another private liked paper”, a paper you liked",
        ]
        items = session.scalars(
            select(EditionItem).where(EditionItem.content_id == content.id).order_by(EditionItem.rank)
        )
        for item, reason in zip(items, reasons, strict=False):
            item.reason = reason
        edition_id = make_edition(session, reader, content).id
    page = client.get(path(links.edition_url(settings, edition_id)))
    assert page.status_code == 200 and "Pick 2" in page.text
    assert "Like 2 papers you liked" in page.text and "Like a paper you liked" in page.text
    assert "private liked paper" not in page.text
    assert "NLP · keyword “retrieval”" in page.text  # other reasons as they are


def test_an_edition_link_of_a_deleted_subscription_says_so_without_ids(
    client: TestClient,
    settings: Settings,
    people: dict[str, int],
    committed_session_factory: sessionmaker[Session],
) -> None:
    with session_scope(committed_session_factory) as session:
        session.delete(session.get_one(Subscriber, people["alice"]))
    page = client.get(path(links.edition_url(settings, people["edition"])))
    assert page.status_code == 404 and "This edition is no longer kept" in page.text
    assert f"edition {people['edition']}" not in page.text


def test_the_unsubscribe_page_and_its_result_mint_no_account_link(
    client: TestClient, settings: Settings, people: dict[str, int]
) -> None:
    url = path(links.unsubscribe_url(settings, people["alice"]))
    for page in (client.get(url), client.get(url + "/one-click")):
        assert page.status_code == 200 and "Unsubscribe</button>" in page.text
        assert_no_capability(page.text)
    done = post_form(client, url)
    assert done.status_code == 200 and "You are unsubscribed" in done.text
    assert_no_capability(done.text)
    assert_no_capability(client.get(url).text)


def test_the_confirm_page_and_its_result_mint_no_account_link(
    client: TestClient, settings: Settings, people: dict[str, int]
) -> None:
    url = path(links.confirm_url(settings, people["bob"]))
    assert_no_capability(client.get(url).text)
    done = post_form(client, url)
    assert done.status_code == 200 and "You are subscribed" in done.text
    # When the first email comes, in the subscriber's own zone.
    assert re.search(r"Your first email arrives on \w+day \d{1,2} \w+ at \d\d:\d\d \([\w/+-]+\)\.", done.text)
    assert_no_capability(done.text)
    # Opened again once active ("you are already subscribed"): still nothing.
    assert_no_capability(client.get(url).text)


def test_the_preferences_link_cannot_download_or_delete(
    client: TestClient,
    settings: Settings,
    committed_session_factory: sessionmaker[Session],
    people: dict[str, int],
) -> None:
    url = path(links.preferences_url(settings, people["alice"]))
    page = client.get(url)
    assert page.status_code == 200
    assert 'action="' + url + '/export"' not in page.text and 'action="' + url + '/delete"' not in page.text
    before = database_snapshot(committed_session_factory)
    token = csrf_token(page.text)
    for action, fields in (("/export", {}), ("/delete", {"confirm_delete": "yes"})):
        response = client.post(url + action, data={"csrf_token": token, **fields})
        assert response.status_code in (404, 405), (action, response.status_code)
        assert "alice@example.org" not in response.text
    assert database_snapshot(committed_session_factory) == before


def test_a_data_link_is_emailed_on_request_and_downloads_and_deletes(
    client: TestClient,
    settings: Settings,
    committed_session_factory: sessionmaker[Session],
    people: dict[str, int],
) -> None:
    preferences = path(links.preferences_url(settings, people["alice"]))
    asked = post_form(client, preferences + "/data-link", follow_redirects=False)
    assert asked.status_code == 303
    assert "emailed you a link" in client.get(asked.headers["location"]).text
    # No worker consumes the mail queue here: the web process sent it after answering, once.
    assert deliveries(committed_session_factory, people["alice"]) == [("data_link", "sent")]
    with session_scope(committed_session_factory) as session:
        delivery_id = session.query(Delivery.id).filter(Delivery.kind == "data_link").scalar()
    assert deliver_transactional(committed_session_factory, settings, delivery_id) == "sent"
    [message] = read_outbox(settings.resolved_outbox_dir)
    assert message["To"] == "alice@example.org" and "List-Unsubscribe" not in message
    text = message.get_body(("plain",)).get_content()  # type: ignore[union-attr]
    [data_link] = re.findall(re.escape(BASE_URL) + r"/my-data/[A-Za-z0-9_.-]+", text)
    assert "24 hours" in text
    export = post_form(client, path(data_link) + "/export")
    assert export.status_code == 200 and export.json()["email"] == "alice@example.org"
    # Without the tick: the same page again, saying what is missing, and nothing deleted.
    unticked = post_form(client, path(data_link) + "/delete")
    assert unticked.status_code == 422 and "Tick the box to confirm" in unticked.text
    assert 'action="' + path(data_link) + '/delete"' in unticked.text
    assert subscriber_row(committed_session_factory, "alice@example.org") is not None
    deleted = post_form(client, path(data_link) + "/delete", {"confirm_delete": "yes"})
    assert deleted.status_code == 200 and "deleted" in deleted.text
    assert subscriber_row(committed_session_factory, "alice@example.org") is None


def test_data_links_are_limited_per_subscriber(
    client: TestClient,
    settings: Settings,
    committed_session_factory: sessionmaker[Session],
    people: dict[str, int],
) -> None:
    preferences = path(links.preferences_url(settings, people["alice"]))
    for _ in range(DATA_LINKS_PER_SUBSCRIBER.max_hits):
        assert post_form(client, preferences + "/data-link", follow_redirects=False).status_code == 303
    refused = post_form(client, preferences + "/data-link", follow_redirects=False)
    assert refused.status_code == 429
    assert len(deliveries(committed_session_factory, people["alice"])) == DATA_LINKS_PER_SUBSCRIBER.max_hits


@pytest.mark.parametrize("hours", [24.0, 2.0])
def test_a_data_link_expires_after_the_configured_hours(
    settings: Settings,
    committed_session_factory: sessionmaker[Session],
    people: dict[str, int],
    clock: Callable[[timedelta], None],
    hours: float,
) -> None:
    configured = settings.model_copy(update={"data_link_hours": hours})
    data_link = path(links.data_url(configured, people["alice"]))
    with TestClient(_app(configured), base_url=BASE_URL) as client:
        clock(timedelta(hours=hours) - timedelta(minutes=1))
        assert client.get(data_link).status_code == 200
        clock(timedelta(hours=hours) + timedelta(minutes=1))
        expired = client.get(data_link)
        assert expired.status_code == 400 and "expired" in expired.text
        assert post_form_status(client, data_link + "/delete") == 400
    assert subscriber_row(committed_session_factory, "alice@example.org") is not None


def post_form_status(client: TestClient, url: str) -> int:
    token = csrf_token(client.get("/subscribe").text)
    return client.post(url, data={"csrf_token": token, "confirm_delete": "yes"}).status_code


def _app(settings: Settings):  # type: ignore[no-untyped-def]
    from newsletter.web.app import create_app

    return create_app(settings, signup_answer_seconds=0)


@pytest.mark.parametrize("days", [90.0, 7.0])
def test_an_edition_link_expires_to_a_page_pointing_at_the_archive(
    settings: Settings, people: dict[str, int], clock: Callable[[timedelta], None], days: float
) -> None:
    configured = settings.model_copy(update={"edition_link_days": days})
    url = path(links.edition_url(configured, people["edition"]))
    with TestClient(_app(configured), base_url=BASE_URL) as client:
        clock(timedelta(days=days) - timedelta(hours=1))
        assert "Sparse retrieval at scale" in client.get(url).text
        clock(timedelta(days=days) + timedelta(hours=1))
        expired = client.get(url)
    assert expired.status_code == 200
    assert "This link has expired" in expired.text
    assert f'href="/?day={EDITION_DAY.isoformat()}"' in expired.text
    assert_no_capability(expired.text)


def test_edition_links_last_ninety_days_and_data_links_a_day_by_default() -> None:
    fields = Settings.model_fields
    assert (fields["edition_link_days"].default, fields["data_link_hours"].default) == (90.0, 24.0)
