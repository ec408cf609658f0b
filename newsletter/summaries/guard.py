"""Faithfulness guard: every quantity an answer states must appear in the paper's own text."""

from __future__ import annotations

import re

# A number as written: 66.49%, 494×, 7B, 10x, 1,024, 2.3 (the suffix says what it counts).
NUMBER = re.compile(
    r"(?<![\w.])(\d{1,3}(?:,\d{3})+|\d+(?:\.\d+)?)(\s?(?:%|×|x\b|[kKMBT]\b|times\b|percent\b))?"
)
# A measured value: a number with its unit of comparison (%, ×, x, times, -fold, points, dB) or a decimal
# (an RMSE of 0.361); not a version or a model's name (v0.1.0, Qwen2.5, GPT-5.4), nor a count ("3 stages").
MEASURED = re.compile(
    r"(?<![\w.-])[+-]?\d+(?:[.,]\d+)?\s?(?:%|×|x\b|times\b|-fold\b|pp\b|percentage points?\b|dB\b)"
    r"|(?<![\w.-])\d+\.\d+(?![\w.])"
)
# Bare small integers are enumerations and counts ("(1)", "3 stages"), rarely invented claims.
SMALLEST_CHECKED_BARE_INTEGER = 11
# Digits printed as a script state a number of their own: "10⁻¹²" states 10 and 12, as an answer that
# writes "10^-12" does, and "10²" is not 102.
SCRIPT_DIGITS = re.compile("[⁰¹²³⁴⁵⁶⁷⁸⁹₀₁₂₃₄₅₆₇₈₉]+")
AS_DIGITS = str.maketrans("⁰¹²³⁴⁵⁶⁷⁸⁹₀₁₂₃₄₅₆₇₈₉", "01234567890123456789")


def numbers_in(text: str) -> set[str]:
    return {_canonical(match.group(1)) for match in NUMBER.finditer(_script_digits_read(text))}


def unsupported_numbers(answer_text: str, paper_text: str) -> list[str]:
    """The quantities stated in the answer that the paper's title and abstract never state."""
    return numbers_not_in(answer_text, numbers_in(paper_text))


def numbers_not_in(answer_text: str, known: set[str]) -> list[str]:
    """The quantities stated in the answer that are not among `known` (`numbers_in` of the paper, read
    once per paper: reading the whole abstract again for each sentence made a long one quadratic)."""
    unsupported: list[str] = []
    for match in NUMBER.finditer(_script_digits_read(answer_text)):
        value, suffix = _canonical(match.group(1)), match.group(2)
        is_bare_small = suffix is None and "." not in value and int(value) < SMALLEST_CHECKED_BARE_INTEGER
        if value in known or is_bare_small:
            continue
        stated = match.group(0).strip()
        if stated not in unsupported:
            unsupported.append(stated)
    return unsupported


def _script_digits_read(text: str) -> str:
    return SCRIPT_DIGITS.sub(lambda match: " " + match.group(0).translate(AS_DIGITS), text)


def _canonical(number: str) -> str:
    # "1,024" and "1024" state the same quantity; "3.50" and "3.5" too.
    value = number.replace(",", "")
    if "." in value:
        value = value.rstrip("0").rstrip(".")
    return value
