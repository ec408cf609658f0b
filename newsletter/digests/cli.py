"""`newsletter editions …`: build due editions now (or at a given moment), show one."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Annotated

import typer
from rich.table import Table

from newsletter.console import (
    command_session,
    command_session_factory,
    console,
    error_console,
    load_settings,
    parse_day,
)
from newsletter.digests.build import PlannedEdition, build_due_editions
from newsletter.digests.queries import edition_view
from newsletter.errors import NotFound
from newsletter.subscribers.service import subscriber_by_email

editions_app = typer.Typer(
    help="Per-subscriber editions: build the due ones, show one.", no_args_is_help=True
)


def parse_moment(value: str | None) -> datetime:
    if value is None:
        return datetime.now(UTC)
    try:
        moment = datetime.fromisoformat(value)
    except ValueError as error:
        raise typer.BadParameter(f"not an ISO time: {value!r} (e.g. 2026-11-21T08:00:00+00:00)") from error
    return moment if moment.tzinfo else moment.replace(tzinfo=UTC)


@editions_app.command("build")
def build(
    now: Annotated[
        str | None, typer.Option("--now", help="Build as if it were this ISO time (default: now).")
    ] = None,
    dry_run: Annotated[
        bool, typer.Option("--dry-run", help="Show what would be built; write nothing.")
    ] = False,
    chunk: Annotated[int, typer.Option(help="Subscribers per transaction.")] = 10_000,
) -> None:
    """Build the editions of every subscriber whose local send time has passed."""
    settings = load_settings()
    moment = parse_moment(now)

    def show_plan(planned: list[PlannedEdition]) -> None:
        for edition in planned if dry_run else []:
            papers = len(edition.selection.items) if edition.selection else 0
            console.print(f"subscriber {edition.subscriber_id}: {edition.kind}, {papers} papers")

    total = build_due_editions(
        command_session_factory(settings), settings, moment, chunk=chunk, dry_run=dry_run, on_plan=show_plan
    )
    verb = "would build" if dry_run else "built"
    kinds = ", ".join(f"{count} {kind}" for kind, count in sorted(total.by_kind.items())) or "none"
    console.print(
        f"{moment.isoformat()}: {total.due} due, {verb} {total.built if not dry_run else total.due} "
        f"({kinds}); {total.distinct_contents} distinct contents"
    )
    if total.due and total.quiet_note:
        style = "yellow" if total.is_suspect_quiet else "dim"
        console.print(total.quiet_note, style=style)


@editions_app.command("show")
def show(
    subscriber: Annotated[str, typer.Option("--subscriber", help="The subscriber's email address.")],
    on: Annotated[
        str | None, typer.Option("--date", help="Edition date YYYY-MM-DD (default: latest).")
    ] = None,
) -> None:
    """Show a subscriber's edition: papers in order, with why each is there."""
    settings = load_settings()
    edition_date = parse_day(on)
    try:
        with command_session(settings) as session:
            view = edition_view(session, subscriber_by_email(session, subscriber), edition_date)
    except NotFound as error:
        error_console.print(str(error), style="red")
        raise typer.Exit(1) from error
    console.print(f"{view.email} · {view.edition_date} · {view.kind}")
    table = Table("#", "arXiv", "title", "why")
    for line in view.lines:
        marker = " (updated)" if line.is_update else ""
        table.add_row(str(line.rank + 1), line.arxiv_id, line.title + marker, line.reason)
    if view.lines:
        console.print(table)
    if view.overflow_count:
        console.print(f"{view.overflow_count} more in these topics did not fit")
