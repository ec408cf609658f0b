"""The personal model: fitted from votes, blended into the edition order, hiding what the reader voted
down (and its near-duplicates), naming a liked paper in the "why" line; nothing changes before a vote."""

from __future__ import annotations

from datetime import UTC, datetime

import numpy as np
import pytest
from sqlalchemy import select
from sqlalchemy.orm import Session

from newsletter.config import Settings
from newsletter.digests.build import build_editions_chunk
from newsletter.embeddings import embed_pending, embedding_text, load_model, load_vocabulary
from newsletter.embeddings.words import paper_words_text
from newsletter.feedback import personal
from newsletter.feedback.personal import (
    DOWN_AGREEMENT,
    KEPT_WORDS,
    NO_PEER_VOTES,
    PEER_WEIGHT,
    PEERS,
    LinearModel,
    PaperFeatures,
    ReaderTaste,
    closest_readers,
    fit_linear_model,
    fit_reader_model,
    followed_topics,
    latest_votes,
    load_reader_tastes,
    peer_votes,
    personal_weight,
    readers_with_stale_models,
    shared_votes,
    topic_likeness,
)
from newsletter.feedback.ranking import CandidateVectors, FeedbackPapers, personal_view
from newsletter.feedback.votes import record_vote, remove_vote
from newsletter.models import ReaderModel, Topic
from tests.factories import make_paper, make_subscriber

NOW = datetime(2026, 11, 21, 8, 0, tzinfo=UTC)
LAST_MONTH = datetime(2026, 10, 1, 12, 0, tzinfo=UTC)
TRENDING = [  # today's candidates, most upvoted first
    (
        "Protein structure prediction with diffusion models",
        "A diffusion model predicts protein structures.",
        100,
    ),
    ("Robot grasping from human demonstrations", "Robots learn to grasp household objects.", 90),
    ("Graph neural networks for molecules", "Message passing predicts molecular properties.", 80),
    ("Speech recognition for low-resource languages", "Automatic speech recognition with little data.", 70),
    (
        "Faster attention kernels with tiling on GPUs",
        "Tiled attention kernels speed up transformers on GPUs.",
        60,
    ),
    (
        "Sparse attention for long sequences",
        "Sparse attention kernels cut the memory of long-context transformers.",
        50,
    ),
    (
        "Quantized attention on modern GPUs",
        "Low-bit attention kernels for transformer inference on GPUs.",
        40,
    ),
    ("IO-aware exact attention", "An IO-aware exact attention algorithm for GPU transformers.", 30),
]
LIKED = [  # last month's papers the reader liked: attention on GPUs
    ("FlashAttention-3: fast exact attention on GPUs", "Fast and exact attention kernels on Hopper GPUs."),
    ("Memory-efficient attention kernels", "Attention kernels for transformers with less GPU memory."),
    ("Linear attention transformers on GPUs", "Linear-time attention for transformers, fast GPU kernels."),
    ("Paged attention for serving transformers", "Attention kernels and KV cache paging for GPU serving."),
    ("Kernel fusion for transformer attention", "Fused GPU kernels for transformer attention layers."),
]
ATTENTION = {title for title, _, _ in TRENDING[4:]}
NLP = frozenset({1})  # a topic id, for the pure functions


@pytest.fixture
def papers(session: Session) -> dict[str, int]:
    ids = {}
    for title, abstract, upvotes in TRENDING:
        ids[title] = make_paper(session, title=title, abstract=abstract, upvotes=upvotes, topics=["NLP"]).id
    for title, abstract in LIKED:
        ids[title] = make_paper(session, title=title, abstract=abstract, published_at=LAST_MONTH).id
    embed_pending(session, load_model())
    return ids


def arxiv_id(session: Session, paper_id: int) -> str:
    from newsletter.models import Paper

    return session.get_one(Paper, paper_id).arxiv_id


