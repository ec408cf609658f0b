"""Vote links: the page records nothing on GET or HEAD, its POST records, undo removes; bad links change
nothing and say why; each link has its own request budget."""

from __future__ import annotations

import time
from datetime import timedelta

import pytest
from sqlalchemy import select

from newsletter.db import session_scope
from newsletter.embeddings import embed_pending, load_model
from newsletter.links import urls as links
from newsletter.links.tokens import make_token
from newsletter.models import PaperVote
from newsletter.subscribers.service import delete_subscriber
from newsletter.web.ratelimit import FEEDBACK_PER_READER, Limit
from newsletter.web.routes import feedback as feedback_routes
from tests.factories import ATTENTION_PAPERS, make_paper, make_subscriber
from tests.web_fixtures import BASE_URL, client_fixture, csrf_token  # noqa: F401


@pytest.fixture
def alice_id(committed_session_factory) -> int:
    with session_scope(committed_session_factory) as session:
        for arxiv_id, (title, abstract) in ATTENTION_PAPERS.items():
            make_paper(session, arxiv_id=arxiv_id, title=title, abstract=abstract)
        embed_pending(session, load_model())
        return make_subscriber(session, "alice@example.org").id


def vote_path(settings, subscriber_id: int, vote: str, arxiv_id: str) -> str:  # type: ignore[no-untyped-def]
    return links.vote_url(links.feedback_url(settings, subscriber_id), vote, arxiv_id).removeprefix(BASE_URL)


def votes(factory) -> list[tuple[str, str]]:  # type: ignore[no-untyped-def]
    with session_scope(factory) as session:
        rows = session.execute(select(PaperVote.subscriber_id, PaperVote.paper_id, PaperVote.vote)).all()
        return sorted((str(paper_id), vote) for _, paper_id, vote in rows)


def vote_via_page(client, path: str):  # type: ignore[no-untyped-def]
    page = client.get(path)
    assert page.status_code == 200, page.text
    return client.post(path, data={"csrf_token": csrf_token(page.text)})


def test_opening_a_vote_link_records_nothing_and_the_page_submits_itself(
    client, settings, committed_session_factory, alice_id
) -> None:
    path = vote_path(settings, alice_id, "up", "2611.20001")
    page = client.get(path)
    assert page.status_code == 200
    assert "More like this?" in page.text and "FlashAttention-3" in page.text
    assert "will rank higher in your next emails" in page.text
    assert "data-auto-submit" in page.text and "/static/feedback.js" in page.text
    assert client.head(path).status_code == 200
    assert votes(committed_session_factory) == []
    assert "form.submit()" in client.get("/static/feedback.js").text


def test_the_pages_post_records_the_vote_and_offers_undo(
    client, settings, committed_session_factory, alice_id
):
    path = vote_path(settings, alice_id, "down", "2611.20006")
    response = vote_via_page(client, path)
    assert response.status_code == 200 and str(response.url).endswith(f"{path}?recorded=1")
    assert "Thanks, noted: less like this" in response.text
    assert "will not be sent to you again" in response.text
    assert "Undo" in response.text and "data-auto-submit" not in response.text
    assert [vote for _, vote in votes(committed_session_factory)] == ["down"]
    # Reloading the page after the vote sends nothing again and does not submit itself.
    assert "data-auto-submit" not in client.get(path).text


def test_undo_removes_the_vote_and_the_page_does_not_vote_again(
    client, settings, committed_session_factory, alice_id
) -> None:
    vote_via_page(client, vote_path(settings, alice_id, "up", "2611.20001"))
    undo_path = vote_path(settings, alice_id, "undo", "2611.20001")
    page = client.get(vote_path(settings, alice_id, "up", "2611.20001"))
    undone = client.post(undo_path, data={"csrf_token": csrf_token(page.text)})
    assert undone.status_code == 200 and "Your vote is removed" in undone.text
    assert "data-auto-submit" not in undone.text and "More like this after all" in undone.text
    assert votes(committed_session_factory) == []
    # Back to the page the vote led to: it asks again, and does not submit itself.
    back = client.get(vote_path(settings, alice_id, "up", "2611.20001") + "?recorded=1")
    assert "More like this?" in back.text and "data-auto-submit" not in back.text


def test_the_undo_buttons_address_opened_shows_the_vote_as_it_stands(
    client, settings, committed_session_factory, alice_id
) -> None:
    undo_path = vote_path(settings, alice_id, "undo", "2611.20001")
    assert "Your vote is removed" in client.get(undo_path).text
    vote_via_page(client, vote_path(settings, alice_id, "down", "2611.20001"))
    page = client.get(undo_path)
    assert page.status_code == 200 and "Thanks, noted: less like this" in page.text
    assert "data-auto-submit" not in page.text
    assert [vote for _, vote in votes(committed_session_factory)] == ["down"]


