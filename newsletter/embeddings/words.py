"""Papers as weighted words: a fixed vocabulary of machine-learning abstracts with its inverse document
frequencies, shipped in the package, and each paper's TF-IDF vector over it.

The mean-of-tokens embedding carries one word of a 200-word abstract faintly; a reader who wants "diffusion
papers" or "quantization" is told apart by exactly such words. The personal model (newsletter/feedback/)
learns from both. The vocabulary is built once by `newsletter embeddings words` (scikit-learn's
TfidfVectorizer over the bundled abstracts) and read here with numpy and scipy only, so an edition build
never imports scikit-learn; `word_vectors` gives what TfidfVectorizer's transform gives (a test checks it).
"""

from __future__ import annotations

import json
import math
import re
from collections import Counter
from collections.abc import Iterable
from dataclasses import dataclass
from functools import cache
from importlib import resources
from pathlib import Path

import numpy as np
from scipy import sparse

from newsletter.embeddings.model import MAX_CHARACTERS

# Words of two or more letters or digits (scikit-learn's default): "diffusion-based" counts as "diffusion"
# and "based".
WORD_PATTERN = r"(?u)\b\w\w+\b"
VOCABULARY_FILE = "words.json"
# A word must appear in this many of the source abstracts to enter the vocabulary: one paper's typo or
# name teaches nothing about a reader.
MIN_DOCUMENT_FREQUENCY = 2


@dataclass(frozen=True)
class WordVocabulary:
    name: str
    terms: tuple[str, ...]
    idf: np.ndarray  # float32, one per term
    index: dict[str, int]

    @property
    def size(self) -> int:
        return len(self.terms)

    def vectors(self, texts: Iterable[str]) -> sparse.csr_matrix:
        """(texts, vocabulary) float32 rows: sublinear term frequency (1 + log count) times idf, unit
        length; a text with no vocabulary word is a zero row. Texts are cut at MAX_CHARACTERS."""
        indptr, indices, values = [0], list[int](), list[float]()
        pattern = re.compile(WORD_PATTERN)
        for text in texts:
            counts = Counter(
                column
                for word in pattern.findall(text[:MAX_CHARACTERS].lower())
                if (column := self.index.get(word)) is not None
            )
            columns = sorted(counts)
            row = np.asarray([1.0 + math.log(counts[column]) for column in columns], dtype=np.float32)
            row *= self.idf[columns] if columns else 1.0
            norm = float(np.linalg.norm(row))
            indices.extend(columns)
            values.extend((row / norm).tolist() if norm else [])
            indptr.append(len(indices))
        return sparse.csr_matrix(
            (np.asarray(values, dtype=np.float32), np.asarray(indices, dtype=np.int32), np.asarray(indptr)),
            shape=(len(indptr) - 1, self.size),
        )


def paper_words_text(title: str, abstract: str) -> str:
    """What the word vector is made of: the title and the abstract."""
    return f"{title.strip()}\n{abstract.strip()}"


def build_vocabulary(name: str, texts: list[str]) -> WordVocabulary:
    """The vocabulary of `texts` (English stop words left out, words in at least MIN_DOCUMENT_FREQUENCY
    texts) and its smoothed idf, as scikit-learn's TfidfVectorizer computes them."""
    from sklearn.feature_extraction.text import TfidfVectorizer  # the building command only

    vectorizer = TfidfVectorizer(
        token_pattern=WORD_PATTERN,
        stop_words="english",
        min_df=MIN_DOCUMENT_FREQUENCY,
        sublinear_tf=True,
        dtype=np.float32,
    )
    vectorizer.fit([text[:MAX_CHARACTERS] for text in texts])
    terms = tuple(vectorizer.get_feature_names_out().tolist())
    return _vocabulary(name, terms, vectorizer.idf_.astype(np.float32))


def _vocabulary(name: str, terms: tuple[str, ...], idf: np.ndarray) -> WordVocabulary:
    return WordVocabulary(name, terms, idf, {term: column for column, term in enumerate(terms)})


def save_vocabulary(vocabulary: WordVocabulary, path: Path) -> None:
    """JSON, one term and its idf (6 decimals) per pair, sorted by term: the same texts give the same
    bytes."""
    document = {
        "name": vocabulary.name,
        "terms": list(vocabulary.terms),
        "idf": [round(float(value), 6) for value in vocabulary.idf],
    }
    path.write_text(json.dumps(document, ensure_ascii=False, separators=(",", ":")) + "\n", "utf-8")


def load_vocabulary_from(path: Path) -> WordVocabulary:
    document = json.loads(path.read_text("utf-8"))
    terms = tuple(document["terms"])
    idf = np.asarray(document["idf"], dtype=np.float32)
    if len(terms) != len(idf) or len(set(terms)) != len(terms):
        raise ValueError(f"{path}: terms and idf do not match")
    return _vocabulary(str(document["name"]), terms, idf)


def vocabulary_path() -> Path:
    return Path(str(resources.files("newsletter.embeddings").joinpath("data", VOCABULARY_FILE)))


@cache
def load_vocabulary() -> WordVocabulary:
    """The packaged vocabulary, loaded once per process."""
    return load_vocabulary_from(vocabulary_path())
