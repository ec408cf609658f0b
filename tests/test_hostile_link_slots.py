"""Outside text can never carry a reader's own links.

One paper spells every per-recipient placeholder we have ever used, and the ones SendGrid itself knows,
in every field that reaches an email: title, abstract, authors, key points, reasons, repository, project
page, PDF and abstract links, comment. Two readers get it (one edition group), a third gets a harmless
paper; the file backend, a real SMTP server (aiosmtpd) and the SendGrid stand-in (whose substitution we
replay the way SendGrid applies it, over the whole subject and content) each deliver it. Each reader's
signed tokens must appear exactly as often as in the harmless email, and only in the product's own links.
"""

from __future__ import annotations

import email
import email.policy
import re
from dataclasses import dataclass
from email.message import EmailMessage
from typing import Any

import html5lib
import pytest
from sqlalchemy import update
from sqlalchemy.orm import Session, sessionmaker

from newsletter.config import Settings
from newsletter.db import session_scope
from newsletter.links.tokens import Purpose, read_token
from newsletter.mail.context import EditionGroupKey, content_context
from newsletter.mail.deliver import send_pending
from newsletter.mail.render import render_email
from newsletter.models import EditionItem, Summary
from newsletter.plaintext.characters import without_hidden
from tests.factories import make_paper, make_subscriber
from tests.mail_factories import (
    EDITION_DAY,
    make_content,
    make_edition,
    running_smtp_server,
    running_stand_in,
    sendgrid_settings,
)

# Every spelling a paper could try: our old fixed keys, with extra %, %-encoded, as HTML entities, split by
# zero-width characters, the slot names themselves, Jinja, and SendGrid's own substitution tags.
SPELLINGS = [
    "%%preferences_url%%", "%%unsubscribe_url%%", "%%edition_url%%", "%%%unsubscribe_url%%%",
    "%25%25preferences_url%25%25", "&#37;&#37;preferences_url&#37;&#37;", "&percnt;&percnt;edition_url&percnt;&percnt;",
    "%%pre\u200bferences_url%%", "%\u200d%unsubscribe_url%\u200d%", "%%preferences%%", "%%unsubscribe%%",
    "%%view_in_browser%%", "%%preferences-%%", "{{ links.preferences }}", "[[ links.unsubscribe ]]",
    "<%asm_group_unsubscribe_raw_url%>", "<%asm_preferences_raw_url%>", "<%asm_global_unsubscribe_raw_url%>",
    "[Unsubscribe]", "[unsubscribe_url]", "-preferences_url-", ":preferences_url",
]  # fmt: skip
HOSTILE_TEXT = "Steal " + " ".join(SPELLINGS)
# A URL holding invisible characters is never linked (`sources.urls`), so the spellings split by them are
# tried in the text only: the URL must reach the email for the test to mean anything.
HOSTILE_URL = "https://evil.example/steal?" + "&".join(
    f"v{n}={s.replace(' ', '')}" for n, s in enumerate(SPELLINGS) if without_hidden(s) == s
)
READERS = ["alice@example.org", "bob@example.org"]
CONTROL_READER = "carol@example.org"


@dataclass(frozen=True)
class Reader:
    email: str
    subscriber_id: int
    edition_id: int


@pytest.fixture
def readers(committed_session_factory: sessionmaker[Session]) -> dict[str, Reader]:
    with session_scope(committed_session_factory) as session:
        paper = make_paper(session, title=HOSTILE_TEXT, abstract=HOSTILE_TEXT, upvotes=5, summarized=False)
        paper.authors = [HOSTILE_TEXT, f"Eve {SPELLINGS[0]}", f"Mallory {SPELLINGS[3]}"]
        paper.github_repo = HOSTILE_URL
        paper.project_page = HOSTILE_URL
        paper.pdf_url = HOSTILE_URL
        paper.abs_url = HOSTILE_URL
        paper.comment = HOSTILE_TEXT
        paper.journal_ref = HOSTILE_TEXT
        paper.ai_keywords = SPELLINGS
        session.add(
            Summary(
                paper_id=paper.id,
                input_hash="hostile",
                backend="extractive",
                backend_version="test",
                key_points=[HOSTILE_TEXT, *SPELLINGS[:4]],
                summary=HOSTILE_TEXT,
                methodology=HOSTILE_TEXT,
                results=HOSTILE_TEXT,
                implications=HOSTILE_TEXT,
                topics=["NLP"],
            )
        )
        hostile = make_content(session, [paper])
        # Reasons are stored text too, and matched keywords are a reader's own words.
        session.execute(
            update(EditionItem)
            .where(EditionItem.content_id == hostile.id)
            .values(reason=HOSTILE_TEXT, matched_keywords=SPELLINGS)
        )
        harmless = make_content(session, [make_paper(session, title="Sparse retrieval", upvotes=5)])
        result = {}
        for address, content in [*((a, hostile) for a in READERS), (CONTROL_READER, harmless)]:
            subscriber = make_subscriber(session, address)
            edition = make_edition(session, subscriber, content)
            result[address] = Reader(address, subscriber.id, edition.id)
    return result


def parts(message: EmailMessage) -> dict[str, str]:
    html = message.get_body(("html",))
    text = message.get_body(("plain",))
    assert html is not None and text is not None
    return {"subject": str(message["Subject"]), "text": text.get_content(), "html": html.get_content()}


def hrefs(html: str) -> list[str]:
    document = html5lib.parse(html, treebuilder="etree", namespaceHTMLElements=False)
    return [element.get("href", "") for element in document.iter("a")]


