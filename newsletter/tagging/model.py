"""The trained tagger the package ships: loading it, the decision rule, and tagging papers in batches."""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass
from functools import cache
from importlib import resources
from pathlib import Path

import numpy as np
from safetensors.numpy import load_file, save_file
from scipy import sparse

from newsletter.embeddings.model import EmbeddingModel, load_model
from newsletter.tagging.features import FeatureSpace, PaperInput, embed_papers, paper_features

MAX_TAGS = 3
ARTIFACT_JSON = "tagger.json"
ARTIFACT_WEIGHTS = "tagger.safetensors"


@dataclass(frozen=True)
class Tagger:
    space: FeatureSpace
    coefficients: np.ndarray  # (tags, features)
    intercepts: np.ndarray  # (tags,)
    # Every tag after the first whose score reaches this is given too (up to MAX_TAGS); the score is the
    # tag's probability, or with `relative` its probability divided by the most likely tag's.
    threshold: float
    embedding_model: str
    # How it was trained (label file hash, regularization, folds): written to the artifact as is.
    provenance: dict[str, object]
    relative: bool = False
    # A least-squares fit of the same labels on the same features, (tags, features) and (tags,): its
    # clipped output is averaged in with this weight (0: the logistic regressions alone).
    ridge_coefficients: np.ndarray | None = None
    ridge_intercepts: np.ndarray | None = None
    ridge_weight: float = 0.0

    @property
    def tags(self) -> tuple[str, ...]:
        return self.space.tags

    def probabilities(self, papers: Sequence[PaperInput], model: EmbeddingModel) -> np.ndarray:
        """(papers, tags): each tag's score from its one-vs-rest logistic regression, blended with the
        least-squares fit when the tagger has one."""
        if not papers:
            return np.zeros((0, len(self.tags)))
        return self.probabilities_of(paper_features(self.space, papers, embed_papers(papers, model)))

    def probabilities_of(self, features: sparse.csr_matrix) -> np.ndarray:
        """(papers, tags) from feature rows built in this tagger's feature space."""
        probabilities = logistic(features @ self.coefficients.T + self.intercepts)
        if self.ridge_weight and self.ridge_coefficients is not None and self.ridge_intercepts is not None:
            least_squares = np.clip(features @ self.ridge_coefficients.T + self.ridge_intercepts, 0.0, 1.0)
            probabilities = (1.0 - self.ridge_weight) * probabilities + self.ridge_weight * least_squares
        return probabilities

    def tag(self, papers: Sequence[PaperInput], model: EmbeddingModel) -> list[list[str]]:
        chosen = choose_tags(self.probabilities(papers, model), self.threshold, relative=self.relative)
        return [[self.tags[column] for column in columns] for columns in chosen]


def choose_tags(
    probabilities: np.ndarray, threshold: float, max_tags: int = MAX_TAGS, relative: bool = False
) -> list[list[int]]:
    """Always the most likely tag, then every other tag at or above `threshold`, most likely first.

    With `relative` a tag's probability is first divided by the most likely tag's: a paper whose top tag
    is sure needs a surer second tag than a paper the model finds hard."""
    if relative:
        probabilities = decision_scores(probabilities)
    # A stable sort on the negated rows: equal probabilities keep taxonomy order, so ties are deterministic.
    order = np.argsort(-probabilities, axis=1, kind="stable")[:, :max_tags]
    ranked = np.take_along_axis(probabilities, order, axis=1)
    is_given = ranked >= threshold
    is_given[:, 0] = True
    return [
        [int(column) for column, given in zip(row, flags, strict=True) if given]
        for row, flags in zip(order, is_given, strict=True)
    ]


def decision_scores(probabilities: np.ndarray) -> np.ndarray:
    """Each probability divided by its row's largest (the relative rule's scale: the top tag scores 1)."""
    top = probabilities.max(axis=1, keepdims=True) if probabilities.size else probabilities
    return probabilities / np.maximum(top, 1e-12)


def logistic(logits: object) -> np.ndarray:
    values = np.asarray(logits, dtype=np.float64)
    return 1.0 / (1.0 + np.exp(-np.clip(values, -30.0, 30.0)))


def save_tagger(tagger: Tagger, directory: Path) -> None:
    """Two files with byte-identical content for identical training: JSON for what is read, safetensors."""
    directory.mkdir(parents=True, exist_ok=True)
    description = {
        "tags": list(tagger.tags),
        "threshold": tagger.threshold,
        "relative_threshold": tagger.relative,
        "ridge_weight": tagger.ridge_weight,
        "embedding_model": tagger.embedding_model,
        "provenance": tagger.provenance,
        "vocabulary": list(tagger.space.vocabulary),
    }
    (directory / ARTIFACT_JSON).write_text(json.dumps(description, indent=1, sort_keys=True) + "\n", "utf-8")
    arrays = {
        "coefficients": tagger.coefficients,
        "intercepts": tagger.intercepts,
        "idf": tagger.space.idf,
        "descriptions": tagger.space.descriptions,
    }
    if tagger.ridge_coefficients is not None and tagger.ridge_intercepts is not None:
        arrays |= {
            "ridge_coefficients": tagger.ridge_coefficients,
            "ridge_intercepts": tagger.ridge_intercepts,
        }
    save_file(
        {name: np.ascontiguousarray(array, dtype=np.float32) for name, array in arrays.items()},
        str(directory / ARTIFACT_WEIGHTS),
    )


def load_tagger_from(directory: Path) -> Tagger:
    description = json.loads((directory / ARTIFACT_JSON).read_text("utf-8"))
    arrays = load_file(str(directory / ARTIFACT_WEIGHTS))
    space = FeatureSpace(
        tags=tuple(description["tags"]),
        vocabulary=tuple(description["vocabulary"]),
        idf=arrays["idf"].astype(np.float64),
        descriptions=arrays["descriptions"].astype(np.float32),
    )
    return Tagger(
        space=space,
        coefficients=arrays["coefficients"].astype(np.float64),
        intercepts=arrays["intercepts"].astype(np.float64),
        threshold=float(description["threshold"]),
        relative=bool(description.get("relative_threshold", False)),
        ridge_coefficients=arrays["ridge_coefficients"].astype(np.float64)
        if "ridge_coefficients" in arrays
        else None,
        ridge_intercepts=arrays["ridge_intercepts"].astype(np.float64)
        if "ridge_intercepts" in arrays
        else None,
        ridge_weight=float(description.get("ridge_weight", 0.0)),
        embedding_model=str(description["embedding_model"]),
        provenance=dict(description["provenance"]),
    )


def packaged_tagger_directory() -> Path:
    return Path(str(resources.files("newsletter.tagging").joinpath("data")))


@cache
def load_tagger() -> Tagger:
    tagger = load_tagger_from(packaged_tagger_directory())
    if tagger.embedding_model != load_model().name:
        raise RuntimeError(
            f"the packaged tagger was trained on {tagger.embedding_model} embeddings but the packaged model"
            f" is {load_model().name}: run `newsletter tagger train`"
        )
    return tagger


@dataclass(frozen=True)
class TaggingInput:
    title: str
    abstract: str
    categories: tuple[str, ...] = ()


def tag_papers(papers: Sequence[PaperInput]) -> list[list[str]]:
    """1 to 3 tags for each paper, most likely first, with the packaged tagger and embedding model."""
    return load_tagger().tag(papers, load_model())


def tag_topics(title: str, text: str, categories: Sequence[str] = ()) -> list[str]:
    return tag_papers([TaggingInput(title or "", text or "", tuple(categories))])[0]
