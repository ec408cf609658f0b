"""`newsletter tagger train|eval` and `newsletter summarize --retag` through the real command, on the real
database: re-tagging changes the stored topic links that editions read, and says how many changed."""

import json
from pathlib import Path

from sqlalchemy import select
from sqlalchemy.orm import Session
from typer.testing import CliRunner

from newsletter.cli import app
from newsletter.models import Paper, Summary
from newsletter.summaries.queries import paper_tags
from newsletter.summaries.retag import retag_chunk
from newsletter.tagging import tag_topics
from newsletter.tagging.model import load_tagger_from
from tests.factories import make_paper

DEV_SET = Path(__file__).resolve().parent / "fixtures" / "topics_dev.jsonl"
ADDED_SET = Path(__file__).resolve().parent / "fixtures" / "topics_added.jsonl"
KV_CACHE = (
    "Evicting the KV Cache of Large Language Models",
    "LLM inference keeps a key-value cache; we compress it 4x with no loss on long-context benchmarks.",
)
ROBOT = ("Dexterous Robot Manipulation", "A robot learns grasping from video and transfers it to a real arm.")


def write_labels(path: Path, count: int) -> Path:
    path.write_text("".join(DEV_SET.read_text("utf-8").splitlines(keepends=True)[:count]), "utf-8")
    return path


def test_tagger_train_writes_a_loadable_artifact_and_a_cross_validated_report(tmp_path: Path) -> None:
    labels = write_labels(tmp_path / "labels.jsonl", 40)
    extra = tmp_path / "extra.jsonl"
    extra.write_text("".join(ADDED_SET.read_text("utf-8").splitlines(keepends=True)[:10]), "utf-8")

    result = CliRunner().invoke(
        app,
        ["tagger", "train", "--labels", str(labels), "--extra-labels", str(extra)]
        + ["--output", str(tmp_path / "out")],
    )

    assert result.exit_code == 0, result.output
    assert "5-fold cross-validated micro-F1" in result.output
    assert "10 more labeled papers in every training fold" in " ".join(result.output.split())
    report = json.loads((tmp_path / "out" / "tagger_report.json").read_text())
    # Only the papers of --labels are scored; the extra ones train every fold and the final model.
    assert report["cross_validation"]["papers"] == 40
    assert report["extra_papers"] == 10 and list(report["extra_labels"]) == ["extra.jsonl"]
    assert 0.0 <= report["cross_validation"]["micro_f1"] <= 1.0
    assert len(report["cross_validation"]["threshold_by_fold"]) == 5
    assert len(report["cross_validation"]["relative_threshold_by_fold"]) == 5
    assert set(report["cross_validation"]["per_tag"]) >= {"Efficient ML", "Theory"}
    tagger = load_tagger_from(tmp_path / "out")
    assert tagger.provenance["labels"] == "labels.jsonl" and tagger.provenance["papers"] == 50


def test_tagger_train_without_extra_labels_trains_on_the_labels_alone(tmp_path: Path) -> None:
    labels = write_labels(tmp_path / "labels.jsonl", 30)

    result = CliRunner().invoke(
        app,
        ["tagger", "train", "--labels", str(labels), "--no-extra-labels", "--output", str(tmp_path / "out")],
    )

    assert result.exit_code == 0, result.output
    assert load_tagger_from(tmp_path / "out").provenance["papers"] == 30


def test_tagger_eval_scores_a_labeled_file(tmp_path: Path) -> None:
    labels = write_labels(tmp_path / "labels.jsonl", 20)

    result = CliRunner().invoke(app, ["tagger", "eval", str(labels)])

    assert result.exit_code == 0, result.output
    assert "20 papers: micro-F1" in result.output
    assert "Efficient ML" in result.output


def test_tagger_eval_names_the_bad_line_of_a_broken_file(tmp_path: Path) -> None:
    labels = tmp_path / "labels.jsonl"
    labels.write_text(
        '{"title": "A", "abstract": "", "topics": ["NLP"]}\n{"title": "B", "topics": ["Quantum"]}\n'
    )

    result = CliRunner().invoke(app, ["tagger", "eval", str(labels)])

    assert result.exit_code == 2
    assert "labels.jsonl:2" in result.output and "Quantum" in result.output


def stored_tags(session: Session, paper_id: int) -> list[str]:
    return list(session.scalar(select(paper_tags()).where(Paper.id == paper_id)) or [])


def test_retag_replaces_stale_tags_reports_the_change_and_a_rerun_changes_nothing(session: Session) -> None:
    stale = make_paper(session, title=KV_CACHE[0], abstract=KV_CACHE[1], topics=["Audio & Speech"])
    current_tags = tag_topics(*ROBOT)
    current = make_paper(session, title=ROBOT[0], abstract=ROBOT[1], topics=current_tags)
    unsummarized = make_paper(session, title="Not summarized", topics=["NLP"], summarized=False)

    counts, _ = retag_chunk(session, after_id=0, limit=100)
    again, _ = retag_chunk(session, after_id=0, limit=100)

    expected = tag_topics(*KV_CACHE)
    assert (counts.papers, counts.changed) == (2, 1)
    assert counts.tags_removed == 1 and counts.tags_added == len(expected)
    assert stored_tags(session, stale.id) == expected
    assert stored_tags(session, current.id) == current_tags
    assert stored_tags(session, unsummarized.id) == ["NLP"]
    assert session.scalars(select(Summary.topics).where(Summary.paper_id == stale.id)).one() == expected
    assert (again.papers, again.changed) == (2, 0)


def test_summarize_retag_command_reports_how_many_papers_changed(
    command_env, committed_session_factory
) -> None:
    with committed_session_factory() as session:
        make_paper(session, title=KV_CACHE[0], abstract=KV_CACHE[1], topics=["Audio & Speech"])
        make_paper(session, title=ROBOT[0], abstract=ROBOT[1], topics=tag_topics(*ROBOT))
        session.commit()

    first = CliRunner().invoke(app, ["summarize", "--retag"])
    again = CliRunner().invoke(app, ["summarize", "--retag"])

    assert first.exit_code == 0, first.output
    assert "re-tagged 2 papers: 1 changed" in first.output
    assert "re-tagged 2 papers: 0 changed" in again.output
