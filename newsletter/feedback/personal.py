"""Each reader's personal ranking: a logistic regression on the embeddings and words of the papers they
voted on, stored in `reader_models` (this module owns the table), and what an edition needs of it.

A paper is read as its embedding beside its word vector (docs/embeddings.md): the embedding places it among
papers broadly, the words carry what a reader's interest is often named by ("diffusion", "quantization"),
which a mean of 200 token vectors holds only faintly. Only the KEPT_WORDS words that weigh most are kept,
so a stored model stays small.

Up votes are positives, down votes negatives. A few votes alone do not say what a reader is *not*
interested in, so recent papers they did not vote on join as background (weighing as much as the votes
together): negatives when the reader has liked something, positives when they have only hidden papers.
Readers like them lend their votes too: the PEERS readers whose votes agree most with the reader's,
among those who follow the same topics (`closest_readers`, `peer_votes`), their votes on other papers
weighing together PEER_WEIGHT times the reader's own. A reader has a handful of votes; the readers who
liked the same papers have many more, on papers this reader never saw. The fit is deterministic (lbfgs,
sorted inputs).
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Collection, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

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
# Readers like you: the PEERS readers whose votes agree most with the reader's lend their votes on other
# papers to the fit, together weighing PEER_WEIGHT times the reader's own votes. An up vote shared counts
# 1 towards agreement, a down vote shared DOWN_AGREEMENT (hiding the same paper says less than liking it),
# a paper voted the other way -1.
PEERS = 20
PEER_WEIGHT = 3.0
DOWN_AGREEMENT = 0.25
# Bounds on what a refit reads to find them, whatever the number of readers: the other readers of each of
# the reader's 100 latest votes (its 200 latest voters), and each such reader's 200 latest votes.
PEER_SEARCH_VOTES = 100
PEER_SEARCH_VOTERS = 200
PEER_VOTES_READ = 200


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

    def rows(self, rows: Sequence[int]) -> PaperFeatures:
        return PaperFeatures(self.embeddings[list(rows)], sparse.csr_matrix(self.words[list(rows)]))

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


@dataclass(frozen=True)
class PeerVotes:
    """Votes lent by readers like this one: paper ids, labels (1 up, 0 down) and each vote's weight."""

    paper_ids: list[int]
    labels: list[int]
    weights: list[float]

    def on(self, paper_ids: Sequence[int], papers: PaperFeatures) -> tuple[PaperFeatures, PeerVotes]:
        """The votes on `paper_ids` (those with a current embedding; `papers`: their features, row by row),
        with the features of each vote's paper row by row (a paper two readers voted on comes twice)."""
        row = {paper_id: index for index, paper_id in enumerate(paper_ids)}
        kept = [index for index, paper_id in enumerate(self.paper_ids) if paper_id in row]
        rows = [row[self.paper_ids[index]] for index in kept]
        return papers.rows(rows), PeerVotes(
            [self.paper_ids[i] for i in kept], [self.labels[i] for i in kept], [self.weights[i] for i in kept]
        )


NO_PEER_VOTES = PeerVotes([], [], [])


def agreement(own: Mapping[int, str], other: Mapping[int, str]) -> float:
    """How much another reader's votes agree with the reader's, over the papers both voted on."""
    total = 0.0
    for paper_id, vote in own.items():
        theirs = other.get(paper_id)
        if theirs is not None:
            total += (1.0 if vote == "up" else DOWN_AGREEMENT) if theirs == vote else -1.0
    return total


def topic_likeness(topics: Collection[int], other: Collection[int]) -> float:
    """The share of two readers' topics they both follow (Jaccard); 1 for two readers of no topic."""
    ours, theirs = frozenset(topics), frozenset(other)
    either = ours | theirs
    return len(ours & theirs) / len(either) if either else 1.0


def closest_readers(
    own: Mapping[int, str],
    topics: Collection[int],
    others: Mapping[int, Mapping[int, str]],
    topics_of: Mapping[int, Collection[int]],
) -> list[tuple[float, int]]:
    """The PEERS readers of `others` (by id, their votes: all of them, or those on the reader's papers)
    closest to the reader, with how close, closest first: the agreement of their votes times the share of
    topics they follow together (`topics`: the reader's, `topics_of`: theirs; a like shared by a reader of
    other topics was often for another reason). Readers who agree on nothing, or share no topic, are left
    out. Pure and deterministic (ties: the lower id)."""
    scored = (
        (agreement(own, votes) * topic_likeness(topics, topics_of.get(reader, ())), reader)
        for reader, votes in others.items()
    )
    return sorted(
        ((score, reader) for score, reader in scored if score > 0), key=lambda item: (-item[0], item[1])
    )[:PEERS]


def peer_votes(
    own: Mapping[int, str], closest: Sequence[tuple[float, int]], votes_of: Mapping[int, Mapping[int, str]]
) -> PeerVotes:
    """What the `closest` readers (from `closest_readers`; `votes_of`: their votes) lend: their votes on
    papers the reader did not vote on, each weighted by its reader's agreement, together PEER_WEIGHT times
    the reader's own votes. Pure and deterministic."""
    lent = [
        (paper_id, 1 if vote == "up" else 0, score)
        for score, reader in closest
        for paper_id, vote in sorted(votes_of.get(reader, {}).items())
        if paper_id not in own
    ]
    if not lent:
        return NO_PEER_VOTES
    scale = PEER_WEIGHT * len(own) / sum(score for _, _, score in lent)
    return PeerVotes(
        [paper_id for paper_id, _, _ in lent],
        [label for _, label, _ in lent],
        [score * scale for _, _, score in lent],
    )


