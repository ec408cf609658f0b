"""Each reader's personal ranking: a logistic regression on the embeddings and words of the papers they
voted on, stored in `reader_models` (this module owns the table), and what an edition needs of it.

A paper is read as its embedding beside its word vector (docs/embeddings.md): the embedding places it among
papers broadly, the words carry what a reader's interest is often named by ("diffusion", "quantization"),
which a mean of 200 token vectors holds only faintly. Only the KEPT_WORDS words that weigh most are kept,
so a stored model stays small.

Up votes are positives, down votes negatives. A few votes alone do not say what a reader is *not*
interested in, so recent papers they did not vote on join as background (weighing as much as the votes
together): negatives when the reader has liked something, positives when they have only hidden papers.
The fit is deterministic (lbfgs, sorted inputs).
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime

import numpy as np
import redis
from kombu.exceptions import OperationalError
from scipy import sparse
from sqlalchemy import BigInteger, Text, any_, bindparam, cast, delete, func, select, text
from sqlalchemy.dialects.postgresql import ARRAY, insert
from sqlalchemy.orm import Session

from newsletter.config import Settings
from newsletter.embeddings import WordVocabulary, load_embeddings, load_vocabulary, load_word_vectors
from newsletter.embeddings.store import text_hash_sql
from newsletter.models import Paper, PaperEmbedding, PaperVote, ReaderModel
from newsletter.sqlarrays import float4_vectors, int4_vectors, number_array_literal
from newsletter.taskqueue import enqueue

logger = logging.getLogger(__name__)
REFIT_TASK = "workers.tasks.feedback.refit_reader_model"
BACKGROUND_PAPERS = 200
# Regularization: a handful of votes must not make one word of one abstract decide a reader's email.
INVERSE_REGULARIZATION = 2.0
# The personal score's share of the edition order: n / (n + HALF_WEIGHT_VOTES) of MAX_PERSONAL_WEIGHT,
# so one vote already weighs about half, a few votes lead, and trending always keeps a say (ties, and at
# least a twentieth of the order). Chosen on simulated readers of other seeds than the reported one
# (docs/feedback.md).
MAX_PERSONAL_WEIGHT = 0.95
HALF_WEIGHT_VOTES = 1
# The word vector's length beside the unit embedding in a paper's features: words weigh twice as much.
WORD_WEIGHT = 2.0
# Words of a fitted model that are kept (largest weights, either sign); the others are dropped.
KEPT_WORDS = 32
# Cosine above which a paper counts as a near-duplicate of one the reader hid (another version, a
# re-upload, a companion paper with the same abstract).
NEAR_DUPLICATE_COSINE = 0.92


@dataclass(frozen=True)
class FitReport:
    subscriber_id: int
    vote_count: int
    is_stored: bool


def personal_weight(vote_count: int) -> float:
    return MAX_PERSONAL_WEIGHT * vote_count / (vote_count + HALF_WEIGHT_VOTES)


def _background_ids(session: Session, embedding_model: str, exclude: list[int]) -> list[int]:
    query = (
        select(PaperEmbedding.paper_id)
        .join(Paper, Paper.id == PaperEmbedding.paper_id)
        .where(
            PaperEmbedding.model == embedding_model,
            PaperEmbedding.text_hash == text_hash_sql(),
            PaperEmbedding.paper_id.not_in(exclude),
        )
        .order_by(Paper.published_at.desc().nulls_last(), Paper.id)
        .limit(BACKGROUND_PAPERS)
    )
    return list(session.scalars(query))


@dataclass(frozen=True)
class PaperFeatures:
    """What the personal model reads of some papers: their embeddings and word vectors, row by row."""

    embeddings: np.ndarray  # (papers, dimensions) float32, unit rows
    words: sparse.csr_matrix  # (papers, vocabulary) float32, unit rows (zero: no vocabulary word)

    def __len__(self) -> int:
        return int(self.embeddings.shape[0])

    def scale(self) -> np.ndarray:
        """1 / the length of each paper's [embedding, WORD_WEIGHT × words]: the features are unit rows."""
        squared = (
            np.square(self.embeddings).sum(axis=1)
            + WORD_WEIGHT**2 * np.asarray(self.words.multiply(self.words).sum(axis=1)).ravel()
        )
        return 1 / np.sqrt(np.maximum(squared, 1e-12))

    def matrix(self) -> sparse.csr_matrix:
        combined = sparse.hstack([sparse.csr_matrix(self.embeddings), WORD_WEIGHT * self.words], format="csr")
        return sparse.csr_matrix(sparse.diags(self.scale()) @ combined)


