"""What one reader's feedback does to an edition: which candidates it hides, how it reorders the rest,
and the "why" of a pick it brought up. Digests ask this module; it never reads the digests' tables.

Everything is loaded once per chunk of readers (candidate vectors once per build) and scored with numpy,
a chunk's readers together.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass, field

import numpy as np
from scipy import sparse
from sqlalchemy import select
from sqlalchemy.orm import Session

from newsletter.embeddings import NEAR_DUPLICATE_COSINE, load_embeddings, load_vocabulary, load_word_vectors
from newsletter.feedback.personal import PaperFeatures, ReaderTaste, personal_logits
from newsletter.models import Paper
from newsletter.plaintext.shorten import shorten

# A liked paper this close to a pick is named in the pick's "why" line. Two ML abstracts share a cosine of
# 0.77 on average under the shipped static embedding (random pairs of the bundled corpus: median 0.773,
# 95th percentile 0.841, 97th 0.850; pairs sharing a topic differ little), so "Like" must sit in the tail:
# the 97th percentile of random pairs (docs/feedback.md; tests/test_feedback_likeness.py checks it).
LIKE_COSINE = 0.85
MAX_LIKED_TITLE_CHARS = 60
# The "why" line of a pick like papers the reader liked: "Like “X”, a paper you liked" or "Like 3 papers
# you liked, e.g. “X”".
LIKED_ONE_HEAD, LIKED_ONE_TAIL = "Like “", "”, a paper you liked"
LIKED_MANY_TAIL = " papers you liked, e.g. “"
# The "why" line of a pick the reader's votes brought in, resembling no liked paper closely: the trending
# order alone would not have picked it ("Trending #58 in Efficient ML" is true, but not why it is there).
BY_VOTES_HEAD = "Picked by your votes · "


def by_votes_reason(trending_reason: str) -> str:
    return BY_VOTES_HEAD + trending_reason


def forwardable_reason(reason: str) -> str:
    """A "why" line as a page anyone holding its link may read shows it (the edition's "view in browser"
    page, whose link travels with every forwarded email): which papers the reader liked is theirs, so
    the liked paper's title goes ("Like 3 papers you liked", "Like a paper you liked")."""
    if reason.startswith(LIKED_ONE_HEAD) and reason.endswith(LIKED_ONE_TAIL):
        return "Like a paper you liked"
    head, separator, _ = reason.partition(LIKED_MANY_TAIL)
    if separator and head.startswith("Like ") and head[len("Like ") :].isdigit():
        return f"{head} papers you liked"
    return reason


class CandidateVectors:
    """The embeddings and word vectors of one build's candidates, loaded once."""

    def __init__(self, session: Session, candidate_ids: list[int], embedding_model: str) -> None:
        ids, matrix = load_embeddings(session, candidate_ids, embedding_model)
        self._hold(ids, PaperFeatures(matrix, load_word_vectors(session, ids, load_vocabulary())))

    @classmethod
    def of(cls, ids: list[int], features: PaperFeatures) -> CandidateVectors:
        """Features already in memory (rows in the order of `ids`), not loaded from Postgres."""
        vectors = cls.__new__(cls)
        vectors._hold(ids, features)
        return vectors

    def _hold(self, ids: list[int], features: PaperFeatures) -> None:
        self.row_of = {paper_id: row for row, paper_id in enumerate(ids)}
        self.ids = ids
        self.matrix = features.embeddings
        self.features = features


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
    """One reader's feedback applied to the candidates that can reach them."""

    ranked: list[int]  # those not hidden, best first by the blend of trending and personal order
    reasons: Mapping[int, str]  # the "why" of a pick that resembles papers the reader liked


class LikedReasons(Mapping[int, str]):
    """The "why" of each candidate within LIKE_COSINE of papers the reader liked (other than itself): how
    many, and the closest one's title (the first of equals, in the reader's order of likes). Worded only
    when asked: an edition names a handful of the candidates it weighed."""

    def __init__(
        self,
        column_of: Mapping[int, int],
        counts: np.ndarray,
        nearest: np.ndarray,
        liked: list[int],
        title: Callable[[int], str],
    ) -> None:
        self._column_of = column_of
        self._counts = counts
        self._nearest = nearest
        self._liked = liked
        self._title = title

    def __getitem__(self, paper_id: int) -> str:
        column = self._column_of.get(paper_id)
        count = int(self._counts[column]) if column is not None else 0
        if not count:
            raise KeyError(paper_id)
        title = self._title(self._liked[int(self._nearest[column])])
        if count == 1:
            return f"{LIKED_ONE_HEAD}{title}{LIKED_ONE_TAIL}"
        return f"Like {count}{LIKED_MANY_TAIL}{title}”"

    def get(self, paper_id: int, default: str | None = None) -> str | None:  # type: ignore[override]
        # Most candidates have no reason: no KeyError raised and caught for each.
        column = self._column_of.get(paper_id)
        if column is None or not self._counts[column]:
            return default
        return self[paper_id]

    def __iter__(self) -> Iterator[int]:
        return (paper_id for paper_id, column in self._column_of.items() if self._counts[column])

    def __len__(self) -> int:
        return int(np.count_nonzero(self._counts))


