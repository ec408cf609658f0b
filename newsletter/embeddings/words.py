"""Papers as weighted words: a fixed vocabulary of machine-learning abstracts with its inverse document
frequencies, shipped in the package, and each paper's TF-IDF vector over it.

The mean-of-tokens embedding carries one word of a 200-word abstract faintly; a reader who wants "diffusion
papers" or "quantization" is told apart by exactly such words. A term is a word's Snowball stem, so
"quantized", "quantizing" and "quantization" are one term: one abstract names the interest one way, the
next another. The personal model (newsletter/feedback/) learns from both. The vocabulary is built once by
`newsletter embeddings words` (scikit-learn's TfidfVectorizer over the bundled abstracts) and read here with
numpy, scipy and the stemmer only, so an edition build never imports scikit-learn; `vectors` gives what
TfidfVectorizer's transform gives (a test checks it).
"""

from __future__ import annotations

import json
import math
import re
from collections import Counter
from collections.abc import Iterable
from dataclasses import dataclass
from functools import cache, lru_cache
from importlib import resources
from pathlib import Path

import numpy as np
import snowballstemmer
from scipy import sparse

from newsletter.embeddings.model import MAX_CHARACTERS

# Words of two or more letters or digits (scikit-learn's default): "diffusion-based" counts as "diffusion"
# and "based".
WORD_PATTERN = r"(?u)\b\w\w+\b"
WORDS = re.compile(WORD_PATTERN)
STEMMER_LANGUAGE = "english"
STEMMER = f"snowball-{STEMMER_LANGUAGE}"  # as the vocabulary file names it
VOCABULARY_FILE = "words.json"
# A word must appear in this many of the source abstracts to enter the vocabulary: one paper's typo or
# name teaches nothing about a reader.
MIN_DOCUMENT_FREQUENCY = 2


@lru_cache(maxsize=2**17)
def stem(word: str) -> str:
    """A lower-case word's Snowball stem ("quantization" -> "quantiz"); a word is stemmed once per process.
    A stemmer per call: one holds the word it works on, so threads must not share it (it costs no more
    than the stemming)."""
    return str(snowballstemmer.stemmer(STEMMER_LANGUAGE).stemWord(word))


def text_terms(text: str, stop_words: frozenset[str]) -> list[str]:
    """The terms of a text, in order: its words (WORD_PATTERN, lower case) other than `stop_words`,
    stemmed."""
    return [stem(word) for word in WORDS.findall(text.lower()) if word not in stop_words]


@dataclass(frozen=True)
class WordVocabulary:
    name: str
    terms: tuple[str, ...]  # stems
    idf: np.ndarray  # float32, one per term
    index: dict[str, int]
    stop_words: frozenset[str]  # words left out before stemming (saved with the vocabulary)

    @property
    def size(self) -> int:
        return len(self.terms)

    def analyze(self, text: str) -> list[str]:
        """The terms of a text as this vocabulary reads it (the first MAX_CHARACTERS characters)."""
        return text_terms(text[:MAX_CHARACTERS], self.stop_words)

    def vectors(self, texts: Iterable[str]) -> sparse.csr_matrix:
        """(texts, vocabulary) float32 rows: sublinear term frequency (1 + log count) times idf, unit
        length; a text with no vocabulary word is a zero row. Texts are cut at MAX_CHARACTERS."""
        indptr, indices, values = [0], list[int](), list[float]()
        for text in texts:
            counts = Counter(
                column for term in self.analyze(text) if (column := self.index.get(term)) is not None
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
    """The vocabulary of `texts` (scikit-learn's English stop words left out, the stems of the other words
    that are in at least MIN_DOCUMENT_FREQUENCY texts) and its smoothed idf, as scikit-learn's
    TfidfVectorizer computes them."""
    from sklearn.feature_extraction.text import ENGLISH_STOP_WORDS, TfidfVectorizer  # the command only

    stop_words = frozenset(ENGLISH_STOP_WORDS)
    vectorizer = TfidfVectorizer(
        analyzer=lambda text: text_terms(text, stop_words),
        min_df=MIN_DOCUMENT_FREQUENCY,
        sublinear_tf=True,
        dtype=np.float32,
    )
    vectorizer.fit([text[:MAX_CHARACTERS] for text in texts])
    terms = tuple(vectorizer.get_feature_names_out().tolist())
    return _vocabulary(name, terms, vectorizer.idf_.astype(np.float32), stop_words)


def _vocabulary(
    name: str, terms: tuple[str, ...], idf: np.ndarray, stop_words: frozenset[str]
) -> WordVocabulary:
    return WordVocabulary(name, terms, idf, {term: column for column, term in enumerate(terms)}, stop_words)


def save_vocabulary(vocabulary: WordVocabulary, path: Path) -> None:
    """JSON: the stop words, the stemmer, and each term (sorted) with its idf (6 decimals): the same texts
    give the same bytes."""
    document = {
        "name": vocabulary.name,
        "stemmer": STEMMER,
        "stop_words": sorted(vocabulary.stop_words),
        "terms": list(vocabulary.terms),
        "idf": [round(float(value), 6) for value in vocabulary.idf],
    }
    path.write_text(json.dumps(document, ensure_ascii=False, separators=(",", ":")) + "\n", "utf-8")


def load_vocabulary_from(path: Path) -> WordVocabulary:
    document = json.loads(path.read_text("utf-8"))
    if document.get("stemmer") != STEMMER:
        raise ValueError(f"{path}: made with another stemmer ({document.get('stemmer')!r})")
    terms = tuple(document["terms"])
    idf = np.asarray(document["idf"], dtype=np.float32)
    if len(terms) != len(idf) or len(set(terms)) != len(terms):
        raise ValueError(f"{path}: terms and idf do not match")
    return _vocabulary(str(document["name"]), terms, idf, frozenset(document["stop_words"]))


def vocabulary_path() -> Path:
    return Path(str(resources.files("newsletter.embeddings").joinpath("data", VOCABULARY_FILE)))


@cache
def load_vocabulary() -> WordVocabulary:
    """The packaged vocabulary, loaded once per process."""
    return load_vocabulary_from(vocabulary_path())