@dataclass(frozen=True)
class LinearModel:
    weights: np.ndarray  # float32, one per embedding dimension
    word_ids: np.ndarray  # int32: the KEPT_WORDS vocabulary words that weigh most
    word_weights: np.ndarray  # float32, their weights
    intercept: float

    def scores(self, papers: PaperFeatures) -> np.ndarray:
        """The logit of each paper (one reader; `ranking.ReaderViews` scores a chunk's readers at once)."""
        return personal_logits(
            self.weights[None, :], [self.word_ids], [self.word_weights], np.asarray([self.intercept]), papers
        )[0]


def personal_logits(
    weights: np.ndarray,
    word_ids: Sequence[np.ndarray],
    word_weights: Sequence[np.ndarray],
    intercepts: np.ndarray,
    papers: PaperFeatures,
) -> np.ndarray:
    """(readers, papers) float64: each reader's logit of each paper, from their embedding weights (one row
    each), kept words and intercept, over the papers' unit-length features. In float64: the order of the
    logits is then the order of the probabilities, without float32 rounding making ties."""
    reader_words = sparse.csr_matrix(
        (
            np.concatenate(word_weights).astype(np.float64),
            np.concatenate(word_ids),
            np.concatenate([[0], np.cumsum([len(ids) for ids in word_ids])]),
        ),
        shape=(len(word_ids), papers.words.shape[1]),
    )
    combined = (
        weights.astype(np.float64) @ papers.embeddings.T.astype(np.float64)
        + WORD_WEIGHT * (reader_words @ papers.words.T.astype(np.float64)).toarray()
    )
    return combined * papers.scale()[None, :] + intercepts[:, None]


def fit_linear_model(
    voted: PaperFeatures, labels: list[int], background: PaperFeatures
) -> LinearModel | None:
    """A reader's model from the papers they voted on (`labels`: 1 up, 0 down) and recent papers they did
    not vote on (`background`, possibly empty); None when it cannot be fitted (one class only). Pure: the
    product and the simulated-readers benchmark both fit with it."""
    background_label = 0 if any(labels) else 1
    features = voted.matrix()
    if len(background):
        features = sparse.vstack([features, background.matrix()], format="csr")
    targets = np.asarray(labels + [background_label] * len(background))
    # The background weighs as much as the votes together, whatever its size: it says "not everything",
    # the votes say what.
    background_weight = len(labels) / max(len(background), 1)
    sample_weight = np.asarray([1.0] * len(labels) + [background_weight] * len(background))
    if len(set(targets.tolist())) < 2:
        return None
    # Imported here: scikit-learn costs an edition build, which only reads fitted models, ~100 MB.
    from sklearn.linear_model import LogisticRegression

    classifier = LogisticRegression(C=INVERSE_REGULARIZATION, max_iter=500)
    classifier.fit(features, targets, sample_weight=sample_weight)
    coefficients = classifier.coef_[0]
    dimensions = voted.embeddings.shape[1]
    words = coefficients[dimensions:]
    # The largest weights, either sign; equal ones in vocabulary order (a stable sort: deterministic).
    kept = np.sort(np.argsort(-np.abs(words), kind="stable")[:KEPT_WORDS])
    kept = kept[words[kept] != 0]
    return LinearModel(
        coefficients[:dimensions].astype(np.float32),
        kept.astype(np.int32),
        words[kept].astype(np.float32),
        float(classifier.intercept_[0]),
    )


