"""What readers are shown: a one-line TL;DR (Hugging Face's, labelled, else the first key point), key
points, sections that repeat nothing, the original abstract folded away once; in the email and on the
paper page, for LaTeX-heavy hostile papers stored, summarized and rendered by the real code."""

from __future__ import annotations

import json
import re
from collections import Counter
from datetime import UTC, datetime

import html5lib
from fastapi.testclient import TestClient
from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker

from newsletter.config import Settings
from newsletter.db import session_scope
from newsletter.links.urls import edition_url
from newsletter.mail.context import edition_context
from newsletter.mail.render import render_email
from newsletter.models import Paper
from newsletter.plaintext.presentation import sections_without_repeats, tldr_and_points
from newsletter.plaintext.shorten import ELLIPSIS
from newsletter.sources.daily_papers import parse_hf_daily_papers
from newsletter.sources.parse import PaperRecord
from newsletter.sources.store import upsert_arxiv_papers, upsert_hf_papers
from newsletter.summaries.extractive import ExtractiveSummarizer
from newsletter.summaries.sentences import split_sentences
from newsletter.summaries.store import summarize_pending
from tests.factories import make_subscriber
from tests.mail_factories import make_content, make_edition
from tests.web_fixtures import BASE_URL, client_fixture  # noqa: F401

XHTML = "{http://www.w3.org/1999/xhtml}"
PUBLISHED = datetime(2026, 11, 20, 9, 0, tzinfo=UTC)
# Written for this test: LaTeX, first person, connectives, a long title, HTML and a placeholder.
LATEX_TITLE = (
    r"SparseRoute: $\mathcal{O}(1)$ Routing for Mixture-of-Experts with \emph{Learned} Capacity Limits "
    r"Across Heterogeneous Accelerators and Long Contexts"
)
LATEX_ABSTRACT = (
    r"Mixture-of-experts models route each token to a few experts, but routing is costly on long "
    r"contexts~\cite{fedus2021}. However, existing routers ignore the capacity of each accelerator. "
    r"To address this, we propose SparseRoute, a router with $\mathcal{O}(1)$ cost per token that learns "
    r"capacity limits per device <b>online</b>. It is trained jointly with the experts and needs no extra "
    r"data. We show that SparseRoute reaches $2.57\times$ higher throughput than Switch routing while "
    r"keeping $98.1\%$ of its accuracy on %%unsubscribe_url%% benchmarks. Moreover, the router remains "
    r"stable with $k \geq 4$ experts and contexts of 128K tokens. Our results suggest that capacity-aware "
    r"routing makes sparse models practical on mixed hardware."
)
PLAIN_ABSTRACT = (
    "Retrieval-augmented models answer from passages they retrieve. We introduce a calibrated abstention "
    "rule for such models. The rule bounds the rate of unsupported answers at a chosen level. Experiments "
    "on four benchmarks show that it meets its target within 1.2 points. This suggests abstention can be "
    "controlled without retraining."
)
HF_TLDR = r"SparseRoute learns per-device capacity limits for $\mathcal{O}(1)$ expert routing."


def record(arxiv_id: str, title: str, abstract: str) -> PaperRecord:
    return PaperRecord(
        arxiv_id=arxiv_id, version=1, title=title, abstract=abstract, authors=["Ada Lovelace"],
        categories=["cs.LG"], primary_category="cs.LG", published=PUBLISHED, updated=PUBLISHED,
        abs_url=f"https://arxiv.org/abs/{arxiv_id}v1",
    )  # fmt: skip


def hf_body(arxiv_id: str, title: str, abstract: str) -> bytes:
    paper = {
        "id": arxiv_id, "title": title, "summary": abstract, "authors": [{"name": "Ada Lovelace"}],
        "publishedAt": PUBLISHED.isoformat(), "submittedOnDailyAt": PUBLISHED.isoformat(), "upvotes": 9,
        "ai_summary": HF_TLDR,
    }  # fmt: skip
    return json.dumps([{"paper": paper, "numComments": 1}]).encode()


def store_and_summarize(factory: sessionmaker[Session]) -> None:
    with session_scope(factory) as session:
        upsert_arxiv_papers(
            session,
            [
                record("2611.70001", LATEX_TITLE, LATEX_ABSTRACT),
                record("2611.70002", "Calibrated Abstention", PLAIN_ABSTRACT),
            ],
        )
        upsert_hf_papers(
            session, parse_hf_daily_papers(hf_body("2611.70001", LATEX_TITLE, LATEX_ABSTRACT)).items
        )
    with session_scope(factory) as session:
        assert summarize_pending(session, ExtractiveSummarizer()).stored == 2


def sentences_of(text: str) -> list[str]:
    return [
        sentence
        for line in text.splitlines()
        for sentence in split_sentences(line.strip(" -•")).sentences
        if len(sentence.split()) >= 4
    ]