def plan(session: Session, settings: Settings) -> dict[int, list[tuple[str, str]]]:
    from newsletter.models import Paper

    _, planned, _ = build_editions_chunk(session, settings, NOW, dry_run=True)
    titles = dict(session.execute(select(Paper.id, Paper.title)).all())
    return {
        edition.subscriber_id: [(titles[item.paper_id], item.reason) for item in edition.selection.items]
        if edition.selection
        else []
        for edition in planned
    }


def vote(session: Session, subscriber_id: int, paper_id: int, value: str) -> None:
    record_vote(session, subscriber_id, arxiv_id(session, paper_id), value)


def test_a_fitted_model_scores_papers_like_the_liked_ones_higher(session: Session, papers) -> None:
    alice = make_subscriber(session, "alice@example.org")
    for title, _ in LIKED:
        vote(session, alice.id, papers[title], "up")
    report = fit_reader_model(session, alice.id, load_model().name)
    assert report.is_stored and report.vote_count == 5
    model = session.get_one(ReaderModel, alice.id)
    assert len(model.weights) == 256 and model.embedding_model == load_model().name
    assert model.word_vocabulary == load_vocabulary().name
    assert 0 < len(model.word_ids) == len(model.word_weights) <= KEPT_WORDS
    vocabulary = load_vocabulary()
    kept = {vocabulary.terms[i]: weight for i, weight in zip(model.word_ids, model.word_weights, strict=True)}
    assert kept["attent"] > 0 and kept["kernel"] > 0  # what the liked papers say (stems)
    scores = stored_model(session, alice.id).scores(
        features([(title, abstract) for title, abstract, _ in TRENDING])
    )
    assert min(scores[4:]) > max(scores[:4])  # every attention paper above every other


def features(papers: list[tuple[str, str]]) -> PaperFeatures:
    """What the product reads of these papers: embeddings of "title. abstract", words of both."""
    return PaperFeatures(
        load_model().embed([embedding_text(title, abstract) for title, abstract in papers]),
        load_vocabulary().vectors(paper_words_text(title, abstract) for title, abstract in papers),
    )


def test_the_pure_fit_needs_two_kinds_of_label_and_learns_from_the_votes_alone() -> None:
    liked = features(LIKED)
    others = features([(title, abstract) for title, abstract, _ in TRENDING[:4]])
    assert fit_linear_model(liked, [1] * len(LIKED), features([])) is None
    fitted = fit_linear_model(liked, [1] * len(LIKED), others)  # the background says "not these"
    assert fitted is not None and fitted.weights.shape == (256,)
    assert len(fitted.word_ids) == KEPT_WORDS and np.all(np.diff(fitted.word_ids) > 0)
    scores = fitted.scores(features([(title, abstract) for title, abstract, _ in TRENDING]))
    assert min(scores[4:]) > max(scores[:4])


def test_words_alone_tell_a_reader_apart_where_the_embedding_barely_does() -> None:
    """Two papers whose embeddings are nearly the same but one names what the reader liked: the liked
    word makes the difference."""
    liked = features([("Diffusion models for images", "We train a diffusion model that denoises images.")])
    background = features([(title, abstract) for title, abstract, _ in TRENDING])
    fitted = fit_linear_model(liked, [1], background)
    assert fitted is not None
    vocabulary = load_vocabulary()
    assert vocabulary.index["diffus"] in fitted.word_ids.tolist()
    pair = features(
        [
            ("Image models at scale", "Diffusion for image synthesis: a study of training at scale."),
            ("Image models at scale", "Transformers for image synthesis: a study of training at scale."),
        ]
    )
    with_word, without = fitted.scores(pair)
    assert with_word > without


def test_without_votes_the_model_is_removed(session: Session, papers) -> None:
    alice = make_subscriber(session, "alice@example.org")
    vote(session, alice.id, papers[LIKED[0][0]], "up")
    assert fit_reader_model(session, alice.id, load_model().name).is_stored
    remove_vote(session, alice.id, arxiv_id(session, papers[LIKED[0][0]]))
    assert not fit_reader_model(session, alice.id, load_model().name).is_stored
    assert session.get(ReaderModel, alice.id) is None


