"""Text as Postgres can hold it: no text or JSONB value may contain NUL, which outside text (a URL's
%00, a JSON \u0000) can carry."""

from __future__ import annotations

NUL = "\x00"


def without_nul(value: str | None) -> str:
    """The text without NUL; "" for no text (an absent query parameter)."""
    if value is None:
        return ""
    return value.replace(NUL, "") if NUL in value else value
