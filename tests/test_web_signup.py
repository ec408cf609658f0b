"""Signup and confirmation over HTTP, on the real app with real Postgres and Redis."""

from __future__ import annotations

import re
import time
from datetime import timedelta
from unittest import mock

import pytest

from newsletter.db import session_scope
from newsletter.links import urls as links
from tests.factories import make_subscriber
from tests.web_fixtures import (
    BASE_URL,
    client_fixture,  # noqa: F401
    closed_port,
    consent_actions,
    csrf_token,
    deliveries,
    path,
    post_form,
    post_signup,
    signup_fields,
    subscriber_row,
)

pytestmark = pytest.mark.usefixtures("client")


def test_the_answer_shows_the_address_as_typed_and_a_likely_typo(client, committed_session_factory):
    typo = post_signup(client, "dana.reader@gmial.com")
    assert "If <strong>dana.reader@gmial.com</strong> can subscribe" in typo.text
    assert "Did you mean <strong>dana.reader@gmail.com</strong>?" in typo.text
    # Its link opens the form with that address filled in.
    assert 'href="/subscribe?email=dana.reader%40gmail.com"' in typo.text
    again = client.get("/subscribe", params={"email": "dana.reader@gmail.com"}).text
    assert (
        'name="email" type="email" autocomplete="email" required maxlength="254" value="dana.reader@gmail.com"'
        in again
    )
    right = post_signup(client, "erin@example.org")
    assert (
        "If <strong>erin@example.org</strong> can subscribe" in right.text
        and "Did you mean" not in right.text
    )


def test_signup_creates_a_pending_subscriber_and_a_confirmation_delivery(client, committed_session_factory):
    response = post_signup(client, "Alice@Example.org")
    assert response.status_code == 200
    assert "Check your inbox" in response.text
    alice = subscriber_row(committed_session_factory, "alice@example.org")
    assert alice is not None and alice.status == "pending"
    assert alice.timezone == "Europe/Berlin" and alice.send_time.strftime("%H:%M") == "07:30"
    # No worker consumes the mail queue here: the web process sent it once the answer was out.
    assert deliveries(committed_session_factory, alice.id) == [("confirmation", "sent")]
    assert consent_actions(committed_session_factory, "Alice@example.org") == ["signup"]


def test_signup_answer_is_identical_for_new_active_and_unsubscribed_addresses(
    client, committed_session_factory
):
    with session_scope(committed_session_factory) as session:
        make_subscriber(session, "active@example.org", status="active")
        make_subscriber(session, "gone@example.org", status="unsubscribed")
    bodies = {
        email: post_signup(client, email)
        for email in ("new@example.org", "active@example.org", "gone@example.org")
    }
    assert {response.status_code for response in bodies.values()} == {200}
    # The same page but for the address as typed, shown back to whoever typed it.
    texts = {
        email: response.text.split("<main")[1].replace(email, "ADDRESS") for email, response in bodies.items()
    }
    assert (
        len(set(texts.values())) == 1
        and "If <strong>ADDRESS</strong> can subscribe" in texts["new@example.org"]
    )
    active = subscriber_row(committed_session_factory, "active@example.org")
    assert active.status == "active"
    # Unchanged, but told how to manage the subscription (the answer above was the same).
    assert deliveries(committed_session_factory, active.id) == [("manage", "sent")]


@pytest.mark.parametrize(
    "refused",
    [{"topics": [], "keywords": ""}, {"timezone": "Mars/Olympus"}, {"topics": ["no-such-topic"]}],
)
def test_a_refused_form_gets_the_same_answer_whatever_the_address_has_been(
    client, committed_session_factory, refused
):
    # A form refused for one address and accepted for another would tell whoever sent it which
    # addresses were ever subscribed (a former subscriber's form once restored their old topics).
    states = ("active", "pending", "paused", "unsubscribed", "bounced", "complained")
    with session_scope(committed_session_factory) as session:
        for status in states:
            make_subscriber(session, f"{status}@example.org", status=status, topics=["NLP"])
    answers = {
        email: post_signup(client, email, **refused)
        for email in ("new@example.org", *(f"{status}@example.org" for status in states))
    }
    assert {response.status_code for response in answers.values()} == {422}
    texts = {
        # The page's CSRF token is masked afresh in every answer.
        email: re.sub(r'name="csrf_token" value="[^"]+"', "", response.text.split("<main")[1]).replace(
            email, "ADDRESS"
        )
        for email, response in answers.items()
    }
    assert len(set(texts.values())) == 1
    assert subscriber_row(committed_session_factory, "new@example.org") is None
    for status in states:
        assert subscriber_row(committed_session_factory, f"{status}@example.org").status == status


