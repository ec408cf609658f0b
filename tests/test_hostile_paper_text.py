"""Hostile paper text through the whole product: stored by the real upserts, summarized and tagged by the
extractive summarizer, built into an edition, sent by the file backend, and shown on the site.

Each rendering is parsed the way a browser parses it (html5lib), so "escaped" means: the document has the
same elements as the same email or page rendered from harmless text, and the hostile text is only text.
"""

from __future__ import annotations

import email
import email.policy
import json
import re
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, time, timedelta
from email.message import EmailMessage
from typing import Any

import html5lib
import pytest
from fastapi.testclient import TestClient
from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker

from newsletter.config import Settings
from newsletter.db import session_scope
from newsletter.digests.build import build_due_editions
from newsletter.links import urls as links
from newsletter.mail.context import EditionGroupKey, content_context
from newsletter.mail.deliver import send_pending
from newsletter.mail.render import render_email
from newsletter.models import Edition, Paper, Summary, Topic
from newsletter.plaintext.latex import latex_to_text
from newsletter.sources.daily_papers import parse_hf_daily_papers
from newsletter.sources.parse import PaperRecord
from newsletter.sources.store import upsert_arxiv_papers, upsert_hf_papers
from newsletter.summaries.extractive import ExtractiveSummarizer
from newsletter.summaries.store import summarize_pending
from tests.factories import make_subscriber
from tests.web_fixtures import BASE_URL, client_fixture  # noqa: F401

XHTML = "{http://www.w3.org/1999/xhtml}"
SCRIPT = "<script>alert(1)</script>"
JINJA_EXPRESSION = "{{ 7*7 }}"
JINJA_STATEMENT = "{% if true %}JINJA-RAN{% endif %}"
STRUCTURE_BREAKERS = "</table></td></tr></tbody> </mj-column></mj-section></mjml> </ul></article></main>"
RTL_OVERRIDE = "\u202e"
ZERO_WIDTH = "\u200b\u200d\ufeff"
INJECTION_TITLE = f"{SCRIPT} Sparse attention for language models {JINJA_EXPRESSION} {JINJA_STATEMENT}"
STRUCTURE_TITLE = f"Retrieval {STRUCTURE_BREAKERS} transformers with <b>bold</b> &amp; <!-- a comment"
BIDI_TITLE = f"Invoice {RTL_OVERRIDE}fdp.exe zero{ZERO_WIDTH}width language model"
LONG_TITLE = "Language model " + "x" * 19_985
# Titles and abstracts are shown as plain text: braces, `$` and backslashes are LaTeX markup and never
# reach a reader (the source's own text is kept in title_raw / abstract_raw).
INJECTION_SHOWN = latex_to_text(INJECTION_TITLE)
JINJA_EXPRESSION_SHOWN = latex_to_text(JINJA_EXPRESSION)
JINJA_STATEMENT_SHOWN = latex_to_text(JINJA_STATEMENT)
HOSTILE_ABSTRACT = (
    "We propose <img src=x onerror=alert(1)> a language model for retrieval. "
    f"Our results show {JINJA_EXPRESSION} gains on </table> benchmarks and {JINJA_STATEMENT} tasks. "
    "The method uses </mj-text></mj-column> tokens and <script>alert(2)</script> attention. "
    "These findings suggest that language models can be trained safely."
)


@dataclass(frozen=True)
class HostileWorld:
    alice_id: int
    edition_id: int
    arxiv_ids: dict[str, str]  # role -> arXiv id
    message: EmailMessage
    now: datetime


def arxiv_record(arxiv_id: str, title: str, published: datetime) -> PaperRecord:
    return PaperRecord(
        arxiv_id=arxiv_id,
        version=1,
        title=title,
        abstract=HOSTILE_ABSTRACT,
        authors=[f"Mallory {SCRIPT}", f"Eve {JINJA_EXPRESSION}"],
        categories=["cs.CL"],
        primary_category="cs.CL",
        published=published,
        updated=published,
        abs_url=f"https://arxiv.org/abs/{arxiv_id}v1",
        pdf_url=f"https://arxiv.org/pdf/{arxiv_id}v1",
        comment=SCRIPT,
    )


