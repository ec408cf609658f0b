"""Faithfulness guard: every quantity an answer states must appear in the paper's own text."""

from __future__ import annotations

import re

# A number as written: 66.49%, 494×, 7B, 10x, 1,024, 2.3 (the suffix says what it counts).
NUMBER = re.compile(
    r"(?<![\w.])(\d{1,3}(?:,\d{3})+|\d+(?:\.\d+)?)(\s?(?:%|×|x\b|[kKMBT]\b|times\b|percent\b))?"
)
# Bare small integers are enumerations and counts ("(1)", "3 stages"), rarely invented claims.
SMALLEST_CHECKED_BARE_INTEGER = 11


def numbers_in(text: str) -> set[str]:
    return {_canonical(match.group(1)) for match in NUMBER.finditer(text)}


def unsupported_numbers(answer_text: str, paper_text: str) -> list[str]:
    """The quantities stated in the answer that the paper's title and abstract never state."""
    return numbers_not_in(answer_text, numbers_in(paper_text))


def numbers_not_in(answer_text: str, known: set[str]) -> list[str]:
    """The quantities stated in the answer that are not among `known` (`numbers_in` of the paper, read
    once per paper: reading the whole abstract again for each sentence made a long one quadratic)."""
    unsupported: list[str] = []
    for match in NUMBER.finditer(answer_text):
        value, suffix = _canonical(match.group(1)), match.group(2)
        is_bare_small = suffix is None and "." not in value and int(value) < SMALLEST_CHECKED_BARE_INTEGER
        if value in known or is_bare_small:
            continue
        stated = match.group(0).strip()
        if stated not in unsupported:
            unsupported.append(stated)
    return unsupported


def _canonical(number: str) -> str:
    # "1,024" and "1024" state the same quantity; "3.50" and "3.5" too.
    value = number.replace(",", "")
    if "." in value:
        value = value.rstrip("0").rstrip(".")
    return value