def test_before_any_vote_the_order_is_exactly_todays_and_others_votes_change_nothing(
    session: Session, settings: Settings, papers
) -> None:
    alice = make_subscriber(session, "alice@example.org")
    bob = make_subscriber(session, "bob@example.org")
    before = plan(session, settings)
    assert before[alice.id] == before[bob.id]
    assert [title for title, _ in before[bob.id]] == [title for title, _, _ in TRENDING[:4]]
    for title, _ in LIKED:
        vote(session, alice.id, papers[title], "up")
    fit_reader_model(session, alice.id, load_model().name)
    assert plan(session, settings)[bob.id] == before[bob.id]


def test_a_readers_likes_bring_similar_papers_up(session: Session, settings: Settings, papers) -> None:
    alice = make_subscriber(session, "alice@example.org")
    for title, _ in LIKED:
        vote(session, alice.id, papers[title], "up")
    fit_reader_model(session, alice.id, load_model().name)
    picks = plan(session, settings)[alice.id]
    # Today's top four hold no attention paper; the reader's first pick is one. These one-line texts are
    # at most 0.80 alike, below LIKE_COSINE, so no pick claims likeness (tests/test_feedback_likeness.py
    # words the "Like" line on real abstracts).
    first_title, first_reason = picks[0]
    assert first_title in ATTENTION, picks
    assert all(reason.startswith("Trending #") for _, reason in picks), picks
    assert all("%" not in reason and "score" not in reason for _, reason in picks)


def test_a_paper_voted_down_and_its_near_duplicates_are_never_sent(
    session: Session, settings: Settings, papers
) -> None:
    title, abstract, _ = TRENDING[0]
    make_paper(session, title=title, abstract=abstract, upvotes=95, topics=["NLP"])  # a re-upload
    embed_pending(session, load_model())
    alice = make_subscriber(session, "alice@example.org")
    assert [t for t, _ in plan(session, settings)[alice.id]].count(title) == 2
    vote(session, alice.id, papers[title], "down")
    # Even before the model is refitted.
    assert title not in [t for t, _ in plan(session, settings)[alice.id]]
    fit_reader_model(session, alice.id, load_model().name)
    picks = [t for t, _ in plan(session, settings)[alice.id]]
    # Every other candidate: a reader who voted is not held to the per-topic cap of 4.
    assert title not in picks and sorted(picks) == sorted(t for t, _, _ in TRENDING[1:])


def test_a_reader_who_voted_is_not_held_to_the_per_topic_cap(
    session: Session, settings: Settings, papers
) -> None:
    alice = make_subscriber(session, "alice@example.org")
    bob = make_subscriber(session, "bob@example.org")
    for title, _ in LIKED:
        vote(session, alice.id, papers[title], "up")
    fit_reader_model(session, alice.id, load_model().name)
    editions = plan(session, settings)
    # Every candidate is in NLP: a reader who has not voted gets the cap's four, the most upvoted.
    assert settings.max_papers_per_topic == 4
    assert [title for title, _ in editions[bob.id]] == [title for title, _, _ in TRENDING[:4]]
    # A reader who voted gets all eight, her votes deciding the order: the attention papers she wants
    # lead, and the fourth of them, ranked fifth, is no longer cut by four papers of the tag before it.
    alice_titles = [title for title, _ in editions[alice.id]]
    assert sorted(alice_titles) == sorted(title for title, _, _ in TRENDING)
    assert alice_titles[0] in ATTENTION and ATTENTION.issubset(alice_titles[:5]), alice_titles


def test_the_personal_weight_grows_with_votes_and_trending_keeps_a_say() -> None:
    weights = [personal_weight(count) for count in (0, 1, 5, 20, 1000)]
    assert weights == sorted(weights) and weights[0] == 0.0 and weights[-1] < 1.0