def hf_body_with_nul(arxiv_id: str, published: datetime) -> bytes:
    """A Daily Papers answer whose title and abstract carry NUL as JSON spells it (\\u0000)."""
    item = {
        "paper": {
            "id": arxiv_id,
            "title": "Null\u0000 byte language model",
            "summary": "We propose a language model.\u0000 Our results show gains on retrieval tasks.",
            "authors": [{"name": "Nul\u0000 Author"}],
            "publishedAt": published.isoformat(),
            "submittedOnDailyAt": published.isoformat(),
            "upvotes": 3,
            "githubRepo": "javascript:alert(1)",
        },
        "numComments": 0,
    }
    body = json.dumps([item]).encode()
    assert b"\\u0000" in body
    return body


@pytest.fixture
def world(settings: Settings, committed_session_factory: sessionmaker[Session]) -> HostileWorld:
    now = datetime.now(UTC)
    published = now - timedelta(hours=2)
    arxiv_ids = {
        "injection": "2611.90001",
        "structure": "2611.90002",
        "bidi": "2611.90003",
        "long": "2611.90004",
        "nul": "2611.90005",
    }
    titles = {
        "injection": INJECTION_TITLE,
        "structure": STRUCTURE_TITLE,
        "bidi": BIDI_TITLE,
        "long": LONG_TITLE,
    }
    with session_scope(committed_session_factory) as session:
        upsert_arxiv_papers(
            session, [arxiv_record(arxiv_ids[role], title, published) for role, title in titles.items()]
        )
        upsert_hf_papers(session, parse_hf_daily_papers(hf_body_with_nul(arxiv_ids["nul"], published)).items)
    with session_scope(committed_session_factory) as session:
        counts = summarize_pending(session, ExtractiveSummarizer())
        assert counts.stored == 5 and counts.failed == 0
        every_topic = list(session.scalars(select(Topic.name)))
        alice = make_subscriber(
            session,
            "alice@example.org",
            topics=every_topic,
            keywords=["language model"],
            send_time=time(0, 0),
            max_papers=10,
        )
        alice_id = alice.id
    report = build_due_editions(committed_session_factory, settings, now)
    assert report.built == 1
    with session_scope(committed_session_factory) as session:
        edition_id = session.scalars(select(Edition.id).where(Edition.subscriber_id == alice_id)).one()
    sent = send_pending(committed_session_factory, settings, now=now)
    assert sent.sent == 1 and sent.failed == 0
    [eml] = sorted(settings.resolved_outbox_dir.glob("*.eml"))
    message = email.message_from_bytes(eml.read_bytes(), policy=email.policy.default)
    assert isinstance(message, EmailMessage)
    return HostileWorld(alice_id, edition_id, arxiv_ids, message, now)


# ---------------------------------------------------------------- helpers


def parse_html(html: str) -> Any:
    return html5lib.parse(html, treebuilder="etree", namespaceHTMLElements=True)


def element_names(html: str) -> list[str]:
    return [
        element.tag.removeprefix(XHTML) for element in parse_html(html).iter() if isinstance(element.tag, str)
    ]


def text_content(html: str) -> str:
    return "".join(parse_html(html).itertext())


def harmless(value: Any) -> Any:
    """The same context with every piece of outside text replaced by plain words (links kept)."""
    if isinstance(value, dict):
        return {key: harmless(item) for key, item in value.items()}
    if isinstance(value, list):
        return [harmless(item) for item in value]
    if isinstance(value, str) and value and not value.startswith(("https://", "%%")):
        return "plain words"
    return value


