"""Offline summarizer + tagger throughput on one core.

The 214 labeled dev papers (real titles and abstracts) repeated to 2,000, summarized in this
single-threaded process by `ExtractiveSummarizer.summarize_many` in chunks of 200, as stored papers are,
which also tags each chunk's topics in one batch (embedding included); `single_papers_per_s` is 500 papers
through `summarize` one at a time. Loading the embedding model and the tagger (once per process) is not timed;
nothing is cached between papers. The tagger's quality and batched speed are in bench_tags.py.
"""

from __future__ import annotations

import json
import time
from pathlib import Path

from newsletter.summaries.extractive import ExtractiveSummarizer
from newsletter.summaries.model import PaperText

ROOT = Path(__file__).resolve().parent.parent
DEV_SET = ROOT / "tests" / "fixtures" / "topics_dev.jsonl"
TARGET_PAPERS = 2000
# As stored papers are summarized: `summarize_pending` hands the summarizer 200 papers at a time.
CHUNK = 200
SINGLE_PAPERS = 500
TARGETS = {"papers_per_s": (">=", 200)}


def load_dev_rows() -> list[dict]:
    return [json.loads(line) for line in DEV_SET.read_text("utf-8").splitlines() if line.strip()]


def run() -> dict[str, float]:
    rows = load_dev_rows()
    corpus = [PaperText(row["title"], row["abstract"], id=str(i)) for i, row in enumerate(rows)]
    papers = (corpus * (TARGET_PAPERS // len(corpus) + 1))[:TARGET_PAPERS]
    summarizer = ExtractiveSummarizer()
    summarizer.summarize(papers[0])  # loads the model, tagger and lexicon outside the timing
    started, cpu_started = time.perf_counter(), time.process_time()
    for start in range(0, len(papers), CHUNK):
        summarizer.summarize_many(papers[start : start + CHUNK])
    elapsed, cpu_s = time.perf_counter() - started, time.process_time() - cpu_started
    single_started = time.perf_counter()
    for paper in papers[:SINGLE_PAPERS]:
        summarizer.summarize(paper)
    single_elapsed = time.perf_counter() - single_started
    return {
        "papers_per_s": round(len(papers) / elapsed, 1),
        # Per second of this process's CPU time: what one core does, however busy the machine is.
        "papers_per_cpu_s": round(len(papers) / cpu_s, 1),
        "ms_per_paper": round(1000 * elapsed / len(papers), 3),
        # One paper per call (each tagged alone): the LLM fallback and `summarize_jsonl` path.
        "single_papers_per_s": round(SINGLE_PAPERS / single_elapsed, 1),
    }


if __name__ == "__main__":
    for name, value in run().items():
        print(f"summarize.{name} = {value:.3f}")