def test_signup_answers_take_the_same_time_whatever_the_address_state(
    settings, committed_session_factory, redis_client
):
    from fastapi.testclient import TestClient

    from newsletter.web.app import create_app
    from newsletter.web.routes.signup import SIGNUP_ANSWER_SECONDS

    with session_scope(committed_session_factory) as session:
        for status in ("pending", "active", "paused", "unsubscribed", "bounced"):
            make_subscriber(session, f"{status}@example.org", status=status)
    addresses = ["new@example.org"] + [
        f"{status}@example.org" for status in ("pending", "active", "paused", "unsubscribed", "bounced")
    ]
    elapsed, bodies = {}, set()
    with TestClient(create_app(settings), base_url="https://papers.example.org") as timed:
        token = csrf_token(timed.get("/subscribe").text)
        for address in addresses:
            started = time.perf_counter()
            response = timed.post("/subscribe", data={**signup_fields(address), "csrf_token": token})
            elapsed[address] = time.perf_counter() - started
            assert response.status_code == 200
            bodies.add(response.text.replace(address, "ADDRESS"))
    assert len(bodies) == 1
    # The work differed (a confirmation for some, a "manage your subscription" email for the
    # subscribed); the time it took did not show.
    sent = {
        address: [
            kind
            for kind, _ in deliveries(
                committed_session_factory, subscriber_row(committed_session_factory, address).id
            )
        ]
        for address in addresses
    }
    assert sent == {
        address: ["manage"] if address.split("@")[0] in ("active", "paused") else ["confirmation"]
        for address in addresses
    }
    assert all(seconds >= SIGNUP_ANSWER_SECONDS for seconds in elapsed.values()), elapsed


@pytest.mark.parametrize("status", ["unsubscribed", "bounced", "complained"])
def test_signup_again_after_suppression_needs_a_fresh_confirmation(client, committed_session_factory, status):
    with session_scope(committed_session_factory) as session:
        subscriber_id = make_subscriber(session, "back@example.org", status=status).id
    post_signup(client, "back@example.org")
    row = subscriber_row(committed_session_factory, "back@example.org")
    assert row.status == "pending"
    assert deliveries(committed_session_factory, subscriber_id) == [("confirmation", "sent")]


def test_confirmation_page_get_and_head_change_nothing_and_post_activates(
    client, settings, committed_session_factory
):
    post_signup(client, "bob@example.org")
    bob = subscriber_row(committed_session_factory, "bob@example.org")
    confirm_path = path(links.confirm_url(settings, bob.id))
    page = client.get(confirm_path)
    assert page.status_code == 200 and "Confirm my subscription" in page.text
    assert client.head(confirm_path).status_code == 200
    assert subscriber_row(committed_session_factory, "bob@example.org").status == "pending"

    response = client.post(confirm_path, data={"csrf_token": csrf_token(page.text)})
    assert response.status_code == 200 and "You are subscribed" in response.text
    bob = subscriber_row(committed_session_factory, "bob@example.org")
    assert bob.status == "active" and bob.confirmed_at is not None
    assert deliveries(committed_session_factory, bob.id) == [
        ("confirmation", "sent"),
        ("welcome", "sent"),
    ]
    assert consent_actions(committed_session_factory, "bob@example.org") == ["signup", "confirm"]
    # The link may be used again until it expires: a second POST is a no-op success.
    again = client.post(confirm_path, data={"csrf_token": csrf_token(page.text)})
    assert again.status_code == 200 and "already subscribed" in again.text
    assert len(deliveries(committed_session_factory, bob.id)) == 2