def edition_group_context(
    factory: sessionmaker[Session], settings: Settings, edition_id: int
) -> dict[str, Any]:
    with session_scope(factory) as session:
        edition = session.get_one(Edition, edition_id)
        key = EditionGroupKey(edition.edition_date, edition.kind, edition.content_id)
        return content_context(session, settings, key)


def html_part(message: EmailMessage) -> str:
    part = message.get_body(("html",))
    assert part is not None
    return str(part.get_content())


def text_part(message: EmailMessage) -> str:
    part = message.get_body(("plain",))
    assert part is not None
    return str(part.get_content())


def assert_inert(html: str, allowed_scripts: int = 0) -> None:
    """No script element or event handler came from outside text; no Jinja was evaluated."""
    tree = parse_html(html)
    scripts = [element for element in tree.iter(f"{XHTML}script")]
    assert len(scripts) == allowed_scripts, [script.attrib for script in scripts]
    assert all(script.get("src", "").startswith("/static/") for script in scripts)
    for element in tree.iter():
        if isinstance(element.tag, str):
            assert not [name for name in element.attrib if name.lower().startswith("on")], element.attrib
            assert element.tag != f"{XHTML}img" or not element.get("src", "").startswith("x")
    # The statement is shown as written, never run: its body only ever appears inside the literal.
    text = text_content(html)
    assert text.count("JINJA-RAN") == text.count(JINJA_STATEMENT) + text.count(JINJA_STATEMENT_SHOWN)


# ---------------------------------------------------------------- the email


def test_the_stored_text_is_literal_and_the_nul_was_stripped_at_the_door(
    world: HostileWorld, committed_session_factory: sessionmaker[Session]
) -> None:
    with session_scope(committed_session_factory) as session:
        stored = {
            row[0]: row[1:] for row in session.execute(select(Paper.arxiv_id, Paper.title, Paper.title_raw))
        }
        summaries = list(session.scalars(select(Summary)))
    assert stored[world.arxiv_ids["injection"]] == (INJECTION_SHOWN, INJECTION_TITLE)
    assert "{" not in INJECTION_SHOWN and "7*7" in INJECTION_SHOWN
    assert stored[world.arxiv_ids["long"]] == (LONG_TITLE, LONG_TITLE)
    assert stored[world.arxiv_ids["nul"]][0] == "Null byte language model"
    # The summarizer keeps the abstract's words as they are: escaping is the renderers' job.
    key_points = [point for summary in summaries for point in summary.key_points]
    assert any("<img src=x onerror=alert(1)>" in point or "7*7" in point for point in key_points)


def test_the_email_html_has_the_structure_of_the_same_email_with_harmless_text(
    world: HostileWorld, settings: Settings, committed_session_factory: sessionmaker[Session]
) -> None:
    context = edition_group_context(committed_session_factory, settings, world.edition_id)
    assert len(context["papers"]) == 5
    hostile = render_email("edition", context).html
    control = render_email("edition", harmless(context)).html
    assert element_names(hostile) == element_names(control)
    # And the HTML part that was actually written to the outbox is that same document.
    sent = html_part(world.message)
    assert element_names(sent) == element_names(control)
    assert_inert(sent)


def test_the_email_html_shows_hostile_text_escaped_and_unevaluated(world: HostileWorld) -> None:
    html = html_part(world.message)
    assert "<script" not in html.lower() and "<img" not in html.lower()
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in html
    assert "&lt;/table&gt;&lt;/td&gt;&lt;/tr&gt;" in html and "&lt;/mj-column&gt;" in html
    text = text_content(html)
    assert INJECTION_SHOWN in text
    assert JINJA_EXPRESSION_SHOWN in text and JINJA_STATEMENT_SHOWN in text
    assert "Retrieval " + STRUCTURE_BREAKERS in text
    # `{{ 7*7 }}` is never replaced by its value anywhere it was written.
    assert not re.search(r"language models 49\b", text) and "gains on" in text
    assert RTL_OVERRIDE not in html and "\x00" not in html
    assert not any(character in html for character in ZERO_WIDTH)


