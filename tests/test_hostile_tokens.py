"""Signed links and browser forms under attack, over HTTP on the real app with real Postgres and Redis.

Alice, Bob and Mallory are subscribers; Mallory holds her own links and tries to reach Alice's data with
them: tampered, re-purposed, re-assembled or expired tokens, and forms posted without a valid CSRF pair.
Every refusal is checked against the database: nothing Alice owns changes.
"""

from __future__ import annotations

import itertools
import json
from collections.abc import Callable, Iterator
from datetime import timedelta

import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient
from itsdangerous import URLSafeTimedSerializer
from itsdangerous.encoding import base64_decode
from sqlalchemy import func, select
from sqlalchemy.orm import Session, sessionmaker

from newsletter.config import Settings
from newsletter.db import session_scope
from newsletter.feedback.votes import record_vote
from newsletter.links import urls as links
from newsletter.links.tokens import Purpose, make_token
from newsletter.models import ConsentEvent, Delivery, KeywordAlert, PaperVote, Subscriber, SubscriberTopic
from newsletter.web.app import create_app
from newsletter.web.csrf import COOKIE_NAME, form_token
from tests.factories import make_paper, make_subscriber
from tests.mail_factories import make_content, make_edition
from tests.web_fixtures import BASE_URL, csrf_token

_addresses = itertools.count(1)
PURPOSES: tuple[Purpose, ...] = ("confirm", "preferences", "unsubscribe", "edition", "data", "feedback")
# Alice's paper, on which she voted "less like this": a vote link, an undo or a Remove that got through
# would change her vote.
ALICES_PAPER = "2611.30001"
PREFERENCE_FIELDS = {"topics": ["robotics"], "keywords": "pwned", "send_time": "03:00", "timezone": "UTC"}


@pytest.fixture
def app(
    settings: Settings, committed_session_factory: sessionmaker[Session], redis_client: object
) -> FastAPI:
    return create_app(settings, signup_answer_seconds=0)


@pytest.fixture
def browser(app: FastAPI) -> Iterator[Callable[[], TestClient]]:
    """A fresh browser (own cookies) on its own IP each call, so the per-IP link budget never answers
    in place of the check under test."""
    opened: list[TestClient] = []

    def open_browser() -> TestClient:
        client = TestClient(app, base_url=BASE_URL, client=(f"203.0.113.{next(_addresses) % 250 + 1}", 5000))
        client.__enter__()
        opened.append(client)
        return client

    yield open_browser
    for client in opened:
        client.__exit__(None, None, None)


@pytest.fixture
def people(committed_session_factory: sessionmaker[Session]) -> dict[str, int]:
    with session_scope(committed_session_factory) as session:
        alice = make_subscriber(session, "alice@example.org", topics=["NLP"], keywords=["retrieval"])
        bob = make_subscriber(session, "bob@example.org", status="pending")
        mallory = make_subscriber(session, "mallory@example.org", topics=["Robotics"])
        paper = make_paper(session, title="A paper for Alice", arxiv_id=ALICES_PAPER)
        make_edition(session, alice, make_content(session, [paper]))
        record_vote(session, alice.id, ALICES_PAPER, "down")
        return {"alice": alice.id, "bob": bob.id, "mallory": mallory.id}


def everything(factory: sessionmaker[Session]) -> dict[str, object]:
    """Every row a link or a form could change."""
    with session_scope(factory) as session:
        return {
            "subscribers": session.execute(
                select(
                    Subscriber.id,
                    Subscriber.email,
                    Subscriber.status,
                    Subscriber.status_changed_at,
                    Subscriber.confirmed_at,
                    Subscriber.send_time,
                    Subscriber.timezone,
                    Subscriber.frequency,
                ).order_by(Subscriber.id)
            ).all(),  # fmt: skip
            "topics": session.execute(
                select(SubscriberTopic.subscriber_id, SubscriberTopic.topic_id).order_by(
                    SubscriberTopic.subscriber_id, SubscriberTopic.topic_id
                )
            ).all(),
            "keywords": session.execute(
                select(KeywordAlert.subscriber_id, KeywordAlert.keyword).order_by(KeywordAlert.id)
            ).all(),
            "consent": session.scalar(select(func.count()).select_from(ConsentEvent)),
            "votes": session.execute(
                select(PaperVote.subscriber_id, PaperVote.paper_id, PaperVote.vote, PaperVote.voted_at)
            ).all(),
            "deliveries": session.scalar(select(func.count()).select_from(Delivery)),
        }


