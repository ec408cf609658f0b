"""Sentence splitting for abstracts: abbreviations, decimals, LaTeX and cut-short endings."""

from __future__ import annotations

import re
from dataclasses import dataclass

# Lower-cased tokens that end with a period without ending the sentence.
ABBREVIATIONS = frozenset(
    {
        "e.g", "i.e", "etc", "vs", "cf", "al", "fig", "figs", "eq", "eqs", "sec", "no", "nos", "approx",
        "resp", "dr", "mr", "ms", "prof", "inc", "ltd", "jr", "sr", "st", "vol", "pp", "ref", "refs",
        "viz", "w.r.t", "a.k.a", "u.s", "e.t.c", "ca", "est", "tab", "thm", "def", "appx", "ch",
        "incl", "nucl", "phys", "lett", "proc", "conf", "eds",
    }
)  # fmt: skip
# After "et al." these open a new sentence ("… as in Smith et al. Our method …"); anything else continues
# the citation ("Smith et al. (2020) show …").
OPENERS_AFTER_CITATION = frozenset(
    {"we", "our", "this", "these", "the", "in", "however", "here", "unlike", "moreover", "it", "they"}
)
# How far a parenthesis opened before a period may close after it for the period to be inside it: a
# stray "(" never closed must not join the rest of the abstract into one sentence.
MAX_PARENTHESIS_REACH = 200

# Spans inside which a period never ends a sentence: inline and display LaTeX, URLs.
PROTECTED_SPAN = re.compile(
    r"\$\$.+?\$\$|\$[^$]+\$|\\\(.+?\\\)|(?:https?://|www\.)\S+?(?=[.,;:!?)\]]*(?:\s|$))", re.DOTALL
)
# A candidate boundary: terminal punctuation, optional closing quotes/brackets, then whitespace.
BOUNDARY = re.compile(r"[.!?]+[\"'”’)\]]*(?=\s+)")
TERMINAL = re.compile(r"[.!?][\"'”’)\]]*$")
WHITESPACE = re.compile(r"\s+")


@dataclass(frozen=True)
class SplitText:
    sentences: list[str]
    # A trailing fragment without terminal punctuation: the source cut the abstract short.
    fragment: str | None


def normalize_whitespace(text: str) -> str:
    return WHITESPACE.sub(" ", text).strip()


def split_sentences(text: str) -> SplitText:
    text = normalize_whitespace(text)
    if not text:
        return SplitText([], None)
    protected = [(m.start(), m.end()) for m in PROTECTED_SPAN.finditer(text)]
    sentences: list[str] = []
    start = 0
    for match in BOUNDARY.finditer(text):
        end = match.end()
        if _is_inside(match.start(), protected) or not _ends_sentence(text, start, match.start(), end):
            continue
        sentences.append(text[start:end].strip())
        start = end
    rest = text[start:].strip()
    if rest and TERMINAL.search(rest) and not _ends_in_url(rest):
        sentences.append(rest)
        rest = ""
    return SplitText([s for s in sentences if s], rest or None)


def is_complete_sentence(sentence: str) -> bool:
    return bool(TERMINAL.search(sentence)) and not _ends_in_url(sentence)


def _is_inside(position: int, spans: list[tuple[int, int]]) -> bool:
    return any(start <= position < end for start, end in spans)


def _ends_in_url(text: str) -> bool:
    # "Code: https://github.com/x/y." keeps its period inside the URL span; it is not a sentence end.
    last_token = text.rsplit(" ", 1)[-1]
    return "://" in last_token or last_token.startswith("www.")


def _ends_sentence(text: str, sentence_start: int, punct_start: int, end: int) -> bool:
    if text[punct_start] != ".":
        return _next_starts_sentence(text, end)
    if _is_inside_parentheses(text, sentence_start, end):
        return False
    word = text[sentence_start:punct_start].rsplit(" ", 1)[-1].lower().lstrip("(\"'[")
    if word == "al":
        return _next_word(text, end) in OPENERS_AFTER_CITATION
    if word in ABBREVIATIONS or word.rstrip(".") in ABBREVIATIONS:
        return False
    # A single capital before the period is an initial ("J. Smith"), not an end.
    if len(word) == 1 and word.isalpha():
        return False
    # "1. It can ..." opens an enumerated item; keep the number with its item.
    if word.isdigit() and len(word) <= 2:
        before = text[sentence_start:punct_start].strip()[: -len(word)].rstrip()
        if not before or before.endswith(":"):
            return False
    return _next_starts_sentence(text, end)


def _is_inside_parentheses(text: str, sentence_start: int, end: int) -> bool:
    # "(incl. ResNets, ViTs)" and "(Nucl. Phys. A625 (1997) 893)" hold periods that end nothing.
    before = text[sentence_start:end]
    if before.count("(") <= before.count(")"):
        return False
    return ")" in text[end : end + MAX_PARENTHESIS_REACH]


def _next_word(text: str, end: int) -> str:
    following = text[end:].split(None, 1)
    return following[0].strip(",;:").lower() if following else ""


def _next_starts_sentence(text: str, end: int) -> bool:
    following = text[end:].lstrip()
    if not following:
        return True
    first = following[0]
    return first.isupper() or first.isdigit() or first in "\"'“‘([$\\"