def test_the_text_part_is_literal_with_controls_bidi_overrides_and_invisible_characters_removed(
    world: HostileWorld,
) -> None:
    text = text_part(world.message)
    assert INJECTION_SHOWN in text  # plain text is never HTML-escaped
    assert "&lt;" not in text and "&amp;amp;" not in text
    assert RTL_OVERRIDE not in text and "\x00" not in text
    # Zero-width characters hide inside words ("zero-width" no longer matches a keyword): removed.
    assert "Invoice fdp.exe zerowidth language model" in text
    assert not any(character in text for character in ZERO_WIDTH)
    assert "Null byte language model" in text


def test_a_twenty_thousand_character_title_is_shortened_in_the_email(world: HostileWorld) -> None:
    html, text = html_part(world.message), text_part(world.message)
    for part in (html, text):
        assert "x" * 20_000 not in part
        assert "Language model " + "x" * 250 in part and "x…" in part
    # The HTML still ends where it should: the footer follows the last paper.
    assert html.count("</html>") == 1 and html.rindex("Unsubscribe") > html.rindex("Language model xxx")


def test_the_subject_header_stays_one_clean_line(world: HostileWorld) -> None:
    subject = str(world.message["Subject"])
    assert (
        "\n" not in subject and "\r" not in subject and RTL_OVERRIDE not in subject and "\x00" not in subject
    )
    assert len(subject) < 200
    raw = world.message.as_bytes().split(b"\n\n", 1)[0]
    headers = [line for line in raw.split(b"\n") if line and not line[:1].isspace()]
    names = [line.split(b":", 1)[0].lower() for line in headers]
    # Whatever the titles hold, the message has exactly one of each header and no invented ones.
    assert names.count(b"subject") == 1 and b"bcc" not in names and b"x-evil" not in names
    assert set(names) <= {
        b"subject", b"from", b"to", b"date", b"message-id", b"x-newsletter-delivery-id", b"list-unsubscribe",
        b"list-unsubscribe-post", b"list-id", b"mime-version", b"content-type", b"reply-to",
    }  # fmt: skip


def test_unsafe_links_from_outside_data_never_reach_the_email(world: HostileWorld) -> None:
    html = html_part(world.message)
    hrefs = [element.get("href", "") for element in parse_html(html).iter(f"{XHTML}a")]
    assert hrefs and all(href.startswith(("https://", "http://", "mailto:")) for href in hrefs), hrefs
    assert "javascript:" not in html and "javascript:" not in text_part(world.message)


# ---------------------------------------------------------------- the site


@pytest.fixture
def site(world: HostileWorld, client: TestClient) -> Iterator[TestClient]:
    yield client


def page(client: TestClient, path: str) -> str:
    response = client.get(path)
    assert response.status_code == 200, (path, response.status_code, response.text[:500])
    return response.text


def assert_page_layout_holds(html: str, cards: int | None = None) -> None:
    tree = parse_html(html)
    body = tree.find(f"{XHTML}body")
    assert body is not None
    # header, main and footer are still the body's own children, in that order, whatever the text closed.
    children = [child.tag.removeprefix(XHTML) for child in body if isinstance(child.tag, str)]
    assert [name for name in children if name in ("header", "main", "footer")] == ["header", "main", "footer"]
    if cards is not None:
        main = body.find(f"{XHTML}main")
        assert main is not None
        articles = [element for element in main.iter(f"{XHTML}article")]
        assert len(articles) == cards


def test_the_home_page_escapes_every_hostile_title_and_keeps_its_layout(site: TestClient) -> None:
    html = page(site, "/")
    assert_inert(html, allowed_scripts=1)
    assert_page_layout_holds(html, cards=5)
    text = text_content(html)
    assert INJECTION_SHOWN in text and "Retrieval " + STRUCTURE_BREAKERS in text
    assert RTL_OVERRIDE not in html and "\x00" not in html