def paper_features(
    session: Session, paper_ids: list[int], embedding_model: str, vocabulary: WordVocabulary
) -> tuple[list[int], PaperFeatures]:
    """The papers among `paper_ids` with a current embedding, and their features."""
    ids, embeddings = load_embeddings(session, paper_ids, embedding_model)
    return ids, PaperFeatures(embeddings, load_word_vectors(session, ids, vocabulary))


def fit_reader_model(session: Session, subscriber_id: int, embedding_model: str) -> FitReport:
    """Refit the reader's model from all their votes (no votes: the model is removed). Safe to repeat."""
    votes = dict(
        session.execute(
            select(PaperVote.paper_id, PaperVote.vote)
            .where(PaperVote.subscriber_id == subscriber_id)
            .order_by(PaperVote.paper_id)
        ).all()
    )
    vocabulary = load_vocabulary()
    voted_ids, voted = paper_features(session, list(votes), embedding_model, vocabulary)
    if not voted_ids:
        session.execute(delete(ReaderModel).where(ReaderModel.subscriber_id == subscriber_id))
        return FitReport(subscriber_id, len(votes), is_stored=False)
    labels = [1 if votes[paper_id] == "up" else 0 for paper_id in voted_ids]
    _, background = paper_features(
        session, _background_ids(session, embedding_model, list(votes)), embedding_model, vocabulary
    )
    model = fit_linear_model(voted, labels, background)
    if model is None:
        session.execute(delete(ReaderModel).where(ReaderModel.subscriber_id == subscriber_id))
        return FitReport(subscriber_id, len(votes), is_stored=False)
    values = {
        "subscriber_id": subscriber_id,
        "embedding_model": embedding_model,
        "weights": model.weights.tolist(),
        "word_vocabulary": vocabulary.name,
        "word_ids": model.word_ids.tolist(),
        "word_weights": model.word_weights.tolist(),
        "intercept": model.intercept,
        "vote_count": len(voted_ids),
        "fitted_at": datetime.now(UTC),
    }
    statement = insert(ReaderModel).values(values)
    session.execute(
        statement.on_conflict_do_update(
            index_elements=[ReaderModel.subscriber_id],
            set_={name: statement.excluded[name] for name in values if name != "subscriber_id"},
        )
    )
    session.flush()
    logger.info("reader model of subscriber %s fitted on %d votes", subscriber_id, len(voted_ids))
    return FitReport(subscriber_id, len(voted_ids), is_stored=True)


def readers_with_stale_models(session: Session, limit: int = 1000) -> list[int]:
    """Readers whose model is not the fit of their votes as they stand: they voted after it was fitted, it
    was fitted with another word vocabulary (or none), an undo removed a vote it learned from (the deleted
    row leaves no newer time, but the model's vote count no longer matches their votes on papers with a
    current embedding), they have votes and no model, or a model and no votes left."""
    model = ReaderModel.__table__.alias("model")
    standing = (
        select(
            PaperVote.subscriber_id,
            func.max(PaperVote.voted_at).label("voted_at"),
            func.count(PaperEmbedding.paper_id).label("embedded"),
        )
        .join(Paper, Paper.id == PaperVote.paper_id)
        .outerjoin(model, model.c.subscriber_id == PaperVote.subscriber_id)
        .outerjoin(
            PaperEmbedding,
            (PaperEmbedding.paper_id == PaperVote.paper_id)
            & (PaperEmbedding.model == model.c.embedding_model)
            & (PaperEmbedding.text_hash == text_hash_sql()),
        )
        .group_by(PaperVote.subscriber_id)
        .subquery()
    )
    reader = func.coalesce(standing.c.subscriber_id, ReaderModel.subscriber_id)
    query = (
        select(reader)
        .select_from(standing)
        .join(ReaderModel, ReaderModel.subscriber_id == standing.c.subscriber_id, full=True)
        .where(
            ReaderModel.subscriber_id.is_(None)
            | standing.c.subscriber_id.is_(None)
            | (ReaderModel.fitted_at < standing.c.voted_at)
            | ReaderModel.word_vocabulary.is_distinct_from(load_vocabulary().name)
            | (ReaderModel.vote_count != standing.c.embedded)
        )
        .order_by(reader)
        .limit(limit)
    )
    return list(session.scalars(query))


