"""`newsletter fetch` through the real command, the real HTTP client and the replay server."""

import re

import pytest
from sqlalchemy import func, select
from sqlalchemy.orm import Session, sessionmaker
from typer.testing import CliRunner

from newsletter.cli import app
from newsletter.config import Settings, get_settings
from newsletter.models import FetchRun, Paper
from newsletter.sources.replay import start_replay_server


def test_fetch_stores_the_sample_feed_once_and_a_rerun_adds_nothing(
    command_env: pytest.MonkeyPatch,
    committed_session_factory: sessionmaker[Session],
    settings: Settings,
) -> None:
    with start_replay_server() as replay:
        command_env.setenv("NEWSLETTER_ARXIV_BASE_URL", replay.base_url)
        command_env.setenv("NEWSLETTER_HF_BASE_URL", replay.base_url)
        get_settings.cache_clear()
        runner = CliRunner()
        arguments = [
            "fetch",
            "--since",
            "2026-11-14",
            "--until",
            "2026-11-21",
            "--category",
            "cs.LG",
            "--category",
            "cs.CL",
        ]
        first = runner.invoke(app, arguments)
        assert first.exit_code == 0, first.output
        with committed_session_factory() as session:
            stored = session.execute(select(func.count()).select_from(Paper)).scalar_one()
            on_hf_only = session.execute(
                select(func.count()).select_from(Paper).where(Paper.is_on_hf, ~Paper.is_on_arxiv)
            ).scalar_one()
        assert stored > 50 and on_hf_only > 0
        assert "arxiv cs.LG 2026-11-14..2026-11-21: ok" in first.output
        assert "hf 2026-11-14..2026-11-21: ok" in first.output
        # A progress bar per run, left full at the end (the 80-column test terminal cuts the long ones).
        assert re.search(
            r"arxiv cs\.LG 2026-11-14\.\.2026-11-21: \d+ papers \(\d+ new, 0 updated\) ━", first.output
        )
        assert re.search(r"hf 2026-11-14\.\.2026-11-21: \d+ papers .*━ (\d+)/\1 ", first.output)

        again = runner.invoke(app, arguments)
        assert again.exit_code == 0, again.output
        assert ", 0 new, 0 updated" in again.output
        with committed_session_factory() as session:
            assert session.execute(select(func.count()).select_from(Paper)).scalar_one() == stored
            assert session.execute(select(func.count()).select_from(FetchRun)).scalar_one() == 6


def test_fetch_refuses_contradictory_dates(command_env: pytest.MonkeyPatch) -> None:
    result = CliRunner().invoke(app, ["fetch", "--date", "2026-11-20", "--since", "2026-11-19"])
    assert result.exit_code == 2
    assert "either --date or --since/--until" in result.output


def test_papers_list_filters_by_day_and_topic(command_env, committed_session_factory) -> None:
    import json
    from datetime import UTC, datetime

    from tests.factories import make_paper

    with committed_session_factory.begin() as session:
        make_paper(session, title="Old NLP", topics=["NLP"], published_at=datetime(2026, 11, 1, tzinfo=UTC))
        make_paper(
            session,
            title="Fresh NLP",
            topics=["NLP", "Efficient ML"],
            published_at=datetime(2026, 11, 20, 9, tzinfo=UTC),
        )
        make_paper(
            session,
            title="Fresh robots",
            topics=["Robotics"],
            published_at=datetime(2026, 11, 20, 9, tzinfo=UTC),
        )
    runner = CliRunner()
    result = runner.invoke(app, ["papers", "list", "--date", "2026-11-20", "--topic", "nlp", "--json"])
    assert result.exit_code == 0, result.output
    listed = json.loads(result.output)
    assert [paper["title"] for paper in listed] == ["Fresh NLP"]
    assert listed[0]["topics"] == ["NLP", "Efficient ML"] and listed[0]["is_summarized"] is True

    table = runner.invoke(app, ["papers", "list", "--date", "2026-11-20"])
    assert "Fresh robots" in table.output and "Old NLP" not in table.output and "2 papers" in table.output
    # A typo is an error, not an empty list; a limit below 1 is refused before any query.
    unknown = runner.invoke(app, ["papers", "list", "--topic", "nosuchtopic"])
    assert unknown.exit_code == 1 and "Unknown topic: nosuchtopic" in unknown.output
    assert runner.invoke(app, ["papers", "list", "--limit", "-3"]).exit_code == 2


def test_papers_list_prints_a_title_holding_markup_and_escapes_as_plain_text(
    command_env, committed_session_factory
) -> None:
    from datetime import UTC, datetime

    from tests.factories import make_paper

    # A row stored before the parsers removed control characters; Rich would read the brackets as markup
    # (a link to another site; an unopened closing tag used to end the command with MarkupError).
    with committed_session_factory.begin() as session:
        make_paper(
            session, title="[b]Hi[/b] [/i] \x1b[2Jx", published_at=datetime(2026, 11, 20, 9, tzinfo=UTC)
        )
    result = CliRunner().invoke(app, ["papers", "list", "--date", "2026-11-20"])
    assert result.exit_code == 0, result.output
    assert "[b]Hi[/b] [/i] [2Jx" in result.output and "\x1b" not in result.output