def test_a_later_vote_replaces_the_earlier_one_and_a_repeat_changes_nothing(
    client, settings, committed_session_factory, alice_id
) -> None:
    vote_via_page(client, vote_path(settings, alice_id, "up", "2611.20001"))
    page = client.get(vote_path(settings, alice_id, "down", "2611.20001"))
    assert "It replaces your earlier “More like this”" in page.text
    vote_via_page(client, vote_path(settings, alice_id, "down", "2611.20001"))
    assert [vote for _, vote in votes(committed_session_factory)] == ["down"]
    with session_scope(committed_session_factory) as session:
        first_time = session.scalar(select(PaperVote.voted_at))
    token_page = client.get(vote_path(settings, alice_id, "down", "2611.20001"))
    repeated = client.post(
        vote_path(settings, alice_id, "down", "2611.20001"), data={"csrf_token": csrf_token(token_page.text)}
    )
    assert repeated.status_code == 200 and "Thanks, noted" in repeated.text
    with session_scope(committed_session_factory) as session:
        assert session.scalar(select(PaperVote.voted_at)) == first_time


def test_the_page_lists_five_similar_papers_nearest_first(client, settings, alice_id) -> None:
    page = client.get(vote_path(settings, alice_id, "up", "2611.20001")).text
    similar = page[page.index("Similar papers") :]
    titles = [title for title, _ in ATTENTION_PAPERS.values()]
    shown = sorted((similar.index(title), title) for title in titles if title in similar)
    assert len(shown) == 5 and titles[0] not in similar
    # The four other attention papers come first, before either unrelated one.
    assert {title for _, title in shown[:4]} == set(titles[1:5])
    assert "<li>NLP</li>" in similar  # each with its tags


def test_each_similar_paper_on_the_vote_page_can_be_voted_on_through_the_same_link(
    client, settings, committed_session_factory, alice_id
) -> None:
    # One token for every path: a token signed in a later second would differ from the page's.
    feedback_url = links.feedback_url(settings, alice_id)

    def path(vote: str, arxiv_id: str) -> str:
        return links.vote_url(feedback_url, vote, arxiv_id).removeprefix(BASE_URL)

    page = client.get(path("up", "2611.20001")).text
    similar = page[page.index("Similar papers") :]
    for arxiv_id in ["2611.20002", "2611.20003", "2611.20004", "2611.20005"]:
        for vote in ["up", "down"]:
            assert f'href="{path(vote, arxiv_id)}"' in similar
    assert votes(committed_session_factory) == []  # the page named them; nothing is recorded
    response = vote_via_page(client, vote_path(settings, alice_id, "down", "2611.20003"))
    assert "Thanks, noted: less like this" in response.text and "Sparse attention" in response.text
    with session_scope(committed_session_factory) as session:
        rows = session.execute(select(PaperVote.subscriber_id, PaperVote.vote)).all()
    assert [tuple(row) for row in rows] == [(alice_id, "down")]


def forged(settings, alice_id: int) -> str:  # type: ignore[no-untyped-def]
    good = links.feedback_url(settings, alice_id).rsplit("/", 1)[1]
    return f"/feedback/{good[:-4]}AAAA/up/2611.20001"


BAD_LINKS = {
    "forged token": (lambda settings, alice_id: forged(settings, alice_id), 400, "link is not valid"),
    "other-purpose token": (
        lambda settings, alice_id: f"/feedback/{make_token(settings, 'unsubscribe', alice_id)}/up/2611.20001",
        400,
        "link is not valid",
    ),
    "unknown paper": (
        lambda settings, alice_id: vote_path(settings, alice_id, "up", "2611.99999"),
        404,
        "no paper",
    ),
    "vote not up or down": (
        lambda settings, alice_id: vote_path(settings, alice_id, "sideways", "2611.20001"),
        422,
        "either “up”",
    ),
}


@pytest.mark.parametrize("case", sorted(BAD_LINKS))
def test_a_bad_vote_link_gets_a_clear_page_and_changes_nothing(
    client, settings, committed_session_factory, alice_id, case
) -> None:
    make_path, status, message = BAD_LINKS[case]
    path = make_path(settings, alice_id)
    page = client.get(path)
    assert page.status_code == status and message in page.text
    # A POST with a valid CSRF pair is refused the same way.
    token = csrf_token(client.get(vote_path(settings, alice_id, "up", "2611.20001")).text)
    posted = client.post(path, data={"csrf_token": token})
    assert posted.status_code == status and message in posted.text
    assert votes(committed_session_factory) == []


