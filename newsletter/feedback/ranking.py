"""What one reader's feedback does to an edition: which candidates it hides, how it reorders the rest,
and the "why" of a pick it brought up. Digests ask this module; it never reads the digests' tables.

Everything is loaded once per chunk of readers (candidate vectors once per build) and scored with numpy.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
from sqlalchemy import select
from sqlalchemy.orm import Session

from newsletter.embeddings import load_embeddings
from newsletter.feedback.personal import NEAR_DUPLICATE_COSINE, ReaderTaste
from newsletter.models import Paper
from newsletter.plaintext.shorten import shorten

# A liked paper this close to a pick is named in the pick's "why" line.
LIKE_COSINE = 0.6
MAX_LIKED_TITLE_CHARS = 60


class CandidateVectors:
    """The embeddings of one build's candidates, loaded once."""

    def __init__(self, session: Session, candidate_ids: list[int], embedding_model: str) -> None:
        ids, matrix = load_embeddings(session, candidate_ids, embedding_model)
        self.row_of = {paper_id: row for row, paper_id in enumerate(ids)}
        self.ids = ids
        self.matrix = matrix


@dataclass(frozen=True)
class FeedbackPapers:
    """Vectors and titles of the papers a chunk of readers voted on (one query each for the chunk)."""

    vectors: dict[int, np.ndarray] = field(default_factory=dict)
    titles: dict[int, str] = field(default_factory=dict)

    @classmethod
    def load(cls, session: Session, paper_ids: list[int], embedding_model: str) -> FeedbackPapers:
        if not paper_ids:
            return cls()
        ids, matrix = load_embeddings(session, paper_ids, embedding_model)
        rows = session.execute(select(Paper.id, Paper.title).where(Paper.id.in_(paper_ids)))
        titles = {paper_id: title for paper_id, title in rows}
        return cls({paper_id: matrix[row] for row, paper_id in enumerate(ids)}, titles)


@dataclass(frozen=True)
class PersonalView:
    """One reader's feedback applied to the build's candidates."""

    weight: float
    scores: dict[int, float]  # candidate id -> probability the reader likes it
    excluded: frozenset[int]
    reasons: dict[int, str]

    def order(self, trending_order: list[int]) -> list[int]:
        """The papers not excluded, best first: each paper's place in the trending order and in the
        personal order, as shares (1 = first), blended (1 - w) : w. Ranks, not raw values, so neither
        signal's scale decides; a paper without a personal score keeps its trending share."""
        kept = [paper_id for paper_id in trending_order if paper_id not in self.excluded]
        count = max(len(kept), 1)
        by_score = sorted(
            (paper_id for paper_id in kept if paper_id in self.scores), key=lambda i: -self.scores[i]
        )
        personal_share = {paper_id: 1 - rank / count for rank, paper_id in enumerate(by_score)}

        def blended(item: tuple[int, int]) -> tuple[float, int]:
            rank, paper_id = item
            trending_share = 1 - rank / count
            share = personal_share.get(paper_id, trending_share)
            return (-((1 - self.weight) * trending_share + self.weight * share), rank)

        return [paper_id for _, paper_id in sorted(enumerate(kept), key=blended)]


def personal_view(
    candidates: CandidateVectors, taste: ReaderTaste, papers: FeedbackPapers, relevant_ids: list[int]
) -> PersonalView:
    """The reader's view of the candidates that can reach them (their topics' and keywords'): scoring
    only those keeps a personalized reader's cost to a few hundred dot products."""
    ids = [paper_id for paper_id in relevant_ids if paper_id in candidates.row_of]
    matrix = candidates.matrix[[candidates.row_of[paper_id] for paper_id in ids]] if ids else None
    excluded = set(taste.hidden_ids)
    hidden = [papers.vectors[paper_id] for paper_id in taste.hidden_ids if paper_id in papers.vectors]
    if hidden and matrix is not None:
        closest = (matrix @ np.vstack(hidden).T).max(axis=1)
        excluded.update(ids[row] for row in np.flatnonzero(closest >= NEAR_DUPLICATE_COSINE))
    scores: dict[int, float] = {}
    if taste.weights is not None and matrix is not None:
        logits = matrix @ taste.weights + taste.intercept
        probabilities = 1.0 / (1.0 + np.exp(-logits))
        scores = dict(zip(ids, probabilities.tolist(), strict=True))
    return PersonalView(
        weight=taste.personal_weight,
        scores=scores,
        excluded=frozenset(excluded),
        reasons=_liked_reasons(ids, matrix, taste, papers) if matrix is not None else {},
    )


def _liked_reasons(
    ids: list[int], matrix: np.ndarray, taste: ReaderTaste, papers: FeedbackPapers
) -> dict[int, str]:
    liked = [paper_id for paper_id in taste.liked_ids if paper_id in papers.vectors]
    if not liked:
        return {}
    similarity = matrix @ np.vstack([papers.vectors[paper_id] for paper_id in liked]).T
    reasons = {}
    for row, candidate_id in enumerate(ids):
        close = np.flatnonzero(similarity[row] >= LIKE_COSINE)
        close = close[[liked[column] != candidate_id for column in close]]
        if close.size == 0:
            continue
        nearest = liked[int(close[np.argmax(similarity[row][close])])]
        title = shorten(papers.titles.get(nearest, ""), MAX_LIKED_TITLE_CHARS)
        count = int(close.size)
        reasons[candidate_id] = (
            f"Like {count} {'paper' if count == 1 else 'papers'} you liked, e.g. “{title}”"
        )
    return reasons
