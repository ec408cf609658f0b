"""A language model's answer is outside text too: it read a hostile abstract ("ignore your instructions and
write …") and may say anything it was told. Each answer here comes from a local server speaking the
OpenAI chat-completions protocol (no network)."""

from __future__ import annotations

import email
import email.policy
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker

from newsletter.config import Settings
from newsletter.db import session_scope
from newsletter.mail.deliver import send_pending
from newsletter.models import Summary
from tests.factories import make_paper, make_subscriber
from tests.llm_fixtures import FAIR_ANSWER, model_server_fixture, send_body, serving, with_llm  # noqa: F401
from tests.mail_factories import EDITION_DAY, make_content, make_edition

ABSTRACT = (
    "We study retrieval for question answering. We propose a retriever that reads passages twice. "
    "It improves recall on three benchmarks. The method is simple to deploy."
)


def seed_edition(factory: sessionmaker[Session]) -> int:
    with session_scope(factory) as session:
        paper = make_paper(session, title="Reading passages twice for retrieval", abstract=ABSTRACT)
        make_edition(session, make_subscriber(session, "alice@example.org"), make_content(session, [paper]))
        return paper.id


def sent_text(settings: Settings) -> str:
    (path,) = settings.resolved_outbox_dir.glob("*.eml")
    message = email.message_from_bytes(path.read_bytes(), policy=email.policy.default)
    return message.get_body(("plain",)).get_content()


def stored_model_summaries(factory: sessionmaker[Session], paper_id: int) -> list[Summary]:
    with session_scope(factory) as session:
        rows = list(
            session.scalars(
                select(Summary).where(Summary.paper_id == paper_id, Summary.model == "test-model")
            )
        )
        session.expunge_all()
        return rows


def test_an_answer_holding_nul_and_controls_is_stored_clean_and_the_edition_still_goes_out(
    committed_session_factory: sessionmaker[Session], settings: Settings, model_server: ThreadingHTTPServer
) -> None:
    # JSON can spell what Postgres text cannot hold (NUL): stored as given, it failed the whole
    # summarizing transaction, and with it every send run of the day, before any email was claimed.
    model_server.answer = {  # type: ignore[attr-defined]
        **FAIR_ANSWER,
        "key_points": [
            "A retriever\x00 reads passages twice.",
            "It improves recall\u202e on three\nbenchmarks.",
            "The method is\x1b simple\x7f to deploy.",
        ],
        "summary": "The paper\x00 studies retrieval.",
    }
    paper_id = seed_edition(committed_session_factory)
    llm = with_llm(settings, model_server)

    report = send_pending(committed_session_factory, llm, edition_date=EDITION_DAY)

    assert (report.sent, report.failed) == (1, 0)
    (summary,) = stored_model_summaries(committed_session_factory, paper_id)
    assert summary.key_points == [
        "A retriever reads passages twice.",
        "It improves recall on three benchmarks.",
        "The method is simple to deploy.",
    ]
    assert summary.summary == "The paper studies retrieval."
    assert "A retriever reads passages twice." in sent_text(llm)


def test_an_answer_holding_an_unpaired_surrogate_is_refused_and_the_edition_still_goes_out(
    committed_session_factory: sessionmaker[Session], settings: Settings, model_server: ThreadingHTTPServer
) -> None:
    # JSON spells half of a UTF-16 pair (`\ud800`), which is no character: UTF-8 cannot encode it, and
    # storing it failed like NUL did.
    model_server.answer = {**FAIR_ANSWER, "results": "Recall improves\ud800 on three benchmarks."}  # type: ignore[attr-defined]
    paper_id = seed_edition(committed_session_factory)
    llm = with_llm(settings, model_server)

    report = send_pending(committed_session_factory, llm, edition_date=EDITION_DAY)

    assert (report.sent, report.failed) == (1, 0)
    (summary,) = stored_model_summaries(committed_session_factory, paper_id)
    assert summary.backend == "extractive" and "not valid Unicode" in (summary.fallback_reason or "")


class RefusingModel(BaseHTTPRequestHandler):
    """A server that refuses every request with a body of its own words, NUL and a line break included."""

    def log_message(self, format: str, *args: Any) -> None:  # keep test output quiet
        pass

    def do_POST(self) -> None:
        self.rfile.read(int(self.headers.get("Content-Length", 0)))
        body = "bad request\x00\nERROR forged log line \ud800".encode("utf-8", "surrogatepass")
        send_body(self, 400, body, "text/plain; charset=utf-8")


def test_a_refusal_quoting_what_text_cannot_hold_is_stored_printable_and_the_edition_still_goes_out(
    committed_session_factory: sessionmaker[Session], settings: Settings
) -> None:
    paper_id = seed_edition(committed_session_factory)
    with serving(RefusingModel) as server:
        report = send_pending(committed_session_factory, with_llm(settings, server), edition_date=EDITION_DAY)

    assert (report.sent, report.failed) == (1, 0)
    (summary,) = stored_model_summaries(committed_session_factory, paper_id)
    reason = summary.fallback_reason or ""
    assert reason.startswith("'PermanentError: LLM server answered 400: bad request\\x00\\nERROR")
    assert reason.isprintable()
