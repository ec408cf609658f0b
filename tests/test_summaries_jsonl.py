import json

from newsletter.summaries.extractive import ExtractiveSummarizer
from newsletter.summaries.jsonl import summarize_jsonl
from newsletter.tagging.taxonomy import topic_names

ABSTRACT = (
    "Training large models is slow. We propose a pruning method for transformers. The method removes "
    "redundant heads and retrains briefly. Experiments show a 2.1x speedup at equal accuracy. "
    "This makes deployment on small devices practical."
)


def test_summarize_jsonl_adds_the_summary_fields_and_skips_bad_lines_with_a_reason(tmp_path):
    source = tmp_path / "papers.jsonl"
    output = tmp_path / "out.jsonl"
    source.write_text(
        "\n".join(
            [
                json.dumps(
                    {"id": "p1", "title": "Fast Pruning", "abstract": ABSTRACT, "categories": ["cs.LG"]}
                ),
                "{not json",
                json.dumps({"title": "No abstract"}),
                "",
                json.dumps(["a", "list"]),
                json.dumps({"title": "Second", "abstract": ABSTRACT, "extra": 7}),
            ]
        )
        + "\n",
        encoding="utf-8",
    )

    counts = summarize_jsonl(source, output, ExtractiveSummarizer())

    assert (counts.read, counts.written, counts.failed) == (5, 2, 3)
    assert [line for line, _ in counts.errors] == [2, 3, 5]
    assert "not valid JSON" in counts.errors[0][1]
    assert "abstract" in counts.errors[1][1]
    rows = [json.loads(line) for line in output.read_text("utf-8").splitlines()]
    assert [row["title"] for row in rows] == ["Fast Pruning", "Second"]
    first = rows[0]
    assert first["id"] == "p1" and first["categories"] == ["cs.LG"] and rows[1]["extra"] == 7
    assert 3 <= len(first["key_points"]) <= 4
    # Key points are notes written from the abstract's sentences ("We propose X" -> "Introduction of X").
    assert "Introduction of a pruning method for transformers." in first["key_points"]
    assert "2.1x speedup" in first["results"] or any("2.1x speedup" in p for p in first["key_points"])
    assert set(first["topics"]) <= set(topic_names())
    assert "backend" not in first


class ExplodingOnOnePaper(ExtractiveSummarizer):
    def summarize_many(self, papers):
        raise RuntimeError("batch call failed")

    def summarize(self, paper):
        if paper.title == "Bad":
            raise RuntimeError("this paper breaks the summarizer")
        return super().summarize(paper)


def test_one_failing_paper_does_not_stop_the_batch(tmp_path):
    source = tmp_path / "papers.jsonl"
    output = tmp_path / "out.jsonl"
    lines = [json.dumps({"title": title, "abstract": ABSTRACT}) for title in ("Good", "Bad", "Also good")]
    source.write_text("\n".join(lines), encoding="utf-8")

    counts = summarize_jsonl(source, output, ExplodingOnOnePaper())

    assert (counts.written, counts.failed) == (2, 1)
    assert counts.errors[0][0] == 2 and "breaks the summarizer" in counts.errors[0][1]
    assert [json.loads(line)["title"] for line in output.read_text("utf-8").splitlines()] == [
        "Good",
        "Also good",
    ]
