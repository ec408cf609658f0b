"""`newsletter run`: the whole pipeline once, in-process, against the configured services."""

from __future__ import annotations

import email
from email import policy
from pathlib import Path

import pytest
from sqlalchemy import func, select
from sqlalchemy.orm import Session, sessionmaker
from typer.testing import CliRunner

from newsletter.cli import app
from newsletter.config import Settings, get_settings
from newsletter.models import Delivery, Edition, FetchRun, Paper, Summary
from newsletter.sources.replay import start_replay_server
from tests.factories import make_subscriber

# The sample feed's last days; `--now` makes the fetch look back from this day.
NOW = "2026-11-21T12:00:00+00:00"


def count(factory: sessionmaker[Session], model: type) -> int:
    with factory() as session:
        return int(session.execute(select(func.count()).select_from(model)).scalar_one())


def test_run_fetches_summarizes_builds_and_sends_once(
    command_env: pytest.MonkeyPatch, committed_session_factory: sessionmaker[Session], settings: Settings
) -> None:
    with committed_session_factory.begin() as session:
        make_subscriber(session, "alice@example.org", topics=["Large Language Models", "NLP"])
        make_subscriber(session, "bob@example.org", topics=["Computer Vision"], timezone="America/New_York")
    with start_replay_server() as replay:
        command_env.setenv("NEWSLETTER_ARXIV_BASE_URL", replay.base_url)
        command_env.setenv("NEWSLETTER_HF_BASE_URL", replay.base_url)
        command_env.setenv("NEWSLETTER_ARXIV_CATEGORIES", "cs.LG,cs.CL,cs.CV")
        get_settings.cache_clear()
        runner = CliRunner()

        first = runner.invoke(app, ["run", "--now", NOW])
        assert first.exit_code == 0, first.output
        papers = count(committed_session_factory, Paper)
        assert papers > 20
        assert count(committed_session_factory, Summary) == papers
        assert count(committed_session_factory, FetchRun) == 4  # three categories and Hugging Face
        with committed_session_factory() as session:
            kinds = session.execute(select(Edition.kind)).scalars().all()
            states = session.execute(select(Delivery.state)).scalars().all()
        assert sorted(kinds) == ["papers", "papers"]
        assert states == ["sent", "sent"]
        outbox = sorted(Path(settings.resolved_outbox_dir).glob("*.eml"))
        assert len(outbox) == 2
        for path in outbox:
            message = email.message_from_bytes(path.read_bytes(), policy=policy.default)
            assert message["List-Unsubscribe-Post"] == "List-Unsubscribe=One-Click"
            assert message.get_body(("plain",)) is not None and message.get_body(("html",)) is not None
        for stage in ("fetch", "summaries", "editions", "send"):
            assert stage in first.output

        again = runner.invoke(app, ["run", "--now", NOW])
        assert again.exit_code == 0, again.output
        assert count(committed_session_factory, Paper) == papers
        assert count(committed_session_factory, Delivery) == 2
        assert len(list(Path(settings.resolved_outbox_dir).glob("*.eml"))) == 2


def test_run_reports_a_source_outage_and_still_sends_what_is_stored(
    command_env: pytest.MonkeyPatch, committed_session_factory: sessionmaker[Session], settings: Settings
) -> None:
    with committed_session_factory.begin() as session:
        make_subscriber(session, "alice@example.org", topics=["NLP"], wants_empty_note=True)
    # Nothing listens on port 9: every request is refused, as in an outage.
    command_env.setenv("NEWSLETTER_ARXIV_BASE_URL", "http://127.0.0.1:9")
    command_env.setenv("NEWSLETTER_HF_BASE_URL", "http://127.0.0.1:9")
    command_env.setenv("NEWSLETTER_ARXIV_CATEGORIES", "cs.CL")
    command_env.setenv("NEWSLETTER_HTTP_MAX_ATTEMPTS", "2")
    command_env.setenv("NEWSLETTER_HTTP_BACKOFF_BASE_S", "0.01")
    get_settings.cache_clear()

    result = CliRunner().invoke(app, ["run", "--now", NOW])

    assert result.exit_code == 1, result.output
    assert "failed" in result.output
    with committed_session_factory() as session:
        runs = session.execute(select(FetchRun.status)).scalars().all()
        kinds = session.execute(select(Edition.kind)).scalars().all()
    assert sorted(runs) == ["failed", "failed"]
    assert kinds == ["nothing_new"]  # the later stages ran on what is stored
    assert len(list(Path(settings.resolved_outbox_dir).glob("*.eml"))) == 1
