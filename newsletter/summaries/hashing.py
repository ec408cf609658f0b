"""The key a stored summary is found by: what was summarized, and by which backend version.

The same hash is computed in SQL (`store.input_hash_sql`) to find papers without a current summary in one
query, so the canonical form is deliberately simple: fields joined by a unit separator, ASCII whitespace
runs folded to one space, categories sorted by code point.
"""

from __future__ import annotations

import hashlib
import re

from newsletter.summaries.model import PaperText

FIELD_SEPARATOR = "\x1f"
ASCII_WHITESPACE_RUN = "[ \t\n\r\f\v]+"
_WHITESPACE = re.compile(ASCII_WHITESPACE_RUN)


def canonical_text(text: str) -> str:
    return _WHITESPACE.sub(" ", text).strip(" ")


def input_hash(paper: PaperText, backend_version: str) -> str:
    # Whitespace-only edits from a re-fetch must not trigger a re-summary; any word change must.
    fields = [
        backend_version,
        canonical_text(paper.title),
        canonical_text(paper.abstract),
        " ".join(sorted(paper.categories)),
    ]
    return hashlib.sha256(FIELD_SEPARATOR.join(fields).encode("utf-8")).hexdigest()
