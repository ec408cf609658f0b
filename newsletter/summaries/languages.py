"""The languages a reader may have summaries in, and whether any is offered: only an LLM writes them."""

from __future__ import annotations

from newsletter.config import Settings
from newsletter.summaries.hashing import DEFAULT_LANGUAGE

# Code → (the name readers pick it by, the English name the LLM is asked to write in). Every paper has
# an English summary; the others are made for the papers shown to their readers.
LANGUAGES: dict[str, tuple[str, str]] = {
    "en": ("English", "English"),
    "fr": ("Français", "French"),
    "de": ("Deutsch", "German"),
    "es": ("Español", "Spanish"),
    "it": ("Italiano", "Italian"),
    "pt": ("Português", "Portuguese"),
    "zh": ("中文", "Simplified Chinese"),
    "ja": ("日本語", "Japanese"),
}


def is_llm_configured(settings: Settings) -> bool:
    return settings.summarizer == "llm"


def offered_languages(settings: Settings) -> dict[str, str]:
    """Code → name of the summary languages a reader may pick; none without an LLM configured."""
    if not is_llm_configured(settings):
        return {}
    return {code: name for code, (name, _) in LANGUAGES.items()}


def reading_language(settings: Settings, chosen: str) -> str:
    """The language a reader's summaries are shown in: the one they chose while an LLM is configured
    (a choice stays stored if the LLM is switched off, and counts again when it is back), else English."""
    return chosen if chosen in offered_languages(settings) else DEFAULT_LANGUAGE
