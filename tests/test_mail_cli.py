"""`send` and `preview` through the real commands (the mail sub-app), file backend."""

from __future__ import annotations

from pathlib import Path

import pytest
from sqlalchemy.orm import Session, sessionmaker
from typer.testing import CliRunner

from newsletter.config import Settings
from newsletter.mail.cli import mail_app
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
        mail_app, ["preview", "--subscriber", "ALICE@example.org", "--out", str(tmp_path / "p")]
    )
    assert preview.exit_code == 0, preview.output
    assert "Retrieval <at> scale" in (tmp_path / "p" / "text.txt").read_text()
    html = (tmp_path / "p" / "email.html").read_text()
    assert "Retrieval &lt;at&gt; scale" in html and "https://papers.example.org/unsubscribe/" in html
    assert (tmp_path / "p" / "subject.txt").read_text().startswith("1 trending paper for Sat 21 Nov")

    dry = runner.invoke(mail_app, ["send", "--date", "2026-11-21", "--dry-run"])
    assert dry.exit_code == 0 and "would send 1" in dry.output, dry.output
    sent = runner.invoke(mail_app, ["send", "--date", "2026-11-21"])
    assert sent.exit_code == 0 and "sent 1, failed 0" in sent.output, sent.output
    again = runner.invoke(mail_app, ["send", "--date", "2026-11-21"])
    assert "sent 0" in again.output
    assert len(list(settings.resolved_outbox_dir.glob("*.eml"))) == 1


def test_preview_explains_a_missing_subscriber(
    command_env: pytest.MonkeyPatch, committed_session_factory: sessionmaker[Session], tmp_path: Path
) -> None:
    result = CliRunner().invoke(
        mail_app, ["preview", "--subscriber", "nobody@example.org", "--out", str(tmp_path)]
    )
    assert result.exit_code == 1 and "no subscriber" in result.output


def test_send_refuses_a_malformed_date(command_env: pytest.MonkeyPatch) -> None:
    result = CliRunner().invoke(mail_app, ["send", "--date", "tomorrow"])
    assert result.exit_code == 2 and "not a date" in result.output
