"""How a refused feed entry is told: the exception that refuses it, and what a fetch run records of it
(a short printable reference and a reason quoting outside values shortened)."""

from __future__ import annotations

import reprlib
from dataclasses import dataclass

from newsletter.plaintext.shorten import printable_prefix

# A refused item's reference as recorded (`rejection`): an arXiv id URL or Hugging Face id is far shorter.
MAX_REF_CHARS = 100


class EntryRejected(ValueError):
    """One entry or item is unusable; the rest of the page still goes through."""


@dataclass(slots=True)
class Rejection:
    item_ref: str
    reason: str


def rejection(item_ref: str, reason: str) -> Rejection:
    """What `fetch_runs.rejections` (JSONB) keeps of a refused item: printable and short, whatever the item
    held (an arXiv <id> of a megabyte with a right-to-left override in it is recorded by its first
    characters, escaped)."""
    return Rejection(item_ref=printable_prefix(item_ref, MAX_REF_CHARS), reason=printable_prefix(reason, 300))


def _brief_repr() -> reprlib.Repr:
    shortened = reprlib.Repr()
    shortened.maxstring, shortened.maxlong, shortened.maxother = 80, 40, 80
    return shortened


# An outside value quoted in a reason: its repr (non-printable characters escaped), a long one cut in the
# middle ("'https://evil.example/\\u202eAAAA...AAAA'").
brief = _brief_repr().repr
