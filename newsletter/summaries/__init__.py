"""Structured summaries and topic tags for papers: offline extractive default, LLM option."""

from newsletter.summaries.extractive import BACKEND_VERSION, ExtractiveSummarizer
from newsletter.summaries.factory import Summarizer, make_summarizer
from newsletter.summaries.hashing import input_hash
from newsletter.summaries.jsonl import JsonlCounts, summarize_jsonl
from newsletter.summaries.model import PaperText, StructuredSummary
from newsletter.tagging import tag_topics

__all__ = [
    "BACKEND_VERSION",
    "ExtractiveSummarizer",
    "JsonlCounts",
    "PaperText",
    "StructuredSummary",
    "Summarizer",
    "input_hash",
    "make_summarizer",
    "summarize_jsonl",
    "tag_topics",
]
