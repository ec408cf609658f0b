"""A reader teaches the newsletter from an email, in the served demo (`newsletter demo --port P`, its worker
running), the way a newcomer does it: a demo reader's edition of the demo's first day is on the Outbox
page; its vote links open in Chromium, the page records the vote by itself (POST), offers Undo and similar
papers, and the worker refits the reader's model; "Deliver tomorrow's editions" on the Outbox page moves
the demo's clock a day on, and the worker builds and sends that day's editions; the reader's next email is
ordered and explained by the votes.

A twin of the reader (same topics, keywords and zone), added here and given the first day's edition by
the same worker task the demo runs, gets the next edition from the same press of the button and shows
what it is without the votes."""

from __future__ import annotations

from datetime import datetime
from typing import Any

import httpx
import numpy as np
import pytest
from sqlalchemy import text
from sqlalchemy.orm import Session, sessionmaker

from newsletter.config import Settings
from newsletter.db import session_scope
from newsletter.demo import DEMO_READERS, FIRST_DEMO_NOW, LAST_DEMO_NOW, DemoReader, seed_readers
from newsletter.feedback.ranking import LIKE_COSINE
from newsletter.subscribers.service import find_subscriber_by_email
from newsletter.taskqueue import enqueue
from tests.browser_fixtures import NEEDS_CHROMIUM
from tests.fault_fixtures import scalar, wait_until
from tests.test_web_demo_browser import (  # noqa: F401 - fixtures of the served demo
    DESKTOP,
    browser,
    new_page,
    open_newest_email,
    served_demo,
    shot,
)

pytestmark = [pytest.mark.browser, pytest.mark.slow, NEEDS_CHROMIUM]
VOTER = DEMO_READERS[0]
TWIN = DemoReader("twin@votes.example", VOTER.topics, VOTER.keywords, VOTER.timezone)
DELIVERY_TIMEOUT_MS = 180_000


def build_and_send(
    settings: Settings, factory: sessionmaker[Session], ids: list[int], moment: datetime
) -> None:
    """The demo's worker builds these readers' editions as of `moment` and sends them (the tasks the
    demo's stages enqueue)."""
    day = moment.date()
    enqueue(settings, "workers.tasks.editions.build_editions_for", ids, moment.isoformat())
    built = "SELECT count(*) FROM editions WHERE edition_date = :day AND subscriber_id = ANY(:ids)"
    wait_until(lambda: scalar(factory, built, day=day, ids=ids) == len(ids), f"the editions of {day}")
    enqueue(settings, "workers.tasks.mail.send_due_deliveries", day.isoformat())
    sent = (
        "SELECT count(*) FROM deliveries d JOIN editions e ON e.id = d.edition_id"
        " WHERE e.edition_date = :day AND e.subscriber_id = ANY(:ids) AND d.state = 'sent'"
    )
    wait_until(lambda: scalar(factory, sent, day=day, ids=ids) == len(ids), f"the emails of {day}")


def email_papers(page: Any) -> list[tuple[str, str]]:
    """(title, why line) of each paper in the email open in `page`, in order."""
    cards = page.locator("div.card").filter(has=page.locator("td.paper-title"))
    papers = []
    for index in range(cards.count()):
        card = cards.nth(index)
        title = card.locator("td.paper-title a").first.inner_text().strip()
        why = card.locator("td.muted", has_text="Why:").first.inner_text().strip().removeprefix("Why:")
        papers.append((" ".join(title.split()), why.strip()))
    return papers


def paper_vectors(factory: sessionmaker[Session]) -> dict[str, np.ndarray]:
    """The stored embedding of each paper published by the demo's last day, by title, as a unit vector."""
    query = text(
        "SELECT p.title, e.vector FROM papers p JOIN paper_embeddings e ON e.paper_id = p.id"
        " WHERE p.published_at <= :last"
    )
    with session_scope(factory) as session:
        rows = session.execute(query, {"last": LAST_DEMO_NOW}).all()
    vectors = {" ".join(title.split()): np.asarray(vector, dtype=np.float64) for title, vector in rows}
    return {title: vector / np.linalg.norm(vector) for title, vector in vectors.items()}


def vote_links(page: Any, label: str) -> list[str]:
    return [link.get_attribute("href") for link in page.get_by_role("link", name=label).all()]