def test_a_confirmation_link_from_before_a_re_signup_does_not_confirm_it(
    client, settings, committed_session_factory
):
    with session_scope(committed_session_factory) as session:
        ivy_id = make_subscriber(session, "ivy@example.org", status="active").id
    real_time = time.time
    # Ivy's first confirmation email, a day before she unsubscribed and signed up again.
    with mock.patch("time.time", return_value=real_time() - 86400):
        old_link = path(links.confirm_url(settings, ivy_id))
    post_form(client, path(links.unsubscribe_url(settings, ivy_id)))
    old_page = client.get(old_link)
    assert "This link no longer works" in old_page.text and "Confirm my subscription" not in old_page.text
    post_signup(client, "ivy@example.org")
    assert subscriber_row(committed_session_factory, "ivy@example.org").status == "pending"

    old_page = client.get(old_link)
    assert old_page.status_code == 200 and "This link was replaced" in old_page.text
    assert "Confirm my subscription" not in old_page.text
    # Someone who kept the old page's address posts to it anyway.
    refused = client.post(old_link, data={"csrf_token": csrf_token(client.get("/subscribe").text)})
    assert refused.status_code == 422 and "before your latest sign-up" in refused.text
    assert subscriber_row(committed_session_factory, "ivy@example.org").status == "pending"

    fresh = post_form(client, path(links.confirm_url(settings, ivy_id)))
    assert fresh.status_code == 200 and "You are subscribed" in fresh.text
    assert subscriber_row(committed_session_factory, "ivy@example.org").status == "active"


def test_confirmation_records_ip_user_agent_and_wording(client, settings, committed_session_factory):
    post_signup(client, "carol@example.org")
    carol = subscriber_row(committed_session_factory, "carol@example.org")
    post_form(client, path(links.confirm_url(settings, carol.id)), headers={"user-agent": "CarolBrowser/1.0"})
    from sqlalchemy import select

    from newsletter.models import ConsentEvent

    with session_scope(committed_session_factory) as session:
        events = session.execute(select(ConsentEvent).order_by(ConsentEvent.id)).scalars().all()
        assert [(e.action, str(e.ip), e.wording_version) for e in events] == [
            ("signup", "198.51.100.7", "2026-11-22"),
            ("confirm", "198.51.100.7", "2026-11-22"),
        ]
        assert events[0].user_agent == "testclient" and events[0].occurred_at is not None
        assert events[1].user_agent == "CarolBrowser/1.0"
        assert events[1].occurred_at >= events[0].occurred_at


def test_expired_tampered_and_wrong_purpose_tokens_are_refused_with_a_clear_page(
    client, settings, committed_session_factory
):
    with session_scope(committed_session_factory) as session:
        dave_id = make_subscriber(session, "dave@example.org", status="pending").id
    good = path(links.confirm_url(settings, dave_id))
    tampered = good[:-3] + ("aaa" if not good.endswith("aaa") else "bbb")
    wrong_purpose = "/confirm/" + path(links.unsubscribe_url(settings, dave_id)).rsplit("/", 1)[1]
    for bad in (tampered, wrong_purpose):
        response = client.get(bad)
        assert response.status_code == 400
        assert "link is not valid" in response.text
    real_time = __import__("time").time
    with mock.patch("time.time", return_value=real_time() + timedelta(days=8).total_seconds()):
        expired = client.get(good)
        # The expired page offers a new link; asking for it writes one confirmation for the address.
        resend = client.post(good + "/resend", data={"csrf_token": csrf_token(expired.text)})
    assert expired.status_code == 400 and "has expired" in expired.text
    assert 'action="' + good + '/resend"' in expired.text
    assert resend.status_code == 200 and "Check your inbox" in resend.text
    assert [kind for kind, _ in deliveries(committed_session_factory, dave_id)] == ["confirmation"]
    assert subscriber_row(committed_session_factory, "dave@example.org").status == "pending"
    # A tampered link is not ours: it offers nothing.
    assert "/resend" not in client.get(tampered).text


def test_honeypot_filled_gives_the_same_page_and_stores_nothing(client, committed_session_factory):
    response = post_signup(client, "bot@example.org", website="http://spam.example")
    assert response.status_code == 200 and "Check your inbox" in response.text
    assert subscriber_row(committed_session_factory, "bot@example.org") is None