def test_an_expired_vote_link_gets_a_clear_page(
    client, settings, committed_session_factory, alice_id, monkeypatch
):
    path = vote_path(settings, alice_id, "up", "2611.20001")
    real_time = time.time
    monkeypatch.setattr(time, "time", lambda: real_time() + timedelta(days=731).total_seconds())
    page = client.get(path)
    assert page.status_code == 400 and "has expired" in page.text
    assert votes(committed_session_factory) == []


def test_a_deleted_subscribers_vote_link_changes_nothing(
    client, settings, committed_session_factory, alice_id
):
    path = vote_path(settings, alice_id, "up", "2611.20001")
    token = csrf_token(client.get(path).text)
    with session_scope(committed_session_factory) as session:
        delete_subscriber(session, alice_id, "test")
    page = client.get(path)
    assert page.status_code == 404 and "does not exist any more" in page.text
    posted = client.post(path, data={"csrf_token": token})
    assert posted.status_code == 404 and "does not exist any more" in posted.text
    undone = client.post(vote_path(settings, alice_id, "undo", "2611.20001"), data={"csrf_token": token})
    assert undone.status_code == 404 and "does not exist any more" in undone.text
    assert votes(committed_session_factory) == []


@pytest.mark.parametrize(
    "arxiv_id",
    ["2611.99999", "2611.20001v", "\x00", "../../etc/passwd", "<script>alert(1)</script>", "9" * 5000],
)
def test_a_vote_or_undo_on_a_paper_that_is_not_there_changes_nothing(
    client, settings, committed_session_factory, alice_id, arxiv_id
) -> None:
    vote_via_page(client, vote_path(settings, alice_id, "up", "2611.20001"))
    before = votes(committed_session_factory)
    path = vote_path(settings, alice_id, "down", arxiv_id)
    token = csrf_token(client.get(vote_path(settings, alice_id, "up", "2611.20001")).text)
    for response in (
        client.get(path),
        client.post(path, data={"csrf_token": token}),
        client.post(vote_path(settings, alice_id, "undo", arxiv_id), data={"csrf_token": token}),
    ):
        assert response.status_code == 404 and "no paper" in response.text, response.text[:300]
        assert "<script>alert" not in response.text
    assert votes(committed_session_factory) == before and [vote for _, vote in before] == ["up"]


def test_a_vote_without_the_pages_csrf_token_is_refused(
    client, settings, committed_session_factory, alice_id
):
    response = client.post(vote_path(settings, alice_id, "up", "2611.20001"), data={})
    assert response.status_code == 403
    assert votes(committed_session_factory) == []


def test_each_readers_vote_links_have_one_budget_of_votes_and_opening_them_spends_none(
    client, settings, committed_session_factory, alice_id, monkeypatch
):
    # A budget of 3 votes, so that the client's own budget of link actions is not what stops it.
    monkeypatch.setattr(feedback_routes, "FEEDBACK_PER_READER", Limit("feedback-reader", 3, 3600, "id"))
    alice_base = links.feedback_url(settings, alice_id).removeprefix(BASE_URL)
    # A mail scanner (or whoever a forwarded email reached) opens the link over and over: no vote is spent.
    for _ in range(FEEDBACK_PER_READER.max_hits + 1):
        assert client.head(f"{alice_base}/up/2611.20001").status_code == 200
    token = csrf_token(client.get(f"{alice_base}/up/2611.20001").text)
    for _ in range(3):
        assert client.post(f"{alice_base}/sideways/2611.20001", data={"csrf_token": token}).status_code == 422
    assert client.post(f"{alice_base}/sideways/2611.20001", data={"csrf_token": token}).status_code == 429
    # The same link, another paper: the budget is the reader's.
    assert client.post(f"{alice_base}/up/2611.20002", data={"csrf_token": token}).status_code == 429
    # The same link spelled another way (the signature's base64 accepts padding) is the same reader's.
    for padding in ("=", "==", "==="):
        respelled = alice_base + padding
        assert client.get(f"{respelled}/up/2611.20002").status_code == 200  # the spelling is a valid link
        assert client.post(f"{respelled}/up/2611.20002", data={"csrf_token": token}).status_code == 429
    assert votes(committed_session_factory) == []
    with session_scope(committed_session_factory) as session:
        bob_id = make_subscriber(session, "bob@example.org").id
    bob_path = vote_path(settings, bob_id, "up", "2611.20001")
    posted = client.post(bob_path, data={"csrf_token": csrf_token(client.get(bob_path).text)})
    assert posted.status_code == 200 and "recorded=1" in str(posted.url)
    assert [vote for _, vote in votes(committed_session_factory)] == ["up"]


