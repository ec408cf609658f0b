"""The learned topic tagger: nested 5-fold cross-validated quality on the labeled dev set, tagging speed
with the embedding included, and the labels' own consistency.

- `cv_micro_f1`, `cv_precision`, `cv_recall`, `tags_per_paper`: `cross_validate` on
  tests/fixtures/topics_dev.jsonl, with the papers of tests/fixtures/topics_added.jsonl and
  tests/fixtures/topics_daily.jsonl in every training fold and never scored (every choice made inside
  each training fold; docs/tagging.md).
  `tags_per_paper_gap` is |tags per paper - 2.25|, the editor's rate.
- `lexicon_micro_f1`: the rule-based lexicon tagger on the same labels, for comparison.
- `label_agreement_micro_f1`: the dev labels against the independent second labeling of every 4th paper;
  `label_agreement_daily_labeler_micro_f1`: against a blind labeling of 40 dev papers by a labeler of
  tests/fixtures/topics_daily.jsonl (is the daily set labeled to the dev set's standard?).
- `papers_per_s`: `tag_papers` (embedding, features, 15 logistic regressions, decision) on the 214 dev papers
  repeated to 2,000, in batches of 200, one process; `embed_papers_per_s` the embedding alone. The model
  and tagger are loaded before timing.
"""

from __future__ import annotations

import json
import time
from pathlib import Path

from newsletter.embeddings import embedding_text, load_model
from newsletter.tagging import TaggingInput, load_tagger, tag_papers
from newsletter.tagging.labels import read_labeled, score_tags
from newsletter.tagging.lexicon import lexicon_tags
from newsletter.tagging.training import EDITOR_TAGS_PER_PAPER, cross_validate

NAME = "tags"
ROOT = Path(__file__).resolve().parent.parent
DEV_SET = ROOT / "tests" / "fixtures" / "topics_dev.jsonl"
ADDED_SETS = [ROOT / "tests" / "fixtures" / name for name in ("topics_added.jsonl", "topics_daily.jsonl")]
SECOND_PASS = ROOT / "tests" / "fixtures" / "topics_dev_second_pass.jsonl"
THIRD_PASS = ROOT / "tests" / "fixtures" / "topics_dev_third_pass.jsonl"
EXAMPLES = ROOT / "tests" / "fixtures" / "corpus" / "labeled-examples.json"
TARGET_PAPERS = 2000
BATCH = 200
TARGETS = {
    "cv_micro_f1": (">=", 0.80),
    "tags_per_paper_gap": ("<=", 0.2),
    "papers_per_s": (">=", 50),
}


def label_agreement(papers, path: Path = SECOND_PASS) -> float:
    second = [json.loads(line) for line in path.read_text("utf-8").splitlines() if line.strip()]
    return score_tags(
        [papers[row["index"]].topics for row in second], [row["topics"] for row in second]
    ).micro_f1


def run() -> dict[str, float]:
    papers = read_labeled(DEV_SET)
    model, _ = load_model(), load_tagger()
    repeated = (papers * (TARGET_PAPERS // len(papers) + 1))[:TARGET_PAPERS]
    tag_papers(repeated[:BATCH])  # warm caches (vectorizer, numpy) outside the timing
    started = time.perf_counter()
    for start in range(0, len(repeated), BATCH):
        tag_papers(repeated[start : start + BATCH])
    tagging_s = time.perf_counter() - started
    texts = [embedding_text(paper.title, paper.abstract) for paper in repeated]
    started = time.perf_counter()
    model.embed(texts)
    embedding_s = time.perf_counter() - started

    extra = [paper for path in ADDED_SETS for paper in read_labeled(path)]
    validation = cross_validate(papers, model, extra=extra).scores
    lexicon = score_tags(
        [paper.topics for paper in papers], [lexicon_tags(paper.title, paper.abstract) for paper in papers]
    )
    examples = json.loads(EXAMPLES.read_text("utf-8"))
    example_gold = [example["topics"] for example in examples]
    on_examples = score_tags(
        example_gold, tag_papers([TaggingInput(example["title"], example["summary"]) for example in examples])
    )
    lexicon_on_examples = score_tags(
        example_gold, [lexicon_tags(example["title"], example["summary"]) for example in examples]
    )
    return {
        "examples_micro_f1": round(on_examples.micro_f1, 3),
        "examples_tags_per_paper": round(on_examples.tags_per_paper, 3),
        "examples_lexicon_micro_f1": round(lexicon_on_examples.micro_f1, 3),
        "cv_micro_f1": round(validation.micro_f1, 3),
        "cv_precision": round(validation.overall.precision, 3),
        "cv_recall": round(validation.overall.recall, 3),
        "tags_per_paper": round(validation.tags_per_paper, 3),
        "tags_per_paper_gap": round(abs(validation.tags_per_paper - EDITOR_TAGS_PER_PAPER), 3),
        "label_tags_per_paper": round(validation.gold_tags_per_paper, 3),
        "lexicon_micro_f1": round(lexicon.micro_f1, 3),
        "label_agreement_micro_f1": round(label_agreement(papers), 3),
        "label_agreement_daily_labeler_micro_f1": round(label_agreement(papers, THIRD_PASS), 3),
        "papers_per_s": round(len(repeated) / tagging_s, 1),
        "embed_papers_per_s": round(len(repeated) / embedding_s, 1),
    }


if __name__ == "__main__":
    for name, value in run().items():
        print(f"tags.{name} = {value}")
