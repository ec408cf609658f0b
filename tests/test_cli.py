"""Every command and sub-command answers --help."""

import typer
from typer.testing import CliRunner

from newsletter.cli import app


def command_paths(group: object, prefix: tuple[str, ...] = ()) -> list[tuple[str, ...]]:
    paths = [prefix]
    if hasattr(group, "commands"):
        for name, command in group.commands.items():
            paths.extend(command_paths(command, (*prefix, name)))
    return paths


def test_every_command_has_help() -> None:
    root = typer.main.get_command(app)
    paths = command_paths(root)
    assert ("services", "status") in paths and ("db", "upgrade") in paths and ("worker",) in paths
    runner = CliRunner()
    for path in paths:
        result = runner.invoke(app, [*path, "--help"])
        assert result.exit_code == 0, (path, result.output)
        assert "Usage" in result.output


def test_invalid_settings_exit_with_a_clear_message(monkeypatch) -> None:
    from newsletter.config import get_settings

    monkeypatch.setenv("NEWSLETTER_ENVIRONMENT", "production")
    monkeypatch.setenv("NEWSLETTER_SECRET_KEY", "change-me")
    get_settings.cache_clear()
    try:
        result = CliRunner().invoke(app, ["services", "status"])
    finally:
        get_settings.cache_clear()
    assert result.exit_code == 2
    assert "placeholder" in result.output
