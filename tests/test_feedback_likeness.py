"""When a pick's "why" line may say it is like a paper the reader liked: measured on real abstracts of the
bundled corpus with the shipped embedding model, not on made-up one-line texts."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from itertools import combinations
from pathlib import Path

import numpy as np
import pytest
from sqlalchemy.orm import Session

from newsletter.config import Settings
from newsletter.embeddings import embed_pending, embedding_text, load_model
from newsletter.feedback.personal import fit_reader_model
from newsletter.feedback.ranking import LIKE_COSINE, MAX_LIKED_TITLE_CHARS
from newsletter.plaintext.shorten import shorten
from tests.factories import make_paper, make_subscriber
from tests.test_feedback_personal import plan, vote

CORPUS = Path(__file__).parent / "fixtures" / "topics_dev.jsonl"
LAST_MONTH = datetime(2026, 10, 1, 12, 0, tzinfo=UTC)
LIKED_TITLE = "Intra-Document Cascading: Learning to Select Passages for Neural Document Ranking"
# Another paper of the corpus that shares a word of the title ("cascading") and nothing else: under the
# old threshold (0.6) it was "like" the ranking paper (cosine 0.80).
UNRELATED_TITLE = "Cascading Reinforcement Learning"


@pytest.fixture(scope="module")
def corpus() -> list[dict]:
    return [json.loads(line) for line in CORPUS.read_text().splitlines()]


def unit_vectors(papers: list[dict]) -> np.ndarray:
    vectors = load_model().embed([embedding_text(paper["title"], paper["abstract"]) for paper in papers])
    return vectors / np.linalg.norm(vectors, axis=1, keepdims=True)


def test_like_sits_at_the_97th_percentile_of_random_pairs_of_corpus_abstracts(corpus) -> None:
    vectors = unit_vectors(corpus)
    pairs = list(combinations(range(len(corpus)), 2))
    cosines = np.asarray([float(vectors[i] @ vectors[j]) for i, j in pairs])
    same_topic = np.asarray([bool(set(corpus[i]["topics"]) & set(corpus[j]["topics"])) for i, j in pairs])
    assert len(pairs) > 20_000 and same_topic.sum() > 5_000
    # The old threshold held for nearly every pair: it told nothing about the pick.
    assert (cosines >= 0.6).mean() > 0.95
    assert abs(np.percentile(cosines, 97) - LIKE_COSINE) < 0.005
    # Sharing a topic alone is not likeness: most same-topic pairs stay below it.
    assert (cosines[same_topic] >= LIKE_COSINE).mean() < 0.05


def test_only_a_pick_that_truly_resembles_a_liked_paper_says_like(
    session: Session, settings: Settings, corpus
) -> None:
    by_title = {paper["title"]: paper for paper in corpus}
    liked, unrelated = by_title[LIKED_TITLE], by_title[UNRELATED_TITLE]
    # A new version of the liked paper: its abstract without the last sentence.
    revised_abstract = liked["abstract"].rsplit(". ", 1)[0] + "."
    liked_id = make_paper(
        session, title=liked["title"], abstract=liked["abstract"], published_at=LAST_MONTH
    ).id
    make_paper(session, title=unrelated["title"], abstract=unrelated["abstract"], upvotes=90)
    make_paper(session, title=f"{liked['title']} (extended)", abstract=revised_abstract, upvotes=10)
    embed_pending(session, load_model())
    reader = make_subscriber(session, "reader@example.org")
    vote(session, reader.id, liked_id, "up")
    fit_reader_model(session, reader.id, load_model().name)

    picks = dict(plan(session, settings)[reader.id])
    liked_name = shorten(liked["title"], MAX_LIKED_TITLE_CHARS)
    assert picks[f"{liked['title']} (extended)"] == f"Like “{liked_name}”, a paper you liked", picks
    assert picks[UNRELATED_TITLE].startswith("Trending #"), picks
