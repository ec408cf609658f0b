"""`newsletter send` and `newsletter preview`: thin commands over the mail domain."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from newsletter.console import (
    command_session,
    command_session_factory,
    console,
    error_console,
    load_settings,
    parse_day,
)
from newsletter.errors import NotFound
from newsletter.mail.deliver import send_pending
from newsletter.mail.preview import preview_edition
from newsletter.subscribers.service import subscriber_by_email

mail_app = typer.Typer(help="Send the editions, preview an email.", no_args_is_help=True)


@mail_app.command("send")
def send_command(
    on: Annotated[
        str | None, typer.Option("--date", help="Edition date YYYY-MM-DD (default: due now).")
    ] = None,
    dry_run: Annotated[
        bool, typer.Option("--dry-run", help="Render and count; send and write nothing.")
    ] = False,
) -> None:
    """Send every pending edition email (creates the deliveries of the day first)."""
    settings = load_settings()
    report = send_pending(
        command_session_factory(settings), settings, edition_date=parse_day(on), dry_run=dry_run
    )
    console.print(report.summary())
    if report.stopped_reason:
        raise typer.Exit(1)


@mail_app.command("preview")
def preview_command(
    subscriber: Annotated[str, typer.Option("--subscriber", help="The subscriber's email address.")],
    out: Annotated[Path, typer.Option("--out", help="Directory to write subject.txt, text.txt, email.html.")],
    on: Annotated[str | None, typer.Option("--date", help="Edition date (default: latest).")] = None,
) -> None:
    """Render a subscriber's edition to files, without sending anything."""
    settings = load_settings()
    try:
        with command_session(settings) as session:
            rendered = preview_edition(
                session, settings, subscriber_by_email(session, subscriber), parse_day(on)
            )
    except NotFound as error:
        error_console.print(str(error), style="red")
        raise typer.Exit(1) from error
    out.mkdir(parents=True, exist_ok=True)
    (out / "subject.txt").write_text(rendered.subject + "\n")
    (out / "text.txt").write_text(rendered.text)
    (out / "email.html").write_text(rendered.html)
    console.print(f"{rendered.subject}\nwritten to {out}")
