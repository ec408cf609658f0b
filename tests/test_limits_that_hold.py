"""Limits that hold: signups limited per IPv6 /64 and per mailbox (not per address as typed), and the
RFC 5321 length limits of an address, on the form and in `newsletter subscribers add/import`."""

from __future__ import annotations

from pathlib import Path

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker
from typer.testing import CliRunner

from newsletter.cli import app
from newsletter.config import Settings
from newsletter.db import session_scope
from newsletter.errors import InvalidInput
from newsletter.models import Delivery, Subscriber
from newsletter.subscribers.validation import normalize_email
from newsletter.web.app import create_app
from newsletter.web.ratelimit import SIGNUP_PER_ADDRESS, SIGNUP_PER_IP, client_network, mailbox
from tests.web_fixtures import BASE_URL, client_fixture, post_signup  # noqa: F401

# ---------------------------------------------------------------- per client network, per mailbox


@pytest.mark.parametrize(
    ("ip", "network"),
    [
        ("2001:db8:1:2:3:4:5:6", "2001:db8:1:2::/64"),
        ("2001:db8:1:2:ffff:ffff:ffff:ffff", "2001:db8:1:2::/64"),
        ("2001:DB8:1:2::1", "2001:db8:1:2::/64"),
        ("::ffff:198.51.100.7", "198.51.100.7"),
        ("198.51.100.7", "198.51.100.7"),
    ],
)
def test_a_client_is_counted_by_its_network(ip: str, network: str) -> None:
    assert client_network(ip) == network


@pytest.mark.parametrize(
    "spelling",
    ["ann@example.org", "Ann@Example.org", "ANN@EXAMPLE.ORG", "ann+1@example.org", "Ann+News@example.org"],
)
def test_every_spelling_of_one_inbox_is_one_mailbox(spelling: str) -> None:
    assert mailbox(spelling) == "ann@example.org"


@pytest.mark.parametrize(
    "spelling",
    ["ann.lee@gmail.com", "annlee@gmail.com", "a.n.n.l.e.e@gmail.com", "Ann.Lee+x@GoogleMail.com"],
)
def test_every_gmail_spelling_of_one_inbox_is_one_mailbox(spelling: str) -> None:
    # Gmail ignores dots in the local part, and googlemail.com is gmail.com.
    assert mailbox(spelling) == "annlee@gmail.com"


def test_different_inboxes_stay_apart() -> None:
    assert len({mailbox(a) for a in ["ann@example.org", "anne@example.org", "ann@example.com"]}) == 3
    # Dots count elsewhere: another provider may deliver "ann.lee@" and "annlee@" to two people.
    assert mailbox("ann.lee@example.org") != mailbox("annlee@example.org")


def signup_client(settings: Settings, ip: str) -> TestClient:
    return TestClient(create_app(settings, signup_answer_seconds=0), base_url=BASE_URL, client=(ip, 40000))


def test_signups_from_one_ipv6_64_share_one_budget(
    settings: Settings, committed_session_factory: sessionmaker[Session], redis_client: object
) -> None:
    answers = []
    for n in range(SIGNUP_PER_IP.max_hits + 2):
        with signup_client(settings, f"2001:db8:7:7::{n + 1:x}") as client:
            answers.append(post_signup(client, f"reader{n}@example.org").status_code)
    assert answers[: SIGNUP_PER_IP.max_hits] == [200] * SIGNUP_PER_IP.max_hits
    assert answers[SIGNUP_PER_IP.max_hits :] == [429, 429]
    # Another /64 has its own budget.
    with signup_client(settings, "2001:db8:7:8::1") as client:
        assert post_signup(client, "other@example.org").status_code == 200


def test_tags_and_case_do_not_buy_more_confirmation_emails_and_the_address_is_kept_as_typed(
    settings: Settings, committed_session_factory: sessionmaker[Session], redis_client: object
) -> None:
    spellings = ["Victim+1@example.org", "victim+2@example.org", "VICTIM@example.org", "victim+3@example.org"]
    for n, spelling in enumerate(spellings):
        # Each from its own client, so only the per-mailbox budget can stop them.
        with signup_client(settings, f"198.51.100.{n + 10}") as client:
            assert post_signup(client, spelling).status_code == 200
    with session_scope(committed_session_factory) as session:
        stored = sorted(session.scalars(select(Subscriber.email)))
        confirmations = list(session.scalars(select(Delivery.id).where(Delivery.kind == "confirmation")))
    assert len(confirmations) == SIGNUP_PER_ADDRESS.max_hits
    # The ones within the budget are stored as typed: the +tag and the case are the reader's to keep.
    assert stored == sorted(spellings[: SIGNUP_PER_ADDRESS.max_hits])


