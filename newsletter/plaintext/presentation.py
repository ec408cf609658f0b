"""What a reader is shown of a summary: a one-line TL;DR, the key points, and sections that repeat nothing.

The email and the paper page both ask these questions; each is answered here once.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from newsletter.plaintext.autolinks import has_autolink
from newsletter.plaintext.shorten import shorten

# A TL;DR is one line.
TLDR_CHARS = 240
WORD = re.compile(r"[a-z0-9]+")
# Good enough to compare sentences ("e.g. X" split in two only makes two smaller pieces, kept as they were).
SENTENCE_END = re.compile(r"(?<=[.!?])\s+(?=[A-Z0-9\"'(])")
# Two sentences sharing this much of their content words say the same thing ("We propose X for Y." and
# "Introduction of X for Y.").
SAME_SENTENCE_OVERLAP = 0.7
FUNCTION_WORDS = frozenset(
    [
        "a",
        "an",
        "the",
        "of",
        "to",
        "in",
        "on",
        "for",
        "with",
        "by",
        "from",
        "as",
        "at",
        "is",
        "are",
        "was",
        "were",
        "be",
        "been",
        "and",
        "or",
        "that",
        "this",
        "these",
        "we",
        "our",
        "it",
        "its",
        "they",
        "their",
        "which",
        "introduction",
        "evidence",
        "demonstration",
        "authors",
        "propose",
        "proposes",
        "present",
    ]
)
SOURCE_LABELS = {"hf": "Hugging Face"}


@dataclass(frozen=True)
class Tldr:
    text: str
    # Who wrote it ("Hugging Face"), shown as a label; None when it is the summary's own first key point.
    source_label: str | None


def tldr_and_points(
    tldr: str | None, tldr_source: str | None, key_points: list[str]
) -> tuple[Tldr | None, list[str]]:
    """The TL;DR and the key points to list under it: the source's TL;DR when there is one (key points
    that repeat it are left out), else the first key point, which then is not listed again. None states a
    link: readers take them for the newsletter's own words (`plaintext.autolinks`)."""
    points = shown_points(key_points)
    if tldr and tldr.strip() and not has_autolink(tldr):
        line = shorten(tldr, TLDR_CHARS)
        return Tldr(line, SOURCE_LABELS.get(tldr_source or "", tldr_source)), [
            point for point in points if not is_same_sentence(point, line)
        ]
    if not points:
        return None, []
    return Tldr(points[0], None), points[1:]


def shown_points(key_points: list[str]) -> list[str]:
    """The key points a reader may be shown: not empty, and stating no link (`plaintext.autolinks`)."""
    return [point for point in key_points if point.strip() and not has_autolink(point)]


def sections_without_repeats(shown: list[str], sections: dict[str, str | None]) -> dict[str, str]:
    """Each section with the sentences already shown above it (key points, TL;DR, earlier sections)
    and those stating a link left out; a section with nothing new is empty."""
    seen = [text for text in shown if text]
    kept: dict[str, str] = {}
    for name, text in sections.items():
        sentences = [
            sentence
            for sentence in (SENTENCE_END.split(text.strip()) if text and text.strip() else [])
            if not has_autolink(sentence) and not any(is_same_sentence(sentence, other) for other in seen)
        ]
        seen.extend(sentences)
        kept[name] = " ".join(sentences)
    return kept


def is_same_sentence(first: str, second: str) -> bool:
    a = set(WORD.findall(first.lower())) - FUNCTION_WORDS
    b = set(WORD.findall(second.lower())) - FUNCTION_WORDS
    if not a or not b:
        return first.strip() == second.strip()
    return len(a & b) / min(len(a), len(b)) >= SAME_SENTENCE_OVERLAP


def made_by(backend: str, backend_version: str, model: str | None, fallback_reason: str | None) -> str:
    """How a stored summary was made, as the paper page shows it in small print."""
    if backend == "llm" and not fallback_reason:
        return f"Summarized by {model}, numbers checked against the abstract"
    if fallback_reason:
        return f"Written from the abstract's own sentences ({backend_version}): the language model's answer was not used"
    return f"Written from the abstract's own sentences, without a language model ({backend_version})"