def visible_text(html: str, skip_details: bool) -> str:
    tree = html5lib.parse(html, treebuilder="etree", namespaceHTMLElements=True)
    if skip_details:
        for parent in tree.iter():
            for child in list(parent):
                if child.tag == f"{XHTML}details":
                    parent.remove(child)
    return "\n".join(
        text.strip()
        for element in tree.iter()
        for text in (element.text, element.tail)
        if text and text.strip()
    )


def assert_no_sentence_twice(text: str) -> None:
    repeated = [sentence for sentence, count in Counter(sentences_of(text)).items() if count > 1]
    assert repeated == [], repeated


def assert_nothing_cut_mid_word(text: str) -> None:
    for match in re.finditer(ELLIPSIS, text):
        assert not text[max(match.start() - 1, 0)].isspace() and text[match.start() - 1] not in ",;:"


def test_the_email_shows_the_labelled_tldr_once_and_no_sentence_twice(
    settings: Settings, committed_session_factory: sessionmaker[Session]
) -> None:
    store_and_summarize(committed_session_factory)
    with session_scope(committed_session_factory) as session:
        papers = list(session.scalars(select(Paper).order_by(Paper.arxiv_id)))
        edition = make_edition(
            session, make_subscriber(session, "alice@example.org"), make_content(session, papers)
        )
        email = render_email("edition", edition_context(session, settings, edition.id))
    text = email.text
    assert (
        text.count(
            "TL;DR (Hugging Face): SparseRoute learns per-device capacity limits for O(1) expert routing."
        )
        == 1
    )
    assert "TL;DR (Hugging Face)" in visible_text(email.html, skip_details=False)
    # The paper without Hugging Face's TL;DR leads with its first key point, unlabelled, shown once.
    assert text.count("TL;DR") == 1
    assert "Introduction of a calibrated abstention rule for such models." in text
    body = text.split("View in browser:", 1)[1]
    assert not any(character in body.split("Unsubscribe")[0] for character in "{}$\\")
    assert_no_sentence_twice(body)
    assert_no_sentence_twice(visible_text(email.html, skip_details=False))
    assert_nothing_cut_mid_word(text)
    assert len(email.subject) <= 80 and not email.subject.endswith(f" {ELLIPSIS}")


def test_the_paper_page_folds_the_abstract_away_once_and_repeats_no_sentence(
    client: TestClient, committed_session_factory: sessionmaker[Session]
) -> None:
    store_and_summarize(committed_session_factory)
    html = client.get("/papers/2611.70001").text
    assert html.count("<details") == 1 and "Original abstract" in html
    shown = visible_text(html, skip_details=True)
    assert "TL;DR (Hugging Face):" in shown
    assert_no_sentence_twice(shown)
    assert not any(character in shown for character in "{}$\\")
    assert "Key points" in shown and "Written from the abstract's own sentences" in shown
    plain = client.get("/papers/2611.70002").text
    plain_shown = visible_text(plain, skip_details=True)
    assert "TL;DR" not in plain_shown
    assert plain_shown.count("Introduction of a calibrated abstention rule for such models.") == 1
    assert_no_sentence_twice(plain_shown)


def test_without_a_source_tldr_the_first_key_point_leads_and_is_not_listed_again() -> None:
    tldr, points = tldr_and_points(None, None, ["Introduction of X.", "Evidence that X works."])
    assert tldr is not None and (tldr.text, tldr.source_label) == ("Introduction of X.", None)
    assert points == ["Evidence that X works."]


def test_a_key_point_saying_what_the_source_tldr_says_is_not_listed_again() -> None:
    tldr, points = tldr_and_points(
        "A sparse router that learns device capacity limits.",
        "hf",
        ["Introduction of a sparse router that learns device capacity limits.", "Evidence of 2x throughput."],
    )
    assert tldr is not None and tldr.source_label == "Hugging Face"
    assert points == ["Evidence of 2x throughput."]


def test_sections_leave_out_sentences_already_shown() -> None:
    sections = sections_without_repeats(
        ["Introduction of a sparse router for experts."],
        {
            "summary": "Routing is costly. We propose a sparse router for experts.",
            "results": "Routing is costly. Throughput doubles on long contexts.",
        },
    )
    assert sections == {"summary": "Routing is costly.", "results": "Throughput doubles on long contexts."}


def test_the_archived_edition_page_leads_each_paper_with_its_tldr(
    client: TestClient, settings: Settings, committed_session_factory: sessionmaker[Session]
) -> None:
    store_and_summarize(committed_session_factory)
    with session_scope(committed_session_factory) as session:
        papers = list(session.scalars(select(Paper).order_by(Paper.arxiv_id)))
        edition_id = make_edition(
            session, make_subscriber(session, "bob@example.org"), make_content(session, papers)
        ).id
    html = client.get(edition_url(settings, edition_id).removeprefix(BASE_URL)).text
    shown = visible_text(html, skip_details=True)
    assert "TL;DR (Hugging Face): SparseRoute learns per-device capacity limits" in shown.replace("\n", " ")
    assert shown.count("Introduction of a calibrated abstention rule for such models.") == 1
    assert_no_sentence_twice(shown)
