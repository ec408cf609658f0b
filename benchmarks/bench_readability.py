"""How the offline summaries read, on the bundled corpus: dangling openers, key point lengths, LaTeX
debris, and ROUGE-L of key points against the editor's 12 examples.

The 222 corpus papers go through what ingest does (`latex_to_text` on title and abstract) and then
`ExtractiveSummarizer.summarize`. The editor's examples carry no abstract: their own `summary` paragraph
(with the title) is the input, and the key points written from it are compared with the editor's key
points (ROUGE-L F1, stemmed, each paper's points joined, averaged over the 12 papers).
"""

from __future__ import annotations

import json
from pathlib import Path

from newsletter.plaintext.latex import latex_to_text
from newsletter.summaries.extractive import ExtractiveSummarizer
from newsletter.summaries.model import PaperText
from newsletter.summaries.readability import readability, rouge_l

NAME = "readability"
ROOT = Path(__file__).resolve().parent.parent
CORPUS = ROOT / "tests" / "fixtures" / "corpus" / "papers.json"
EXAMPLES = ROOT / "tests" / "fixtures" / "corpus" / "labeled-examples.json"
TARGETS = {
    "dangling_share": ("<=", 0.05),
    "key_point_median_chars": ("<=", 120),
    "key_point_max_chars": ("<=", 200),
    "latex_debris_papers": ("<=", 0),
}


def run() -> dict[str, float]:
    summarizer = ExtractiveSummarizer()
    papers = json.loads(CORPUS.read_text("utf-8"))
    summaries = [
        summarizer.summarize(PaperText(latex_to_text(paper["title"]), latex_to_text(paper["abstract"])))
        for paper in papers
    ]
    measured = readability(summaries)
    examples = json.loads(EXAMPLES.read_text("utf-8"))
    written = [summarizer.summarize(PaperText(example["title"], example["summary"])) for example in examples]
    return {
        "papers": len(summaries),
        "key_points": measured.key_points,
        "dangling_share": measured.dangling_share,
        "key_point_median_chars": measured.key_point_median_chars,
        "key_point_max_chars": measured.key_point_max_chars,
        "latex_debris_papers": measured.latex_debris_papers,
        "rouge_l": rouge_l([summary.key_points for summary in written], [e["key_points"] for e in examples]),
    }


if __name__ == "__main__":
    for name, value in run().items():
        print(f"readability.{name} = {value}")
