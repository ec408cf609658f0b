"""`newsletter papers list`: what is stored, with tags and whether each paper is summarized."""

from __future__ import annotations

import json
from typing import Annotated

import typer
from rich.table import Table

from newsletter.catalog.papers import list_papers
from newsletter.console import command_session, console, error_console, load_settings, parse_day
from newsletter.errors import NotFound

papers_app = typer.Typer(help="Stored papers.", no_args_is_help=True)


@papers_app.command("list")
def list_command(
    on: Annotated[
        str | None, typer.Option("--date", help="Published or featured on this day, YYYY-MM-DD.")
    ] = None,
    topic: Annotated[
        str | None, typer.Option("--topic", help="Only papers with this tag (name or slug).")
    ] = None,
    as_json: Annotated[bool, typer.Option("--json", help="One JSON array instead of a table.")] = False,
    limit: Annotated[int, typer.Option(min=1, help="At most this many papers.")] = 200,
) -> None:
    """List stored papers, newest first, with their tags and whether they are summarized."""
    settings = load_settings()
    try:
        with command_session(settings) as session:
            papers = list_papers(session, parse_day(on, "--date"), topic, limit)
    except NotFound as error:
        error_console.print(str(error), style="red")
        raise typer.Exit(1) from error
    if as_json:
        console.print_json(json.dumps([paper.to_json() for paper in papers]), ensure_ascii=True)
        return
    table = Table("arXiv", "v", "published", "upvotes", "topics", "title")
    for paper in papers:
        table.add_row(
            paper.arxiv_id,
            str(paper.version),
            paper.published_at.date().isoformat() if paper.published_at else "",
            "" if paper.hf_upvotes is None else str(paper.hf_upvotes),
            ", ".join(paper.topics) + ("" if paper.is_summarized else " (not summarized yet)"),
            paper.title,
        )
    console.print(table)
    console.print(f"{len(papers)} papers")
