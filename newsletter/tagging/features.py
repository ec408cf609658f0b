"""What the learned tagger reads of a paper: its embedding, TF-IDF terms, lexicon scores, similarity to
each tag's description (and, through the lexicon scores, its arXiv categories when known)."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from functools import cached_property
from typing import Protocol

import numpy as np
from scipy import sparse
from sklearn.feature_extraction.text import CountVectorizer, TfidfVectorizer
from sklearn.preprocessing import normalize

from newsletter.embeddings.model import EmbeddingModel, embedding_text
from newsletter.tagging.lexicon import score_topics

# Words of two letters or more that start with a letter: numbers and LaTeX commands' arguments say little.
TERM_PATTERN = r"(?u)\b[a-zA-Z][a-zA-Z0-9]+\b"
NGRAM_RANGE = (1, 2)
# A term in a single training paper is noise to a linear model over a few hundred papers.
MIN_DOCUMENT_FREQUENCY = 2
# Lexicon scores run from 0 to ~40: log-scaled to the range of the other blocks.
LEXICON_SCALE = 3.0
# Beyond this a text is cut before TF-IDF and the lexicon: a 1 MB abstract must not cost seconds.
MAX_CHARACTERS = 8_000


class PaperInput(Protocol):
    @property
    def title(self) -> str: ...
    @property
    def abstract(self) -> str: ...
    @property
    def categories(self) -> Sequence[str]: ...


@dataclass(frozen=True)
class FeatureSpace:
    tags: tuple[str, ...]
    vocabulary: tuple[str, ...]  # TF-IDF terms in column order
    idf: np.ndarray  # (terms,)
    descriptions: np.ndarray  # (tags, dimensions): each tag's description embedded

    @property
    def width(self) -> int:
        return len(self.vocabulary) + self.descriptions.shape[1] + 2 * len(self.tags)

    @cached_property
    def term_counter(self) -> CountVectorizer:
        # Built once per space: checking a vocabulary of thousands of terms costs more than tagging a paper.
        return CountVectorizer(
            token_pattern=TERM_PATTERN,
            ngram_range=NGRAM_RANGE,
            vocabulary={term: column for column, term in enumerate(self.vocabulary)},
            dtype=np.float64,
        )


def term_text(paper: PaperInput) -> str:
    # The title twice: it names what the paper is about, the abstract mostly the context.
    return f"{paper.title} {paper.title} {paper.abstract[:MAX_CHARACTERS]}"


def fit_feature_space(
    papers: Sequence[PaperInput], taxonomy: dict[str, str], model: EmbeddingModel
) -> FeatureSpace:
    vectorizer = TfidfVectorizer(
        token_pattern=TERM_PATTERN,
        ngram_range=NGRAM_RANGE,
        min_df=MIN_DOCUMENT_FREQUENCY,
        sublinear_tf=True,
        dtype=np.float64,
    )
    vectorizer.fit([term_text(paper) for paper in papers])
    vocabulary = sorted(vectorizer.vocabulary_, key=vectorizer.vocabulary_.__getitem__)
    descriptions = model.embed([f"{tag}: {text}" for tag, text in taxonomy.items()])
    return FeatureSpace(
        tags=tuple(taxonomy),
        vocabulary=tuple(vocabulary),
        idf=np.asarray(vectorizer.idf_, dtype=np.float64),
        descriptions=descriptions,
    )


def embed_papers(papers: Sequence[PaperInput], model: EmbeddingModel) -> np.ndarray:
    return model.embed([embedding_text(paper.title, paper.abstract[:MAX_CHARACTERS]) for paper in papers])


def lexicon_features(papers: Sequence[PaperInput], tags: Sequence[str]) -> np.ndarray:
    """(papers, tags): each tag's lexicon score (with arXiv category evidence), log-scaled."""
    scores = np.zeros((len(papers), len(tags)))
    column_of = {tag: column for column, tag in enumerate(tags)}
    for row, paper in enumerate(papers):
        for score in score_topics(paper.title, paper.abstract[:MAX_CHARACTERS], tuple(paper.categories)):
            if score.topic in column_of:
                scores[row, column_of[score.topic]] = np.log1p(max(score.score, 0.0)) / LEXICON_SCALE
    return scores


def paper_features(
    space: FeatureSpace,
    papers: Sequence[PaperInput],
    embeddings: np.ndarray,
    lexicon: np.ndarray | None = None,
) -> sparse.csr_matrix:
    """One row per paper: [TF-IDF | embedding | lexicon scores | similarity to each description].

    `lexicon` may be given when already computed (training reuses it across folds: it depends on the
    paper alone)."""
    counts = space.term_counter.transform([term_text(paper) for paper in papers])
    counts.data = 1.0 + np.log(counts.data)  # sublinear term frequency, as the vectorizer was fitted
    terms = normalize(counts.multiply(space.idf).tocsr())
    if lexicon is None:
        lexicon = lexicon_features(papers, space.tags)
    similarity = embeddings @ space.descriptions.T
    dense = np.hstack([embeddings, lexicon, similarity])
    return sparse.hstack([terms, sparse.csr_matrix(dense)], format="csr")
