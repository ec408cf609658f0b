"""Lists as Postgres array literals, for statements that take a column of lists as one text[] array."""

from __future__ import annotations

from collections.abc import Sequence


def array_literal(values: Sequence[str]) -> str:
    """A Postgres text[] literal, every element quoted and escaped."""
    quoted = ('"' + value.replace("\\", "\\\\").replace('"', '\\"') + '"' for value in values)
    return "{" + ",".join(quoted) + "}"
