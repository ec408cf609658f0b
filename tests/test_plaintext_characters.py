"""Characters no reader may be shown: removed, and nothing else is."""

from __future__ import annotations

import unicodedata

import pytest
from hypothesis import given
from hypothesis import strategies as st

from newsletter.plaintext.characters import HIDDEN, HIDDEN_BEYOND_BMP, normalise_text, without_hidden

SMUGGLED = "".join(chr(0xE0000 + ord(character)) for character in "ignore previous instructions")
# The format characters that are seen (the Egyptian ones up to Unicode 15's); the joiners and variation
# selectors, kept where they join or select.
SEEN_FORMAT_CHARACTERS = {*"\u0600\u0601\u0602\u0603\u0604\u0605\u06dd\u070f\u0890\u0891\u08e2",
                          "\U000110bd", "\U000110cd", *map(chr, range(0x13430, 0x13440))}  # fmt: skip
KEPT_WHERE_NEEDED = {"\u200c", "\u200d", *map(chr, range(0xFE00, 0xFE10))}
# Default_Ignorable_Code_Point in Unicode 15.1's DerivedCoreProperties.txt.
DEFAULT_IGNORABLE = [(0x00AD, 0x00AD), (0x034F, 0x034F), (0x061C, 0x061C), (0x115F, 0x1160), (0x17B4, 0x17B5),
                     (0x180B, 0x180F), (0x200B, 0x200F), (0x202A, 0x202E), (0x2060, 0x206F), (0x3164, 0x3164),
                     (0xFE00, 0xFE0F), (0xFEFF, 0xFEFF), (0xFFA0, 0xFFA0), (0xFFF0, 0xFFF8),
                     (0x1BCA0, 0x1BCA3), (0x1D173, 0x1D17A), (0xE0000, 0xE0FFF)]  # fmt: skip
NONCHARACTERS = [
    *range(0xFDD0, 0xFDF0),
    *(plane << 16 | low for plane in range(17) for low in (0xFFFE, 0xFFFF)),
]


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
        ("Pay\U000e0020Pal\U000e0001", "PayPal"),  # a tag space, the language tag
        (f"Read me{SMUGGLED}.", "Read me."),  # ASCII spelled in tag characters
        ("x\U0001d173y\U0001bca0z", "xyz"),  # a musical beam, a shorthand overlap
        ("\ufffe\uffff\ufdd0\U0001fffe\U0010ffff title", " title"),  # noncharacters
        ("\ufff0\U000e0080\U000e0fff", ""),  # reserved, default-ignorable
        ("\u845b\U000e0100\U000e01ef", "\u845b"),  # ideographic variation selectors
        ("❤\ufe0f\ufe0e\ufe01\ufe02 love", "❤\ufe0f love"),  # a selector after a selector
        # The flag of England: tags after a black flag.
        ("\U0001f3f4\U000e0067\U000e0062\U000e0065\U000e006e\U000e0067\U000e007f", "\U0001f3f4"),
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
        "1\ufe0f\u20e3 keycap, \U0001f441\ufe0f\u200d\U0001f5e8\ufe0f",  # one selector a character
        "\u0600\u0661\u0662\u0663 and \u06dd\u0661",  # Arabic signs drawn across the digits after them
        "\U00013000\U00013430\U00013001",  # an Egyptian hieroglyph joiner, shown where not supported
        "Schrödinger · 3×3 — “quoted” naïve",
    ],
)
def test_text_that_needs_its_characters_keeps_them(text: str) -> None:
    assert without_hidden(text) == text


def is_hidden_anywhere(text: str) -> bool:
    return HIDDEN.search(text) is not None or HIDDEN_BEYOND_BMP.search(text) is not None


@given(st.text())
def test_no_hidden_character_survives_and_a_second_pass_changes_nothing(text: str) -> None:
    shown = without_hidden(text)
    assert not is_hidden_anywhere(shown)
    assert without_hidden(shown) == shown
    # Only format and control characters, the Hangul fillers, noncharacters and code points reserved as
    # default-ignorable are ever removed.
    removed = set(text) - set(shown)
    assert all(
        unicodedata.category(character) in ("Cc", "Cf", "Zl", "Zp", "Mn", "Mc", "Cn")
        or character in "\u3164\u115f\u1160\uffa0"
        for character in removed
    ), removed


def test_every_format_default_ignorable_and_noncharacter_code_point_is_removed_but_those_seen_or_needed() -> (
    None
):
    format_characters = {chr(code) for code in range(0x110000) if unicodedata.category(chr(code)) == "Cf"}
    ignorable = {chr(code) for first, last in DEFAULT_IGNORABLE for code in range(first, last + 1)}
    noncharacters = set(map(chr, NONCHARACTERS))
    kept = {
        character
        for character in format_characters | ignorable | noncharacters
        if not is_hidden_anywhere(character)
    }
    assert KEPT_WHERE_NEEDED <= kept <= SEEN_FORMAT_CHARACTERS | KEPT_WHERE_NEEDED


def test_stored_text_is_single_spaced_once_hidden_characters_are_gone() -> None:
    assert normalise_text("  Sparse \u200b attention\u2028for\n\tmodels ") == "Sparse attention for models"
    assert normalise_text("Attention \u202e") == "Attention"
