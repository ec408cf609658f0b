"""Structured summaries and topic tags for papers: offline extractive default, LLM option."""
