"""How well summaries read, measured: dangling openers, key point lengths, LaTeX debris, ROUGE-L."""

from __future__ import annotations

import re
import statistics
from collections.abc import Sequence
from dataclasses import dataclass

from newsletter.plaintext.latex import has_latex_debris
from newsletter.summaries.model import StructuredSummary

# A key point opening on one of these leans on a sentence the reader never saw (or speaks as the
# authors): a connective, a pronoun or a demonstrative used as a pronoun.
DANGLING_OPENER = re.compile(
    r"^(?:however|moreover|furthermore|additionally|in addition|also|thus|hence|therefore|then|finally|"
    r"(?:first|second|third)(?:ly\b|,)|next,|besides|instead|meanwhile|consequently|as a result|"
    r"to this end|to that end|to do so|to address (?:this|these|that)|specifically|in particular|"
    r"in contrast|by contrast|overall|here|similarly|likewise|together|it|its|they|their|them|he|she|we|"
    r"our|us|this|these|that|those|such|the former|the latter|the same|the remaining|which)(?![\w-])",
    re.IGNORECASE,
)


@dataclass(frozen=True)
class Readability:
    key_points: int
    dangling_share: float
    key_point_median_chars: float
    key_point_max_chars: int
    latex_debris_papers: int


def is_dangling(key_point: str) -> bool:
    return DANGLING_OPENER.match(key_point.strip()) is not None


def readability(summaries: Sequence[StructuredSummary]) -> Readability:
    points = [point for summary in summaries for point in summary.key_points]
    lengths = [len(point) for point in points] or [0]
    debris = sum(1 for summary in summaries if any(has_latex_debris(text) for text in shown_texts(summary)))
    return Readability(
        key_points=len(points),
        dangling_share=round(sum(map(is_dangling, points)) / max(len(points), 1), 4),
        key_point_median_chars=float(statistics.median(lengths)),
        key_point_max_chars=max(lengths),
        latex_debris_papers=debris,
    )


def shown_texts(summary: StructuredSummary) -> list[str]:
    return [*summary.key_points, summary.summary, summary.methodology, summary.results, summary.implications]


def rouge_l(candidates: Sequence[Sequence[str]], references: Sequence[Sequence[str]]) -> float:
    """Mean ROUGE-L F1 of each paper's key points (joined) against the reference key points (joined)."""
    from rouge_score import rouge_scorer  # a development dependency: only benchmarks measure this

    scorer = rouge_scorer.RougeScorer(["rougeL"], use_stemmer=True)
    scores = [
        scorer.score(" ".join(reference), " ".join(candidate))["rougeL"].fmeasure
        for candidate, reference in zip(candidates, references, strict=True)
    ]
    return round(statistics.fmean(scores), 4) if scores else 0.0