def enqueue_refit(settings: Settings, subscriber_id: int) -> bool:
    """Ask a worker to refit the reader's model now; False if the broker is down (the beat's
    `refit_stale_models` then catches it up)."""
    try:
        enqueue(settings, REFIT_TASK, subscriber_id)
    except (OperationalError, redis.RedisError, OSError):
        logger.exception(
            "vote of subscriber %s stored but refit not enqueued: broker unavailable", subscriber_id
        )
        return False
    return True


# A reader without a model: no words (read-only, shared).
NO_WORD_IDS = np.zeros(0, dtype=np.int32)
NO_WORD_IDS.flags.writeable = False
NO_WORD_WEIGHTS = np.zeros(0, dtype=np.float32)
NO_WORD_WEIGHTS.flags.writeable = False


@dataclass(frozen=True)
class ReaderTaste:
    """What an edition needs of one reader's feedback."""

    weights: np.ndarray | None  # None until a model is fitted
    intercept: float
    vote_count: int
    hidden_ids: frozenset[int]
    liked_ids: tuple[int, ...]
    word_ids: np.ndarray = field(default_factory=lambda: NO_WORD_IDS)
    word_weights: np.ndarray = field(default_factory=lambda: NO_WORD_WEIGHTS)

    @property
    def personal_weight(self) -> float:
        return personal_weight(self.vote_count) if self.weights is not None else 0.0


def load_reader_tastes(
    session: Session, subscriber_ids: list[int], embedding_model: Callable[[], str]
) -> dict[int, ReaderTaste]:
    """For the readers among `subscriber_ids` who voted: their model (if fitted for this embedding model and
    word vocabulary) and their liked and hidden papers. Two queries for the whole chunk; `embedding_model`
    is only asked (and the embedding model loaded) when someone in the chunk voted."""
    # One row per reader: a chunk's tens of thousands of votes as two arrays each.
    votes = {
        subscriber_id: (liked or [], hidden or [])
        for subscriber_id, liked, hidden in session.execute(
            text(
                """
                SELECT subscriber_id,
                       array_agg(paper_id ORDER BY voted_at DESC, paper_id) FILTER (WHERE vote = 'up'),
                       array_agg(paper_id) FILTER (WHERE vote = 'down')
                FROM paper_votes
                WHERE subscriber_id = ANY(CAST(:ids AS bigint[]))
                GROUP BY subscriber_id
                """
            ),
            {"ids": number_array_literal(subscriber_ids)},
        )
    }
    if not votes:
        return {}
    rows = session.execute(
        select(
            ReaderModel.subscriber_id,
            func.array_send(ReaderModel.weights).label("weights"),
            func.array_send(ReaderModel.word_ids).label("word_ids"),
            func.array_send(ReaderModel.word_weights).label("word_weights"),
            ReaderModel.intercept,
            ReaderModel.vote_count,
        ).where(
            ReaderModel.subscriber_id
            == any_(cast(bindparam("ids", number_array_literal(list(votes)), Text), ARRAY(BigInteger))),
            ReaderModel.embedding_model == embedding_model(),
            ReaderModel.word_vocabulary == load_vocabulary().name,
        )
    ).all()
    models = {row.subscriber_id: row for row in rows}
    weights = dict(zip(models, float4_vectors([row.weights for row in rows]), strict=True))
    word_ids = dict(zip(models, int4_vectors([row.word_ids for row in rows]), strict=True))
    word_weights = dict(zip(models, float4_vectors([row.word_weights for row in rows]), strict=True))
    tastes = {}
    for subscriber_id, (liked, hidden) in votes.items():
        model = models.get(subscriber_id)
        tastes[subscriber_id] = ReaderTaste(
            weights=weights[subscriber_id] if model else None,
            intercept=float(model.intercept) if model else 0.0,
            vote_count=int(model.vote_count) if model else 0,
            hidden_ids=frozenset(hidden),
            liked_ids=tuple(liked),
            word_ids=word_ids.get(subscriber_id, NO_WORD_IDS),
            word_weights=word_weights.get(subscriber_id, NO_WORD_WEIGHTS),
        )
    return tastes
