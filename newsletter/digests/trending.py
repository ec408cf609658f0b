"""The trending score of a paper.

    score = (1 + signal + 0.3 · ln(1 + github_stars)) · 0.5 ^ (age_hours / 72)

    signal = ln(1 + hf_upvotes)   for papers Hugging Face Daily Papers knows
           = ln(1 + 2) ≈ 1.10     for papers only arXiv knows (the prior)

Upvotes are dampened by the logarithm, so 400 upvotes does not bury everything else; the prior treats
an arXiv-only paper like one with two upvotes, since Hugging Face features only a few dozen papers a
day and most good papers never appear there; stars count less than upvotes (they also reward old
repositories); the freshness factor halves the score every three days, counted from the paper's newest
sign of life (published, updated, featured).
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from datetime import UTC, date, datetime, time

ARXIV_ONLY_PRIOR_UPVOTES = 2
STARS_WEIGHT = 0.3
HALF_LIFE_HOURS = 72.0


@dataclass(frozen=True)
class TrendingSignals:
    upvotes: int | None  # None: not on Hugging Face
    github_stars: int | None
    published_at: datetime | None
    updated_at: datetime | None
    featured_date: date | None


def last_activity(signals: TrendingSignals) -> datetime | None:
    moments = [moment for moment in (signals.published_at, signals.updated_at) if moment is not None]
    if signals.featured_date is not None:
        moments.append(datetime.combine(signals.featured_date, time(0, 0), tzinfo=UTC))
    return max(moments) if moments else None


def trending_score(signals: TrendingSignals, now: datetime) -> float:
    upvotes = signals.upvotes if signals.upvotes is not None else ARXIV_ONLY_PRIOR_UPVOTES
    signal = math.log1p(max(upvotes, 0))
    stars = STARS_WEIGHT * math.log1p(max(signals.github_stars or 0, 0))
    activity = last_activity(signals)
    age_hours = max((now - activity).total_seconds() / 3600.0, 0.0) if activity else HALF_LIFE_HOURS
    return (1.0 + signal + stars) * 0.5 ** (age_hours / HALF_LIFE_HOURS)


def signal_phrase(signals: TrendingSignals) -> str:
    """The signal in words, for an edition item's reason: "42 upvotes", "new on arXiv". No upvotes yet is
    not said as "0 upvotes", which reads as a reason not to read the paper."""
    if signals.upvotes is None:
        return "new on arXiv"
    parts = [f"{signals.upvotes} upvote{'' if signals.upvotes == 1 else 's'}"] if signals.upvotes else []
    if signals.github_stars:
        stars = signals.github_stars
        parts.append(f"{stars:,} GitHub star{'' if stars == 1 else 's'}")
    return ", ".join(parts) or "new on Hugging Face"
