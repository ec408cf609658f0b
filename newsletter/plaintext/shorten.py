"""The one way text is shortened for display: at a clause or word boundary, never inside a word, then "…"."""

from __future__ import annotations

import re

ELLIPSIS = "…"
# A cut after one of these reads as a pause: ", " "; " ": " " — " " – " " (".
CLAUSE_END = re.compile(r"[,;:]\s|\s[—–]\s|\s\(")
# A shortened text must not end on a word that announces more ("…for the…", "…results and…").
DANGLING_WORDS = frozenset(
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
        "at",
        "as",
        "and",
        "or",
        "but",
        "nor",
        "that",
        "which",
        "who",
        "whose",
        "whom",
        "while",
        "when",
        "where",
        "than",
        "then",
        "via",
        "into",
        "onto",
        "over",
        "under",
        "between",
        "among",
        "its",
        "their",
        "our",
        "his",
        "her",
        "this",
        "these",
        "those",
        "is",
        "are",
        "was",
        "were",
        "be",
        "been",
        "being",
        "has",
        "have",
        "had",
        "can",
        "could",
        "may",
        "might",
        "will",
        "would",
        "should",
    ]
)
TRAILING_PUNCTUATION = ",;:–—-(/ "
# A "word" longer than this is not a word (a hash, a URL, an attack): it may be cut.
LONGEST_WORD = 40


def shorten(text: str, limit: int) -> str:
    """`text` with whitespace folded, at most `limit` characters: whole, or cut and ended with "…"."""
    text = " ".join(text.split())
    if len(text) <= limit:
        return text
    budget = max(limit - len(ELLIPSIS), 1)
    window = text[: budget + 1]
    cut = _clause_cut(window, budget) or _word_cut(window, budget)
    head = _without_dangling_end(text[:cut])
    return head + ELLIPSIS if head else text[:budget] + ELLIPSIS


def printable_prefix(value: str, limit: int) -> str:
    """`value` on one printable line of at most `limit` characters, for a log or a stored reason: text that
    is not printable (a control, NUL, a line break, half of a surrogate pair) reads as its escaped repr."""
    return shorten(value if value.isprintable() else ascii(value), limit)


def _clause_cut(window: str, budget: int) -> int | None:
    # A clause end is worth a shorter text only if most of the budget is still used.
    ends = [match.start() + 1 for match in CLAUSE_END.finditer(window) if match.start() + 1 <= budget]
    ends = [end for end in ends if end >= budget * 0.6]
    return max(ends) if ends else None


def _word_cut(window: str, budget: int) -> int:
    if len(window) <= budget or window[budget].isspace():
        return budget
    space = window.rfind(" ", 0, budget + 1)
    if space > 0 and budget - space <= LONGEST_WORD:
        return space
    hyphen = window.rfind("-", 0, budget)
    if hyphen > 0 and budget - hyphen <= LONGEST_WORD:
        return hyphen
    # The text runs on without a space: what is cut is not a word (a hash, a URL, an attack).
    return budget


def _without_dangling_end(head: str) -> str:
    words = head.rstrip(TRAILING_PUNCTUATION).split(" ")
    while len(words) > 1 and words[-1].lower().strip(TRAILING_PUNCTUATION) in DANGLING_WORDS:
        words.pop()
    return " ".join(words).rstrip(TRAILING_PUNCTUATION)
