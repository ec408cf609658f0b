"""`newsletter tagger train|eval`: fit the packaged tagger from a labeled file, or score any labeled file."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Any

import typer
from rich.table import Table

from newsletter.console import console, error_console
from newsletter.tagging.labels import LabelFileError, read_labeled, score_tags
from newsletter.tagging.model import packaged_tagger_directory, tag_papers
from newsletter.tagging.training import EDITOR_TAGS_PER_PAPER, TrainingOptions, train

tagger_app = typer.Typer(help="The learned topic tagger: train it from labeled papers, evaluate it.")
DEFAULT_LABELS = Path("tests/fixtures/topics_dev.jsonl")
# Labeled beyond the dev set, with the same guideline: they train every fold but are never scored.
DEFAULT_EXTRA_LABELS = [Path("tests/fixtures/topics_added.jsonl"), Path("tests/fixtures/topics_daily.jsonl")]


@tagger_app.command("train")
def train_command(
    labels: Annotated[
        Path, typer.Option(help="Labeled papers, JSONL: title, abstract, topics.")
    ] = DEFAULT_LABELS,
    extra_labels: Annotated[
        list[Path] | None,
        typer.Option(
            help="More labeled papers (repeatable): in every training fold, never scored."
            " Default: tests/fixtures/topics_added.jsonl and topics_daily.jsonl."
        ),
    ] = None,
    no_extra_labels: Annotated[
        bool, typer.Option("--no-extra-labels", help="Train on --labels alone.")
    ] = False,
    output: Annotated[
        Path | None, typer.Option(help="Where to write the artifact (default: the package's own).")
    ] = None,
    tags_per_paper: Annotated[
        float, typer.Option(help="Tags per paper the threshold aims at (the editor's: 2.25).")
    ] = EDITOR_TAGS_PER_PAPER,
) -> None:
    """Fit from the labeled files (deterministic), write the artifact and a report with 5-fold CV scores."""
    output_dir = output or packaged_tagger_directory()
    extra = [] if no_extra_labels else (extra_labels or DEFAULT_EXTRA_LABELS)
    try:
        report = train(labels, output_dir, TrainingOptions(tags_per_paper=tags_per_paper), extra)
    except (LabelFileError, OSError) as error:
        error_console.print(str(error), style="red")
        raise typer.Exit(2) from error
    validation = report["cross_validation"]
    console.print(
        f"{validation['folds']}-fold cross-validated micro-F1 {validation['micro_f1']:.3f} "
        f"(precision {validation['precision']:.3f}, recall {validation['recall']:.3f}), "
        f"{validation['tags_per_paper']:.2f} tags per paper (labels: {validation['gold_tags_per_paper']:.2f}); "
        f"lexicon tagger on the same labels {report['lexicon_baseline']['micro_f1']:.3f}"
        + (f"; {report['extra_papers']} more labeled papers in every training fold" if extra else "")
    )
    print_per_tag(validation["per_tag"])
    console.print(f"wrote the tagger and tagger_report.json to {output_dir}")


@tagger_app.command("eval")
def eval_command(
    labels: Annotated[Path, typer.Argument(help="Labeled papers, JSONL: title, abstract, topics.")],
) -> None:
    """Score the packaged tagger on a labeled file."""
    try:
        papers = read_labeled(labels)
    except (LabelFileError, OSError) as error:
        error_console.print(str(error), style="red")
        raise typer.Exit(2) from error
    scores: dict[str, Any] = score_tags([paper.topics for paper in papers], tag_papers(papers)).to_dict()
    console.print(
        f"{scores['papers']} papers: micro-F1 {scores['micro_f1']:.3f} (precision {scores['precision']:.3f}, "
        f"recall {scores['recall']:.3f}), {scores['tags_per_paper']:.2f} tags per paper "
        f"(labels: {scores['gold_tags_per_paper']:.2f})"
    )
    print_per_tag(scores["per_tag"])


def print_per_tag(per_tag: dict[str, Any]) -> None:
    table = Table("tag", "labeled", "given", "precision", "recall", "F1")
    for tag, figures in per_tag.items():
        table.add_row(
            tag,
            str(figures["gold"]),
            str(figures["given"]),
            f"{figures['precision']:.2f}",
            f"{figures['recall']:.2f}",
            f"{figures['f1']:.2f}",
        )
    console.print(table)