def test_a_vote_from_an_emailed_edition_shapes_the_next_edition(
    browser,  # noqa: F811 - the served demo's fixtures, imported above
    served_demo,  # noqa: F811
    settings,
    committed_session_factory,
):
    base = served_demo
    factory = committed_session_factory
    with session_scope(factory) as session:
        seed_readers(session, (TWIN,))
    with session_scope(factory) as session:
        voter_id = find_subscriber_by_email(session, VOTER.email).id
        twin_id = find_subscriber_by_email(session, TWIN.email).id
    build_and_send(settings, factory, [twin_id], FIRST_DEMO_NOW)

    page = new_page(browser, DESKTOP)
    open_newest_email(page, base, "trending papers for", TWIN.email)
    twin_first = email_papers(page)
    open_newest_email(page, base, "trending papers for", VOTER.email)
    shot(page, "vote-first-edition")
    first = email_papers(page)
    more = vote_links(page, "👍 More like this")
    assert len(more) == len(first) >= 4
    assert first == twin_first  # the same topics, the same edition
    votes = "SELECT count(*) FROM paper_votes WHERE subscriber_id = :id"

    # A mail scanner (no script) fetches the link, and so does a browser with scripts off: nothing is
    # recorded, the page asks.
    assert httpx.get(more[0], timeout=10).status_code == 200
    assert httpx.head(more[0], timeout=10).status_code == 200
    without_script = new_page(browser, DESKTOP, java_script_enabled=False)
    without_script.goto(more[0])
    without_script.get_by_role("heading", name="More like this?").wait_for()
    assert without_script.get_by_role("button", name="More like this").is_visible()
    without_script.context.close()
    assert scalar(factory, votes, id=voter_id) == 0

    # The reader likes the two papers of the edition that the next day has most like them (the stored
    # embeddings say which): the page posts the vote by itself.
    vectors = paper_vectors(factory)
    shown = [title for title, _ in first]
    new = [title for title in vectors if title not in shown]
    nearest_new = [max(float(vectors[title] @ vectors[other]) for other in new) for title in shown]
    picked = sorted(range(len(shown)), key=lambda index: -nearest_new[index])[:2]
    assert all(nearest_new[index] >= LIKE_COSINE for index in picked), (shown, nearest_new)
    liked = [shown[index] for index in picked]
    for link in (more[index] for index in picked):
        with page.expect_request(lambda request: request.method == "POST" and "/feedback/" in request.url):
            page.goto(link)
        page.get_by_role("heading", name="Thanks, noted: more like this").wait_for()
        assert page.get_by_role("button", name="Undo").is_visible()
        similar = page.locator("section", has=page.get_by_role("heading", name="Similar papers"))
        assert similar.locator("ul.similar > li").count() == 5
    shot(page, "vote-noted")
    assert scalar(factory, votes, id=voter_id) == 2
    # The worker refits the reader's model on both votes (a fit that counts two saw both).
    model_votes = "SELECT coalesce(max(vote_count), 0) FROM reader_models WHERE subscriber_id = :id"
    wait_until(lambda: scalar(factory, model_votes, id=voter_id) == 2, "the refit")

    # The newcomer's next step: the Outbox page delivers the demo's next day.
    page.goto(base + "/outbox")
    assert page.get_by_role("heading", name="The demo's day: 19 Nov 2026").is_visible()
    page.get_by_role("button", name="Deliver tomorrow's editions").click()
    page.get_by_text("Tomorrow's editions are delivered").wait_for(timeout=DELIVERY_TIMEOUT_MS)
    shot(page, "vote-next-day-delivered")
    assert page.get_by_role("heading", name="The demo's day: 20 Nov 2026").is_visible()
    assert page.get_by_text("there is no further day with new papers").is_visible()
    assert page.get_by_role("button", name="Deliver tomorrow's editions").count() == 0
    editions = "SELECT count(*) FROM editions WHERE edition_date = :day AND subscriber_id = ANY(:ids)"
    assert scalar(factory, editions, day=datetime(2026, 11, 20).date(), ids=[voter_id, twin_id]) == 2

    open_newest_email(page, base, "trending papers for", TWIN.email)
    unvoted = email_papers(page)
    open_newest_email(page, base, "trending papers for", VOTER.email)
    shot(page, "vote-next-edition")
    voted = email_papers(page)

    titles = [title for title, _ in voted]
    unvoted_titles = [title for title, _ in unvoted]
    assert voted and unvoted
    assert not {title for title, _ in first} & {*titles, *unvoted_titles}  # never sent twice
    # The twin's edition is today's trending order, explained by it.
    assert all(why.startswith("Trending #") for _, why in unvoted), unvoted
    # The voter's says which liked paper a pick resembles, exactly for the picks within LIKE_COSINE of one.
    for title, why in voted:
        closeness = max(float(vectors[title] @ vectors[name]) for name in liked)
        assert why.startswith("Like ") == (closeness >= LIKE_COSINE), (title, why, closeness)
    liked_lines = [(title, why) for title, why in voted if why.startswith("Like ")]
    assert liked_lines, voted
    assert all(any(name[:40] in why for name in liked) for _, why in liked_lines), liked_lines
    # The votes moved papers up: the voter's edition is ordered differently from the twin's, and some of
    # its picks rank higher than in the twin's edition or are not in it at all.
    assert titles != unvoted_titles
    assert any(
        title not in unvoted_titles or index < unvoted_titles.index(title)
        for index, title in enumerate(titles)
    )

    # Undo on the last vote's page: the vote is gone, and the page does not post it again.
    page.goto(more[picked[1]])
    page.get_by_role("heading", name="Thanks, noted: more like this").wait_for()
    page.get_by_role("button", name="Undo").click()
    page.get_by_role("heading", name="Your vote is removed").wait_for()
    page.wait_for_timeout(1000)
    assert page.get_by_role("heading", name="Your vote is removed").is_visible()
    assert scalar(factory, votes, id=voter_id) == 1
    # Back to the emailed link's page, which voted by itself when first opened: it does not vote again.
    posts: list[str] = []
    page.on("request", lambda request: posts.append(request.url) if request.method == "POST" else None)
    page.go_back()
    page.get_by_role("heading", name="More like this?").wait_for()
    page.wait_for_timeout(1000)
    assert posts == [] and scalar(factory, votes, id=voter_id) == 1