def test_gmail_dots_and_googlemail_do_not_buy_more_confirmation_emails(
    settings: Settings, committed_session_factory: sessionmaker[Session], redis_client: object
) -> None:
    spellings = ["victim.person@gmail.com", "victimperson@gmail.com", "v.ictimperson@gmail.com",
                 "vi.ctimperson@gmail.com", "victimperson@googlemail.com"]  # fmt: skip
    for n, spelling in enumerate(spellings):
        with signup_client(settings, f"198.51.100.{n + 40}") as client:
            assert post_signup(client, spelling).status_code == 200
    with session_scope(committed_session_factory) as session:
        confirmations = list(session.scalars(select(Delivery.id).where(Delivery.kind == "confirmation")))
    assert len(confirmations) == SIGNUP_PER_ADDRESS.max_hits


# ---------------------------------------------------------------- RFC 5321 lengths

LONG_LOCAL = "l" * 65 + "@example.org"
LONG_DOMAIN = "ann@" + ".".join(["d" * 63] * 4) + ".org"  # 4 × 63 + 3 + 4 = 259
LONG_WHOLE = "a" * 64 + "@" + ".".join(["d" * 60] * 3) + ".example.org"  # 64 + 1 + 182 + 12 = 259 > 254


@pytest.mark.parametrize(
    ("address", "message"),
    [
        (LONG_LOCAL, "The part before the @ can be at most 64 characters; this one has 65."),
        (LONG_DOMAIN, "The part after the @ can be at most 255 characters; this one has 259."),
        (LONG_WHOLE, "An email address can be at most 254 characters; this one has 259."),
    ],
)
def test_rfc_5321_limits_are_refused_with_a_clear_reason(address: str, message: str) -> None:
    with pytest.raises(InvalidInput) as refused:
        normalize_email(address)
    assert str(refused.value) == message


def test_addresses_at_the_limits_are_accepted() -> None:
    assert normalize_email("l" * 64 + "@example.org") == "l" * 64 + "@example.org"
    whole = "l" * 64 + "@" + ".".join(["d" * 60] * 3) + ".org"  # 64 + 1 + 182 + 4 = 251
    assert normalize_email(whole) == whole


@pytest.mark.parametrize("address", [LONG_LOCAL, LONG_WHOLE])
def test_the_signup_form_says_which_limit(
    client: TestClient, committed_session_factory: sessionmaker[Session], address: str
) -> None:
    response = post_signup(client, address)
    assert response.status_code == 422
    assert "can be at most" in response.text
    with session_scope(committed_session_factory) as session:
        assert session.scalar(select(Subscriber.id)) is None


def newsletter(*args: str):  # type: ignore[no-untyped-def]
    return CliRunner().invoke(app, ["subscribers", *args])


def test_subscribers_add_refuses_a_long_local_part_with_the_reason(command_env: object) -> None:
    result = newsletter("add", LONG_LOCAL, "--topic", "NLP", "--confirmed")
    assert result.exit_code == 1
    assert "at most 64 characters" in result.output


def test_subscribers_import_reports_the_line_and_goes_on(
    command_env: object, committed_session_factory: sessionmaker[Session], tmp_path: Path
) -> None:
    csv_path = tmp_path / "people.csv"
    csv_path.write_text(
        f"email,topics\nann@example.org,nlp\n{LONG_LOCAL},nlp\n{LONG_WHOLE},nlp\nbob@example.org,nlp\n"
    )
    result = newsletter("import", str(csv_path), "--consent-source", "conference form")
    assert result.exit_code == 0, result.output
    assert "2 imported, 2 skipped" in result.output
    assert "line 3" in result.output and "at most 64 characters" in result.output
    assert "line 4" in result.output and "at most 254 characters" in result.output
    with session_scope(committed_session_factory) as session:
        assert sorted(session.scalars(select(Subscriber.email))) == ["ann@example.org", "bob@example.org"]
