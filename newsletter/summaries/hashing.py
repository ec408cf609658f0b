"""The key a stored summary is found by: what was summarized, and by which backend version.

The same hash is computed in SQL (`input_hash_sql`) to find papers without a current summary in one
query, and a reader's summaries in their language, so the canonical form is deliberately simple: fields
joined by a unit separator, ASCII whitespace runs folded to one space, categories sorted by code point.
"""

from __future__ import annotations

import hashlib
import re
from typing import Any

from sqlalchemy import ColumnElement, Text, cast, func, literal, select
from sqlalchemy.dialects.postgresql import aggregate_order_by

from newsletter.models import Paper
from newsletter.summaries.model import PaperText

FIELD_SEPARATOR = "\x1f"
ASCII_WHITESPACE_RUN = "[ \t\n\r\f\v]+"
_WHITESPACE = re.compile(ASCII_WHITESPACE_RUN)
# Bump when the LLM prompt or the validation changes: stored summaries are keyed by it.
LLM_BACKEND_VERSION = "llm-1"
DEFAULT_LANGUAGE = "en"


def llm_version_key(model: str, language: str = DEFAULT_LANGUAGE) -> str:
    """What an LLM summary is keyed by: the prompt's version and the model (a change re-summarizes),
    and the language when it is not English (the English key is unchanged by languages existing)."""
    key = f"{LLM_BACKEND_VERSION}:{model}"
    return key if language == DEFAULT_LANGUAGE else f"{key}:{language}"


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


def input_hash_sql(version_key: str) -> ColumnElement[str]:
    """`hashing.input_hash` computed by Postgres over the papers table (a test checks they agree)."""

    def canonical(column: Any) -> Any:
        folded = func.regexp_replace(func.coalesce(column, ""), ASCII_WHITESPACE_RUN, " ", "g")
        return func.regexp_replace(folded, "^ +| +$", "", "g")

    category = func.unnest(Paper.categories).column_valued("category")
    # COLLATE "C" orders by code point, as Python's sorted() does.
    categories = func.coalesce(
        select(
            func.string_agg(category, aggregate_order_by(literal(" "), category.collate("C")))
        ).scalar_subquery(),
        "",
    )
    payload = func.concat_ws(
        FIELD_SEPARATOR,
        cast(literal(version_key), Text),
        canonical(Paper.title),
        canonical(Paper.abstract),
        categories,
    )
    return func.encode(func.sha256(func.convert_to(payload, "UTF8")), "hex")