def test_readers_who_voted_after_their_last_fit_are_found_stale(session: Session, papers) -> None:
    alice = make_subscriber(session, "alice@example.org")
    bob = make_subscriber(session, "bob@example.org")
    vote(session, alice.id, papers[LIKED[0][0]], "up")
    vote(session, bob.id, papers[LIKED[1][0]], "up")
    assert readers_with_stale_models(session) == [alice.id, bob.id]
    fit_reader_model(session, alice.id, load_model().name)
    assert readers_with_stale_models(session) == [bob.id]


def test_an_undo_whose_refit_was_lost_is_found_stale(session: Session, papers) -> None:
    alice = make_subscriber(session, "alice@example.org")
    bob = make_subscriber(session, "bob@example.org")
    for title, _ in LIKED[:2]:
        vote(session, alice.id, papers[title], "up")
    vote(session, bob.id, papers[LIKED[0][0]], "up")
    vote(session, bob.id, papers[TRENDING[0][0]], "down")
    for reader in (alice, bob):
        fit_reader_model(session, reader.id, load_model().name)
    assert readers_with_stale_models(session) == []

    # Undo, and the refit message is lost: the deleted row leaves no newer vote time behind.
    remove_vote(session, alice.id, arxiv_id(session, papers[LIKED[1][0]]))
    assert readers_with_stale_models(session) == [alice.id]
    fit_reader_model(session, alice.id, load_model().name)
    assert readers_with_stale_models(session) == []

    # Every vote undone, no refit: the model is left with no votes behind it.
    for paper in (papers[LIKED[0][0]], papers[TRENDING[0][0]]):
        remove_vote(session, bob.id, arxiv_id(session, paper))
    assert session.scalar(select(ReaderModel.vote_count).where(ReaderModel.subscriber_id == bob.id)) == 2
    assert readers_with_stale_models(session) == [bob.id]
    fit_reader_model(session, bob.id, load_model().name)
    assert readers_with_stale_models(session) == []


@pytest.mark.slow
def test_a_vote_through_the_feedback_command_is_learned_by_a_real_worker(
    child_environment, command_env, committed_session_factory
) -> None:
    from typer.testing import CliRunner

    from newsletter.cli import app
    from newsletter.db import session_scope
    from tests.test_mail_worker import count, running_worker, wait_for

    with session_scope(committed_session_factory) as session:
        for title, abstract, upvotes in TRENDING:
            make_paper(session, title=title, abstract=abstract, upvotes=upvotes)
        liked = make_paper(session, arxiv_id="2611.40001", title=LIKED[0][0], abstract=LIKED[0][1])
        embed_pending(session, load_model())
        make_subscriber(session, "alice@example.org")
    fitted = "SELECT count(*) FROM reader_models WHERE vote_count = 1"
    with running_worker(child_environment) as worker:
        result = CliRunner().invoke(app, ["feedback", "add", "alice@example.org", liked.arxiv_id, "up"])
        assert result.exit_code == 0, result.output
        wait_for(
            lambda: count(committed_session_factory, fitted) == 1, worker, "refitting the reader's model"
        )


def test_readers_of_one_chunk_each_get_their_own_view(session: Session, settings: Settings, papers) -> None:
    alice = make_subscriber(session, "alice@example.org")
    bob = make_subscriber(session, "bob@example.org")
    carol = make_subscriber(session, "carol@example.org")
    for title, _ in LIKED:
        vote(session, alice.id, papers[title], "up")
    vote(session, bob.id, papers[TRENDING[0][0]], "down")
    vote(session, bob.id, papers[TRENDING[3][0]], "up")
    vote(session, bob.id, papers[LIKED[0][0]], "down")
    for reader in (alice, bob):
        fit_reader_model(session, reader.id, load_model().name)
    together = plan(session, settings)
    for reader in (alice, bob, carol):
        _, planned, _ = build_editions_chunk(session, settings, NOW, only_ids=[reader.id], dry_run=True)
        assert [item.paper_id for item in planned[0].selection.items] == [
            papers[title] for title, _ in together[reader.id]
        ]
    assert together[alice.id][0][0] in ATTENTION
    assert TRENDING[0][0] not in [title for title, _ in together[bob.id]]
    assert [title for title, _ in together[carol.id]] == [title for title, _, _ in TRENDING[:4]]


