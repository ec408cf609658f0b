"""/healthz, /metrics and the token-guarded /admin page, on the real app."""

from __future__ import annotations

import json
import time
from datetime import UTC, datetime

import redis
from fastapi.testclient import TestClient
from pydantic import SecretStr
from sqlalchemy.orm import Session, sessionmaker

from newsletter.config import Settings
from newsletter.feedback.votes import record_vote
from newsletter.models import Delivery, Summary, WebhookEvent
from newsletter.web.app import create_app
from tests.factories import make_paper, make_subscriber
from tests.web_fixtures import BASE_URL, client_fixture  # noqa: F401


def record_heartbeat(redis_client: redis.Redis, prefix: str, age_s: float = 0.0) -> None:
    beat = {"hostname": "worker-1", "at": time.time() - age_s, "database_time": "2026-11-21T12:00:00+00:00"}
    redis_client.set(f"{prefix}worker:heartbeat", json.dumps(beat))


def test_healthz_is_degraded_until_a_worker_has_a_heartbeat(
    client: TestClient, settings: Settings, redis_client: redis.Redis
) -> None:
    before = client.get("/healthz")
    assert before.status_code == 200
    assert before.json() == {
        "status": "degraded",
        "database": "ok",
        "redis": "ok",
        "worker": "no heartbeat in the last 5 minutes",
    }

    record_heartbeat(redis_client, settings.redis_prefix, age_s=400)
    stale = client.get("/healthz")
    assert stale.json()["status"] == "degraded" and stale.json()["worker"] == "last heartbeat 400s ago"

    record_heartbeat(redis_client, settings.redis_prefix)
    after = client.get("/healthz")
    assert after.status_code == 200 and after.json()["status"] == "ok"


def test_healthz_says_redis_is_down_when_it_is(settings: Settings, committed_session_factory) -> None:
    # A port nothing listens on: the app starts (Redis is only asked per request) and reports it.
    unreachable = settings.model_copy(update={"redis_url": "redis://127.0.0.1:1/0"})
    with TestClient(create_app(unreachable), base_url=BASE_URL) as client:
        answer = client.get("/healthz")
    assert answer.status_code == 503
    assert answer.json()["status"] == "unhealthy"
    assert answer.json()["redis"].startswith("error:") and answer.json()["database"] == "ok"


def test_metrics_reports_the_pipeline_from_the_database(
    settings: Settings, committed_session_factory: sessionmaker[Session], redis_client: redis.Redis
) -> None:
    with committed_session_factory.begin() as session:
        make_paper(session)
        make_paper(session, summarized=False)
        alice = make_subscriber(session, "alice@example.org")
        session.add_all(
            [Delivery(subscriber_id=alice.id, kind="confirmation", state=s) for s in ("sent", "failed")]
        )
        session.add(WebhookEvent(natural_key="k1", event="bounce", email="alice@example.org", payload={}))

    token = "m" * 40
    with TestClient(
        create_app(settings.model_copy(update={"metrics_token": SecretStr(token)})), base_url=BASE_URL
    ) as client:
        answer = client.get("/metrics", headers={"authorization": f"Bearer {token}"})

    assert answer.status_code == 200 and answer.headers["content-type"].startswith("text/plain")
    lines = set(answer.text.splitlines())
    assert "newsletter_papers 2.0" in lines
    assert "newsletter_papers_summarized 1.0" in lines
    assert 'newsletter_deliveries{state="sent"} 1.0' in lines
    assert 'newsletter_deliveries{state="failed"} 1.0' in lines
    assert 'newsletter_webhook_events{event="bounce"} 1.0' in lines
    assert "newsletter_queue_depth 0.0" in lines


def test_admin_page_is_absent_without_a_token(client: TestClient) -> None:
    assert client.get("/admin").status_code == 404


def test_admin_page_asks_for_the_token_and_shows_the_numbers(
    settings: Settings, committed_session_factory: sessionmaker[Session], redis_client: redis.Redis
) -> None:
    guarded = settings.model_copy(update={"admin_token": SecretStr("s3cret-admin-token-of-32-characters")})
    with committed_session_factory.begin() as session:
        make_paper(session)
        make_subscriber(session, "alice@example.org")
    with TestClient(create_app(guarded), base_url=BASE_URL) as client:
        anonymous = client.get("/admin")
        wrong = client.get("/admin", auth=("admin", "guess"))
        right = client.get("/admin", auth=("admin", "s3cret-admin-token-of-32-characters"))
        posted = client.post("/admin", auth=("admin", "s3cret-admin-token-of-32-characters"))

    assert anonymous.status_code == 401 and anonymous.headers["www-authenticate"].startswith("Basic")
    assert wrong.status_code == 401
    assert right.status_code == 200
    assert "subscribers active" in right.text and "papers (on Hugging Face)" in right.text
    assert "no heartbeat" in right.text
    assert posted.status_code == 405  # read-only


def test_admin_page_shows_llm_tokens_and_cost_per_day(
    settings: Settings, committed_session_factory: sessionmaker[Session], redis_client: redis.Redis
) -> None:
    guarded = settings.model_copy(
        update={
            "admin_token": SecretStr("s3cret-admin-token"),
            "llm_prompt_usd_per_million": 0.15,
            "llm_completion_usd_per_million": 0.60,
        }
    )
    with committed_session_factory.begin() as session:
        paper = make_paper(session, summarized=False)
        session.add(
            Summary(
                paper_id=paper.id, input_hash="llm", backend="llm", backend_version="llm-1", model="gpt-test",
                key_points=["A note."], summary="", methodology="", results="", implications="", topics=[],
                prompt_tokens=1_000_000, completion_tokens=500_000,
            )
        )  # fmt: skip
    with TestClient(create_app(guarded), base_url=BASE_URL) as client:
        page = client.get("/admin", auth=("admin", "s3cret-admin-token")).text

    assert "LLM summaries, last 7 days" in page and "gpt-test" in page
    assert "1,000,000" in page and "500,000" in page
    assert "0.4500" in page  # 1 M prompt tokens at $0.15 + 0.5 M completion tokens at $0.60


def test_admin_page_shows_readers_votes_per_day(
    settings: Settings, committed_session_factory: sessionmaker[Session], redis_client: redis.Redis
) -> None:
    guarded = settings.model_copy(update={"admin_token": SecretStr("s3cret-admin-token")})
    with TestClient(create_app(guarded), base_url=BASE_URL) as client:
        before = client.get("/admin", auth=("admin", "s3cret-admin-token")).text
    with committed_session_factory.begin() as session:
        alice = make_subscriber(session, "alice@example.org")
        bob = make_subscriber(session, "bob@example.org")
        paper = make_paper(session)
        record_vote(session, alice.id, paper.arxiv_id, "up")
        record_vote(session, bob.id, paper.arxiv_id, "down")
    with TestClient(create_app(guarded), base_url=BASE_URL) as client:
        page = client.get("/admin", auth=("admin", "s3cret-admin-token")).text

    # No votes, no table; then the day's votes and how many readers cast them.
    assert "Readers' votes, last 7 days" not in before
    assert "Readers' votes, last 7 days" in page
    today = datetime.now(UTC).date().isoformat()
    assert f"<tr><td>{today}</td><td>1</td><td>1</td><td>2</td></tr>" in page
