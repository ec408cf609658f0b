"""Characters no reader may be shown: removed, and nothing else is."""

from __future__ import annotations

import unicodedata

import pytest
from hypothesis import given
from hypothesis import strategies as st

from newsletter.plaintext.characters import HIDDEN, without_hidden
from newsletter.sources.parse import normalise_text


@pytest.mark.parametrize(
    ("outside", "shown"),
    [
        ("Pay\u200bPal", "PayPal"),  # zero-width space
        ("Invoice \u202efdp.exe\u202c review", "Invoice fdp.exe review"),  # override and pop
        ("Pay\u200fPal\u061c \u200eexe", "PayPal exe"),  # right-to-left, Arabic and left-to-right marks
        ("a\u2066b\u2069c", "abc"),  # isolates
        ("dif\xadfusion", "diffusion"),  # soft hyphen
        ("x\u2060y\ufeffz\u180e", "xyz"),  # word joiner, byte order mark, Mongolian vowel separator
        ("blank\u3164\u115f\u1160\uffa0", "blank"),  # Hangul fillers
        ("a\u034fb", "ab"),  # combining grapheme joiner
        ("Attention\u200d is\u200c all", "Attention is all"),  # joiners next to ASCII join nothing
        ("line\u2028break\u2029", "linebreak"),
        ("\x1b[2Jclear\x07\x85", "[2Jclear"),  # escape, bell, next line
    ],
)
def test_hidden_characters_are_removed(outside: str, shown: str) -> None:
    assert without_hidden(outside) == shown


@pytest.mark.parametrize(
    "text",
    [
        "👨\u200d👩\u200d👧 family",  # an emoji sequence keeps its joiners
        "\u0915\u094d\u200d\u0937",  # Devanagari half form
        "\u0645\u06cc\u200c\u062e\u0648\u0627\u0647\u0645",  # Persian non-joiner
        "❤\ufe0f and tabs\tand\nlines",  # a variation selector, tab and newline
        "Schrödinger · 3×3 — “quoted” naïve",
    ],
)
def test_text_that_needs_its_characters_keeps_them(text: str) -> None:
    assert without_hidden(text) == text


@given(st.text())
def test_no_hidden_character_survives_and_a_second_pass_changes_nothing(text: str) -> None:
    shown = without_hidden(text)
    assert HIDDEN.search(shown) is None
    assert without_hidden(shown) == shown
    # Only format and control characters and the Hangul fillers are ever removed.
    removed = set(text) - set(shown)
    assert all(
        unicodedata.category(character) in ("Cc", "Cf", "Zl", "Zp", "Mn", "Mc")
        or character in "\u3164\u115f\u1160\uffa0"
        for character in removed
    ), removed


def test_stored_text_is_single_spaced_once_hidden_characters_are_gone() -> None:
    assert normalise_text("  Sparse \u200b attention\u2028for\n\tmodels ") == "Sparse attention for models"
    assert normalise_text("Attention \u202e") == "Attention"
