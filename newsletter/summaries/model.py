"""The plain data a summarizer takes and returns."""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from typing import Any


@dataclass(frozen=True)
class PaperText:
    title: str
    abstract: str
    categories: tuple[str, ...] = ()
    id: str | None = None


@dataclass
class StructuredSummary:
    key_points: list[str]
    summary: str
    methodology: str
    results: str
    implications: str
    topics: list[str]
    backend: str
    model: str | None
    backend_version: str
    fallback_reason: str | None = None
    prompt_tokens: int | None = None
    completion_tokens: int | None = None
    duration_s: float | None = field(default=None, compare=False)

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)