def test_opening_vote_pages_is_limited_per_client_network(client, settings, alice_id, monkeypatch):
    monkeypatch.setattr(feedback_routes, "FEEDBACK_PAGES_PER_IP", Limit("feedback-page-ip", 5, 600, "client"))
    path = vote_path(settings, alice_id, "up", "2611.20001")
    assert [client.get(path).status_code for _ in range(6)] == [200] * 5 + [429]


def test_the_forwardable_edition_page_carries_no_vote_links(
    client, settings, committed_session_factory, alice_id
) -> None:
    from newsletter.models import Paper, Subscriber
    from tests.mail_factories import make_content, make_edition

    with session_scope(committed_session_factory) as session:
        paper = session.scalars(select(Paper).where(Paper.arxiv_id == "2611.20001")).one()
        edition = make_edition(session, session.get_one(Subscriber, alice_id), make_content(session, [paper]))
        edition_path = links.edition_url(settings, edition.id).removeprefix(BASE_URL)
    page = client.get(edition_path)
    assert page.status_code == 200 and "FlashAttention-3" in page.text
    # Whoever holds a forwarded email's "view in browser" link must not vote as the reader.
    assert "/feedback/" not in page.text and "More like this" not in page.text


def preferences_path(settings, subscriber_id: int) -> str:  # type: ignore[no-untyped-def]
    return links.preferences_url(settings, subscriber_id).removeprefix(BASE_URL)


def test_the_preferences_page_lists_liked_and_hidden_papers_and_removes_one(
    client, settings, committed_session_factory, alice_id
) -> None:
    from newsletter.feedback.votes import record_vote

    with session_scope(committed_session_factory) as session:
        record_vote(session, alice_id, "2611.20001", "up")
        record_vote(session, alice_id, "2611.20006", "down")
    base = preferences_path(settings, alice_id)
    page = client.get(base).text
    liked = page.index("Liked: more like these")
    hidden = page.index("Hidden: less like these")
    assert liked < page.index("FlashAttention-3") < hidden < page.index("Protein folding with diffusion")
    removed = client.post(
        f"{base}/votes/remove", data={"csrf_token": csrf_token(page), "paper": "2611.20006"}
    )
    assert removed.status_code == 200 and "Your vote is removed" in removed.text
    assert "Hidden: less like these" not in removed.text and "Liked: more like these" in removed.text
    assert [vote for _, vote in votes(committed_session_factory)] == ["up"]


def test_removing_a_vote_on_an_unknown_paper_changes_nothing(
    client, settings, committed_session_factory, alice_id
) -> None:
    from newsletter.feedback.votes import record_vote

    with session_scope(committed_session_factory) as session:
        record_vote(session, alice_id, "2611.20001", "up")
    base = preferences_path(settings, alice_id)
    token = csrf_token(client.get(base).text)
    response = client.post(f"{base}/votes/remove", data={"csrf_token": token, "paper": "2611.99999"})
    assert response.status_code == 404 and "no paper" in response.text
    assert [vote for _, vote in votes(committed_session_factory)] == ["up"]


def test_a_reader_without_votes_is_told_how_voting_works(client, settings, alice_id) -> None:
    page = client.get(preferences_path(settings, alice_id)).text
    assert "Papers you voted on" in page and "None yet" in page


def test_the_data_export_includes_the_readers_votes(committed_session_factory, alice_id) -> None:
    from newsletter.feedback.votes import record_vote
    from newsletter.subscribers.service import export_data

    with session_scope(committed_session_factory) as session:
        record_vote(session, alice_id, "2611.20006", "down")
        [vote] = export_data(session, alice_id)["paper_votes"]
    assert (vote["paper"], vote["vote"], vote["title"]) == (
        "2611.20006",
        "down",
        "Protein folding with diffusion",
    )
    assert vote["voted_at"]


def test_the_paper_page_lists_five_similar_papers_with_their_tags(client, alice_id) -> None:
    page = client.get("/papers/2611.20001")
    assert page.status_code == 200
    similar = page.text[page.text.index("Similar papers") :]
    titles = [title for title, _ in ATTENTION_PAPERS.values()]
    shown = sorted((similar.index(title), title) for title in titles if title in similar)
    assert len(shown) == 5 and titles[0] not in similar
    assert {title for _, title in shown[:4]} == set(titles[1:5])
    assert "<li>NLP</li>" in similar
    assert "/feedback/" not in page.text  # a public page: no reader's vote links
