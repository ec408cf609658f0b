"""arXiv ids as arXiv spells them: one paper, one id."""

from __future__ import annotations

import re

# http://arxiv.org/abs/2104.12255v1 and http://arxiv.org/abs/astro-ph/0601001v1. Old ids may name a
# subject class (math.AG/0601001), which is not part of the paper's id: arXiv's canonical form is
# math/0601001, so that is the one stored. ASCII digits and arXiv's own case only: `\d` matches the digits
# of every script, and "２６１１.０００１" or "HEP-TH/9901001" stored beside the real id read as that paper.
# The archive is bounded so that every id fits papers.arxiv_id (64 characters).
ARXIV_ID = (
    r"(?:(?P<archive>[a-z][a-z\-]{0,39})(?:\.[A-Z]{2})?/(?P<number>[0-9]{7})"
    r"|(?P<new_id>[0-9]{4}\.[0-9]{4,5}))"
)
VERSION = r"(?:v(?P<version>[0-9]{1,9}))?"
ENTRY_ID_PATTERN = re.compile(rf"/abs/{ARXIV_ID}{VERSION}\Z")
BARE_ID_PATTERN = re.compile(rf"{ARXIV_ID}{VERSION}\Z")
# Far above any real paper's count of versions. A larger one could only freeze its paper: the upsert never
# replaces a newer version by an older one, so every real update after it would be dropped as old. The
# paper page and vote links read ids with `split_versioned_id` too.
MAX_VERSION = 999
# The one entry of arXiv's error feed: https://arxiv.org/api/errors#incorrect_id_format_for_abc
ERROR_ID_PATTERN = re.compile(r"https?://arxiv\.org/api/errors#[^\s]*\Z", re.ASCII)


def split_versioned_id(text: str) -> tuple[str, int] | None:
    match = BARE_ID_PATTERN.match(text.strip())
    if match is None:
        return None
    arxiv_id, version = canonical_id(match)
    return (arxiv_id, version) if 1 <= version <= MAX_VERSION else None


def canonical_id(match: re.Match[str]) -> tuple[str, int]:
    """The paper's id as arXiv writes it (without a subject class) and the version (1 when none)."""
    arxiv_id = match["new_id"] or f"{match['archive']}/{match['number']}"
    return arxiv_id, int(match["version"] or 1)
