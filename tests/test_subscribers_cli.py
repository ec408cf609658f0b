"""`newsletter subscribers …` through the real top-level command, in-process with the test's settings."""

from __future__ import annotations

import json

import pytest
from sqlalchemy import select
from typer.testing import CliRunner

from newsletter.cli import app
from newsletter.db import session_scope
from newsletter.models import ConsentEvent, Delivery
from newsletter.stats import queue_depth

runner = CliRunner()


def newsletter(*args: str):  # type: ignore[no-untyped-def]
    return runner.invoke(app, ["subscribers", *args])


@pytest.mark.parametrize(
    ("command", "fragments"),
    [
        ((), ["add", "import", "list", "remove"]),
        (("add",), ["email", "--topic", "--keyword", "--timezone", "--send-hour", "--confirmed"]),
        (("import",), ["path", "--consent-source"]),
        (("list",), ["--json", "--status"]),
        (("remove",), ["email"]),
    ],
)
def test_subscribers_help_names_every_option(command, fragments) -> None:
    result = newsletter(*command, "--help")
    assert result.exit_code == 0, result.output
    for fragment in fragments:
        assert fragment in result.output, (command, fragment)


def test_subscribers_alone_shows_its_commands() -> None:
    result = newsletter()
    assert "Manage subscribers" in result.output and "remove" in result.output


def test_add_list_and_remove(command_env, committed_session_factory, redis_client):
    added = newsletter(
        "add",
        "ops@example.org",
        "--topic",
        "NLP",
        "--topic",
        "robotics",
        "--keyword",
        "agents",
        "--timezone",
        "Europe/Berlin",
        "--send-hour",
        "6",
        "--confirmed",
    )
    assert added.exit_code == 0, added.output
    assert "active" in added.output
    listed = newsletter("list", "--json")
    assert listed.exit_code == 0, listed.output
    [line] = json.loads(listed.output)
    assert (line["email"], line["status"], line["send_time"], line["timezone"]) == (
        "ops@example.org",
        "active",
        "06:00",
        "Europe/Berlin",
    )
    assert sorted(line["topics"]) == ["NLP", "Robotics"] and line["keyword_count"] == 1
    table = newsletter("list")
    assert table.exit_code == 0 and "06:00" in table.output
    # However narrow the terminal, nothing is cut short.
    assert "…" not in table.output and "ops@exa" in table.output
    assert newsletter("add", "ops@example.org", "--topic", "NLP").exit_code == 1
    assert newsletter("remove", "ops@example.org").exit_code == 0
    assert json.loads(newsletter("list", "--json").output) == []
    assert newsletter("remove", "ops@example.org").exit_code == 1
    with session_scope(committed_session_factory) as session:
        actions = session.execute(
            select(ConsentEvent.action, ConsentEvent.source).order_by(ConsentEvent.id)
        ).all()
    assert actions == [("operator_add", "operator"), ("delete", "operator")]


def test_add_without_confirmed_queues_a_confirmation_email(
    command_env, settings, committed_session_factory, redis_client
):
    result = newsletter("add", "later@example.org", "--topic", "nlp")
    assert result.exit_code == 0, result.output
    assert "pending; confirmation email queued" in result.output
    with session_scope(committed_session_factory) as session:
        [(kind, state)] = session.execute(select(Delivery.kind, Delivery.state)).all()
    assert (kind, state) == ("confirmation", "pending")
    assert queue_depth(redis_client, settings.redis_prefix) == 1
    [line] = json.loads(newsletter("list", "--json", "--status", "pending").output)
    assert line["email"] == "later@example.org"
    assert json.loads(newsletter("list", "--json", "--status", "active").output) == []


def test_add_rejects_an_unknown_topic(command_env, committed_session_factory):
    result = newsletter("add", "x@example.org", "--topic", "astrology", "--confirmed")
    assert result.exit_code == 1 and "Unknown topic" in result.output


def test_import_records_the_consent_source_and_reports_rows(command_env, committed_session_factory, tmp_path):
    csv_path = tmp_path / "people.csv"
    csv_path.write_text("email,topics,keywords\nann@example.org,nlp;robotics,agents\nbad,nlp,\n")
    result = newsletter("import", str(csv_path), "--consent-source", "paper form 2026-10")
    assert result.exit_code == 0, result.output
    assert "1 imported, 1 skipped" in result.output and "line 3" in result.output
    with session_scope(committed_session_factory) as session:
        events = session.execute(select(ConsentEvent.email, ConsentEvent.action, ConsentEvent.source)).all()
    assert events == [("ann@example.org", "import", "paper form 2026-10")]
    [line] = json.loads(newsletter("list", "--json").output)
    assert (line["status"], line["topics"], line["keyword_count"]) == ("active", ["NLP", "Robotics"], 1)


def test_import_needs_a_consent_source(command_env, committed_session_factory, tmp_path):
    csv_path = tmp_path / "people.csv"
    csv_path.write_text("email\nann@example.org\n")
    assert newsletter("import", str(csv_path)).exit_code == 2
    blank = newsletter("import", str(csv_path), "--consent-source", " ")
    assert blank.exit_code == 1 and "consent source" in blank.output


def test_add_with_the_task_queue_down_keeps_the_pending_row_for_later(command_env, committed_session_factory):
    from newsletter.config import get_settings
    from tests.web_fixtures import closed_port

    with closed_port() as port:
        command_env.setenv("NEWSLETTER_REDIS_URL", f"redis://127.0.0.1:{port}/0")
        get_settings.cache_clear()
        result = newsletter("add", "patient@example.org", "--topic", "nlp")
    assert result.exit_code == 0, result.output
    assert "task queue is unreachable" in result.output
    with session_scope(committed_session_factory) as session:
        assert session.execute(select(Delivery.kind, Delivery.state)).all() == [("confirmation", "pending")]
