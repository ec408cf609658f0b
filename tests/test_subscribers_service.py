"""The subscriber service on a rolled-back session: signup, confirm, preferences, unsubscribe, delete."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from sqlalchemy import select

from newsletter.errors import InvalidInput, NotFound
from newsletter.mail.webhook import store_events
from newsletter.models import ConsentEvent, Delivery, Subscriber, WebhookEvent
from newsletter.subscribers.operators import (
    add_subscriber_by_operator,
    import_subscribers_csv,
    list_subscribers,
)
from newsletter.subscribers.provider_events import process_pending_events
from newsletter.subscribers.service import (
    confirm,
    delete_subscriber,
    export_data,
    find_subscriber_by_email,
    pause,
    resume,
    signup,
    subscriber_view,
    suppress,
    unsubscribe,
    update_preferences,
)
from newsletter.subscribers.validation import PreferencesForm, SignupForm, parse_keywords, parse_timezone
from tests.factories import make_subscriber

WORDING = "2026-11-22"


def form(email: str = "alice@example.org", **overrides) -> SignupForm:
    values = {"topics": ["nlp"], "keywords": "retrieval", "timezone": "Europe/Paris", "send_time": "06:45"}
    values.update(overrides)
    return SignupForm(email=email, **values)


def delivery_kinds(session, subscriber_id: int) -> list[str]:
    return list(
        session.execute(
            select(Delivery.kind).where(Delivery.subscriber_id == subscriber_id).order_by(Delivery.id)
        ).scalars()
    )


def test_signup_is_idempotent_by_lower_case_email(session):
    first = signup(session, form("Alice@Example.org"), "192.0.2.1", "UA", WORDING)
    second = signup(session, form("alice@example.org"), "192.0.2.1", "UA", WORDING)
    assert first.subscriber_id == second.subscriber_id
    assert (
        session.execute(select(Subscriber).where(Subscriber.id == first.subscriber_id)).scalar_one().status
        == "pending"
    )
    assert delivery_kinds(session, first.subscriber_id) == ["confirmation", "confirmation"]


def test_signup_of_an_active_address_changes_nothing_and_sends_a_manage_email(session):
    alice = make_subscriber(session, "alice@example.org", topics=["Robotics"])
    result = signup(session, form("ALICE@example.org", topics=["nlp"]), None, None, WORDING)
    assert result.delivery_id is not None
    assert delivery_kinds(session, alice.id) == ["manage"]
    view = subscriber_view(session, alice.id)
    assert view.topic_names == ["Robotics"] and view.status == "active"


def test_confirm_activates_records_consent_and_queues_a_welcome(session):
    result = signup(session, form(), "192.0.2.1", "UA", WORDING)
    change = confirm(session, result.subscriber_id, "192.0.2.2", "UA2")
    assert change.is_changed and change.status == "active"
    assert delivery_kinds(session, result.subscriber_id) == ["confirmation", "welcome"]
    again = confirm(session, result.subscriber_id, None, None)
    assert not again.is_changed and again.delivery_id is None
    events = session.execute(
        select(ConsentEvent.action, ConsentEvent.wording_version).order_by(ConsentEvent.id)
    ).all()
    assert events == [("signup", WORDING), ("confirm", WORDING)]


def test_an_old_confirmation_link_does_not_undo_an_unsubscribe(session):
    result = signup(session, form(), None, None, WORDING)
    unsubscribe(session, result.subscriber_id, "web")
    with pytest.raises(InvalidInput):
        confirm(session, result.subscriber_id, None, None)


def test_signing_up_again_after_unsubscribing_needs_a_link_sent_after_that_signup(session):
    first = signup(session, form(), None, None, WORDING)
    # The first signup was an hour ago; its confirmation link was signed just after.
    row = session.get(Subscriber, first.subscriber_id)
    row.status_changed_at = datetime.now(UTC) - timedelta(hours=1)
    link_of_first_signup = row.status_changed_at + timedelta(seconds=1)
    confirm(session, first.subscriber_id, None, None, link_issued_at=link_of_first_signup)
    unsubscribe(session, first.subscriber_id, "web")
    again = signup(session, form(), None, None, WORDING)
    assert again.subscriber_id == first.subscriber_id
    with pytest.raises(InvalidInput, match="before your latest sign-up"):
        confirm(session, again.subscriber_id, None, None, link_issued_at=link_of_first_signup)
    # The link the second signup sent (signed a second later, by a worker) confirms.
    change = confirm(session, again.subscriber_id, None, None, link_issued_at=datetime.now(UTC))
    assert change.is_changed and change.status == "active"


def test_update_preferences_replaces_topics_and_keywords(session):
    alice = make_subscriber(session, topics=["NLP"], keywords=["old"])
    view = update_preferences(
        session,
        alice.id,
        PreferencesForm(
            topics=["Robotics", "time-series"],
            keywords="new one, Another",
            frequency="weekly",
            weekly_day="2",
            send_time="20:00",
            timezone="Asia/Tokyo",
        ),
        None,
        None,
    )
    assert view.topic_names == ["Robotics", "Time Series"]
    assert view.keywords == ["new one", "Another"]
    assert (view.frequency, view.weekly_day, view.timezone) == ("weekly", 2, "Asia/Tokyo")


def test_pause_resume_and_their_guards(session):
    alice = make_subscriber(session)
    assert pause(session, alice.id).status == "paused"
    assert not pause(session, alice.id).is_changed
    assert resume(session, alice.id).status == "active"
    pending = make_subscriber(session, status="pending")
    with pytest.raises(InvalidInput):
        pause(session, pending.id)


def test_unsubscribe_records_the_withdrawal_and_optionally_a_goodbye(session):
    alice = make_subscriber(session)
    change = unsubscribe(session, alice.id, "web", send_goodbye=True)
    assert change.status == "unsubscribed" and change.delivery_id is not None
    assert not unsubscribe(session, alice.id, "one-click").is_changed
    actions = session.execute(select(ConsentEvent.action, ConsentEvent.source)).all()
    assert actions == [("unsubscribe", "web")]


def test_suppress_moves_an_address_only_towards_suppression_and_records_why(session):
    alice = make_subscriber(session, "alice@example.org")
    bob = make_subscriber(session, "bob@example.org", status="unsubscribed")
    assert suppress(session, "Alice@Example.org", "bounce", "sendgrid-webhook", {"event": "bounce"})
    assert alice.status == "bounced"
    # Already suppressed: a later complaint changes nothing, an unknown address is no error.
    assert not suppress(session, "alice@example.org", "complaint", "sendgrid-webhook")
    assert not suppress(session, "bob@example.org", "bounce", "sendgrid-webhook")
    assert not suppress(session, "nobody@example.org", "bounce", "sendgrid-webhook")
    assert (alice.status, bob.status) == ("bounced", "unsubscribed")
    events = session.execute(select(ConsentEvent.email, ConsentEvent.action, ConsentEvent.details)).all()
    assert events == [("alice@example.org", "bounce", {"event": "bounce"})]


def test_export_and_delete_keep_the_consent_proof(session):
    result = signup(session, form(), "192.0.2.1", "UA", WORDING)
    confirm(session, result.subscriber_id, "192.0.2.1", "UA")
    data = export_data(session, result.subscriber_id)
    assert data["email"] == "alice@example.org"
    assert [event["action"] for event in data["consent_events"]] == ["signup", "confirm"]
    assert [delivery["kind"] for delivery in data["deliveries"]] == ["confirmation", "welcome"]
    delete_subscriber(session, result.subscriber_id)
    session.expire_all()
    assert find_subscriber_by_email(session, "alice@example.org") is None
    events = session.execute(
        select(ConsentEvent.action, ConsentEvent.subscriber_id).order_by(ConsentEvent.id)
    ).all()
    assert events == [("signup", None), ("confirm", None), ("delete", None)]
    with pytest.raises(NotFound):
        export_data(session, result.subscriber_id)


def test_delete_takes_the_preferences_out_of_the_consent_proof_and_forgets_provider_events(session):
    result = signup(session, form(), "192.0.2.1", "UA", WORDING)
    confirm(session, result.subscriber_id, "192.0.2.1", "UA")
    update_preferences(
        session, result.subscriber_id, PreferencesForm(topics=["NLP"], keywords="projectzeta"), None, None
    )
    event = {"event": "open", "email": "Alice@Example.org", "timestamp": 1700000000, "ip": "203.0.113.9",
             "useragent": "Mozilla/5.0 phone", "sg_message_id": "m1.filter"}  # fmt: skip
    other = event | {"email": "bob@example.org", "sg_message_id": "m2.filter"}
    store_events(session, json.dumps([event, other]).encode())
    delete_subscriber(session, result.subscriber_id)
    session.expire_all()
    events = session.execute(
        select(ConsentEvent.action, ConsentEvent.details).order_by(ConsentEvent.id)
    ).all()
    # Who agreed to what wording, when and from where stays; what they chose does not.
    assert events == [
        ("signup", {"previous_status": None}),
        ("confirm", {}),
        ("preferences", {}),
        ("delete", {"status_before": "active"}),
    ]
    assert session.scalar(select(ConsentEvent.wording_version).where(ConsentEvent.action == "signup"))
    assert list(session.scalars(select(WebhookEvent.email))) == ["bob@example.org"]


def test_an_event_arriving_after_the_delete_is_applied_and_forgotten(session):
    # The provider reports the email that carried the data link minutes after the reader deleted
    # everything with it; an event about an address nobody has has nothing to apply and is not kept.
    gone = make_subscriber(session, "gone@example.org")
    bob = make_subscriber(session, "bob@example.org")
    delete_subscriber(session, gone.id)
    late = {"event": "delivered", "email": "Gone@Example.org", "timestamp": 1700000060, "ip": "203.0.113.9",
            "sg_message_id": "m3.filter"}  # fmt: skip
    bounce = late | {"event": "bounce", "email": "bob@example.org", "reason": "550 no such user"}
    store_events(session, json.dumps([late, bounce]).encode())
    counts = process_pending_events(session)
    assert (counts["processed"], counts["forgotten"], counts["suppressed"]) == (2, 1, 1)
    assert list(session.scalars(select(WebhookEvent.email))) == ["bob@example.org"]
    assert subscriber_view(session, bob.id).status == "bounced"


def test_keywords_refuse_control_characters_and_excess():
    assert parse_keywords("a, b\nA") == ["a", "b"]
    with pytest.raises(InvalidInput):
        parse_keywords("ok\x00bad")
    with pytest.raises(InvalidInput):
        parse_keywords(",".join(f"k{n}" for n in range(21)))


@pytest.mark.parametrize(
    ("typed", "zone"),
    [
        ("Europe/Berlin", "Europe/Berlin"),
        ("europe/berlin", "Europe/Berlin"),
        (" berlin ", "Europe/Berlin"),
        ("new york", "America/New_York"),
        ("buenos aires", "America/Argentina/Buenos_Aires"),
        ("utc", "UTC"),
        ("Etc/GMT+5", "Etc/GMT+5"),
    ],
)
def test_a_typed_time_zone_is_found_by_its_name_in_any_case_or_its_city(typed, zone):
    assert parse_timezone(typed) == zone


@pytest.mark.parametrize(
    ("typed", "message"),
    [("EST", "daylight saving"), ("CET", "daylight saving"), ("Mars/Base", "not a time zone")],
)
def test_a_zone_of_no_region_or_no_zone_at_all_is_refused_with_what_to_type(typed, message):
    with pytest.raises(InvalidInput) as refused:
        parse_timezone(typed)
    assert message in str(refused.value) and "America/New_York" in str(refused.value)


def test_a_pasted_list_of_keywords_loses_its_bullets_and_numbers():
    pasted = "- diffusion models\n- RLHF; LoRA\n* mixture of experts\n- rlhf\n• speculative decoding\n1. agents\n2) tool use"
    assert parse_keywords(pasted) == [
        "diffusion models",
        "RLHF",
        "LoRA",
        "mixture of experts",
        "speculative decoding",
        "agents",
        "tool use",
    ]
    # A hyphen inside a keyword is part of it; a leading one is not.
    assert parse_keywords("text-to-speech, -rlhf, -") == ["text-to-speech", "rlhf"]


def test_operator_add_confirmed_is_active_and_unconfirmed_gets_a_confirmation(session):
    active = add_subscriber_by_operator(
        session, "op@example.org", PreferencesForm(topics=["NLP"]), is_confirmed=True, source="operator"
    )
    assert active.delivery_id is None
    pending = add_subscriber_by_operator(
        session, "op2@example.org", PreferencesForm(topics=["NLP"]), is_confirmed=False, source="operator"
    )
    assert delivery_kinds(session, pending.subscriber_id) == ["confirmation"]
    with pytest.raises(InvalidInput):
        add_subscriber_by_operator(
            session, "OP@example.org", PreferencesForm(topics=["NLP"]), is_confirmed=True, source="operator"
        )
    assert [line.status for line in list_subscribers(session)] == ["active", "pending"]
    assert [line.status for line in list_subscribers(session, "pending")] == ["pending"]
    make_subscriber(session, "weekly@example.org", frequency="weekly", weekly_day=1)
    [weekly] = [line for line in list_subscribers(session) if line.email == "weekly@example.org"]
    assert weekly.schedule == "weekly (Tuesday)" and weekly.to_json()["weekly_day"] == "Tuesday"
    with pytest.raises(InvalidInput, match="Unknown status: bogus"):
        list_subscribers(session, "bogus")


def test_csv_import_reports_bad_rows_and_keeps_going(session, tmp_path: Path):
    csv_path = tmp_path / "people.csv"
    csv_path.write_text(
        "email,topics,keywords,timezone,send_time\n"
        "ann@example.org,nlp;robotics,agents,Europe/Berlin,08:00\n"
        "not-an-email,nlp,,UTC,07:00\n"
        "ben@example.org,astrology,,UTC,07:00\n"
        "ANN@example.org,nlp,,UTC,07:00\n"
        "cat@example.org,Computer Vision,,UTC,\n"
    )
    report = import_subscribers_csv(session, csv_path, "conference form 2026-10")
    assert report.imported == 2 and report.skipped == 3
    assert [line for line, _ in report.errors] == [3, 4, 5]
    sources = session.execute(
        select(ConsentEvent.action, ConsentEvent.source).order_by(ConsentEvent.id)
    ).all()
    assert sources == [("import", "conference form 2026-10")] * 2
    assert {line.email: line.status for line in list_subscribers(session)} == {
        "ann@example.org": "active",
        "cat@example.org": "active",
    }


def test_resubscribing_with_no_topics_is_refused_like_a_new_address(session):
    # An anonymous form that a former subscriber's address alone made acceptable would tell anyone who
    # had been subscribed: the rules are the same for every address.
    make_subscriber(
        session, "back@example.org", topics=["Robotics"], keywords=["legged"], status="unsubscribed"
    )
    with pytest.raises(InvalidInput):
        signup(session, form("back@example.org", topics=[], keywords=""), None, None, WORDING)
    assert subscriber_view(session, find_subscriber_by_email(session, "back@example.org").id).status == (
        "unsubscribed"
    )


def test_resubscribing_with_topics_takes_the_new_ones(session):
    make_subscriber(session, "back@example.org", topics=["Robotics"], status="unsubscribed")
    result = signup(session, form("back@example.org", topics=["nlp"]), None, None, WORDING)
    assert subscriber_view(session, result.subscriber_id).topic_names == ["NLP"]


def test_a_new_address_with_no_topic_is_still_refused(session):
    with pytest.raises(InvalidInput):
        signup(session, form("new@example.org", topics=[], keywords=""), None, None, WORDING)


def test_the_export_lists_each_editions_papers_and_why_and_a_daily_readers_day_as_none(session):
    from datetime import date

    from tests.factories import make_paper, make_subscriber
    from tests.mail_factories import make_content, make_edition

    reader = make_subscriber(session, "reader@example.org", topics=["NLP"])
    first, second = (
        make_paper(session, title=title, topics=["NLP"]) for title in ("Sparse heads", "Dense heads")
    )
    make_edition(session, reader, make_content(session, [first, second]), date(2026, 11, 20))
    make_edition(session, reader, None, date(2026, 11, 21))
    data = export_data(session, reader.id)
    assert data["preferences"]["weekly_day"] is None and data["preferences"]["frequency"] == "daily"
    papers, nothing = data["editions"]
    assert (papers["date"], papers["kind"], nothing["kind"], nothing["papers"]) == (
        "2026-11-20",
        "papers",
        "nothing_new",
        [],
    )
    assert [(paper["paper"], paper["title"]) for paper in papers["papers"]] == [
        (first.arxiv_id, "Sparse heads"),
        (second.arxiv_id, "Dense heads"),
    ]
    assert all(paper["why"] for paper in papers["papers"])
