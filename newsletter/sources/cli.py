"""`newsletter fetch`: pull papers from arXiv and Hugging Face Daily Papers into the database."""

from __future__ import annotations

from enum import StrEnum
from typing import Annotated, cast

import typer
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TaskID, TextColumn, TimeElapsedColumn

from newsletter.console import command_session_factory, console, load_settings, parse_day
from newsletter.sources.ingest import SOURCES, FetchOptions, FetchProgress, FetchSummary, fetch_sources
from newsletter.sources.runs import Source


class SourceChoice(StrEnum):
    arxiv = "arxiv"
    hf = "hf"
    all = "all"


def summary_line(summary: FetchSummary) -> str:
    where = f"{summary.source}" + (f" {summary.category}" if summary.category else "")
    counts = summary.counts
    line = (
        f"{where} {summary.since}..{summary.until}: {summary.status}, {counts.new} new, {counts.updated} updated, "
        f"{counts.unchanged} unchanged, {summary.rejected} rejected, {summary.requests} requests, "
        f"{summary.duration_s:.1f}s"
    )
    return line + (f" — {summary.error}" if summary.error else "")


class FetchBars:
    """One progress bar per run: entries read of the total arXiv reports (Hugging Face reports none)."""

    def __init__(self) -> None:
        self.progress = Progress(
            TextColumn("{task.description}"),
            BarColumn(),
            MofNCompleteColumn(),
            TimeElapsedColumn(),
            console=console,
        )
        self.tasks: dict[str, TaskID] = {}

    def __enter__(self) -> FetchBars:
        self.progress.start()
        return self

    def __exit__(self, *_: object) -> None:
        self.progress.stop()

    def show(self, state: FetchProgress) -> None:
        description = f"{state.label}: {state.papers_seen} papers ({state.new} new, {state.updated} updated)"
        if state.label not in self.tasks:
            self.tasks[state.label] = self.progress.add_task(description, total=state.entries_total)
        total = state.entries_total
        if state.is_done:
            # A finished run is a full bar, whatever the provider announced.
            total = state.entries_read
        self.progress.update(
            self.tasks[state.label], description=description, completed=state.entries_read, total=total
        )


def fetch_command(
    source: Annotated[SourceChoice, typer.Option(help="Which source to fetch.")] = SourceChoice.all,
    on: Annotated[str | None, typer.Option("--date", help="One day, YYYY-MM-DD.")] = None,
    since: Annotated[
        str | None, typer.Option(help="First day of the window (default: from the cursor).")
    ] = None,
    until: Annotated[str | None, typer.Option(help="Last day of the window (default: today).")] = None,
    category: Annotated[
        list[str] | None, typer.Option("--category", help="arXiv category; repeat for several.")
    ] = None,
) -> None:
    """Fetch new and updated papers; one run (and one summary line) per source and category."""
    settings = load_settings()
    day = parse_day(on, "--date")
    if day is not None and (since or until):
        raise typer.BadParameter("give either --date or --since/--until")
    start = day or parse_day(since, "--since")
    end = day or parse_day(until, "--until")
    if start and end and start > end:
        raise typer.BadParameter("--since is after --until")
    sources = SOURCES if source is SourceChoice.all else (cast(Source, source.value),)
    session_factory = command_session_factory(settings)
    failed = False
    for name in sources:
        # A set of bars per source: the terminal shows each source's runs in full.
        with FetchBars() as bars:
            options = FetchOptions(start, end, (name,), tuple(category or ()), page_progress=bars.show)
            summaries = fetch_sources(session_factory, settings, options)
        for summary in summaries:
            console.print(summary_line(summary))
            failed = failed or summary.status == "failed"
    if failed:
        raise typer.Exit(1)
