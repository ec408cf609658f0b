"""`newsletter send` and `newsletter preview` through the real top-level command, file backend."""

from __future__ import annotations

from pathlib import Path

import pytest
from sqlalchemy.orm import Session, sessionmaker
from typer.testing import CliRunner

from newsletter.cli import app
from newsletter.config import Settings
from tests.factories import make_paper, make_subscriber
from tests.mail_factories import make_content, make_edition


def test_preview_writes_the_rendered_files_and_send_sends_once(
    command_env: pytest.MonkeyPatch,
    committed_session_factory: sessionmaker[Session],
    settings: Settings,
    tmp_path: Path,
) -> None:
    with committed_session_factory.begin() as session:
        content = make_content(session, [make_paper(session, title="Retrieval <at> scale", upvotes=12)])
        make_edition(session, make_subscriber(session, "alice@example.org"), content)
    runner = CliRunner()

    preview = runner.invoke(
        app, ["preview", "--subscriber", "ALICE@example.org", "--out", str(tmp_path / "p")]
    )
    assert preview.exit_code == 0, preview.output
    assert "Retrieval <at> scale" in (tmp_path / "p" / "text.txt").read_text()
    html = (tmp_path / "p" / "email.html").read_text()
    assert "Retrieval &lt;at&gt; scale" in html and "https://papers.example.org/unsubscribe/" in html
    assert (tmp_path / "p" / "subject.txt").read_text().startswith("1 trending paper for Sat 21 Nov")

    dry = runner.invoke(app, ["send", "--date", "2026-11-21", "--dry-run"])
    assert dry.exit_code == 0 and "would send 1" in dry.output, dry.output
    sent = runner.invoke(app, ["send", "--date", "2026-11-21"])
    assert sent.exit_code == 0 and "sent 1, failed 0" in sent.output, sent.output
    again = runner.invoke(app, ["send", "--date", "2026-11-21"])
    assert "sent 0" in again.output
    assert len(list(settings.resolved_outbox_dir.glob("*.eml"))) == 1


def test_preview_explains_a_missing_subscriber(
    command_env: pytest.MonkeyPatch, committed_session_factory: sessionmaker[Session], tmp_path: Path
) -> None:
    result = CliRunner().invoke(
        app, ["preview", "--subscriber", "nobody@example.org", "--out", str(tmp_path)]
    )
    assert result.exit_code == 1 and "no subscriber" in result.output


def test_send_refuses_a_malformed_date(command_env: pytest.MonkeyPatch) -> None:
    result = CliRunner().invoke(app, ["send", "--date", "tomorrow"])
    assert result.exit_code == 2 and "not a date" in result.output


def test_send_stops_past_the_error_limit_says_so_and_exits_nonzero(
    command_env: pytest.MonkeyPatch, committed_session_factory: sessionmaker[Session], settings: Settings
) -> None:
    with committed_session_factory.begin() as session:
        content = make_content(session, [make_paper(session)])
        for _ in range(3):
            make_edition(session, make_subscriber(session), content)
    # The outbox is a file: every write fails.
    settings.resolved_outbox_dir.parent.mkdir(parents=True, exist_ok=True)
    settings.resolved_outbox_dir.write_text("not a directory")
    command_env.setenv("NEWSLETTER_SEND_MAX_ERRORS", "1")

    result = CliRunner().invoke(app, ["send", "--date", "2026-11-21"])

    said = " ".join(result.output.split())
    assert result.exit_code == 1, result.output
    assert "STOPPED" in said and "NEWSLETTER_SEND_MAX_ERRORS" in said


def test_preview_of_a_quiet_day_shows_the_note_or_says_there_is_no_email(
    command_env: pytest.MonkeyPatch, committed_session_factory: sessionmaker[Session], tmp_path: Path
) -> None:
    with committed_session_factory.begin() as session:
        make_edition(session, make_subscriber(session, "noted@example.org", wants_empty_note=True), None)
        make_edition(session, make_subscriber(session, "quiet@example.org"), None, kind="skipped")
    runner = CliRunner()

    noted = runner.invoke(app, ["preview", "--subscriber", "noted@example.org", "--out", str(tmp_path / "n")])
    quiet = runner.invoke(app, ["preview", "--subscriber", "quiet@example.org", "--out", str(tmp_path / "q")])

    assert noted.exit_code == 0, noted.output
    assert "Nothing new in your topics" in (tmp_path / "n" / "text.txt").read_text()
    assert quiet.exit_code == 1 and "no email" in " ".join(quiet.output.split())
    assert not (tmp_path / "q").exists()