def link_path(purpose: Purpose, token: str) -> str:
    return {
        "confirm": f"/confirm/{token}",
        "preferences": f"/preferences/{token}",
        "unsubscribe": f"/unsubscribe/{token}",
        "edition": f"/editions/{token}",
        "data": f"/my-data/{token}",
        "feedback": f"/feedback/{token}",
    }[purpose]


# Every way a token is used: (method, path under the token, extra form fields).
USES: list[tuple[str, str, str, dict[str, object]]] = [
    ("GET", "confirm", "", {}),
    ("POST", "confirm", "", {}),
    ("GET", "preferences", "", {}),
    ("POST", "preferences", "", PREFERENCE_FIELDS),
    ("POST", "preferences", "/pause", {}),
    ("POST", "preferences", "/resume", {}),
    ("POST", "preferences", "/data-link", {}),
    ("GET", "data", "", {}),
    ("POST", "data", "/export", {}),
    ("POST", "data", "/delete", {"confirm_delete": "yes"}),
    ("GET", "unsubscribe", "", {}),
    ("POST", "unsubscribe", "", {}),
    ("GET", "unsubscribe", "/one-click", {}),
    ("POST", "unsubscribe", "/one-click", {"List-Unsubscribe": "One-Click"}),
    ("GET", "edition", "", {}),
    ("POST", "preferences", "/votes/remove", {"paper": ALICES_PAPER}),
    ("GET", "feedback", f"/up/{ALICES_PAPER}", {}),
    ("POST", "feedback", f"/up/{ALICES_PAPER}", {}),
    ("POST", "feedback", f"/undo/{ALICES_PAPER}", {}),
]


def use(client: TestClient, method: str, where: Purpose, suffix: str, token: str, fields: dict[str, object]):  # type: ignore[no-untyped-def]
    """One use of `token` as if it were a `where` link, with a valid CSRF pair for browser forms."""
    url = link_path(where, token) + suffix
    if method == "GET":
        return client.get(url)
    if suffix == "/one-click":
        return client.post(url, data=fields)  # mail providers post without cookies or CSRF
    token_field = csrf_token(client.get("/subscribe").text)
    return client.post(url, data={"csrf_token": token_field, **fields})


def assert_refused_as_a_bad_link(response, alice_email: str = "alice@example.org") -> None:  # type: ignore[no-untyped-def]
    assert response.status_code == 400, (response.status_code, response.text[:300])
    assert "link is not valid" in response.text or "link has expired" in response.text
    assert alice_email not in response.text


# ---------------------------------------------------------------- purpose confusion


@pytest.mark.parametrize(
    ("method", "where", "suffix", "fields"), USES, ids=[f"{m} {w}{s}" for m, w, s, _ in USES]
)
def test_a_token_for_another_purpose_is_refused_everywhere_and_changes_nothing(
    browser: Callable[[], TestClient],
    settings: Settings,
    committed_session_factory: sessionmaker[Session],
    people: dict[str, int],
    method: str,
    where: Purpose,
    suffix: str,
    fields: dict[str, object],
) -> None:
    before = everything(committed_session_factory)
    for purpose in PURPOSES:
        if purpose == where:
            continue
        # Alice's id (and the id of her edition) signed for the wrong purpose.
        token = make_token(settings, purpose, people["alice"])
        response = use(browser(), method, where, suffix, token, fields)
        assert_refused_as_a_bad_link(response)
    assert everything(committed_session_factory) == before


# ---------------------------------------------------------------- tampering and re-assembly


