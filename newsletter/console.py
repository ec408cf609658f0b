"""What every `newsletter` sub-command shares: settings loading with a clear error, sessions, output."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from datetime import date
from typing import Any

import typer
from rich.console import Console
from rich.text import Text
from sqlalchemy.orm import Session, sessionmaker

from newsletter import services
from newsletter.config import Settings, get_settings
from newsletter.db import make_engine, make_session_factory, session_scope
from newsletter.plaintext.characters import without_hidden


class PlainConsole(Console):
    """Prints text as it is given: never read as Rich markup (a paper titled `[link=https://…]Verify[/link]`
    prints those characters, and `[/bold]` in one cannot make a command fail), and without control,
    direction-changing or invisible characters (an escape sequence in a title never reaches the terminal).
    Colour is asked for with `style=`, never with markup."""

    def render_str(self, text: str, **kwargs: Any) -> Text:
        return super().render_str(without_hidden(text), **kwargs)


console = PlainConsole(markup=False)
error_console = PlainConsole(stderr=True, markup=False)


def load_settings() -> Settings:
    try:
        return get_settings()
    except ValueError as error:  # pydantic's ValidationError is a ValueError
        error_console.print(f"Invalid settings: {error}", style="red")
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
        error_console.print(str(error), style="red")
        raise typer.Exit(1) from error


def command_session_factory(settings: Settings) -> sessionmaker[Session]:
    return make_session_factory(make_engine(resolved_database_url(settings)))


@contextmanager
def command_session(settings: Settings) -> Iterator[Session]:
    """One committed transaction for a command (or one step of it)."""
    with session_scope(command_session_factory(settings)) as session:
        yield session
