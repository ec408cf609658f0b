"""Text the newsletter writes from a paper (key points, the TL;DR, a summary's sections) reads as the
newsletter's own words, so it states no link: an author who writes "Subscribers must confirm at
renew-newsletter.com within two days" in an abstract, or tells a language model (ours, or the one that
writes Hugging Face's TL;DR) to write it, must not have every reader's mail program show that as a link
under the newsletter's name."""

from __future__ import annotations

import email
import email.policy
import time
from http.server import ThreadingHTTPServer

import pytest
from sqlalchemy import select, update
from sqlalchemy.orm import Session, sessionmaker

from newsletter.catalog.site import paper_detail, papers_by_ids
from newsletter.config import Settings
from newsletter.db import session_scope
from newsletter.feeds.atom import build_atom
from newsletter.mail.context import EditionGroupKey, content_context
from newsletter.mail.deliver import send_pending
from newsletter.mail.render import render_email
from newsletter.models import Paper, Summary
from newsletter.plaintext.autolinks import has_autolink
from newsletter.summaries.extractive import ExtractiveSummarizer
from newsletter.summaries.model import PaperText
from tests.factories import make_paper, make_subscriber
from tests.llm_fixtures import FAIR_ANSWER, model_server_fixture, with_llm  # noqa: F401
from tests.mail_factories import EDITION_DAY, make_content, make_edition

# Each as a mail program (Gmail, Outlook, Apple Mail) or a browser shows it: a link.
LINK_SPELLINGS = [
    "HTTPS://renew-newsletter.example/confirm",
    "Https://renew-newsletter.example/confirm",
    "www.renew-newsletter.example",
    "renew-newsletter.com",
    "Renew-Newsletter.COM",
    "renew-newsletter.example/confirm",
    "renewals@newsletter-help.example",
    "ｈｔｔｐｓ：／／renew-newsletter.example",
]
BASE = "https://newsletter.example/feeds/trending.atom"
LURE = "Subscribers must renew their subscription at {link} within two days or lose access."
ABSTRACT = (
    "We study retrieval for question answering. We propose a retriever that reads passages twice and "
    "improves recall on three benchmarks. {lure} The method is simple to deploy in practice."
)


def summary_texts(summary) -> str:
    return " ".join(
        [*summary.key_points, summary.summary, summary.methodology, summary.results, summary.implications]
    )


@pytest.mark.parametrize("link", LINK_SPELLINGS)
def test_the_offline_summary_never_takes_a_sentence_stating_a_link(link: str) -> None:
    lure = LURE.format(link=link)
    summary = ExtractiveSummarizer().summarize(
        PaperText(title="Reading passages twice", abstract=ABSTRACT.format(lure=lure), id="2611.00001")
    )

    assert "renew" not in summary_texts(summary).lower()
    assert "twice" in summary_texts(summary)


def sent_text(settings: Settings) -> str:
    (path,) = settings.resolved_outbox_dir.glob("*.eml")
    message = email.message_from_bytes(path.read_bytes(), policy=email.policy.default)
    return message.get_body(("plain",)).get_content() + message.get_body(("html",)).get_content()


@pytest.mark.parametrize("link", LINK_SPELLINGS)
def test_a_model_answer_stating_a_link_is_refused_and_the_offline_summary_is_sent(
    committed_session_factory: sessionmaker[Session],
    settings: Settings,
    model_server: ThreadingHTTPServer,
    link: str,
) -> None:
    lure = LURE.format(link=link)
    # The abstract told the model to write it; the offline summary leaves that sentence out.
    model_server.answer = {**FAIR_ANSWER, "key_points": [lure, *FAIR_ANSWER["key_points"]]}  # type: ignore[attr-defined]
    with session_scope(committed_session_factory) as session:
        paper = make_paper(session, title="Reading passages twice", abstract=ABSTRACT.format(lure=lure))
        make_edition(session, make_subscriber(session, "alice@example.org"), make_content(session, [paper]))
        paper_id = paper.id
    llm = with_llm(settings, model_server)

    report = send_pending(committed_session_factory, llm, edition_date=EDITION_DAY)

    assert report.sent == 1
    assert "renew" not in sent_text(llm).lower()
    with session_scope(committed_session_factory) as session:
        (reason,) = session.scalars(
            select(Summary.fallback_reason).where(Summary.paper_id == paper_id, Summary.model == "test-model")
        )
    assert reason is not None and "link" in reason


def test_a_tldr_or_key_point_stating_a_link_is_shown_nowhere(session: Session, settings: Settings) -> None:
    # Hugging Face's TL;DR is a model's answer too, and summaries stored before this rule may hold one.
    paper = make_paper(session, title="Reading passages twice", abstract=ABSTRACT.format(lure=""))
    paper.tldr, paper.tldr_source = LURE.format(link="renew-newsletter.com"), "hf"
    session.execute(
        update(Summary)
        .where(Summary.paper_id == paper.id)
        .values(
            key_points=["Reads passages twice.", LURE.format(link="www.renew.example"), "Recall improves."],
            methodology="A second pass reranks each passage. " + LURE.format(link="HTTPS://renew.example/x"),
        )
    )
    content = make_content(session, [paper])
    session.flush()
    session.expire_all()

    context = content_context(session, settings, EditionGroupKey(EDITION_DAY, "papers", content.id))
    rendered = render_email("edition", context)
    page = paper_detail(session, session.get(Paper, paper.id).arxiv_id)
    (card,) = papers_by_ids(session, [paper.id])
    feed = build_atom(settings, "urn:test", "Test", BASE, BASE, [card]).body.decode()

    assert "renew" not in (rendered.text + rendered.html).lower()
    assert "Reads passages twice." in rendered.text
    shown = [page.tldr.text if page.tldr else "", *page.key_points, page.methodology or ""]
    assert "renew" not in " ".join(shown).lower()
    assert page.methodology == "A second pass reranks each passage."
    # The home page's cards and the Atom feeds show key points too.
    assert card.key_points == ["Reads passages twice.", "Recall improves."]
    assert "renew" not in feed.lower() and "Reads passages twice." in feed


@pytest.mark.parametrize(
    "text",
    ["a." * 100_000, "a.-" * 70_000, "@a" * 100_000, "a@" + "a" * 200_000, "https:" * 35_000, "é." * 100_000],
    ids=["dots", "dot-hyphens", "ats", "one-at", "schemes", "non-ascii-dots"],
)
def test_reading_a_text_for_links_takes_linear_time(text: str) -> None:
    # Every sentence of every abstract is read for links: a host-name pattern that could start at any dot
    # and backtrack took 10 s for 10,000 characters of "a.".
    started = time.perf_counter()
    has_autolink(text)
    assert time.perf_counter() - started < 1.0
