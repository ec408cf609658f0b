"""A reader teaches the newsletter from an email, in the served demo: the vote link in an emailed edition
opens in Chromium, the page records the vote by itself (POST), offers Undo and similar papers, the worker
refits the reader's model, and the reader's next edition is ordered and explained by the vote.

The demo's sample ends the day before its clock (2026-11-21) and the demo's editions take the last three
days of it, so a day after the clock has nothing new for anyone (every edition is skipped). The journey
therefore runs on the sample's last two days: two new readers with the same topics get an
edition on 2026-11-19 and the next one on 2026-11-20, built and sent by the same worker tasks the demo
runs. One votes; the other, who does not, shows what the next edition would have been."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
import pytest
from sqlalchemy.orm import Session, sessionmaker

from newsletter.config import Settings
from newsletter.db import session_scope
from newsletter.demo import DemoReader, seed_readers
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
TOPICS = ("Large Language Models", "Efficient ML")
VOTER = DemoReader("voter@votes.example", TOPICS, (), "UTC")
TWIN = DemoReader("twin@votes.example", TOPICS, (), "UTC")
FIRST_MOMENT = datetime(2026, 11, 19, 12, 0, tzinfo=UTC)
NEXT_MOMENT = FIRST_MOMENT + timedelta(days=1)


def build_and_send(
    settings: Settings, factory: sessionmaker[Session], ids: list[int], moment: datetime
) -> None:
    """The demo's worker builds these readers' editions as of `moment` and sends them."""
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
        seed_readers(session, (VOTER, TWIN))
    with session_scope(factory) as session:
        voter_id = find_subscriber_by_email(session, VOTER.email).id
        twin_id = find_subscriber_by_email(session, TWIN.email).id
    build_and_send(settings, factory, [voter_id, twin_id], FIRST_MOMENT)

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

    # The reader likes the two papers the trending order put last: the page posts the vote by itself.
    liked = [first[-1][0], first[-2][0]]
    for link in (more[-1], more[-2]):
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

    build_and_send(settings, factory, [voter_id, twin_id], NEXT_MOMENT)
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
    # The voter's says which liked paper a pick resembles, and the vote moved papers up.
    liked_lines = [(title, why) for title, why in voted if "you liked, e.g. “" in why]
    assert liked_lines, voted
    assert all(any(name[:40] in why for name in liked) for _, why in liked_lines), liked_lines
    assert titles != unvoted_titles
    assert any(
        title not in unvoted_titles or titles.index(title) < unvoted_titles.index(title)
        for title, _ in liked_lines
    )

    # Undo on the last vote's page: the vote is gone, and the page does not post it again.
    page.goto(more[-2])
    page.get_by_role("heading", name="Thanks, noted: more like this").wait_for()
    page.get_by_role("button", name="Undo").click()
    page.get_by_role("heading", name="Your vote is removed").wait_for()
    page.wait_for_timeout(1000)
    assert page.get_by_role("heading", name="Your vote is removed").is_visible()
    assert scalar(factory, votes, id=voter_id) == 1
