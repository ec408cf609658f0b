import json
from datetime import UTC, datetime, timedelta

import pytest
import redis
from sqlalchemy.orm import Session

from newsletter.config import Settings
from newsletter.digests.build import build_editions_chunk
from newsletter.feedback.votes import VoteDay, record_vote
from newsletter.models import Delivery, FetchRun, Summary, WebhookEvent
from newsletter.stats import LlmPrices, collect_stats, queue_depth
from tests.factories import make_paper, make_subscriber


def test_stats_count_what_the_pipeline_did(session: Session, settings: Settings) -> None:
    make_paper(session, topics=["NLP"], upvotes=3)
    make_paper(session, topics=["NLP"], summarized=False)
    alice = make_subscriber(session, topics=["NLP"])
    make_subscriber(session, topics=["NLP"], status="unsubscribed")
    build_editions_chunk(session, settings, datetime(2026, 11, 21, 8, 0, tzinfo=UTC))
    session.add_all(
        [
            Delivery(subscriber_id=alice.id, kind="confirmation", state=state)
            for state in ("sent", "sent", "failed")
        ]
    )
    session.add(WebhookEvent(natural_key="k1", event="bounce", email="x@example.org", payload={}))
    session.add(FetchRun(source="arxiv", category="cs.LG", status="suspect", new_count=0))
    session.flush()

    stats = collect_stats(session)

    assert (stats.papers, stats.summarized) == (2, 1)
    assert stats.subscribers_by_status == {"active": 1, "unsubscribed": 1}
    assert stats.editions_by_kind == {"papers": 1}
    assert stats.edition_lines == [("editions with papers", 1)]
    assert stats.deliveries_by_state == {"sent": 2, "failed": 1}
    assert stats.bounce_rate == 0.5 and stats.complaint_rate == 0.0
    assert [(run.source, run.status) for run in stats.last_fetch_runs] == [("arxiv", "suspect")]


def test_queue_depth_reads_the_prefixed_celery_list(redis_client: redis.Redis, redis_prefix: str) -> None:
    assert queue_depth(redis_client, redis_prefix) == 0
    redis_client.rpush(f"{redis_prefix}newsletter", "a", "b")
    redis_client.rpush(f"{redis_prefix}mail", "c")
    assert queue_depth(redis_client, redis_prefix) == 3


def test_stats_command_prints_json(command_env, committed_session_factory) -> None:

    from typer.testing import CliRunner

    from newsletter.cli import app

    with committed_session_factory.begin() as session:
        make_paper(session, topics=["NLP"])
    result = CliRunner().invoke(app, ["stats", "--json"])
    assert result.exit_code == 0, result.output
    data = json.loads(result.output)
    assert data["papers"] == 1 and data["summarized"] == 1 and data["queue_depth"] == 0
    assert data["votes"] == []


def test_stats_show_readers_votes_per_day(command_env, committed_session_factory) -> None:
    from typer.testing import CliRunner

    from newsletter.cli import app

    with committed_session_factory.begin() as session:
        alice = make_subscriber(session, "alice@example.org", topics=["NLP"])
        bob = make_subscriber(session, "bob@example.org", topics=["NLP"])
        first, second = make_paper(session), make_paper(session)
        now = datetime.now(UTC)
        record_vote(session, alice.id, first.arxiv_id, "up", now)
        record_vote(session, alice.id, second.arxiv_id, "down", now)
        record_vote(session, bob.id, first.arxiv_id, "up", now - timedelta(days=1))
    with committed_session_factory() as session:
        votes = collect_stats(session).votes
    assert votes == [
        VoteDay(now.date(), up=1, down=1, voters=1),
        VoteDay((now - timedelta(days=1)).date(), up=1, down=0, voters=1),
    ]

    table = CliRunner().invoke(app, ["stats"], env={"COLUMNS": "200"})
    assert table.exit_code == 0, table.output
    assert "votes day (UTC)" in table.output
    [today_row] = [line for line in table.output.splitlines() if now.date().isoformat() in line]
    assert today_row.replace("│", " ").split() == [now.date().isoformat(), "1", "1", "1"]
    data = json.loads(CliRunner().invoke(app, ["stats", "--json"]).output)
    assert data["votes"][0] == {"day": now.date().isoformat(), "up": 1, "down": 1, "voters": 1}


def test_llm_usage_is_counted_per_day_and_model_with_its_cost(session: Session) -> None:
    paper = make_paper(session, summarized=False)
    for prompt, completion in ((1000, 200), (3000, 400)):
        session.add(
            Summary(
                paper_id=paper.id, input_hash=f"llm-{prompt}", backend="llm", backend_version="llm-1",
                model="gpt-test", key_points=["A note."], summary="", methodology="", results="",
                implications="", topics=[], prompt_tokens=prompt, completion_tokens=completion,
            )
        )  # fmt: skip
    # The offline summarizer uses no tokens and is not counted.
    session.add(
        Summary(
            paper_id=paper.id, input_hash="offline", backend="extractive", backend_version="extractive-2",
            key_points=["A note."], summary="", methodology="", results="", implications="", topics=[],
        )
    )  # fmt: skip
    session.flush()

    [line] = collect_stats(session, llm_prices=LlmPrices(0.15, 0.60)).llm_usage

    assert (line.model, line.summaries, line.prompt_tokens, line.completion_tokens) == (
        "gpt-test",
        2,
        4000,
        600,
    )
    assert line.cost_usd == pytest.approx((4000 * 0.15 + 600 * 0.60) / 1_000_000)
    assert line.day == datetime.now(UTC).date()
    # Without prices, tokens are shown and the cost is unknown rather than zero.
    assert collect_stats(session).llm_usage[0].cost_usd is None