class ShortTitles:
    """Liked papers' titles, shortened once each. Apart from ReaderViews: reasons holding a bound method
    of the views made each chunk's views a reference cycle, freed only by full garbage collections."""

    def __init__(self, titles: Mapping[int, str]) -> None:
        self._titles = titles
        self._short: dict[int, str] = {}

    def __call__(self, paper_id: int) -> str:
        title = self._short.get(paper_id)
        if title is None:
            title = self._short[paper_id] = shorten(self._titles.get(paper_id, ""), MAX_LIKED_TITLE_CHARS)
        return title


# Readers are taken in blocks small enough that a block's (readers x their votes x candidates) cosines
# stay around this many numbers.
BLOCK_NUMBERS = 4_000_000


class ReaderViews:
    """A chunk of readers' feedback applied to the build's candidates at once, with whole-matrix numpy
    operations instead of a few dozen small ones per reader: one matrix product scores every candidate for
    every reader's model, one gives the cosine of every paper they voted on to every candidate, and each
    reader's hidden papers, blended order and liked-paper reasons come out of those as rows.

    `trending_ids` are all the candidates, best trending score first; `relevant` gives each reader the
    candidates that can reach them (their topics' and keywords'), in that order.
    """

    def __init__(
        self,
        candidates: CandidateVectors,
        tastes: Mapping[int, ReaderTaste],
        papers: FeedbackPapers,
        trending_ids: list[int],
        relevant: Mapping[int, list[int]],
    ) -> None:
        self.papers = papers
        self._ids = np.asarray(trending_ids, dtype=np.int64)
        self._column_of = {paper_id: column for column, paper_id in enumerate(trending_ids)}
        count = len(trending_ids)
        # Candidate vectors in trending order; a candidate without one has a zero row and no score.
        rows = [candidates.row_of.get(paper_id) for paper_id in trending_ids]
        self._has_vector = np.asarray([row is not None for row in rows], dtype=bool)
        dimensions = candidates.matrix.shape[1] if candidates.ids else 0
        matrix = np.zeros((count, dimensions), dtype=np.float32)
        # Word vectors in trending order (a candidate without an embedding: a zero row past the last).
        words = sparse.csr_matrix((count, 0), dtype=np.float32)
        if dimensions:
            matrix[self._has_vector] = candidates.matrix[[row for row in rows if row is not None]]
            known = candidates.features.words
            padded = sparse.vstack([known, sparse.csr_matrix((1, known.shape[1]), dtype=np.float32)])
            words = sparse.csr_matrix(padded[[len(candidates.ids) if row is None else row for row in rows]])
        self._features = PaperFeatures(matrix, words)
        # Cosine of each voted paper to each candidate, and a last row of -inf for padding.
        voted = list(papers.vectors)
        self._voted_row = {paper_id: row for row, paper_id in enumerate(voted)}
        similarity = np.full((len(voted) + 1, count), -np.inf, dtype=np.float32)
        if voted and dimensions:
            similarity[:-1] = np.vstack([papers.vectors[paper_id] for paper_id in voted]) @ matrix.T
            similarity[:-1, ~self._has_vector] = -np.inf
        # Candidates first: a block's (readers x candidates x votes) gather then keeps each reader's votes
        # of one candidate side by side, and the reductions over votes run along contiguous memory.
        self._similarity = np.ascontiguousarray(similarity.T)
        self._short_title = ShortTitles(papers.titles)
        self._views: dict[int, PersonalView] = {}
        # Keyed by the identity of lists `relevant` holds (and so keeps alive) while the views are made.
        self._columns_of_list: dict[int, np.ndarray] = {}
        readers = list(relevant)
        widest = max(
            (max(len(tastes[reader].hidden_ids), len(tastes[reader].liked_ids)) for reader in readers),
            default=1,
        )
        block = max(1, BLOCK_NUMBERS // max(1, widest * count))
        for start in range(0, len(readers), block):
            self._views_of_block(matrix, tastes, relevant, readers[start : start + block])
        self._columns_of_list.clear()

    def _columns(self, paper_ids: list[int]) -> np.ndarray:
        """Columns of these candidates; readers of one taste share one list, looked up (and made an index
        array, which numpy would otherwise convert from the list for every reader) once."""
        found = self._columns_of_list.get(id(paper_ids))
        if found is None:
            found = np.asarray([self._column_of[paper_id] for paper_id in paper_ids], dtype=np.intp)
            self._columns_of_list[id(paper_ids)] = found
        return found

    def view(self, reader: int) -> PersonalView:
        return self._views[reader]

    def _padded_votes(self, paper_lists: list[list[int]]) -> tuple[np.ndarray, np.ndarray]:
        """Each reader's voted papers as rows of the similarity matrix (padding: its -inf row), and ids."""
        width = max((len(papers) for papers in paper_lists), default=0)
        rows = np.full((len(paper_lists), width), len(self._voted_row), dtype=np.intp)
        ids = np.full((len(paper_lists), width), -1, dtype=np.int64)
        for reader, papers in enumerate(paper_lists):
            rows[reader, : len(papers)] = [self._voted_row[paper_id] for paper_id in papers]
            ids[reader, : len(papers)] = papers
        return rows, ids

    def _views_of_block(
        self,
        matrix: np.ndarray,
        tastes: Mapping[int, ReaderTaste],
        relevant: Mapping[int, list[int]],
        readers: list[int],
    ) -> None:
        count = len(self._ids)
        size = len(readers)
        is_relevant = np.zeros((size, count), dtype=bool)
        hidden = np.zeros((size, count), dtype=bool)
        for block_row, reader in enumerate(readers):
            is_relevant[block_row, self._columns(relevant[reader])] = True
            hidden[
                block_row, [self._column_of[i] for i in tastes[reader].hidden_ids if i in self._column_of]
            ] = True
        # Near-duplicates of a hidden paper (among candidates with a vector) are hidden too.
        hidden_rows, _ = self._padded_votes(
            [[i for i in tastes[reader].hidden_ids if i in self._voted_row] for reader in readers]
        )
        if hidden_rows.shape[1]:
            hidden |= self._similarity[:, hidden_rows].max(axis=2).T >= NEAR_DUPLICATE_COSINE
        kept = is_relevant & ~hidden
        kept_count = kept.sum(axis=1)
        denominator = np.maximum(kept_count, 1)[:, None]
        trending_rank = np.cumsum(kept, axis=1) - 1
        trending_share = 1 - trending_rank / denominator
        # The personal order: the model's score, best first; equal ones keep the trending order. Logits in
        # float64 order exactly as the probabilities do, without float32 rounding making ties (and one
        # reader's order depending on which readers share their matrix product).
        models = {
            block_row: weights
            for block_row, reader in enumerate(readers)
            if (weights := tastes[reader].weights) is not None
        }
        modelled = list(models)
        scored = np.zeros((size, count), dtype=bool)
        logits = np.zeros((size, count), dtype=np.float64)
        if modelled and matrix.shape[1]:
            weights = np.vstack(list(models.values())).astype(np.float64)
            intercepts = np.asarray([tastes[readers[block_row]].intercept for block_row in modelled])
            logits[modelled] = personal_logits(
                weights,
                [tastes[readers[block_row]].word_ids for block_row in modelled],
                [tastes[readers[block_row]].word_weights for block_row in modelled],
                intercepts,
                self._features,
            )
            scored[modelled] = kept[modelled] & self._has_vector
        by_score = np.argsort(np.where(scored, -logits, np.inf), axis=1, kind="stable")
        personal_rank = np.empty_like(by_score)
        np.put_along_axis(personal_rank, by_score, np.arange(count)[None, :], axis=1)
        personal_share = np.where(scored, 1 - personal_rank / denominator, trending_share)
        weight = np.asarray([tastes[reader].personal_weight for reader in readers], dtype=np.float64)[:, None]
        blended = (1 - weight) * trending_share + weight * personal_share
        order = np.lexsort((trending_rank, np.where(kept, -blended, np.inf)), axis=1)
        # Liked papers close to each candidate: how many, and the closest (first of equals).
        liked_lists = [[i for i in tastes[reader].liked_ids if i in self._voted_row] for reader in readers]
        liked_rows, liked_ids = self._padded_votes(liked_lists)
        if liked_rows.shape[1]:
            similarity = self._similarity[:, liked_rows].transpose(1, 0, 2)  # readers x candidates x liked
            close = (similarity >= LIKE_COSINE) & (liked_ids[:, None, :] != self._ids[None, :, None])
            close_count = close.sum(axis=2)
            nearest = _first_argmax(np.where(close, similarity, -np.inf))
        for block_row, reader in enumerate(readers):
            ranked = self._ids[order[block_row, : kept_count[block_row]]].tolist()
            reasons: Mapping[int, str] = {}
            if liked_lists[block_row]:
                reasons = LikedReasons(
                    self._column_of,
                    close_count[block_row],
                    nearest[block_row],
                    liked_lists[block_row],
                    self._short_title,
                )
            self._views[reader] = PersonalView(ranked, reasons)


def _first_argmax(values: np.ndarray) -> np.ndarray:
    """`values.argmax(axis=-1)` (the first of equal maxima) for a short last axis: one whole-array pass
    per position of that axis, where argmax makes a call for every one of the many short rows."""
    best = values[..., 0].copy()
    index = np.zeros(best.shape, dtype=np.intp)
    for position in range(1, values.shape[-1]):
        better = values[..., position] > best
        index[better] = position
        np.maximum(best, values[..., position], out=best)
    return index


def personal_view(
    candidates: CandidateVectors,
    taste: ReaderTaste,
    papers: FeedbackPapers,
    trending_ids: list[int],
    relevant_ids: list[int],
) -> PersonalView:
    """One reader's view of the candidates that can reach them (a chunk of readers: `ReaderViews`)."""
    return ReaderViews(candidates, {0: taste}, papers, trending_ids, {0: relevant_ids}).view(0)
