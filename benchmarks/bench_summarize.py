"""Offline summarizer + tagger throughput on one core, and the tagger's micro-F1 on the dev set.

The 214 labeled dev papers (real titles and abstracts) repeated to 2,000, summarized one after another in
this single-threaded process by `ExtractiveSummarizer.summarize`, which also tags the topics. Loading
the taxonomy and lexicon (once per process) is not timed; nothing is cached between papers.
"""

from __future__ import annotations

import json
import time
from pathlib import Path

from newsletter.summaries import ExtractiveSummarizer, PaperText, tag_topics

ROOT = Path(__file__).resolve().parent.parent
DEV_SET = ROOT / "tests" / "fixtures" / "topics_dev.jsonl"
TARGET_PAPERS = 2000
TARGETS = {"papers_per_s": (">=", 200)}


def load_dev_rows() -> list[dict]:
    return [json.loads(line) for line in DEV_SET.read_text("utf-8").splitlines() if line.strip()]


def micro_f1(rows: list[dict]) -> float:
    true_positives = false_positives = false_negatives = 0
    for row in rows:
        predicted, gold = set(tag_topics(row["title"], row["abstract"])), set(row["topics"])
        true_positives += len(predicted & gold)
        false_positives += len(predicted - gold)
        false_negatives += len(gold - predicted)
    return 2 * true_positives / (2 * true_positives + false_positives + false_negatives)


def run() -> dict[str, float]:
    rows = load_dev_rows()
    corpus = [PaperText(row["title"], row["abstract"], id=str(i)) for i, row in enumerate(rows)]
    papers = (corpus * (TARGET_PAPERS // len(corpus) + 1))[:TARGET_PAPERS]
    summarizer = ExtractiveSummarizer()
    summarizer.summarize(papers[0])  # loads the taxonomy and lexicon outside the timing
    started, cpu_started = time.perf_counter(), time.process_time()
    for paper in papers:
        summarizer.summarize(paper)
    elapsed, cpu_s = time.perf_counter() - started, time.process_time() - cpu_started
    return {
        "papers_per_s": round(len(papers) / elapsed, 1),
        # Per second of this process's CPU time: what one core does, however busy the machine is.
        "papers_per_cpu_s": round(len(papers) / cpu_s, 1),
        "ms_per_paper": round(1000 * elapsed / len(papers), 3),
        "dev_micro_f1_tune": round(micro_f1([row for row in rows if row["split"] == "tune"]), 3),
        "dev_micro_f1_heldout": round(micro_f1([row for row in rows if row["split"] == "heldout"]), 3),
    }


if __name__ == "__main__":
    for name, value in run().items():
        print(f"summarize.{name} = {value:.3f}")