@pytest.mark.parametrize(
    ("overrides", "message"),
    [
        ({"email": "not-an-address"}, "valid email"),
        ({"email": "eve@example.org\r\nBcc: victim@example.org"}, "valid email"),
        ({"topics": ["nlp", "astrology"]}, "Unknown topic"),
        ({"timezone": "Mars/Olympus"}, "time zone"),
        ({"send_time": "25:00"}, "Send time"),
        ({"frequency": "hourly"}, "daily or weekly"),
        ({"topics": [], "keywords": ""}, "at least one"),
        ({"keywords": "x" * 61}, "Keywords"),
        ({"keywords": ",".join(f"k{n}" for n in range(21))}, "At most 20 keywords"),
        ({"email": "a" * 250 + "@example.org"}, "can be at most 64 characters"),
        ({"topics": ["nlp"] * 16}, "Too many topics"),
        ({"weekly_day": "9"}, "day of the week"),
        ({"send_time": "7pm"}, "Send time"),
    ],
)
def test_invalid_signups_are_rejected_and_store_nothing(
    client, committed_session_factory, overrides, message
):
    email = overrides.pop("email", "eve@example.org")
    response = post_signup(client, email, **overrides)
    assert response.status_code == 422
    assert message in response.text
    assert subscriber_row(committed_session_factory, "eve@example.org") is None


def test_signup_without_csrf_token_is_refused(client, committed_session_factory):
    from tests.web_fixtures import signup_fields

    client.get("/")
    response = client.post("/subscribe", data=signup_fields("frank@example.org"))
    assert response.status_code == 403
    forged = client.post("/subscribe", data={**signup_fields("frank@example.org"), "csrf_token": "0" * 64})
    assert forged.status_code == 403
    assert subscriber_row(committed_session_factory, "frank@example.org") is None


def test_signup_with_csrf_token_but_no_cookie_is_refused(client, settings, committed_session_factory):
    page = client.get("/")
    token = csrf_token(page.text)
    client.cookies.clear()
    from tests.web_fixtures import signup_fields

    response = client.post("/subscribe", data={**signup_fields("gina@example.org"), "csrf_token": token})
    assert response.status_code == 403


def test_signup_enqueues_the_confirmation_for_the_mail_worker_after_commit(
    client, redis_client, redis_prefix
):
    from newsletter.stats import queue_depth

    post_signup(client, "queued@example.org")
    assert queue_depth(redis_client, redis_prefix) == 1
    # Still pending: signing up again queues a second confirmation (the per-address limit caps these).
    post_signup(client, "queued@example.org")
    assert queue_depth(redis_client, redis_prefix) == 2
    import json

    message = json.loads(redis_client.lindex(f"{redis_prefix}mail", 0))
    assert message["headers"]["task"] == "workers.tasks.mail.deliver_transactional"


def test_confirm_post_without_csrf_token_is_refused(client, settings, committed_session_factory):
    post_signup(client, "henry@example.org")
    henry = subscriber_row(committed_session_factory, "henry@example.org")
    response = client.post(path(links.confirm_url(settings, henry.id)), data={})
    assert response.status_code == 403
    assert subscriber_row(committed_session_factory, "henry@example.org").status == "pending"


def test_with_the_broker_down_signup_still_answers_and_the_web_process_sends_the_confirmation(
    settings, committed_session_factory, redis_client
):
    from fastapi.testclient import TestClient

    from newsletter.web.app import create_app

    with closed_port() as port:
        # Redis is the broker (and the rate limiter's store, which lets requests through when it is down).
        broker_down = settings.model_copy(update={"redis_url": f"redis://127.0.0.1:{port}/0"})
        with TestClient(create_app(broker_down, signup_answer_seconds=0), base_url=BASE_URL) as offline:
            response = post_signup(offline, "patient@example.org")
    assert response.status_code == 200 and "Check your inbox" in response.text
    patient = subscriber_row(committed_session_factory, "patient@example.org")
    assert patient.status == "pending"
    # No worker can be told: the web process sent it once the answer was out.
    assert deliveries(committed_session_factory, patient.id) == [("confirmation", "sent")]
    [eml] = settings.resolved_outbox_dir.glob("*.eml")
    assert b"patient@example.org" in eml.read_bytes()


def test_a_refused_typed_zone_goes_back_in_its_box_not_into_the_menu(client, committed_session_factory):
    response = post_signup(client, "eve@example.org", timezone_other="EST")
    assert response.status_code == 422 and "daylight saving time" in response.text
    assert 'name="timezone_other" type="text"' in response.text and 'value="EST"' in response.text
    assert (
        "<option selected>EST</option>" not in response.text and "<option>EST</option>" not in response.text
    )
    assert subscriber_row(committed_session_factory, "eve@example.org") is None
