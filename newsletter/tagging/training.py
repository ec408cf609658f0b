"""Training the tagger from labeled papers, and its honest estimate: nested cross-validation.

Everything chosen from data — the TF-IDF vocabulary, the regularization strength, the threshold — is
chosen inside the training part of each outer fold, from out-of-fold predictions of an inner
cross-validation; the outer folds are only scored. Same labels, same model: fixed fold seeds, liblinear,
and no other randomness.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

import numpy as np
from sklearn.linear_model import LogisticRegression
from sklearn.model_selection import KFold

from newsletter.embeddings.model import EmbeddingModel, load_model
from newsletter.tagging.features import (
    FeatureSpace,
    embed_papers,
    fit_feature_space,
    lexicon_features,
    paper_features,
)
from newsletter.tagging.labels import LabeledPaper, Scores, file_sha256, read_labeled, score_tags
from newsletter.tagging.lexicon import lexicon_tags
from newsletter.tagging.model import MAX_TAGS, Tagger, choose_tags, logistic, save_tagger
from newsletter.tagging.taxonomy import load_taxonomy

# The editor gives 2.25 tags per paper (27 tags on the 12 labeled examples): the threshold is set so the
# tagger gives as many on papers it was not trained on.
EDITOR_TAGS_PER_PAPER = 2.25
REGULARIZATION_CHOICES = (1.0, 4.0, 16.0)
# "balanced" weighs a tag's few papers up: rare tags (Audio & Speech, Robotics) otherwise go unlearned.
CLASS_WEIGHT_CHOICES: tuple[str | None, ...] = (None, "balanced")
FOLDS = 5
FOLD_SEED = 20261206


@dataclass(frozen=True)
class TrainingOptions:
    tags_per_paper: float = EDITOR_TAGS_PER_PAPER
    regularization_choices: tuple[float, ...] = REGULARIZATION_CHOICES
    class_weight_choices: tuple[str | None, ...] = CLASS_WEIGHT_CHOICES
    folds: int = FOLDS


@dataclass
class CrossValidation:
    scores: Scores
    # Each paper's tags from the tagger of the fold it was held out of.
    given: list[list[str]]
    # What each outer fold's inner cross-validation chose.
    regularization: list[float]
    class_weights: list[object]
    thresholds: list[float]


@dataclass(frozen=True)
class TrainingSet:
    """Labeled papers with what depends on each paper alone (embedding, lexicon scores) computed once."""

    papers: list[LabeledPaper]
    embeddings: np.ndarray
    lexicon: np.ndarray

    @classmethod
    def of(cls, papers: Sequence[LabeledPaper], model: EmbeddingModel) -> TrainingSet:
        papers = list(papers)
        return cls(papers, embed_papers(papers, model), lexicon_features(papers, tuple(load_taxonomy())))

    def subset(self, indices: np.ndarray) -> TrainingSet:
        return TrainingSet([self.papers[i] for i in indices], self.embeddings[indices], self.lexicon[indices])


def label_matrix(papers: Sequence[LabeledPaper], tags: Sequence[str]) -> np.ndarray:
    return np.array([[tag in paper.topics for tag in tags] for paper in papers], dtype=np.int8)


def fit_tagger(
    papers: Sequence[LabeledPaper] | TrainingSet,
    model: EmbeddingModel,
    options: TrainingOptions = TrainingOptions(),
) -> Tagger:
    """Fit on every paper given; regularization and threshold from an inner cross-validation on them."""
    data = papers if isinstance(papers, TrainingSet) else TrainingSet.of(papers, model)
    regularization, class_weight, threshold = _choose_by_inner_folds(data, model, options)
    coefficients, intercepts, space = _fit_weights(data, model, regularization, class_weight)
    return Tagger(
        space=space,
        coefficients=coefficients,
        intercepts=intercepts,
        threshold=threshold,
        embedding_model=model.name,
        provenance={
            "regularization": regularization,
            "class_weight": class_weight,
            "papers": len(data.papers),
        },
    )


def cross_validate(
    papers: Sequence[LabeledPaper], model: EmbeddingModel, options: TrainingOptions = TrainingOptions()
) -> CrossValidation:
    """Outer k-fold: each fold is tagged by a tagger fitted (with its own inner choices) on the others."""
    data = TrainingSet.of(papers, model)
    given: list[list[str]] = [[] for _ in data.papers]
    chosen_regularization: list[float] = []
    chosen_class_weights: list[object] = []
    chosen_thresholds: list[float] = []
    for train, test in folds(len(data.papers), options.folds):
        tagger = fit_tagger(data.subset(train), model, options)
        chosen_regularization.append(float(tagger.provenance["regularization"]))  # type: ignore[arg-type]
        chosen_class_weights.append(tagger.provenance["class_weight"])
        chosen_thresholds.append(tagger.threshold)
        probabilities = _probabilities(
            tagger.space, tagger.coefficients, tagger.intercepts, data.subset(test)
        )
        for index, columns in zip(test, choose_tags(probabilities, tagger.threshold), strict=True):
            given[index] = [tagger.tags[column] for column in columns]
    return CrossValidation(
        scores=score_tags([paper.topics for paper in data.papers], given),
        given=given,
        regularization=chosen_regularization,
        class_weights=chosen_class_weights,
        thresholds=chosen_thresholds,
    )


def threshold_for_cardinality(probabilities: np.ndarray, tags_per_paper: float) -> float:
    """The threshold whose decisions give closest to `tags_per_paper` on these papers (higher on ties).

    A paper gets 1 tag, plus its 2nd and 3rd most likely when they reach the threshold: the mean count
    is 1 + the share of 2nd-ranked probabilities >= t + the share of 3rd-ranked ones >= t."""
    ranked = -np.sort(-probabilities, axis=1)[:, 1:MAX_TAGS]
    candidates = np.unique(ranked)[::-1]
    means = 1.0 + (ranked[None, :, :] >= candidates[:, None, None]).sum(axis=2).mean(axis=1)
    gaps = np.abs(means - tags_per_paper)
    # argmin takes the first, i.e. the highest, of equally close thresholds.
    return float(candidates[int(np.argmin(gaps))]) if len(candidates) else 1.0


def _choose_by_inner_folds(
    data: TrainingSet, model: EmbeddingModel, options: TrainingOptions
) -> tuple[float, str | None, float]:
    """(regularization, class weight, threshold) with the best micro-F1 over out-of-fold predictions."""
    tags = tuple(load_taxonomy())
    gold = [paper.topics for paper in data.papers]
    best: tuple[float, float, str | None, float] | None = None
    for class_weight in options.class_weight_choices:
        for regularization in options.regularization_choices:
            probabilities = np.zeros((len(data.papers), len(tags)))
            for train, test in folds(len(data.papers), options.folds):
                coefficients, intercepts, space = _fit_weights(
                    data.subset(train), model, regularization, class_weight
                )
                probabilities[test] = _probabilities(space, coefficients, intercepts, data.subset(test))
            threshold = threshold_for_cardinality(probabilities, options.tags_per_paper)
            chosen = choose_tags(probabilities, threshold, MAX_TAGS)
            f1 = score_tags(gold, [[tags[column] for column in columns] for columns in chosen]).micro_f1
            if best is None or f1 > best[0] + 1e-9:
                best = (f1, regularization, class_weight, threshold)
    assert best is not None
    return best[1], best[2], best[3]


def _fit_weights(
    data: TrainingSet, model: EmbeddingModel, regularization: float, class_weight: str | None
) -> tuple[np.ndarray, np.ndarray, FeatureSpace]:
    space = fit_feature_space(data.papers, load_taxonomy(), model)
    features = paper_features(space, data.papers, data.embeddings, data.lexicon)
    labels = label_matrix(data.papers, space.tags)
    coefficients = np.zeros((len(space.tags), features.shape[1]))
    intercepts = np.zeros(len(space.tags))
    for column in range(len(space.tags)):
        target = labels[:, column]
        if target.min() == target.max():
            # A tag no training paper carries (or all do): a constant, very sure answer.
            intercepts[column] = 10.0 if target[0] else -10.0
            continue
        classifier = LogisticRegression(
            C=regularization, class_weight=class_weight, solver="liblinear", max_iter=1000
        )
        classifier.fit(features, target)
        coefficients[column] = classifier.coef_[0]
        intercepts[column] = classifier.intercept_[0]
    return coefficients, intercepts, space


def _probabilities(
    space: FeatureSpace, coefficients: np.ndarray, intercepts: np.ndarray, data: TrainingSet
) -> np.ndarray:
    features = paper_features(space, data.papers, data.embeddings, data.lexicon)
    return logistic(features @ coefficients.T + intercepts)


def folds(count: int, number: int) -> list[tuple[np.ndarray, np.ndarray]]:
    splitter = KFold(n_splits=min(number, count), shuffle=True, random_state=FOLD_SEED)
    return list(splitter.split(np.arange(count)))


REPORT_FILE = "tagger_report.json"


def train(
    labels_path: Path, output_dir: Path, options: TrainingOptions = TrainingOptions()
) -> dict[str, Any]:
    """Cross-validate, fit on every labeled paper, write the artifact and its report; return the report."""
    papers = read_labeled(labels_path)
    model = load_model()
    validation = cross_validate(papers, model, options)
    tagger = fit_tagger(papers, model, options)
    labels_sha256 = file_sha256(labels_path)
    tagger = replace(
        tagger, provenance={**tagger.provenance, "labels": labels_path.name, "labels_sha256": labels_sha256}
    )
    save_tagger(tagger, output_dir)
    baseline = score_tags(
        [paper.topics for paper in papers],
        [lexicon_tags(paper.title, paper.abstract, paper.categories) for paper in papers],
    )
    report: dict[str, Any] = {
        "labels": labels_path.name,
        "labels_sha256": labels_sha256,
        "embedding_model": model.name,
        "target_tags_per_paper": options.tags_per_paper,
        "cross_validation": {
            "folds": options.folds,
            **validation.scores.to_dict(),
            "regularization_by_fold": validation.regularization,
            "class_weight_by_fold": validation.class_weights,
            "threshold_by_fold": [round(value, 4) for value in validation.thresholds],
        },
        "final_model": {
            "regularization": tagger.provenance["regularization"],
            "class_weight": tagger.provenance["class_weight"],
            "threshold": tagger.threshold,
        },
        "lexicon_baseline": {key: value for key, value in baseline.to_dict().items() if key != "per_tag"},
    }
    (output_dir / REPORT_FILE).write_text(json.dumps(report, indent=1, sort_keys=True) + "\n", "utf-8")
    return report
