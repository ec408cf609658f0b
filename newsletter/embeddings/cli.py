"""`newsletter embeddings words`: build the packaged word vocabulary from abstracts."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Annotated, Any

import typer

from newsletter.console import console, error_console
from newsletter.embeddings.words import build_vocabulary, paper_words_text, save_vocabulary, vocabulary_path

embeddings_app = typer.Typer(help="Paper representations shipped in the package.")
# The bundled machine-learning abstracts: the sample corpus, the recorded Hugging Face Daily Papers and
# the papers labeled beyond the dev set.
DEFAULT_SOURCES = [
    Path("tests/fixtures/corpus/papers.json"),
    *sorted(Path("tests/fixtures/hf").glob("*/hf_daily_papers.json")),
    Path("tests/fixtures/topics_added.jsonl"),
]
VOCABULARY_NAME = "ml-abstract-stems-v1"


class SourceError(ValueError):
    pass


def _paper_text(entry: Any, where: str) -> str:
    paper = entry.get("paper", entry) if isinstance(entry, dict) else None
    if not isinstance(paper, dict):
        raise SourceError(f"{where}: not an object")
    title, abstract = paper.get("title"), paper.get("abstract", paper.get("summary"))
    if not isinstance(title, str) or not isinstance(abstract, str):
        raise SourceError(f"{where}: needs a string title and abstract (or summary)")
    return paper_words_text(title, abstract)


def read_abstracts(path: Path) -> list[str]:
    """Title and abstract of each paper in a JSON array or a JSONL file (Hugging Face Daily Papers
    entries too: `{"paper": {"title", "summary"}}`)."""
    try:
        content = path.read_text("utf-8")
        if path.suffix == ".jsonl":
            entries = [
                (f"{path}:{number}", json.loads(line))
                for number, line in enumerate(content.splitlines(), 1)
                if line.strip()
            ]
        else:
            document = json.loads(content)
            if not isinstance(document, list):
                raise SourceError(f"{path}: expected a JSON array of papers")
            entries = [(f"{path}[{index}]", entry) for index, entry in enumerate(document)]
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as error:
        raise SourceError(f"{path}: {error}") from error
    return [_paper_text(entry, where) for where, entry in entries]


@embeddings_app.command("words")
def words_command(
    sources: Annotated[
        list[Path] | None,
        typer.Argument(help="JSON or JSONL files of papers (title, abstract). Default: the bundled ones."),
    ] = None,
    output: Annotated[
        Path | None, typer.Option(help="Where to write it (default: the package's own).")
    ] = None,
    name: Annotated[str, typer.Option(help="The vocabulary's name, stored with every reader model.")] = (
        VOCABULARY_NAME
    ),
) -> None:
    """Build the word vocabulary the personal model reads (deterministic: same abstracts, same file)."""
    texts: list[str] = []
    seen: set[str] = set()
    try:
        for path in sources or DEFAULT_SOURCES:
            for text in read_abstracts(path):
                key = text.split("\n", 1)[0].strip().lower()  # a paper listed twice counts once
                if key not in seen:
                    seen.add(key)
                    texts.append(text)
    except SourceError as error:
        error_console.print(str(error), style="red")
        raise typer.Exit(1) from error
    vocabulary = build_vocabulary(name, texts)
    destination = output or vocabulary_path()
    save_vocabulary(vocabulary, destination)
    console.print(f"{vocabulary.size} terms (word stems) from {len(texts)} papers written to {destination}")
