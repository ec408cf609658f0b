"""Structured summaries for papers: offline extractive default, LLM option, stored with their tags."""
