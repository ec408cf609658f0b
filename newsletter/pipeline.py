"""The production pipeline once, in this process: fetch → summarize → editions → send.

For cron-style use without beat (`newsletter run`). Each stage commits its own work, so a failure
in one stage is reported and the later stages still run on what is stored.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, date, datetime

from sqlalchemy.orm import Session, sessionmaker

from newsletter.catalog.site import front_page_paper_ids
from newsletter.config import Settings
from newsletter.db import session_scope
from newsletter.digests.build import build_due_editions
from newsletter.embeddings import embed_all_pending, load_model
from newsletter.mail.deliver import send_pending
from newsletter.sources.ingest import FetchOptions, fetch_sources
from newsletter.summaries.factory import make_ingest_summarizer
from newsletter.summaries.hashing import DEFAULT_LANGUAGE
from newsletter.summaries.languages import is_llm_configured
from newsletter.summaries.shown import summarize_for_readers
from newsletter.summaries.store import summarize_all_pending

logger = logging.getLogger(__name__)
Progress = Callable[[str], None]


@dataclass
class StageResult:
    name: str
    count: int
    unit: str
    seconds: float
    problem: str | None = None


def timed_stage(
    results: list[StageResult], name: str, unit: str, action: Callable[[], tuple[int, str | None]]
) -> None:
    started = time.perf_counter()
    count, problem = action()
    results.append(StageResult(name, count, unit, time.perf_counter() - started, problem))


def fetch_stage(
    factory: sessionmaker[Session], settings: Settings, until: date | None, progress: Progress
) -> tuple[int, str | None]:
    """Each source and category continues from its own cursor up to `until` (default today)."""
    summaries = fetch_sources(factory, settings, FetchOptions(until=until, progress=progress))
    stored = sum(summary.counts.new + summary.counts.updated for summary in summaries)
    problems = [
        f"{summary.source} {summary.category or ''}: {summary.status}".strip()
        for summary in summaries
        if summary.status != "ok"
    ]
    return stored, "; ".join(problems) or None


def run_pipeline(
    factory: sessionmaker[Session],
    settings: Settings,
    now: datetime | None = None,
    progress: Progress = lambda text: None,
) -> list[StageResult]:
    """`now` (default: the clock) is the moment editions are built for and the last day fetched."""
    fetch_until = now.date() if now is not None else None
    now = now or datetime.now(UTC)
    results: list[StageResult] = []
    timed_stage(
        results,
        "fetch",
        "papers new or updated",
        lambda: fetch_stage(factory, settings, fetch_until, progress),
    )

    def summarize() -> tuple[int, str | None]:
        progress("summarizing")
        counts = summarize_all_pending(factory, make_ingest_summarizer())
        # Kept beside the summaries for ranking and similar papers; cheap (thousands a second).
        embed_all_pending(factory, load_model())
        if is_llm_configured(settings):
            # The home page's papers get the LLM's summaries (editions' papers get theirs before the send).
            with session_scope(factory) as session:
                front_page = front_page_paper_ids(session)
            summarize_for_readers(factory, settings, {DEFAULT_LANGUAGE: front_page})
        return counts.stored, f"{counts.failed} failed" if counts.failed else None

    def editions() -> tuple[int, str | None]:
        progress("building editions")
        return build_due_editions(factory, settings, now).built, None

    def send() -> tuple[int, str | None]:
        progress("sending")
        report = send_pending(factory, settings, now=now)
        problem = report.stopped_reason or (f"{report.failed} failed" if report.failed else None)
        return report.sent, problem

    timed_stage(results, "summaries", "papers", summarize)
    timed_stage(results, "editions", "editions", editions)
    timed_stage(results, "send", "emails", send)
    for result in results:
        logger.info(
            "pipeline stage %s: %d %s in %.1fs", result.name, result.count, result.unit, result.seconds
        )
    return results
