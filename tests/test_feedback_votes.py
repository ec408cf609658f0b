"""Votes: latest per paper wins, undo removes, bad input changes nothing; the `newsletter feedback` command."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import func, select
from typer.testing import CliRunner

from newsletter.cli import app
from newsletter.errors import InvalidInput, NotFound
from newsletter.feedback.votes import VoteDay, record_vote, remove_vote, votes_of, votes_per_day
from newsletter.models import PaperVote
from newsletter.subscribers.service import delete_subscriber
from tests.factories import make_paper, make_subscriber

runner = CliRunner()
MONDAY = datetime(2026, 11, 23, 9, 0, tzinfo=UTC)
TUESDAY = datetime(2026, 11, 24, 9, 0, tzinfo=UTC)


def stored_votes(session) -> list[tuple[int, int, str]]:  # type: ignore[no-untyped-def]
    rows = session.execute(
        select(PaperVote.subscriber_id, PaperVote.paper_id, PaperVote.vote).order_by(PaperVote.paper_id)
    )
    return [tuple(row) for row in rows]


def test_record_vote_stores_the_vote_and_says_what_it_replaced(session) -> None:
    alice = make_subscriber(session, "alice@example.org")
    paper = make_paper(session, title="FlashAttention-3")
    change = record_vote(session, alice.id, paper.arxiv_id, "up", MONDAY)
    assert (change.vote, change.previous, change.is_changed, change.title) == (
        "up",
        None,
        True,
        "FlashAttention-3",
    )
    assert stored_votes(session) == [(alice.id, paper.id, "up")]


def test_the_latest_vote_on_a_paper_wins(session) -> None:
    alice = make_subscriber(session, "alice@example.org")
    paper = make_paper(session)
    record_vote(session, alice.id, paper.arxiv_id, "up", MONDAY)
    change = record_vote(session, alice.id, paper.arxiv_id, "down", TUESDAY)
    assert (change.vote, change.previous) == ("down", "up")
    assert stored_votes(session) == [(alice.id, paper.id, "down")]
    [view] = votes_of(session, alice.id)
    assert view.voted_at == TUESDAY


def test_repeating_a_vote_changes_nothing(session) -> None:
    alice = make_subscriber(session, "alice@example.org")
    paper = make_paper(session)
    record_vote(session, alice.id, paper.arxiv_id, "up", MONDAY)
    change = record_vote(session, alice.id, paper.arxiv_id, "up", TUESDAY)
    assert not change.is_changed
    [view] = votes_of(session, alice.id)
    assert view.voted_at == MONDAY  # the first vote's time is kept


def test_undo_removes_the_vote_and_a_second_undo_is_harmless(session) -> None:
    alice = make_subscriber(session, "alice@example.org")
    paper = make_paper(session)
    record_vote(session, alice.id, paper.arxiv_id, "down", MONDAY)
    assert remove_vote(session, alice.id, paper.arxiv_id).previous == "down"
    assert stored_votes(session) == []
    again = remove_vote(session, alice.id, paper.arxiv_id)
    assert (again.previous, again.is_changed) == (None, False)


def test_votes_belong_to_their_reader(session) -> None:
    alice = make_subscriber(session, "alice@example.org")
    bob = make_subscriber(session, "bob@example.org")
    paper = make_paper(session)
    record_vote(session, alice.id, paper.arxiv_id, "up", MONDAY)
    record_vote(session, bob.id, paper.arxiv_id, "down", MONDAY)
    remove_vote(session, bob.id, paper.arxiv_id)
    assert [view.vote for view in votes_of(session, alice.id)] == ["up"]
    assert votes_of(session, bob.id) == []


def test_a_versioned_arxiv_id_names_the_paper(session) -> None:
    alice = make_subscriber(session, "alice@example.org")
    paper = make_paper(session, arxiv_id="2611.00042")
    assert record_vote(session, alice.id, "2611.00042v3", "up").paper_id == paper.id


@pytest.mark.parametrize("vote", ["", "sideways", "1", "upvote", "%%unsubscribe_url%%", "up\x00"])
def test_a_vote_other_than_up_or_down_is_refused(session, vote: str) -> None:
    alice = make_subscriber(session, "alice@example.org")
    paper = make_paper(session)
    with pytest.raises(InvalidInput, match="up"):
        record_vote(session, alice.id, paper.arxiv_id, vote)
    assert stored_votes(session) == []


@pytest.mark.parametrize(
    "arxiv_id",
    ["2611.99999", "", "x" * 500, "<script>", "2611.00001v", "2611.00001v\u0663", "2611.00001v\u00b2"],
)
def test_an_unknown_paper_is_refused(session, arxiv_id: str) -> None:
    alice = make_subscriber(session, "alice@example.org")
    make_paper(session, arxiv_id="2611.00001")
    with pytest.raises(NotFound, match="no paper"):
        record_vote(session, alice.id, arxiv_id, "up")
    assert stored_votes(session) == []


def test_a_deleted_subscriber_cannot_vote_and_their_votes_go_with_them(session) -> None:
    alice = make_subscriber(session, "alice@example.org")
    paper = make_paper(session)
    record_vote(session, alice.id, paper.arxiv_id, "up")
    delete_subscriber(session, alice.id, "test")
    assert stored_votes(session) == []
    with pytest.raises(NotFound, match="does not exist"):
        record_vote(session, alice.id, paper.arxiv_id, "down")
    assert session.scalar(select(func.count()).select_from(PaperVote)) == 0


def test_votes_per_day_count_up_and_down_votes_and_their_readers(session) -> None:
    alice = make_subscriber(session, "alice@example.org")
    bob = make_subscriber(session, "bob@example.org")
    papers = [make_paper(session) for _ in range(5)]
    # The database's clock decides what "today" is, as it does for every reader of these counts.
    now = session.scalar(select(func.now()))
    now = now.astimezone(UTC)
    today, yesterday = now.date(), (now - timedelta(days=1)).date()
    record_vote(session, alice.id, papers[0].arxiv_id, "up", now)
    record_vote(session, alice.id, papers[1].arxiv_id, "up", now)
    record_vote(session, bob.id, papers[0].arxiv_id, "down", now)
    record_vote(session, bob.id, papers[1].arxiv_id, "up", now - timedelta(days=1))
    # Changed today: counts once, today, as what it is now.
    record_vote(session, alice.id, papers[2].arxiv_id, "up", now - timedelta(days=1))
    record_vote(session, alice.id, papers[2].arxiv_id, "down", now)
    # Undone: not counted. Older than the window: not counted.
    record_vote(session, bob.id, papers[3].arxiv_id, "up", now)
    remove_vote(session, bob.id, papers[3].arxiv_id)
    record_vote(session, bob.id, papers[4].arxiv_id, "down", now - timedelta(days=7))

    assert votes_per_day(session, days=7) == [
        VoteDay(today, up=2, down=2, voters=2),
        VoteDay(yesterday, up=1, down=0, voters=1),
    ]
    assert votes_per_day(session, days=1) == [VoteDay(today, up=2, down=2, voters=2)]
    assert votes_per_day(session, days=8)[-1] == VoteDay(
        (now - timedelta(days=7)).date(), up=0, down=1, voters=1
    )


def feedback(*args: str):  # type: ignore[no-untyped-def]
    return runner.invoke(app, ["feedback", *args])


def test_feedback_command_adds_lists_and_removes_votes(command_env, committed_session_factory) -> None:
    with committed_session_factory.begin() as session:
        make_subscriber(session, "ops@example.org")
        make_paper(session, arxiv_id="2611.10001", title="FlashAttention-3")
    assert "has not voted" in feedback("list", "ops@example.org").output
    added = feedback("add", "ops@example.org", "2611.10001", "up")
    assert added.exit_code == 0, added.output
    assert "up on 2611.10001 (was no vote)" in added.output
    assert "already up" in feedback("add", "OPS@example.org", "2611.10001", "up").output
    changed = feedback("add", "ops@example.org", "2611.10001", "down")
    assert "down on 2611.10001 (was up)" in changed.output
    listed = feedback("list", "ops@example.org")
    assert listed.exit_code == 0 and "2611.10001" in listed.output and "down" in listed.output
    assert "FlashAttention-3" in listed.output
    removed = feedback("remove", "ops@example.org", "2611.10001")
    assert "removed the down vote" in removed.output
    assert "has not voted" in feedback("list", "ops@example.org").output


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (("add", "nobody@example.org", "2611.10001", "up"), "no subscriber"),
        (("add", "ops@example.org", "2611.99999", "up"), "no paper"),
        (("add", "ops@example.org", "2611.10001", "maybe"), "either"),
        (("list", "nobody@example.org"), "no subscriber"),
        (("remove", "ops@example.org", "2611.99999"), "no paper"),
    ],
)
def test_feedback_command_refuses_bad_input_with_a_message(
    command_env, committed_session_factory, args, message
) -> None:
    with committed_session_factory.begin() as session:
        make_subscriber(session, "ops@example.org")
        make_paper(session, arxiv_id="2611.10001")
    result = feedback(*args)
    assert result.exit_code == 1
    assert message in result.output
    with committed_session_factory() as session:
        assert session.scalar(select(func.count()).select_from(PaperVote)) == 0
