"""What every `newsletter` sub-command shares: settings loading with a clear error, sessions, output."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from datetime import date

import typer
from rich.console import Console
from sqlalchemy.orm import Session, sessionmaker

from newsletter import services
from newsletter.config import Settings, get_settings
from newsletter.db import make_engine, make_session_factory, session_scope

console = Console()
error_console = Console(stderr=True)


def load_settings() -> Settings:
    try:
        return get_settings()
    except ValueError as error:  # pydantic's ValidationError is a ValueError
        error_console.print(f"[red]Invalid settings:[/red] {error}")
        raise typer.Exit(2) from error


def parse_day(value: str | None, option: str = "--date") -> date | None:
    """A command's date option; None when not given."""
    if value is None:
        return None
    try:
        return date.fromisoformat(value)
    except ValueError as error:
        raise typer.BadParameter(
            f"{option} is not a date: {value!r} (YYYY-MM-DD, e.g. 2026-11-20)"
        ) from error


def resolved_database_url(settings: Settings) -> str:
    try:
        return services.service_urls(settings).database_url
    except services.ServiceError as error:
        error_console.print(f"[red]{error}[/red]")
        raise typer.Exit(1) from error


def command_session_factory(settings: Settings) -> sessionmaker[Session]:
    return make_session_factory(make_engine(resolved_database_url(settings)))


@contextmanager
def command_session(settings: Settings) -> Iterator[Session]:
    """One committed transaction for a command (or one step of it)."""
    with session_scope(command_session_factory(settings)) as session:
        yield session
