"""`newsletter summarize --input/--output` through the real command."""

import json
from pathlib import Path

from typer.testing import CliRunner

from newsletter.cli import app


def test_summarize_a_jsonl_file_keeps_going_past_a_bad_line(tmp_path: Path) -> None:
    source = tmp_path / "papers.jsonl"
    source.write_text(
        json.dumps(
            {
                "id": "p1",
                "title": "Sparse attention for long documents",
                "abstract": "Transformers scale quadratically with length. We propose a sparse attention "
                "pattern that attends to local windows and a few global tokens. On long-document "
                "benchmarks it matches dense attention at 3.5% of the cost. This makes long-context "
                "language models cheaper to train.",
            }
        )
        + "\n{not json\n"
    )
    target = tmp_path / "out.jsonl"
    result = CliRunner().invoke(app, ["summarize", "--input", str(source), "--output", str(target)])
    assert result.exit_code == 0, result.output
    assert "wrote 1, failed 1" in result.output
    [line] = target.read_text().splitlines()
    summary = json.loads(line)
    assert summary["id"] == "p1"
    assert 3 <= len(summary["key_points"]) <= 4
    assert 1 <= len(summary["topics"]) <= 3


def test_summarize_needs_one_mode(tmp_path: Path) -> None:
    result = CliRunner().invoke(app, ["summarize"])
    assert result.exit_code != 0
    assert "--pending" in result.output
