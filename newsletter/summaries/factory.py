"""Builds the summarizer the settings ask for."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Protocol

from newsletter.config import Settings
from newsletter.summaries.extractive import ExtractiveSummarizer
from newsletter.summaries.hashing import DEFAULT_LANGUAGE
from newsletter.summaries.llm import LLMSummarizer
from newsletter.summaries.model import PaperText, StructuredSummary


class Summarizer(Protocol):
    backend: str
    backend_version: str
    # What stored summaries are keyed by: the backend version, plus the model for the LLM backend.
    version_key: str

    def summarize(self, paper: PaperText) -> StructuredSummary: ...

    def summarize_many(self, papers: Sequence[PaperText]) -> list[StructuredSummary]: ...


def make_summarizer(settings: Settings) -> Summarizer:
    """What `newsletter summarize --input` uses. Stored papers are summarized offline at ingest; the LLM
    summarizes the papers readers are shown (`summaries.shown`)."""
    if settings.summarizer == "llm":
        return make_llm_summarizer(settings)
    return ExtractiveSummarizer()


def make_ingest_summarizer() -> Summarizer:
    """Every stored paper's summary at ingest: the offline one whatever the settings (cheap, no network);
    the LLM summarizes only the papers readers are shown."""
    return ExtractiveSummarizer()


def make_llm_summarizer(settings: Settings, language: str = DEFAULT_LANGUAGE) -> LLMSummarizer:
    return LLMSummarizer(
        base_url=settings.llm_base_url,
        model=settings.llm_model,
        api_key=settings.llm_api_key.get_secret_value(),
        concurrency=settings.llm_concurrency,
        timeout_s=settings.llm_timeout_s,
        language=language,
    )
