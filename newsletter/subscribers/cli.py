"""`newsletter subscribers …`: operators add, import, list and remove subscribers."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Annotated

import typer
from rich.table import Table

from newsletter.console import command_session, console, error_console, load_settings
from newsletter.errors import InvalidInput
from newsletter.subscribers.operators import (
    add_subscriber_by_operator,
    import_subscribers_csv,
    list_subscribers,
)
from newsletter.subscribers.outbox import enqueue_delivery
from newsletter.subscribers.service import delete_subscriber, find_subscriber_by_email
from newsletter.subscribers.validation import PreferencesForm

subscribers_app = typer.Typer(help="Manage subscribers (operators).", no_args_is_help=True)


@subscribers_app.command("add")
def add_command(
    email: Annotated[str, typer.Argument(help="The address to subscribe.")],
    topic: Annotated[list[str] | None, typer.Option("--topic", help="Topic name or slug; repeat.")] = None,
    keyword: Annotated[list[str] | None, typer.Option("--keyword", help="Keyword alert; repeat.")] = None,
    timezone: Annotated[str, typer.Option(help="IANA time zone, e.g. Europe/Berlin.")] = "UTC",
    send_hour: Annotated[int, typer.Option(min=0, max=23, help="Local hour of the daily email.")] = 7,
    confirmed: Annotated[
        bool, typer.Option("--confirmed", help="Consent was obtained elsewhere: active at once, no email.")
    ] = False,
) -> None:
    """Add one subscriber; without --confirmed they get a confirmation email first."""
    settings = load_settings()
    form = PreferencesForm(
        topics=topic or [], keywords=keyword or [], timezone=timezone, send_time=f"{send_hour:02d}:00"
    )
    try:
        with command_session(settings) as session:
            result = add_subscriber_by_operator(
                session, email, form, is_confirmed=confirmed, source="operator"
            )
    except InvalidInput as error:
        error_console.print(str(error), style="red")
        raise typer.Exit(1) from error
    if result.delivery_id is None:
        console.print(f"subscriber {result.subscriber_id} active")
    elif enqueue_delivery(settings, result.delivery_id):
        console.print(f"subscriber {result.subscriber_id} pending; confirmation email queued")
    else:
        console.print(
            f"subscriber {result.subscriber_id} pending; the task queue is unreachable, so the"
            " confirmation email goes out once the workers' beat finds it"
        )


@subscribers_app.command("import")
def import_command(
    path: Annotated[Path, typer.Argument(exists=True, dir_okay=False, help="CSV with an email column.")],
    consent_source: Annotated[
        str, typer.Option(help="Where these people agreed, e.g. 'conference form 2026-10'.")
    ],
) -> None:
    """Import subscribers as active (columns: email, topics, keywords, timezone, send_time, frequency)."""
    settings = load_settings()
    try:
        with command_session(settings) as session:
            report = import_subscribers_csv(session, path, consent_source)
    except InvalidInput as error:
        error_console.print(str(error), style="red")
        raise typer.Exit(1) from error
    for line, reason in report.errors:
        error_console.print(f"line {line}: {reason}")
    console.print(f"{report.imported} imported, {report.skipped} skipped")


@subscribers_app.command("list")
def list_command(
    as_json: Annotated[bool, typer.Option("--json", help="One JSON array instead of a table.")] = False,
    status: Annotated[str | None, typer.Option(help="Only this status.")] = None,
) -> None:
    """List subscribers with their status, schedule and topics."""
    settings = load_settings()
    try:
        with command_session(settings) as session:
            lines = list_subscribers(session, status)
    except InvalidInput as error:
        error_console.print(str(error), style="red")
        raise typer.Exit(1) from error
    if as_json:
        typer.echo(json.dumps([line.to_json() for line in lines], indent=2))
        return
    table = Table()
    for column in ("id", "email", "status", "schedule", "send", "zone", "topics", "keywords"):
        # Folded, never cut with an ellipsis: an operator copies addresses from here.
        table.add_column(column, overflow="fold")
    for line in lines:
        table.add_row(
            str(line.id),
            line.email,
            line.status,
            line.schedule,
            line.send_time.strftime("%H:%M"),
            line.timezone,
            ", ".join(line.topics),
            str(line.keyword_count),
        )
    console.print(table)


@subscribers_app.command("remove")
def remove_command(email: Annotated[str, typer.Argument(help="The address to delete.")]) -> None:
    """Delete a subscriber and their data; the consent record (with the deletion) is kept."""
    settings = load_settings()
    with command_session(settings) as session:
        subscriber = find_subscriber_by_email(session, email)
        if subscriber is None:
            error_console.print(f"no subscriber {email}", style="red")
            raise typer.Exit(1)
        subscriber_id = subscriber.id
        delete_subscriber(session, subscriber_id, source="operator")
    console.print(f"subscriber {subscriber_id} removed")
