"""`newsletter summarize`: a JSONL file offline, the stored papers still without a summary, or re-tagging
the stored papers."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from newsletter.console import command_session_factory, console, error_console, load_settings
from newsletter.embeddings import embed_all_pending, load_model
from newsletter.summaries.factory import make_ingest_summarizer, make_summarizer
from newsletter.summaries.jsonl import summarize_jsonl
from newsletter.summaries.retag import retag_stored
from newsletter.summaries.store import summarize_all_pending


def summarize_command(
    input_path: Annotated[
        Path | None,
        typer.Option("--input", help="JSONL of papers (title, abstract, optional id, categories)."),
    ] = None,
    output_path: Annotated[
        Path | None, typer.Option("--output", help="Where to write the summarized JSONL.")
    ] = None,
    pending: Annotated[
        bool, typer.Option("--pending", help="Summarize stored papers without a current summary.")
    ] = False,
    retag: Annotated[
        bool,
        typer.Option(
            "--retag", help="Re-tag the stored papers with the current tagger; reports what changed."
        ),
    ] = False,
) -> None:
    """Structured summaries and topic tags, offline from a file or for the stored papers."""
    settings = load_settings()
    if [pending, retag, input_path is not None].count(True) != 1:
        raise typer.BadParameter("give one of --input/--output, --pending or --retag")
    if retag:
        retagged = retag_stored(command_session_factory(settings))
        console.print(
            f"re-tagged {retagged.papers} papers: {retagged.changed} changed "
            f"({retagged.tags_added} tags added, {retagged.tags_removed} removed)"
        )
        return
    if input_path is not None:
        if output_path is None:
            raise typer.BadParameter("--input needs --output")
        if not input_path.is_file():
            raise typer.BadParameter(f"no such file: {input_path}")
        counts = summarize_jsonl(input_path, output_path, make_summarizer(settings))
        for line_number, reason in counts.errors:
            error_console.print(f"line {line_number}: {reason}")
        console.print(f"read {counts.read}, wrote {counts.written}, failed {counts.failed} → {output_path}")
        return
    factory = command_session_factory(settings)
    total = summarize_all_pending(factory, make_ingest_summarizer())
    embedded = embed_all_pending(factory, load_model())
    console.print(
        f"summarized {total.stored} papers ({total.already_stored} already done, "
        f"{total.fell_back} fell back to offline, {total.failed} failed); embedded {embedded.stored}"
    )
