"""`newsletter feedback …`: operators (and tests) list and record a reader's votes, found by address."""

from __future__ import annotations

from typing import Annotated

import typer
from rich.table import Table

from newsletter.console import command_session, console, error_console, load_settings
from newsletter.errors import InvalidInput, NotFound
from newsletter.feedback.personal import enqueue_refit
from newsletter.feedback.votes import record_vote, remove_vote, votes_of
from newsletter.subscribers.service import subscriber_by_email

feedback_app = typer.Typer(help="Readers' votes on papers (operators).", no_args_is_help=True)


@feedback_app.command("list")
def list_command(email: Annotated[str, typer.Argument(help="The reader's address.")]) -> None:
    """The reader's votes, newest first."""
    settings = load_settings()
    try:
        with command_session(settings) as session:
            votes = votes_of(session, subscriber_by_email(session, email).id)
    except NotFound as error:
        error_console.print(str(error), style="red")
        raise typer.Exit(1) from error
    if not votes:
        console.print(f"{email} has not voted on any paper")
        return
    table = Table("paper", "vote", "voted at", "title")
    for vote in votes:
        table.add_row(vote.arxiv_id, vote.vote, vote.voted_at.strftime("%Y-%m-%d %H:%M"), vote.title)
    console.print(table)


@feedback_app.command("add")
def add_command(
    email: Annotated[str, typer.Argument(help="The reader's address.")],
    paper: Annotated[str, typer.Argument(help="The paper's arXiv id.")],
    vote: Annotated[str, typer.Argument(help="up (more like this) or down (less like this).")],
) -> None:
    """Record a vote as if the reader had clicked it; it replaces an earlier vote on the paper."""
    settings = load_settings()
    try:
        with command_session(settings) as session:
            change = record_vote(session, subscriber_by_email(session, email).id, paper, vote)
    except (NotFound, InvalidInput) as error:
        error_console.print(str(error), style="red")
        raise typer.Exit(1) from error
    if change.is_changed:
        enqueue_refit(settings, change.subscriber_id)
        console.print(f"{email}: {change.vote} on {change.arxiv_id} (was {change.previous or 'no vote'})")
    else:
        console.print(f"{email}: already {change.vote} on {change.arxiv_id}; nothing changed")


@feedback_app.command("remove")
def remove_command(
    email: Annotated[str, typer.Argument(help="The reader's address.")],
    paper: Annotated[str, typer.Argument(help="The paper's arXiv id.")],
) -> None:
    """Undo the reader's vote on a paper."""
    settings = load_settings()
    try:
        with command_session(settings) as session:
            change = remove_vote(session, subscriber_by_email(session, email).id, paper)
    except NotFound as error:
        error_console.print(str(error), style="red")
        raise typer.Exit(1) from error
    if change.previous is None:
        console.print(f"{email} had no vote on {change.arxiv_id}; nothing changed")
    else:
        enqueue_refit(settings, change.subscriber_id)
        console.print(f"{email}: removed the {change.previous} vote on {change.arxiv_id}")