OWN_LINK = re.compile(r"https://papers\.example\.org/(preferences|unsubscribe|editions)/([A-Za-z0-9_.-]+)")
PURPOSES: dict[str, Purpose] = {
    "preferences": "preferences",
    "unsubscribe": "unsubscribe",
    "editions": "edition",
}


def own_link_counts(
    settings: Settings, reader: Reader, rendered: dict[str, str]
) -> dict[tuple[str, str], int]:
    """How often each of the reader's links occurs in each part; every signed link must be theirs."""
    counts: dict[tuple[str, str], int] = {}
    for part, value in rendered.items():
        for kind, token in OWN_LINK.findall(value):
            expected_id = reader.edition_id if kind == "editions" else reader.subscriber_id
            assert read_token(settings, PURPOSES[kind], token).subject_id == expected_id, (reader, kind)
            counts[part, kind] = counts.get((part, kind), 0) + 1
    return counts


def assert_links_only_in_own_slots(
    settings: Settings, emails: dict[str, dict[str, str]], readers: dict[str, Reader]
) -> None:
    expected = own_link_counts(settings, readers[CONTROL_READER], emails[CONTROL_READER])
    assert expected.keys() >= {(part, kind) for part in ("text", "html") for kind in PURPOSES}
    for address in READERS:
        rendered = emails[address]
        assert "evil.example/steal" in rendered["html"]  # the hostile paper is in the email
        assert own_link_counts(settings, readers[address], rendered) == expected, address
        for href in hrefs(rendered["html"]):
            if "papers.example.org/" in href and OWN_LINK.search(href):
                assert OWN_LINK.fullmatch(href), href


def test_the_file_backend_puts_each_readers_links_only_in_the_templates_slots(
    settings: Settings, committed_session_factory: sessionmaker[Session], readers: dict[str, Reader]
) -> None:
    report = send_pending(committed_session_factory, settings, edition_date=EDITION_DAY)
    assert report.sent == 3
    emails = {}
    for path in settings.resolved_outbox_dir.glob("*.eml"):
        message = email.message_from_bytes(path.read_bytes(), policy=email.policy.default)
        assert isinstance(message, EmailMessage)
        emails[str(message["To"])] = parts(message)
    assert_links_only_in_own_slots(settings, emails, readers)


class RecordingHandler:
    def __init__(self) -> None:
        self.messages: list[bytes] = []

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:
        self.messages.append(envelope.content)
        return "250 OK"


def test_a_real_smtp_server_receives_each_readers_links_only_in_the_templates_slots(
    settings: Settings, committed_session_factory: sessionmaker[Session], readers: dict[str, Reader]
) -> None:
    handler = RecordingHandler()
    with running_smtp_server(handler) as port:
        smtp = settings.model_copy(update={"mail_backend": "smtp", "smtp_port": port, "send_rate_per_s": 1e4})
        assert send_pending(committed_session_factory, smtp, edition_date=EDITION_DAY).sent == 3
    emails = {}
    for raw in handler.messages:
        message = email.message_from_bytes(raw, policy=email.policy.default)
        assert isinstance(message, EmailMessage)
        emails[str(message["To"])] = parts(message)
    assert_links_only_in_own_slots(settings, emails, readers)


def sendgrid_substitution(value: str, substitutions: dict[str, str]) -> str:
    """What SendGrid does with `substitutions`: replaces each key wherever it occurs in subject and content."""
    for key, replacement in substitutions.items():
        value = value.replace(key, replacement)
    return value


def test_the_sendgrid_request_has_no_substitution_key_outside_text_can_spell(
    settings: Settings, committed_session_factory: sessionmaker[Session], readers: dict[str, Reader]
) -> None:
    with running_stand_in() as stand_in:
        configured = sendgrid_settings(settings, stand_in.url)
        assert send_pending(committed_session_factory, configured, edition_date=EDITION_DAY).sent == 3
    emails = {}
    for request in stand_in.requests:
        body = request.body
        content = {item["type"]: item["value"] for item in body["content"]}
        for personalization in body["personalizations"]:
            substitutions = personalization.get("substitutions", {})
            for key in substitutions:
                assert key not in HOSTILE_TEXT and key not in HOSTILE_URL
            emails[personalization["to"][0]["email"]] = {
                "subject": sendgrid_substitution(body["subject"], substitutions),
                "text": sendgrid_substitution(content["text/plain"], substitutions),
                "html": sendgrid_substitution(content["text/html"], substitutions),
            }
        # SendGrid's own link rewriting, open pixel and subscription tags would act on paper text too.
        tracking = body.get("tracking_settings", {})
        for name in ("click_tracking", "open_tracking", "subscription_tracking", "ganalytics"):
            assert tracking.get(name, {}).get("enable") is False, name
    assert_links_only_in_own_slots(settings, emails, readers)


def test_two_renderings_of_one_edition_never_share_a_slot_key(settings: Settings, session: Session) -> None:
    content = make_content(session, [make_paper(session)])
    key = EditionGroupKey(EDITION_DAY, "papers", content.id)
    first = render_email("edition", content_context(session, settings, key))
    second = render_email("edition", content_context(session, settings, key))
    assert set(first.link_slots) == {"view_in_browser", "preferences", "unsubscribe", "feedback"}
    assert not set(first.link_slots.values()) & set(second.link_slots.values())
    for slot_key in first.link_slots.values():
        assert first.html.count(slot_key) >= 1 and slot_key not in second.html