def test_an_edition_reads_back_exactly_the_stored_weights(session: Session, papers) -> None:
    alice = make_subscriber(session, "alice@example.org")
    for title, _ in LIKED[:3]:
        vote(session, alice.id, papers[title], "up")
    vote(session, alice.id, papers[TRENDING[0][0]], "down")
    fit_reader_model(session, alice.id, load_model().name)
    stored = session.get_one(ReaderModel, alice.id)
    taste = load_reader_tastes(session, [alice.id], lambda: load_model().name)[alice.id]
    assert taste.weights is not None and taste.weights.dtype == np.float32
    assert taste.weights.tolist() == np.asarray(stored.weights, dtype=np.float32).tolist()
    assert taste.intercept == stored.intercept and taste.vote_count == 4
    assert taste.hidden_ids == {papers[TRENDING[0][0]]}


def test_an_edition_orders_by_the_same_scores_the_model_gives_one_paper_at_a_time() -> None:
    """The chunk-wide scoring (embedding part and kept words, as matrix products) agrees with the model's
    own scores: with many votes the personal order leads, and it is the order of `LinearModel.scores`."""
    fitted = fit_linear_model(features(LIKED), [1] * len(LIKED), features([t[:2] for t in TRENDING[:4]]))
    assert fitted is not None
    candidates = features([(title, abstract) for title, abstract, _ in TRENDING])
    ids = list(range(1, len(TRENDING) + 1))  # trending order
    taste = ReaderTaste(
        weights=fitted.weights,
        intercept=fitted.intercept,
        vote_count=1000,
        hidden_ids=frozenset(),
        liked_ids=(),
        word_ids=fitted.word_ids,
        word_weights=fitted.word_weights,
    )
    view = personal_view(CandidateVectors.of(ids, candidates), taste, FeedbackPapers(), ids, ids)
    scores = fitted.scores(candidates)
    assert view.ranked == [ids[i] for i in np.argsort(-scores, kind="stable")]
    assert view.ranked != ids


def test_a_model_fitted_without_the_current_word_vocabulary_is_ignored_and_refitted(
    session: Session, papers
) -> None:
    alice = make_subscriber(session, "alice@example.org")
    vote(session, alice.id, papers[LIKED[0][0]], "up")
    fit_reader_model(session, alice.id, load_model().name)
    assert readers_with_stale_models(session) == []
    model = session.get_one(ReaderModel, alice.id)
    model.word_vocabulary = None  # fitted before models learned words
    session.flush()
    assert readers_with_stale_models(session) == [alice.id]
    assert load_reader_tastes(session, [alice.id], lambda: load_model().name)[alice.id].weights is None
    fit_reader_model(session, alice.id, load_model().name)
    assert readers_with_stale_models(session) == []
    assert load_reader_tastes(session, [alice.id], lambda: load_model().name)[alice.id].weights is not None