def fit_linear_model(
    voted: PaperFeatures,
    labels: list[int],
    background: PaperFeatures,
    lent_papers: PaperFeatures | None = None,
    lent: PeerVotes = NO_PEER_VOTES,
) -> LinearModel | None:
    """A reader's model from the papers they voted on (`labels`: 1 up, 0 down), recent papers they did
    not vote on (`background`, possibly empty) and the votes readers like them lent (`lent`, on the papers
    `lent_papers`, row by row); None when it cannot be fitted (one class only). Pure: the product and the
    simulated-readers benchmark both fit with it."""
    background_label = 0 if any(labels) else 1
    blocks = [voted.matrix()]
    if len(background):
        blocks.append(background.matrix())
    if lent_papers is not None and len(lent_papers):
        blocks.append(lent_papers.matrix())
    features = sparse.vstack(blocks, format="csr")
    targets = np.asarray(labels + [background_label] * len(background) + lent.labels)
    # The background weighs as much as the votes together, whatever its size: it says "not everything",
    # the votes say what.
    background_weight = len(labels) / max(len(background), 1)
    sample_weight = np.asarray([1.0] * len(labels) + [background_weight] * len(background) + lent.weights)
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


def shared_votes(session: Session, subscriber_id: int) -> dict[int, dict[int, str]]:
    """Other readers' votes on the reader's PEER_SEARCH_VOTES latest papers (each paper's
    PEER_SEARCH_VOTERS latest voters), by reader: what `closest_readers` weighs. Bounded, whatever the
    number of readers."""
    rows = session.execute(
        text(
            """
            SELECT voter.subscriber_id, mine.paper_id, voter.vote
            FROM (
                SELECT paper_id FROM paper_votes WHERE subscriber_id = :reader
                ORDER BY voted_at DESC, paper_id LIMIT :search_votes
            ) AS mine
            CROSS JOIN LATERAL (
                SELECT subscriber_id, vote FROM paper_votes
                WHERE paper_id = mine.paper_id AND subscriber_id <> :reader
                ORDER BY voted_at DESC, subscriber_id LIMIT :search_voters
            ) AS voter
            """
        ),
        {"reader": subscriber_id, "search_votes": PEER_SEARCH_VOTES, "search_voters": PEER_SEARCH_VOTERS},
    )
    return _votes_by_reader(rows)


def followed_topics(session: Session, subscriber_ids: Sequence[int]) -> dict[int, tuple[int, ...]]:
    """The topic ids each of these subscribers follows, ascending (subscribers of no topic are left out):
    one query, for a refit's readers like you and for a build's chunk (`digests.select.load_tastes`)."""
    rows = session.execute(
        text(
            """
            SELECT subscriber_id, array_agg(topic_id ORDER BY topic_id) FROM subscriber_topics
            WHERE subscriber_id = ANY(CAST(:ids AS bigint[])) GROUP BY subscriber_id
            """
        ),
        {"ids": number_array_literal(subscriber_ids)},
    )
    return {subscriber_id: tuple(topic_ids) for subscriber_id, topic_ids in rows}


def latest_votes(session: Session, subscriber_ids: list[int]) -> dict[int, dict[int, str]]:
    """The PEER_VOTES_READ latest votes of each of these readers, by reader."""
    rows = session.execute(
        text(
            """
            SELECT reader.id, vote.paper_id, vote.vote
            FROM unnest(CAST(:ids AS bigint[])) AS reader(id)
            CROSS JOIN LATERAL (
                SELECT paper_id, vote FROM paper_votes WHERE subscriber_id = reader.id
                ORDER BY voted_at DESC, paper_id LIMIT :votes_read
            ) AS vote
            """
        ),
        {"ids": number_array_literal(subscriber_ids), "votes_read": PEER_VOTES_READ},
    )
    return _votes_by_reader(rows)


def _votes_by_reader(rows: Iterable[Sequence[Any]]) -> dict[int, dict[int, str]]:
    votes: dict[int, dict[int, str]] = {}
    for reader, paper_id, vote in rows:
        votes.setdefault(reader, {})[paper_id] = vote
    return votes


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
    shared = shared_votes(session, subscriber_id)
    topics = followed_topics(session, [subscriber_id, *shared])
    closest = closest_readers(votes, topics.get(subscriber_id, ()), shared, topics)
    lent = peer_votes(votes, closest, latest_votes(session, [reader for _, reader in closest]))
    lent_ids, lent_papers = paper_features(session, sorted(set(lent.paper_ids)), embedding_model, vocabulary)
    _, background = paper_features(
        session,
        _background_ids(session, embedding_model, sorted({*votes, *lent.paper_ids})),
        embedding_model,
        vocabulary,
    )
    model = fit_linear_model(voted, labels, background, *lent.on(lent_ids, lent_papers))
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