def signed_parts(token: str) -> tuple[str, bytes]:
    """What the signature check compares: the signed text as sent, and the decoded signature."""
    signed_text, signature = token.rsplit(".", 1)
    return signed_text, base64_decode(signature)


def test_every_single_character_change_of_a_link_is_refused_or_is_the_same_link(
    browser: Callable[[], TestClient],
    settings: Settings,
    committed_session_factory: sessionmaker[Session],
    people: dict[str, int],
) -> None:
    token = make_token(settings, "preferences", people["alice"])
    before = everything(committed_session_factory)
    client = browser()
    refused = 0
    for position, character in enumerate(token):
        if character == ".":
            continue
        replacement = "A" if character != "A" else "B"
        changed = token[:position] + replacement + token[position + 1 :]
        response = client.get(link_path("preferences", changed))
        try:
            same = signed_parts(changed) == signed_parts(token)
        except Exception:  # noqa: BLE001 - undecodable is simply "not the same link"
            same = False
        if same:
            # The signature's last base64 character carries padding bits: a change there can decode to
            # the same signature bytes, which is the same link.
            assert response.status_code == 200
        else:
            assert response.status_code == 400, (position, response.status_code)
            refused += 1
    assert refused >= len(token) - 6
    assert everything(committed_session_factory) == before


def test_mallorys_signature_on_alices_id_is_refused_for_every_action(
    browser: Callable[[], TestClient],
    settings: Settings,
    committed_session_factory: sessionmaker[Session],
    people: dict[str, int],
) -> None:
    mallory_token = make_token(settings, "preferences", people["mallory"])
    alice_token = make_token(settings, "preferences", people["alice"])
    _, mallory_stamp, mallory_signature = mallory_token.split(".")
    alice_payload, _, _ = alice_token.split(".")
    forged_serializer = URLSafeTimedSerializer(
        "a-key-mallory-guessed-0123456789abcdef", salt="newsletter.preferences"
    )
    forgeries = {
        "alice's payload, mallory's stamp and signature": f"{alice_payload}.{mallory_stamp}.{mallory_signature}",
        "mallory's token with a second payload": f"{alice_payload}.{mallory_token}",
        "signed with a guessed key": forged_serializer.dumps({"id": people["alice"]}),
        "unsigned payload": alice_payload,
        "a bare id": str(people["alice"]),
        "a negative id": "-1",
        "json": json.dumps({"id": people["alice"]}),
        "empty signature": f"{alice_payload}.{mallory_stamp}.",
    }
    before = everything(committed_session_factory)
    for name, forged in forgeries.items():
        for method, where, suffix, fields in USES:
            if where not in ("preferences", "data", "feedback"):
                continue
            response = use(browser(), method, where, suffix, forged, fields)
            assert response.status_code in (400, 404), (name, suffix, response.status_code)
            assert "alice@example.org" not in response.text, (name, suffix)
    assert everything(committed_session_factory) == before
    # Mallory's own link shows Mallory, never anyone else.
    page = browser().get(link_path("preferences", mallory_token))
    assert page.status_code == 200
    assert "mallory@example.org" in page.text and "alice@example.org" not in page.text


def test_mallory_cannot_export_or_delete_alices_data_without_alices_link(
    browser: Callable[[], TestClient],
    settings: Settings,
    committed_session_factory: sessionmaker[Session],
    people: dict[str, int],
) -> None:
    mallory = browser()
    mallory_link = link_path("data", make_token(settings, "data", people["mallory"]))
    token_field = csrf_token(mallory.get(mallory_link).text)
    # Her own export holds her data only.
    export = mallory.post(mallory_link + "/export", data={"csrf_token": token_field})
    assert export.status_code == 200 and export.json()["email"] == "mallory@example.org"
    assert "alice" not in export.text
    # Alice's id under any other purpose's signature or a confirmation link: refused, nothing deleted.
    before = everything(committed_session_factory)
    for purpose in ("confirm", "preferences", "unsubscribe", "edition"):
        forged = link_path("data", make_token(settings, purpose, people["alice"]))  # type: ignore[arg-type]
        for action, fields in (("/export", {}), ("/delete", {"confirm_delete": "yes"})):
            response = mallory.post(forged + action, data={"csrf_token": token_field, **fields})
            assert response.status_code == 400 and "alice@example.org" not in response.text
    assert everything(committed_session_factory) == before