@pytest.mark.parametrize("role", ["injection", "structure", "bidi", "long", "nul"])
def test_each_paper_page_escapes_its_text_and_keeps_its_layout(
    site: TestClient, world: HostileWorld, role: str
) -> None:
    html = page(site, f"/papers/{world.arxiv_ids[role]}")
    assert_inert(html, allowed_scripts=1)
    assert_page_layout_holds(html, cards=None)
    text = text_content(html)
    if role == "nul":
        assert "Null byte language model" in text and "Nul Author" in text
    else:
        assert "<img src=x onerror=alert(1)>" in text  # the abstract, shown as text
        assert f"Mallory {SCRIPT}" in text and f"Eve {JINJA_EXPRESSION}" in text  # names are not LaTeX
    assert RTL_OVERRIDE not in html and "\x00" not in html
    assert "javascript:" not in html
    if role == "long":
        # Shown whole on its own page; the stylesheet wraps it (overflow-wrap: anywhere on .card and h1).
        assert LONG_TITLE in text


def test_the_archived_edition_page_escapes_and_keeps_its_layout(
    site: TestClient, settings: Settings, world: HostileWorld
) -> None:
    html = page(site, links.edition_url(settings, world.edition_id).removeprefix(BASE_URL))
    assert_inert(html, allowed_scripts=1)
    assert_page_layout_holds(html, cards=5)
    text = text_content(html)
    assert INJECTION_SHOWN in text and JINJA_STATEMENT_SHOWN in text
    assert "x" * 20_000 not in text  # the same shortened title as the email


def test_the_preference_preview_escapes_and_keeps_its_layout(
    site: TestClient, settings: Settings, committed_session_factory: sessionmaker[Session]
) -> None:
    # Bob has had no edition yet, so his preview holds every hostile paper (alice's has none left).
    with session_scope(committed_session_factory) as session:
        every_topic = list(session.scalars(select(Topic.name)))
        bob_id = make_subscriber(
            session, "bob@example.org", topics=every_topic, keywords=["language model"]
        ).id
    html = page(site, links.preferences_url(settings, bob_id).removeprefix(BASE_URL))
    assert_inert(html, allowed_scripts=1)
    assert_page_layout_holds(html, cards=5)
    text = text_content(html)
    assert INJECTION_SHOWN in text and "Retrieval " + STRUCTURE_BREAKERS in text
    assert RTL_OVERRIDE not in html and "\x00" not in html
    # Every form still posts to bob's own links and carries its CSRF field inside it.
    forms = list(parse_html(html).iter(f"{XHTML}form"))
    assert len(forms) >= 3
    for form in forms:
        assert form.get("action", "").startswith(("/preferences/", "/unsubscribe/")), form.attrib
        assert any(field.get("name") == "csrf_token" for field in form.iter(f"{XHTML}input"))


@pytest.mark.parametrize(
    ("url", "status"),
    [
        ("/?q=%00", 200),
        ("/?q=retrieval%00%3Cscript%3E", 200),
        ("/?topic=%00", 200),
        ("/?topic=%3Cscript%3Ealert(1)%3C/script%3E", 200),
        ("/?q=%3Cscript%3Ealert(1)%3C/script%3E%22%3E", 200),
        ("/?q=%ff%fe%ed", 200),
        ("/?q=(((((%20OR%201=1%20--", 200),
        ("/?day=%00", 200),
        ("/?day=%3Cscript%3E", 200),
        ("/papers/%00", 404),
        ("/papers/2611.0%000001", 404),
        ("/papers/%3Cscript%3Ealert(1)%3C%2Fscript%3E", 404),
        ("/papers/" + "9" * 5000, 404),
    ],
)
def test_hostile_urls_on_public_pages_get_a_page_never_an_error(
    site: TestClient, url: str, status: int
) -> None:
    response = site.get(url)
    assert response.status_code == status, (url, response.status_code)
    assert_inert(response.text, allowed_scripts=1)
    assert_page_layout_holds(response.text)
    assert "<script>alert" not in response.text
