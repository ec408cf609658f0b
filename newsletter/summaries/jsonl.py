"""Summarize a JSON-lines file of papers offline, without a database: one bad line never stops the batch."""

from __future__ import annotations

import json
import logging
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from newsletter.summaries.batch import summarize_each
from newsletter.summaries.factory import Summarizer
from newsletter.summaries.model import PaperText

logger = logging.getLogger(__name__)

CHUNK_SIZE = 64
OUTPUT_FIELDS = ("key_points", "summary", "methodology", "results", "implications", "topics")


@dataclass
class JsonlCounts:
    read: int = 0
    written: int = 0
    failed: int = 0
    # (line number, what was wrong) for every line that produced no output.
    errors: list[tuple[int, str]] = field(default_factory=list)

    def fail(self, line_number: int, reason: str) -> None:
        self.failed += 1
        self.errors.append((line_number, reason))
        logger.warning("Line %d skipped: %s", line_number, reason)


def summarize_jsonl(input_path: Path, output_path: Path, summarizer: Summarizer) -> JsonlCounts:
    counts = JsonlCounts()
    with input_path.open(encoding="utf-8") as source, output_path.open("w", encoding="utf-8") as sink:
        chunk: list[tuple[int, dict[str, Any], PaperText]] = []
        for line_number, line in enumerate(source, start=1):
            if not line.strip():
                continue
            counts.read += 1
            try:
                record, paper = parse_paper_line(line)
            except ValueError as error:
                counts.fail(line_number, str(error))
                continue
            chunk.append((line_number, record, paper))
            if len(chunk) >= CHUNK_SIZE:
                _write_chunk(chunk, summarizer, sink, counts)
                chunk = []
        _write_chunk(chunk, summarizer, sink, counts)
    return counts


def parse_paper_line(line: str) -> tuple[dict[str, Any], PaperText]:
    try:
        record = json.loads(line)
    except json.JSONDecodeError as error:
        raise ValueError(f"not valid JSON ({error.msg} at column {error.colno})") from error
    if not isinstance(record, dict):
        raise ValueError("not a JSON object")
    title, abstract = record.get("title"), record.get("abstract")
    if not isinstance(title, str) or not title.strip():
        raise ValueError("missing or empty 'title'")
    if not isinstance(abstract, str):
        raise ValueError("missing 'abstract' (a string)")
    categories = record.get("categories") or []
    if isinstance(categories, str):
        categories = categories.split()
    if not isinstance(categories, list) or not all(isinstance(c, str) for c in categories):
        raise ValueError("'categories' must be a list of strings")
    paper_id = record.get("id")
    return record, PaperText(
        title=title,
        abstract=abstract,
        categories=tuple(categories),
        id=None if paper_id is None else str(paper_id),
    )


def _write_chunk(
    chunk: list[tuple[int, dict[str, Any], PaperText]], summarizer: Summarizer, sink: Any, counts: JsonlCounts
) -> None:
    if not chunk:
        return
    summaries = summarize_each(summarizer, [paper for _, _, paper in chunk])
    for (line_number, record, _), summary in zip(chunk, summaries, strict=True):
        if isinstance(summary, Exception):
            counts.fail(line_number, f"summarizer failed: {summary!r}")
            continue
        produced = summary.to_dict()
        output = {**record, **{name: produced[name] for name in OUTPUT_FIELDS}}
        sink.write(json.dumps(output, ensure_ascii=False) + "\n")
        counts.written += 1
