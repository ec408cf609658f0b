"""Summarize a batch so that one failing paper never stops the rest."""

from __future__ import annotations

import logging
from collections.abc import Sequence
from typing import Protocol

from newsletter.summaries.model import PaperText, StructuredSummary

logger = logging.getLogger(__name__)


class BatchSummarizer(Protocol):
    def summarize(self, paper: PaperText) -> StructuredSummary: ...

    def summarize_many(self, papers: Sequence[PaperText]) -> list[StructuredSummary]: ...


def summarize_each(
    summarizer: BatchSummarizer, papers: Sequence[PaperText]
) -> list[StructuredSummary | Exception]:
    """One result per paper, in order: its summary, or the exception it raised."""
    if not papers:
        return []
    try:
        return list(summarizer.summarize_many(papers))
    except Exception:
        # The batch call failed as a whole: redo one by one so only the paper at fault is lost.
        logger.exception("Batch of %d papers failed; summarizing them one by one", len(papers))
    results: list[StructuredSummary | Exception] = []
    for paper in papers:
        try:
            results.append(summarizer.summarize(paper))
        except Exception as error:  # per-item boundary: recorded by the caller, the batch goes on
            logger.exception("Summarizing paper %s failed", paper.id)
            results.append(error)
    return results
