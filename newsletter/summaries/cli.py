"""`newsletter summarize`: a JSONL file offline, or the stored papers still without a summary."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from newsletter.console import command_session_factory, console, error_console, load_settings
from newsletter.embeddings import embed_all_pending, load_model
from newsletter.summaries.factory import make_summarizer
from newsletter.summaries.jsonl import summarize_jsonl
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
) -> None:
    """Structured summaries and topic tags, offline from a file or for the stored papers."""
    settings = load_settings()
    summarizer = make_summarizer(settings)
    if pending == (input_path is not None):
        raise typer.BadParameter("give either --input/--output or --pending")
    if input_path is not None:
        if output_path is None:
            raise typer.BadParameter("--input needs --output")
        if not input_path.is_file():
            raise typer.BadParameter(f"no such file: {input_path}")
        counts = summarize_jsonl(input_path, output_path, summarizer)
        for line_number, reason in counts.errors:
            error_console.print(f"line {line_number}: {reason}")
        console.print(f"read {counts.read}, wrote {counts.written}, failed {counts.failed} → {output_path}")
        return
    factory = command_session_factory(settings)
    total = summarize_all_pending(factory, summarizer)
    embedded = embed_all_pending(factory, load_model())
    console.print(
        f"summarized {total.stored} papers ({total.already_stored} already done, "
        f"{total.fell_back} fell back to offline, {total.failed} failed); embedded {embedded.stored}"
    )
