"""Protections: rate limits in real Redis, X-Forwarded-For trust, body caps, headers, escaping."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest
from fastapi.testclient import TestClient

from newsletter.db import session_scope
from newsletter.models import ConsentEvent
from newsletter.web.app import create_app
from newsletter.web.assets import static_url
from newsletter.web.ratelimit import SIGNUP_PER_ADDRESS, SIGNUP_PER_IP
from tests.factories import make_paper
from tests.web_fixtures import (
    BASE_URL,
    client_fixture,  # noqa: F401
    closed_port,
    csrf_token,
    post_signup,
    signup_fields,
    subscriber_row,
)

HOSTILE_TITLE = "<script>alert('x')</script> {{ 7*7 }} \u202egnp.exe"


def test_signups_from_one_ip_are_limited(client, committed_session_factory):
    for number in range(SIGNUP_PER_IP.max_hits):
        assert post_signup(client, f"reader{number}@example.org").status_code == 200
    blocked = post_signup(client, "one-too-many@example.org")
    assert blocked.status_code == 429
    assert subscriber_row(committed_session_factory, "one-too-many@example.org") is None


def test_signups_for_one_address_are_limited_without_revealing_it(
    settings, committed_session_factory, redis_client
):
    app = create_app(settings)
    responses = []
    for number in range(SIGNUP_PER_ADDRESS.max_hits + 2):
        # A different IP each time: only the per-address budget applies.
        with TestClient(app, base_url=BASE_URL, client=(f"203.0.113.{number + 1}", 5000)) as other:
            responses.append(post_signup(other, "target@example.org"))
    assert {response.status_code for response in responses} == {200}
    assert len({response.text.split("<main")[1] for response in responses}) == 1
    target = subscriber_row(committed_session_factory, "target@example.org")
    from tests.web_fixtures import deliveries

    assert len(deliveries(committed_session_factory, target.id)) == SIGNUP_PER_ADDRESS.max_hits


def test_refused_attempts_do_not_count_against_the_signup_limits(client, committed_session_factory):
    for _ in range(SIGNUP_PER_IP.max_hits + 2):
        refused = post_signup(client, "typo@example.org", topics=[], keywords="")
        assert refused.status_code == 422 and 'id="topics-error"' in refused.text
        # What was typed is kept, the message sits beside the field it concerns.
        assert 'value="typo@example.org"' in refused.text
    for number in range(SIGNUP_PER_ADDRESS.max_hits):
        assert "Check your inbox" in post_signup(client, "typo@example.org").text
    typo = subscriber_row(committed_session_factory, "typo@example.org")
    from tests.web_fixtures import deliveries

    assert len(deliveries(committed_session_factory, typo.id)) == SIGNUP_PER_ADDRESS.max_hits


def test_rate_limit_keys_live_under_the_configured_prefix(client, redis_client, redis_prefix):
    post_signup(client, "keys@example.org")
    keys = [key.decode() for key in redis_client.scan_iter(match=f"{redis_prefix}ratelimit:*")]
    assert len(keys) == 2
    assert not any("keys@example.org" in key for key in keys)


def test_x_forwarded_for_is_ignored_from_untrusted_peers(client, committed_session_factory):
    for number in range(SIGNUP_PER_IP.max_hits):
        post_signup(client, f"spoof{number}@example.org", **{})
    # Claiming another address in the header does not buy a fresh budget.
    page = client.get("/subscribe")
    response = client.post(
        "/subscribe",
        data={**signup_fields("spoofed@example.org"), "csrf_token": csrf_token(page.text)},
        headers={"x-forwarded-for": "192.0.2.99"},
    )
    assert response.status_code == 429


def test_x_forwarded_for_is_honoured_from_a_trusted_proxy(settings, committed_session_factory, redis_client):
    proxied = settings.model_copy(update={"trusted_proxies": ["10.0.0.0/8"]})
    with TestClient(create_app(proxied), base_url=BASE_URL, client=("10.1.2.3", 5000)) as behind_proxy:
        page = behind_proxy.get("/subscribe")
        behind_proxy.post(
            "/subscribe",
            data={**signup_fields("proxied@example.org"), "csrf_token": csrf_token(page.text)},
            headers={"x-forwarded-for": "192.0.2.1, 198.51.100.23, 10.9.9.9"},
        )
    with session_scope(committed_session_factory) as session:
        ip = session.query(ConsentEvent.ip).filter_by(email="proxied@example.org").scalar()
    assert str(ip) == "198.51.100.23"


def test_a_one_megabyte_body_is_refused_before_parsing(client, committed_session_factory):
    page = client.get("/subscribe")
    big = {
        **signup_fields("big@example.org"),
        "keywords": "a" * 1_000_000,
        "csrf_token": csrf_token(page.text),
    }
    response = client.post("/subscribe", data=big)
    assert response.status_code == 413
    assert subscriber_row(committed_session_factory, "big@example.org") is None


def test_security_headers_are_on_every_answer(client):
    for response in (client.get("/"), client.get("/no-such-page"), client.get("/confirm/bad")):
        headers = response.headers
        assert "script-src 'self'" in headers["content-security-policy"]
        assert "unsafe-inline" not in headers["content-security-policy"]
        assert "frame-ancestors 'none'" in headers["content-security-policy"]
        assert headers["x-content-type-options"] == "nosniff"
        assert headers["referrer-policy"] == "no-referrer"
        assert headers["strict-transport-security"].startswith("max-age=")
    assert client.get("/").headers["cache-control"] == "no-store"


def test_pages_have_no_inline_script(client):
    html = client.get("/").text
    assert "<script>" not in html
    assert f'src="{static_url("timezone.js")}"' in html
    assert client.get(static_url("timezone.js")).status_code == 200
    assert client.get("/static/site.css").status_code == 200


@pytest.fixture
def hostile_paper(committed_session_factory) -> str:
    with session_scope(committed_session_factory) as session:
        paper = make_paper(
            session,
            title=HOSTILE_TITLE,
            abstract="<img src=x onerror=alert(1)> {% raw %}",
            published_at=datetime.now(UTC),
            upvotes=5,
        )
        paper.github_repo = "javascript:alert(1)"
        return paper.arxiv_id


def test_hostile_paper_text_is_escaped_on_the_home_page(client, hostile_paper):
    html = client.get("/").text
    assert "<script>alert" not in html
    assert "&lt;script&gt;alert(&#39;x&#39;)&lt;/script&gt;" in html
    assert "{{ 7*7 }}" in html and ">49<" not in html
    assert "\u202e" not in html


def test_hostile_paper_text_is_escaped_on_the_paper_page(client, hostile_paper):
    response = client.get(f"/papers/{hostile_paper}")
    assert response.status_code == 200
    html = response.text
    assert "<script>alert" not in html and "<img src=x" not in html
    assert "&lt;img src=x onerror=alert(1)&gt;" in html
    assert "{{ 7*7 }}" in html
    assert "\u202e" not in html
    assert "javascript:" not in html


def test_rate_limiter_fails_open_when_redis_is_unreachable():
    import redis

    from newsletter.web.ratelimit import RateLimiter

    with closed_port() as port:
        limiter = RateLimiter(redis.Redis(host="127.0.0.1", port=port, socket_connect_timeout=0.5), "x:")
        assert limiter.allow(SIGNUP_PER_IP, "192.0.2.1")


def test_the_webhook_is_mounted_without_a_csrf_check(client):
    # Whatever the webhook answers an empty batch, the route exists and no CSRF check stands in its way.
    assert client.post("/webhooks/sendgrid", content=b"[]").status_code not in (403, 404)


def test_hostile_paper_text_is_escaped_in_the_archived_edition(client, settings, committed_session_factory):
    from newsletter.links import urls as links
    from tests.factories import make_subscriber
    from tests.mail_factories import make_content, make_edition

    with session_scope(committed_session_factory) as session:
        reader = make_subscriber(session, "reader@example.org")
        paper = make_paper(session, title=HOSTILE_TITLE, upvotes=5)
        paper.github_repo = "javascript:alert(1)"
        edition_id = make_edition(session, reader, make_content(session, [paper])).id
    html = client.get(links.edition_url(settings, edition_id).removeprefix(BASE_URL)).text
    assert "&lt;script&gt;alert(&#39;x&#39;)&lt;/script&gt;" in html
    assert "<script>alert" not in html and "\u202e" not in html and "javascript:" not in html


def test_keywords_and_addresses_are_escaped_in_the_preference_center(
    client, settings, committed_session_factory
):
    from newsletter.links import urls as links
    from tests.factories import make_subscriber
    from tests.web_fixtures import post_form

    with session_scope(committed_session_factory) as session:
        # Quotes and braces are valid in the local part of an address.
        odd_id = make_subscriber(session, "o'brien{{7*7}}@example.org").id
    url = links.preferences_url(settings, odd_id).removeprefix(BASE_URL)
    hostile = "</textarea><script>alert(1)</script>"
    saved = post_form(
        client, url, {"topics": ["nlp"], "keywords": hostile, "send_time": "07:00", "timezone": "UTC"}
    )
    assert saved.status_code == 200
    html = client.get(url).text
    assert "&lt;/textarea&gt;&lt;script&gt;alert(1)&lt;/script&gt;" in html
    assert "<script>alert" not in html
    assert "o&#39;brien{{7*7}}@example.org" in html and ">49@" not in html
