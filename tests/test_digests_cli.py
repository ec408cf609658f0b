"""`newsletter editions build|show` through the real command."""

from sqlalchemy.orm import Session, sessionmaker
from typer.testing import CliRunner

from newsletter.cli import app
from tests.factories import make_paper, make_subscriber


def test_build_then_show_an_edition(command_env, committed_session_factory: sessionmaker[Session]) -> None:
    with committed_session_factory.begin() as session:
        paper = make_paper(session, title="Retrieval for long documents", topics=["NLP"], upvotes=12)
        make_subscriber(session, "alice@example.org", topics=["NLP"])
    runner = CliRunner()

    dry = runner.invoke(app, ["editions", "build", "--now", "2026-11-21T08:00:00+00:00", "--dry-run"])
    assert dry.exit_code == 0, dry.output
    assert "1 due, would build 1 (1 papers)" in dry.output

    built = runner.invoke(app, ["editions", "build", "--now", "2026-11-21T08:00:00+00:00"])
    assert built.exit_code == 0, built.output
    assert "1 due, built 1 (1 papers)" in built.output

    shown = runner.invoke(
        app, ["editions", "show", "--subscriber", "ALICE@example.org", "--date", "2026-11-21"]
    )
    assert shown.exit_code == 0, shown.output
    assert paper.arxiv_id in shown.output
    # The why column, however the console wrapped it: "Trending #1 in NLP · 12 upvotes".
    assert all(word in shown.output for word in ("Trending", "#1", "12", "upvotes"))

    again = runner.invoke(app, ["editions", "build", "--now", "2026-11-21T09:00:00+00:00"])
    assert "0 due, built 0" in again.output

    # Sunday morning: the paper was already sent, and arXiv announced nothing on Saturday evening.
    sunday = runner.invoke(app, ["editions", "build", "--now", "2026-11-22T08:00:00+00:00"])
    said = " ".join(sunday.output.split())  # however the console wrapped it
    assert "1 due, built 1 (1 skipped)" in said
    assert "no arXiv announcement" in said and "a quiet day by design" in said


def test_show_explains_a_missing_edition(command_env, committed_session_factory) -> None:
    result = CliRunner().invoke(app, ["editions", "show", "--subscriber", "nobody@example.org"])
    assert result.exit_code == 1
    assert "no subscriber with the address" in result.output


def test_build_refuses_a_malformed_time(command_env) -> None:
    result = CliRunner().invoke(app, ["editions", "build", "--now", "yesterday"])
    assert result.exit_code == 2
    assert "not an ISO time" in result.output