# ---------------------------------------------------------------- expiry (only the clock is moved)


def test_a_confirmation_link_replayed_after_seven_days_is_refused_and_bob_stays_pending(
    browser: Callable[[], TestClient],
    settings: Settings,
    committed_session_factory: sessionmaker[Session],
    people: dict[str, int],
    clock: Callable[[timedelta], None],
) -> None:
    token = make_token(settings, "confirm", people["bob"])
    client = browser()
    form_token = csrf_token(client.get("/subscribe").text)
    before = everything(committed_session_factory)
    clock(timedelta(days=7, minutes=1))
    for response in (
        client.get(link_path("confirm", token)),
        client.post(link_path("confirm", token), data={"csrf_token": form_token}),
    ):
        assert response.status_code == 400 and "has expired" in response.text
    assert everything(committed_session_factory) == before
    clock(timedelta(days=6, hours=23))
    accepted = client.post(link_path("confirm", token), data={"csrf_token": form_token})
    assert accepted.status_code == 200 and "You are subscribed" in accepted.text


@pytest.mark.parametrize(
    ("purpose", "suffix", "fields"),
    [
        ("preferences", "/data-link", {}),
        ("preferences", "", PREFERENCE_FIELDS),
        ("unsubscribe", "", {}),
        ("unsubscribe", "/one-click", {"List-Unsubscribe": "One-Click"}),
    ],
)
def test_emailed_links_stop_working_after_a_year(
    browser: Callable[[], TestClient],
    settings: Settings,
    committed_session_factory: sessionmaker[Session],
    people: dict[str, int],
    clock: Callable[[timedelta], None],
    purpose: Purpose,
    suffix: str,
    fields: dict[str, object],
) -> None:
    token = make_token(settings, purpose, people["alice"])
    before = everything(committed_session_factory)
    clock(timedelta(days=366))
    response = use(browser(), "POST", purpose, suffix, token, fields)
    assert response.status_code == 400
    assert everything(committed_session_factory) == before


# ---------------------------------------------------------------- CSRF on every browser form


BROWSER_FORMS: list[tuple[str, Callable[[Settings, dict[str, int]], str], dict[str, object]]] = [
    ("signup", lambda settings, people: "/subscribe", {"email": "eve@example.org", "topics": ["nlp"],
                                                         "timezone": "UTC", "send_time": "07:00"}),
    ("confirm", lambda settings, people: link_path("confirm", make_token(settings, "confirm", people["bob"])), {}),
    ("preferences", lambda s, p: link_path("preferences", make_token(s, "preferences", p["alice"])), PREFERENCE_FIELDS),
    ("pause", lambda s, p: link_path("preferences", make_token(s, "preferences", p["alice"])) + "/pause", {}),
    ("resume", lambda s, p: link_path("preferences", make_token(s, "preferences", p["alice"])) + "/resume", {}),
    ("data link", lambda s, p: link_path("preferences", make_token(s, "preferences", p["alice"])) + "/data-link", {}),
    ("export", lambda s, p: link_path("data", make_token(s, "data", p["alice"])) + "/export", {}),
    ("delete", lambda s, p: link_path("data", make_token(s, "data", p["alice"])) + "/delete",
     {"confirm_delete": "yes"}),
    ("unsubscribe", lambda s, p: link_path("unsubscribe", make_token(s, "unsubscribe", p["alice"])), {}),
    ("remove a vote", lambda s, p: link_path("preferences", make_token(s, "preferences", p["alice"])) + "/votes/remove",
     {"paper": ALICES_PAPER}),
    ("vote", lambda s, p: link_path("feedback", make_token(s, "feedback", p["alice"])) + f"/up/{ALICES_PAPER}", {}),
    ("undo a vote", lambda s, p: link_path("feedback", make_token(s, "feedback", p["alice"])) + f"/undo/{ALICES_PAPER}",
     {}),
]  # fmt: skip
CSRF_ATTEMPTS = [
    "no token, no cookie",
    "no token, a cookie",
    "a token, no cookie",
    "another browser's token",
    "a token of the right shape but wrong",
    "a malformed cookie with its own token",
    "the token in a header instead of the form",
    "the token in the query string",
]


