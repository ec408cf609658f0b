"""`newsletter subscribers …` in-process with the test's settings."""

from __future__ import annotations

import json

from typer.testing import CliRunner

from newsletter.subscribers.cli import subscribers_app

runner = CliRunner()


def test_add_list_and_remove(command_env, committed_session_factory, redis_client):
    added = runner.invoke(
        subscribers_app,
        [
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
        ],
    )
    assert added.exit_code == 0, added.output
    listed = runner.invoke(subscribers_app, ["list", "--json"])
    assert listed.exit_code == 0, listed.output
    [line] = json.loads(listed.output)
    assert (line["email"], line["status"], line["send_time"], line["timezone"]) == (
        "ops@example.org",
        "active",
        "06:00",
        "Europe/Berlin",
    )
    assert sorted(line["topics"]) == ["NLP", "Robotics"]
    assert runner.invoke(subscribers_app, ["add", "ops@example.org", "--topic", "NLP"]).exit_code == 1
    assert runner.invoke(subscribers_app, ["remove", "ops@example.org"]).exit_code == 0
    assert json.loads(runner.invoke(subscribers_app, ["list", "--json"]).output) == []
    assert runner.invoke(subscribers_app, ["remove", "ops@example.org"]).exit_code == 1


def test_add_rejects_an_unknown_topic(command_env, committed_session_factory):
    result = runner.invoke(subscribers_app, ["add", "x@example.org", "--topic", "astrology", "--confirmed"])
    assert result.exit_code == 1 and "Unknown topic" in result.output


def test_import_reports_rows(command_env, committed_session_factory, tmp_path):
    csv_path = tmp_path / "people.csv"
    csv_path.write_text("email,topics\nann@example.org,nlp\nbad,nlp\n")
    result = runner.invoke(subscribers_app, ["import", str(csv_path), "--consent-source", "paper form"])
    assert result.exit_code == 0, result.output
    assert "1 imported, 1 skipped" in result.output and "line 3" in result.output