def test_readers_who_agree_lend_their_other_votes_weighted_by_agreement() -> None:
    own = {1: "up", 2: "up", 3: "down"}
    others = {
        20: {1: "up", 2: "up", 10: "up", 11: "down"},  # agrees twice
        10: {1: "up", 12: "up"},  # agrees once
        30: {1: "down", 2: "down", 13: "up"},  # disagrees: lends nothing
        40: {3: "down", 14: "up"},  # shares only a hidden paper: agrees a little
        50: {1: "up", 2: "down", 15: "up"},  # one each way: nothing
    }
    same_topics = {reader: NLP for reader in others}
    closest = closest_readers(own, NLP, others, same_topics)
    assert closest == [(2.0, 20), (1.0, 10), (DOWN_AGREEMENT, 40)]
    lent = peer_votes(own, closest, others)
    by_paper = dict(zip(lent.paper_ids, zip(lent.labels, lent.weights, strict=True), strict=True))
    assert set(by_paper) == {10, 11, 12, 14}  # never a paper the reader voted on, nothing from 30 or 50
    assert by_paper[10][0] == 1 and by_paper[11][0] == 0
    assert by_paper[10][1] == pytest.approx(2 * by_paper[12][1])
    assert by_paper[14][1] == pytest.approx(DOWN_AGREEMENT * by_paper[12][1])
    assert sum(lent.weights) == pytest.approx(PEER_WEIGHT * len(own))
    assert closest_readers(own, NLP, {30: others[30], 50: others[50]}, same_topics) == []
    assert peer_votes(own, [], others) == NO_PEER_VOTES


def test_only_the_closest_readers_lend_and_ties_go_to_the_earlier_reader() -> None:
    own = {1: "up"}
    others = {reader: {1: "up", 100 + reader: "up"} for reader in range(PEERS + 5, 0, -1)}
    closest = closest_readers(own, NLP, others, {reader: NLP for reader in others})
    assert [reader for _, reader in closest] == list(range(1, PEERS + 1))
    lent = peer_votes(own, closest, others)
    assert sorted(lent.paper_ids) == [100 + reader for reader in range(1, PEERS + 1)]


def test_a_like_shared_by_a_reader_of_other_topics_counts_for_the_topics_shared() -> None:
    """Two readers who liked the same paper but follow different topics often liked it for different
    reasons: agreement counts in proportion to the topics they follow together."""
    own = {1: "up", 2: "up"}
    others = {10: {1: "up", 2: "up", 11: "up"}, 20: {1: "up", 2: "up", 12: "up"}, 30: {1: "up", 13: "up"}}
    topics = frozenset({1, 2})
    topics_of = {10: frozenset({1, 2}), 20: frozenset({2, 3, 4}), 30: frozenset({5})}
    assert topic_likeness(topics, topics_of[20]) == pytest.approx(1 / 4)
    assert topic_likeness(frozenset(), frozenset()) == 1.0
    closest = closest_readers(own, topics, others, topics_of)
    assert closest == [(2.0, 10), (pytest.approx(0.5), 20)]  # 30 shares no topic: lends nothing
    lent = peer_votes(own, closest, others)
    assert lent.paper_ids == [11, 12] and lent.weights[0] == pytest.approx(4 * lent.weights[1])
    assert closest_readers(own, topics, {40: {1: "up"}}, topics_of) == []  # topics unknown: none shared


def test_the_votes_of_readers_who_liked_the_same_papers_shape_the_model(session: Session, papers) -> None:
    """Alice liked one attention paper; readers who liked it too liked other attention papers: her model,
    refitted, ranks attention above everything else, which her one vote alone does not do as clearly."""
    first, *others = [papers[title] for title, _ in LIKED]
    alice = make_subscriber(session, "alice@example.org")
    vote(session, alice.id, first, "up")
    fit_reader_model(session, alice.id, load_model().name)
    alone = stored_model(session, alice.id).scores(features([(t, a) for t, a, _ in TRENDING]))
    for index in range(3):
        peer = make_subscriber(session, f"peer{index}@example.org")
        vote(session, peer.id, first, "up")
        for paper_id in others:
            vote(session, peer.id, paper_id, "up")
        vote(session, peer.id, papers[TRENDING[index][0]], "down")
    stranger = make_subscriber(session, "stranger@example.org")  # shares no vote with alice
    vote(session, stranger.id, others[0], "down")
    elsewhere = make_subscriber(session, "elsewhere@example.org", topics=["Computer Vision"])
    vote(session, elsewhere.id, first, "up")  # liked her paper, follows none of her topics
    vote(session, elsewhere.id, papers[TRENDING[0][0]], "up")
    topics = followed_topics(session, [alice.id, elsewhere.id])
    assert len(topics[alice.id]) == 1 and not set(topics[alice.id]) & set(topics[elsewhere.id])

    shared = shared_votes(session, alice.id)  # their votes on her papers
    assert alice.id not in shared and stranger.id not in shared
    assert len(shared) == 4 and all(votes == {first: "up"} for votes in shared.values())
    topics = followed_topics(session, [alice.id, *shared])
    closest = closest_readers({first: "up"}, topics[alice.id], shared, topics)
    assert sorted(reader for _, reader in closest) == sorted(set(shared) - {elsewhere.id})
    lent = latest_votes(session, sorted(set(shared) - {elsewhere.id}))
    assert all(len(votes) == 1 + len(others) + 1 for votes in lent.values())
    report = fit_reader_model(session, alice.id, load_model().name)
    assert report.vote_count == 1  # her own votes: the personal weight grows with them only
    pooled = stored_model(session, alice.id).scores(features([(t, a) for t, a, _ in TRENDING]))
    gap = min(pooled[4:]) - max(pooled[:4])
    assert gap > 0 and gap > min(alone[4:]) - max(alone[:4])