def attempt(  # type: ignore[no-untyped-def]
    settings: Settings, client: TestClient, other: TestClient, name: str, url: str, fields: dict[str, object]
):
    if name == "no token, no cookie":
        return client.post(url, data=fields)
    if name == "no token, a cookie":
        client.get("/subscribe")
        return client.post(url, data=fields)
    if name == "a token, no cookie":
        token = csrf_token(client.get("/subscribe").text)
        client.cookies.clear()
        return client.post(url, data={"csrf_token": token, **fields})
    if name == "another browser's token":
        client.get("/subscribe")
        return client.post(url, data={"csrf_token": csrf_token(other.get("/subscribe").text), **fields})
    if name == "a token of the right shape but wrong":
        client.get("/subscribe")
        return client.post(url, data={"csrf_token": "f" * 64, **fields})
    if name == "a malformed cookie with its own token":
        # Even the token that matches it (made with the real key) does not make a malformed cookie good.
        malformed = "x" * 42 + "!"
        client.cookies.set(COOKIE_NAME, malformed, domain="papers.example.org")
        return client.post(url, data={"csrf_token": form_token(settings, malformed), **fields})
    if name == "the token in a header instead of the form":
        token = csrf_token(client.get("/subscribe").text)
        return client.post(url, data=fields, headers={"x-csrf-token": token})
    token = csrf_token(client.get("/subscribe").text)
    return client.post(f"{url}?csrf_token={token}", data=fields)


@pytest.mark.parametrize("form", [name for name, _, _ in BROWSER_FORMS])
def test_every_browser_form_refuses_every_bad_csrf_pair_and_changes_nothing(
    browser: Callable[[], TestClient],
    settings: Settings,
    committed_session_factory: sessionmaker[Session],
    people: dict[str, int],
    form: str,
) -> None:
    [(_, make_url, fields)] = [entry for entry in BROWSER_FORMS if entry[0] == form]
    url = make_url(settings, people)
    before = everything(committed_session_factory)
    for name in CSRF_ATTEMPTS:
        response = attempt(settings, browser(), browser(), name, url, fields)
        assert response.status_code == 403, (name, response.status_code, response.text[:200])
        assert "alice@example.org" not in response.text
    assert everything(committed_session_factory) == before
    # The same form with a valid pair goes through (so the refusals above were about CSRF alone).
    client = browser()
    response = client.post(url, data={"csrf_token": csrf_token(client.get("/subscribe").text), **fields})
    assert response.status_code in (200, 303), (response.status_code, response.text[:200])


def test_the_one_click_endpoint_needs_no_cookie_or_csrf_but_only_its_own_signed_link(
    browser: Callable[[], TestClient],
    settings: Settings,
    committed_session_factory: sessionmaker[Session],
    people: dict[str, int],
) -> None:
    url = links.one_click_unsubscribe_url(settings, people["alice"]).removeprefix(BASE_URL)
    before = everything(committed_session_factory)
    # Without the signed link (another purpose's token for Alice): refused even with a form-perfect body.
    forged = link_path("unsubscribe", make_token(settings, "preferences", people["alice"])) + "/one-click"
    assert browser().post(forged, data={"List-Unsubscribe": "One-Click"}).status_code == 400
    assert everything(committed_session_factory) == before
    # With it, no cookie and a nonsense CSRF field: RFC 8058 says a provider's POST is enough.
    response = browser().post(url, data={"List-Unsubscribe": "One-Click", "csrf_token": "nonsense"})
    assert response.status_code == 200
    with session_scope(committed_session_factory) as session:
        assert session.get_one(Subscriber, people["alice"]).status == "unsubscribed"
        assert session.get_one(Subscriber, people["mallory"]).status == "active"
