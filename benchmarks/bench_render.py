"""Render distinct editions (10 papers each, every one with different text) on one core.

3,000 edition contexts, each with its own titles, key points and links, rendered one after another by
`render_email("edition", …)` (subject, plain text and MJML-compiled HTML) in this single-threaded process.
Building the contexts and the first render (which compiles the MJML layout once per process) are not
timed.
"""

from __future__ import annotations

import time
from typing import Any

from newsletter.mail.context import new_link_slots
from newsletter.mail.render import render_email

NAME = "render"
EDITIONS = 3000
TARGETS = {"editions_per_s": (">=", 1_000)}


def edition_context(number: int) -> dict[str, Any]:
    papers = [
        {
            "arxiv_id": f"2611.{number:05d}",
            "title": f"Edition {number} paper {rank}: sparse retrieval <for> long documents & more",
            "url": f"https://papers.example.org/papers/2611.{number:05d}",
            "authors": "Ada Lovelace, Alan Turing, Grace Hopper et al.",
            "tags": ["NLP", "Retrieval", "Efficient ML"],
            # Half the papers carry Hugging Face's TL;DR, the others lead with their first key point.
            "tldr": {
                "text": f"One line on paper {rank} in edition {number}.",
                "source_label": "Hugging Face" if rank % 2 else None,
            },
            "key_points": [f"Point {k} of paper {rank} in edition {number}." for k in range(3)],
            "reason": f"NLP · keyword “retrieval” · {number % 300} upvotes",
            "upvotes": number % 300,
            "is_update": rank == 3,
            "version": 2 if rank == 3 else 1,
            "abs_url": f"https://arxiv.org/abs/2611.{number:05d}",
            "pdf_url": f"https://arxiv.org/pdf/2611.{number:05d}",
            "code_url": "https://github.com/example/repo" if rank % 2 else None,
            "vote_paths": {vote: f"/{vote}/2611.{number:05d}" for vote in ("up", "down")},
        }
        for rank in range(10)
    ]
    return {
        "kind": "papers",
        "edition_date": "2026-11-21",
        "date_label": "Saturday, 21 November 2026",
        "date_short": "Sat 21 Nov",
        "headline": "10 papers trending in your topics",
        "preheader": " · ".join(str(paper["title"]) for paper in papers[:3])[:140],
        "papers": papers,
        "paper_count": 10,
        "overflow_count": number % 4,
        "links": {**new_link_slots(), "site": "https://papers.example.org/"},
        "sender": {"name": "ML Papers Daily", "postal_address": "Newsletter, 1 Example Street, 10115 Berlin"},
        "footer_note": "",
    }


def run() -> dict[str, float]:
    contexts = [edition_context(number) for number in range(EDITIONS)]
    render_email("edition", contexts[0])  # compiles the MJML once, as the first email of a run does
    started, cpu_started = time.perf_counter(), time.process_time()
    total_bytes = sum(len(render_email("edition", context).html) for context in contexts)
    elapsed, cpu_s = time.perf_counter() - started, time.process_time() - cpu_started
    return {
        "editions_per_s": round(EDITIONS / elapsed, 1),
        # Per second of this process's CPU time: what one core does, however busy the machine is.
        "editions_per_cpu_s": round(EDITIONS / cpu_s, 1),
        "html_kb_per_edition": round(total_bytes / EDITIONS / 1024, 1),
    }


if __name__ == "__main__":
    print(run())
