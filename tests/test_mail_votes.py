"""Vote links in every edition: one per-recipient slot for all papers, so equal editions share one body."""

from __future__ import annotations

import email
import email.policy
import re
from urllib.parse import unquote

from sqlalchemy.orm import Session, sessionmaker

from newsletter.config import Settings
from newsletter.db import session_scope
from newsletter.links.tokens import read_token
from newsletter.mail.context import EditionGroupKey, content_context
from newsletter.mail.deliver import send_pending
from newsletter.mail.render import render_email
from newsletter.models import Subscriber
from tests.factories import make_paper, make_subscriber
from tests.mail_factories import EDITION_DAY, make_content, make_edition

VOTE_LINK = re.compile(r"https://papers\.example\.org/feedback/([A-Za-z0-9._-]+)/(up|down)/([^\s\"<>]+)")


def test_the_shared_body_carries_one_feedback_slot_with_each_papers_vote_paths(
    session: Session, settings
) -> None:
    papers = [make_paper(session, arxiv_id="2611.30001"), make_paper(session, arxiv_id="astro-ph/0601001")]
    content = make_content(session, papers)
    context = content_context(session, settings, EditionGroupKey(EDITION_DAY, "papers", content.id))
    rendered = render_email("edition", context)
    slot = context["link_slots"]["feedback"]
    for part in (rendered.text, rendered.html):
        for path in (
            "/up/2611.30001",
            "/down/2611.30001",
            "/up/astro-ph%2F0601001",
            "/down/astro-ph%2F0601001",
        ):
            assert f"{slot}{path}" in part, path
    assert "👍 More like this</a>" in rendered.html and "👎 Less like this</a>" in rendered.html
    assert f"More like this: {slot}/up/2611.30001" in rendered.text


def test_each_recipient_gets_their_own_vote_links_and_equal_editions_render_once(
    committed_session_factory: sessionmaker[Session], settings: Settings
) -> None:
    with session_scope(committed_session_factory) as session:
        papers = [make_paper(session, arxiv_id="2611.30001"), make_paper(session, arxiv_id="2611.30002")]
        content = make_content(session, papers)
        readers = {make_subscriber(session, f"{name}@example.org").id: name for name in ("alice", "bob")}
        for subscriber_id in readers:
            make_edition(session, session.get_one(Subscriber, subscriber_id), content)
    report = send_pending(committed_session_factory, settings, edition_date=EDITION_DAY)
    assert (report.sent, report.distinct_editions) == (2, 1)
    seen = {}
    for file in settings.resolved_outbox_dir.glob("*.eml"):
        message = email.message_from_bytes(file.read_bytes(), policy=email.policy.default)
        for part in ("plain", "html"):
            body = message.get_body((part,)).get_content()
            assert "%%" not in body
            found = VOTE_LINK.findall(body)
            assert {(vote, unquote(paper)) for _, vote, paper in found} == {
                (vote, arxiv_id) for vote in ("up", "down") for arxiv_id in ("2611.30001", "2611.30002")
            }
            subscriber_ids = {read_token(settings, "feedback", token).subject_id for token, _, _ in found}
            assert len(subscriber_ids) == 1
            seen[message["To"]] = subscriber_ids.pop()
    assert {address.split("@")[0]: subscriber_id for address, subscriber_id in seen.items()} == {
        name: subscriber_id for subscriber_id, name in readers.items()
    }