def stored_model(session: Session, subscriber_id: int) -> LinearModel:
    model = session.get_one(ReaderModel, subscriber_id)
    return LinearModel(
        np.asarray(model.weights, dtype=np.float32),
        np.asarray(model.word_ids, dtype=np.int32),
        np.asarray(model.word_weights, dtype=np.float32),
        model.intercept,
    )


def test_finding_readers_like_you_reads_the_latest_votes_only(
    session: Session, papers, monkeypatch: pytest.MonkeyPatch
) -> None:
    """However many readers voted, a refit reads a bounded number of votes: the other readers of the
    reader's latest papers (each paper's latest voters), and each chosen reader's latest votes."""
    monkeypatch.setattr(personal, "PEER_SEARCH_VOTES", 1)
    monkeypatch.setattr(personal, "PEER_SEARCH_VOTERS", 2)
    monkeypatch.setattr(personal, "PEER_VOTES_READ", 1)
    older, newer = papers[LIKED[0][0]], papers[LIKED[1][0]]
    alice = make_subscriber(session, "alice@example.org")
    record_vote(session, alice.id, arxiv_id(session, older), "up", now=LAST_MONTH)
    record_vote(session, alice.id, arxiv_id(session, newer), "up", now=NOW)
    peers = [make_subscriber(session, f"peer{index}@example.org") for index in range(3)]
    for minute, peer in enumerate(peers):
        record_vote(session, peer.id, arxiv_id(session, older), "up", now=LAST_MONTH)
        record_vote(session, peer.id, arxiv_id(session, newer), "up", now=NOW.replace(minute=minute))
    shared = shared_votes(session, alice.id)
    assert shared == {
        peers[2].id: {newer: "up"},
        peers[1].id: {newer: "up"},
    }  # her latest paper's latest voters
    assert latest_votes(session, [peers[0].id]) == {peers[0].id: {newer: "up"}}


def test_followed_topics_gives_each_subscribers_topic_ids_ascending(session: Session) -> None:
    """The one answer to "which topics do these subscribers follow", for a refit and for a build's tastes."""
    topic_id = {name: id_ for name, id_ in session.execute(select(Topic.name, Topic.id))}
    descending = sorted(["Robotics", "Computer Vision"], key=topic_id.__getitem__, reverse=True)
    both = make_subscriber(session, "both@example.org", topics=descending)  # stored highest id first
    one = make_subscriber(session, "one@example.org", topics=["NLP"])
    none = make_subscriber(session, "none@example.org", topics=[])
    found = followed_topics(session, [both.id, one.id, none.id])
    assert found == {
        both.id: tuple(sorted(topic_id[name] for name in descending)),
        one.id: (topic_id["NLP"],),
    }
