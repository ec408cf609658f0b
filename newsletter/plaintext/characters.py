"""Characters outside text may not bring to a reader: those that reorder what is displayed around them and
those that cannot be seen at all.

A title holding a right-to-left override shows "Invoice fdp.exe" as "Invoice exe.pdf"; one holding a
zero-width space or a soft hyphen reads "PayPal" and matches no keyword; a Hangul filler is a blank that
is not a space; tag characters spell ASCII no one sees ("ignore previous instructions" to a language
model reading the abstract). None of them belongs in a paper's title, authors or abstract, so the parsers
take them out before anything is stored (`without_hidden`), and every output (emails, pages, feeds, the
command line) takes them out again from what was stored before this rule.

Removed: every format character (Unicode category Cf) and every default-ignorable code point, with the
exceptions below, and the noncharacters (U+FDD0-U+FDEF and the last two code points of each plane),
which no text exchanged between programs may hold.
Kept: tab and newline (the caller decides about those), the zero-width joiner and non-joiner between two
non-ASCII characters (emoji sequences and scripts that need them), one variation selector after a
character (emoji shown as pictures or as text), and the format characters that are seen: the Arabic,
Syriac and Kaithi signs drawn across the digits after them and the Egyptian hieroglyph format controls.
Tag characters go even in the flags of England, Scotland and Wales (a black flag and tags): the flag
shows as the black flag, and keeping tags after one would let any hidden ASCII through behind it.
"""

from __future__ import annotations

import re

# Bidi embeddings, overrides, isolates and marks (LRM, RLM, ALM).
BIDI = "\u061c\u200e\u200f\u202a-\u202e\u2066-\u2069"
# Invisible format characters and blanks that are not spaces: soft hyphen, combining grapheme joiner,
# Hangul fillers, Khmer inherent vowels, Mongolian free variation selectors and vowel separator,
# zero-width space, word joiner and invisible operators, deprecated format characters, line and
# paragraph separators, byte order mark, Hangul halfwidth filler, code points reserved as
# default-ignorable, interlinear annotation marks, shorthand format controls, musical symbol beams,
# ties, slurs and phrases, tag characters, variation selectors 17-256 (ideographic variants, never
# needed to read a paper) and the rest of their block, reserved as default-ignorable.
INVISIBLE = (
    "\u00ad\u034f\u115f\u1160\u17b4\u17b5\u180b-\u180f\u200b\u2028\u2029\u2060-\u2065\u206a-\u206f"
    "\u3164\ufeff\uffa0\ufff0-\ufffb"
)
INVISIBLE_BEYOND_BMP = "\U0001bca0-\U0001bca3\U0001d173-\U0001d17a\U000e0000-\U000e0fff"
# U+FDD0-U+FDEF, and U+xFFFE and U+xFFFF in each of the 17 planes.
NONCHARACTERS = "\ufdd0-\ufdef\ufffe\uffff"
NONCHARACTERS_BEYOND_BMP = "".join(
    chr(plane << 16 | 0xFFFE) + chr(plane << 16 | 0xFFFF) for plane in range(1, 17)
)
# A joiner or non-joiner next to an ASCII character (or at an end) joins nothing a script needs.
STRAY_JOINER = r"(?<![^\x00-\x7f])[\u200c\u200d]|[\u200c\u200d](?![^\x00-\x7f])"
# A character takes one variation selector; those after it select nothing and can spell hidden data.
SELECTOR_RUN = r"([\ufe00-\ufe0f])[\ufe00-\ufe0f]+"
# C0 controls but tab and newline, DEL, C1 controls.
CONTROLS = "\x00-\x08\x0b-\x1f\x7f-\x9f"

# Two classes: one of ranges beyond the Basic Multilingual Plane made the scan of every character about
# 20 times slower (Python's matcher tests those one by one), and almost no text holds such a character.
HIDDEN = re.compile(f"[{CONTROLS}{BIDI}{INVISIBLE}{NONCHARACTERS}]")
HIDDEN_BEYOND_BMP = re.compile(f"[{INVISIBLE_BEYOND_BMP}{NONCHARACTERS_BEYOND_BMP}]")
VARIATION_SELECTORS = tuple(chr(code) for code in range(0xFE00, 0xFE10))
JOINERS = re.compile(STRAY_JOINER)
SELECTORS = re.compile(SELECTOR_RUN)


def without_hidden(value: str) -> str:
    """`value` without control, direction-changing and invisible characters (tab and newline kept)."""
    # Every character removed is outside ASCII or unprintable: most values are returned unscanned.
    if value.isascii() and value.isprintable():
        return value
    value = HIDDEN.sub("", value)
    # Separate passes, only where they can find something: each would slow the scan of every character.
    if len(value.encode("utf-16-le", "surrogatepass")) != 2 * len(value):  # one beyond the BMP
        value = HIDDEN_BEYOND_BMP.sub("", value)
    if "\u200c" in value or "\u200d" in value:
        value = JOINERS.sub("", value)
    if any(selector in value for selector in VARIATION_SELECTORS):
        value = SELECTORS.sub(r"\1", value)
    return value


def normalise_text(text: str) -> str:
    """Outside text as it is stored: on one line, single-spaced, without the control, direction-changing
    and invisible characters no reader may be shown (`without_hidden`)."""
    # Most 2026 text is already on one line: three substring scans are cheaper than a split/join
    # (which is itself several times faster than a regex).
    if "\n" not in text and "  " not in text and "\t" not in text and "\r" not in text:
        text = text.strip()
    else:
        text = " ".join(text.split())
    shown = without_hidden(text)  # the same object when nothing is hidden (most text)
    return text if shown is text else " ".join(shown.split())
