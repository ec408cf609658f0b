"""Parse throughput of a 10,000-entry arXiv feed synthesised from the corpus (the ingest parse step)."""

from __future__ import annotations

import json
import time
from pathlib import Path

from newsletter.sources.parse import parse_arxiv_feed
from newsletter.sources.samplefeed import synthesise_feed

ENTRY_COUNT = 10_000
# The corpus the tests use too (a copy of the 222 real papers).
CORPUS = Path(__file__).resolve().parents[1] / "tests" / "fixtures" / "corpus" / "papers.json"
ROUNDS = 3


def load_corpus() -> list[dict[str, object]]:
    return json.loads(CORPUS.read_text(encoding="utf-8"))  # type: ignore[no-any-return]


def run() -> dict[str, float]:
    feed = synthesise_feed(load_corpus(), ENTRY_COUNT)
    best_s = float("inf")
    for _ in range(ROUNDS):
        started = time.perf_counter()
        page = parse_arxiv_feed(feed)
        best_s = min(best_s, time.perf_counter() - started)
        if len(page.entries) != ENTRY_COUNT:
            raise RuntimeError(f"parsed {len(page.entries)} of {ENTRY_COUNT} entries")
    return {
        "parse_papers_per_s": round(ENTRY_COUNT / best_s, 1),
        "parse_mb_per_s": round(len(feed) / best_s / 1e6, 1),
        "feed_bytes": len(feed),
    }


if __name__ == "__main__":
    print(run())
