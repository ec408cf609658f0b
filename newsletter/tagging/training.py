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
from sklearn.linear_model import LogisticRegression, Ridge
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
from newsletter.tagging.model import MAX_TAGS, Tagger, choose_tags, decision_scores, logistic, save_tagger
from newsletter.tagging.taxonomy import load_taxonomy

# The editor gives 2.25 tags per paper (27 tags on the 12 labeled examples): the threshold is set so the
# tagger gives as many on papers it was not trained on.
EDITOR_TAGS_PER_PAPER = 2.25
REGULARIZATION_CHOICES = (1.0, 4.0, 16.0)
# "balanced" weighs a tag's few papers up: rare tags (Audio & Speech, Robotics) otherwise go unlearned.
CLASS_WEIGHT_CHOICES: tuple[str | None, ...] = (None, "balanced")
# The threshold on a tag's probability (False) or on its probability relative to the top tag's (True).
RELATIVE_CHOICES: tuple[bool, ...] = (False, True)
# How much of a least-squares (ridge) fit of the labels is averaged into the logistic probabilities: a
# second, differently regularized view of the same features, which steadies the ranking of tags.
RIDGE_WEIGHT_CHOICES: tuple[float, ...] = (0.0, 0.3, 0.6)
RIDGE_ALPHA = 1.0
FOLDS = 5
FOLD_SEED = 20261206


@dataclass(frozen=True)
class TrainingOptions:
    tags_per_paper: float = EDITOR_TAGS_PER_PAPER
    regularization_choices: tuple[float, ...] = REGULARIZATION_CHOICES
    class_weight_choices: tuple[str | None, ...] = CLASS_WEIGHT_CHOICES
    relative_choices: tuple[bool, ...] = RELATIVE_CHOICES
    ridge_weight_choices: tuple[float, ...] = RIDGE_WEIGHT_CHOICES
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
    relative: list[bool]
    ridge_weights: list[float]


@dataclass(frozen=True)
class TrainingSet:
    """Labeled papers with what depends on each paper alone (embedding, lexicon scores) computed once.

    `is_extra` marks papers that only ever train: they are in every training part of every cross-validation
    but never scored, so no choice (regularization, rule, threshold) is made on them."""

    papers: list[LabeledPaper]
    embeddings: np.ndarray
    lexicon: np.ndarray
    is_extra: np.ndarray  # (papers,) bool

    @classmethod
    def of(
        cls, papers: Sequence[LabeledPaper], model: EmbeddingModel, extra: Sequence[LabeledPaper] = ()
    ) -> TrainingSet:
        every = [*papers, *extra]
        return cls(
            every,
            embed_papers(every, model),
            lexicon_features(every, tuple(load_taxonomy())),
            np.arange(len(every)) >= len(papers),
        )

    def subset(self, indices: np.ndarray) -> TrainingSet:
        return TrainingSet(
            [self.papers[i] for i in indices],
            self.embeddings[indices],
            self.lexicon[indices],
            self.is_extra[indices],
        )

    def scored_and_extra(self) -> tuple[np.ndarray, np.ndarray]:
        return np.flatnonzero(~self.is_extra), np.flatnonzero(self.is_extra)


def label_matrix(papers: Sequence[LabeledPaper], tags: Sequence[str]) -> np.ndarray:
    return np.array([[tag in paper.topics for tag in tags] for paper in papers], dtype=np.int8)


def fit_tagger(
    papers: Sequence[LabeledPaper] | TrainingSet,
    model: EmbeddingModel,
    options: TrainingOptions = TrainingOptions(),
    extra: Sequence[LabeledPaper] = (),
) -> Tagger:
    """Fit on every paper given (and every `extra` one); regularization, rule and threshold from an inner
    cross-validation scored on `papers`, with the `extra` papers in each of its training parts."""
    data = papers if isinstance(papers, TrainingSet) else TrainingSet.of(papers, model, extra)
    choice = _choose_by_inner_folds(data, model, options)
    weights = _fit_weights(data, model, choice.regularization, choice.class_weight)
    return Tagger(
        space=weights.space,
        coefficients=weights.coefficients,
        intercepts=weights.intercepts,
        ridge_coefficients=weights.ridge_coefficients if choice.ridge_weight else None,
        ridge_intercepts=weights.ridge_intercepts if choice.ridge_weight else None,
        ridge_weight=choice.ridge_weight,
        threshold=choice.threshold,
        relative=choice.relative,
        embedding_model=model.name,
        provenance={
            "regularization": choice.regularization,
            "class_weight": choice.class_weight,
            "papers": len(data.papers),
        },
    )


def cross_validate(
    papers: Sequence[LabeledPaper],
    model: EmbeddingModel,
    options: TrainingOptions = TrainingOptions(),
    extra: Sequence[LabeledPaper] = (),
) -> CrossValidation:
    """Outer k-fold over `papers`: each fold is tagged by a tagger fitted (with its own inner choices) on
    the other folds plus every `extra` paper. Only `papers` are scored; `extra` papers only train."""
    data = TrainingSet.of(papers, model, extra)
    scored = len(papers)
    extra_indices = np.arange(scored, len(data.papers))
    given: list[list[str]] = [[] for _ in range(scored)]
    chosen_regularization: list[float] = []
    chosen_class_weights: list[object] = []
    chosen_thresholds: list[float] = []
    chosen_relative: list[bool] = []
    chosen_ridge_weights: list[float] = []
    for train, test in folds(scored, options.folds):
        tagger = fit_tagger(data.subset(np.concatenate([train, extra_indices])), model, options)
        chosen_regularization.append(float(tagger.provenance["regularization"]))  # type: ignore[arg-type]
        chosen_class_weights.append(tagger.provenance["class_weight"])
        chosen_thresholds.append(tagger.threshold)
        chosen_relative.append(tagger.relative)
        chosen_ridge_weights.append(tagger.ridge_weight)
        test_data = data.subset(test)
        probabilities = tagger.probabilities_of(
            paper_features(tagger.space, test_data.papers, test_data.embeddings, test_data.lexicon)
        )
        chosen = choose_tags(probabilities, tagger.threshold, relative=tagger.relative)
        for index, columns in zip(test, chosen, strict=True):
            given[index] = [tagger.tags[column] for column in columns]
    return CrossValidation(
        scores=score_tags([paper.topics for paper in papers], given),
        given=given,
        regularization=chosen_regularization,
        class_weights=chosen_class_weights,
        thresholds=chosen_thresholds,
        relative=chosen_relative,
        ridge_weights=chosen_ridge_weights,
    )


def threshold_for_cardinality(
    probabilities: np.ndarray, tags_per_paper: float, relative: bool = False
) -> float:
    """The threshold whose decisions give closest to `tags_per_paper` on these papers (higher on ties).

    A paper gets 1 tag, plus its 2nd and 3rd most likely when they reach the threshold: the mean count
    is 1 + the share of 2nd-ranked scores >= t + the share of 3rd-ranked ones >= t (the scores are the
    probabilities, or with `relative` the probabilities divided by the top one)."""
    if relative:
        probabilities = decision_scores(probabilities)
    ranked = -np.sort(-probabilities, axis=1)[:, 1:MAX_TAGS]
    candidates = np.unique(ranked)[::-1]
    means = 1.0 + (ranked[None, :, :] >= candidates[:, None, None]).sum(axis=2).mean(axis=1)
    gaps = np.abs(means - tags_per_paper)
    # argmin takes the first, i.e. the highest, of equally close thresholds.
    return float(candidates[int(np.argmin(gaps))]) if len(candidates) else 1.0


@dataclass(frozen=True)
class InnerChoice:
    regularization: float
    class_weight: str | None
    ridge_weight: float
    relative: bool
    threshold: float


def _choose_by_inner_folds(data: TrainingSet, model: EmbeddingModel, options: TrainingOptions) -> InnerChoice:
    """The regularization, class weighting, ridge weight, rule and threshold with the best micro-F1 over
    out-of-fold predictions of an inner cross-validation on `data`."""
    tags = tuple(load_taxonomy())
    scored, extra = data.scored_and_extra()
    gold = [data.papers[index].topics for index in scored]
    logits = {
        (class_weight, regularization): np.zeros((len(scored), len(tags)))
        for class_weight in options.class_weight_choices
        for regularization in options.regularization_choices
    }
    least_squares_part = np.zeros((len(scored), len(tags)))
    for train, test in folds(len(scored), options.folds):
        # One feature space and one ridge fit per inner fold, shared by every C and class weighting.
        training = data.subset(np.concatenate([scored[train], extra]))
        space, features, labels = _training_features(training, model)
        held_out = data.subset(scored[test])
        test_features = paper_features(space, held_out.papers, held_out.embeddings, held_out.lexicon)
        ridge_coefficients, ridge_intercepts = _fit_ridge(features, labels)
        least_squares_part[test] = np.clip(test_features @ ridge_coefficients.T + ridge_intercepts, 0.0, 1.0)
        for class_weight, regularization in logits:
            coefficients, intercepts = _fit_logistic(features, labels, regularization, class_weight)
            logits[class_weight, regularization][test] = test_features @ coefficients.T + intercepts
    best: tuple[float, InnerChoice] | None = None
    for class_weight in options.class_weight_choices:
        for regularization in options.regularization_choices:
            logistic_part = logistic(logits[class_weight, regularization])
            for ridge_weight in options.ridge_weight_choices:
                probabilities = (1.0 - ridge_weight) * logistic_part + ridge_weight * least_squares_part
                for relative in options.relative_choices:
                    threshold = threshold_for_cardinality(probabilities, options.tags_per_paper, relative)
                    chosen = choose_tags(probabilities, threshold, MAX_TAGS, relative)
                    f1 = score_tags(
                        gold, [[tags[column] for column in columns] for columns in chosen]
                    ).micro_f1
                    if best is None or f1 > best[0] + 1e-9:
                        best = (
                            f1,
                            InnerChoice(regularization, class_weight, ridge_weight, relative, threshold),
                        )
    assert best is not None
    return best[1]


@dataclass(frozen=True)
class FittedWeights:
    space: FeatureSpace
    coefficients: np.ndarray
    intercepts: np.ndarray
    ridge_coefficients: np.ndarray
    ridge_intercepts: np.ndarray


def _training_features(data: TrainingSet, model: EmbeddingModel) -> tuple[FeatureSpace, Any, np.ndarray]:
    space = fit_feature_space(data.papers, load_taxonomy(), model)
    features = paper_features(space, data.papers, data.embeddings, data.lexicon)
    return space, features, label_matrix(data.papers, space.tags)


def _fit_logistic(
    features: Any, labels: np.ndarray, regularization: float, class_weight: str | None
) -> tuple[np.ndarray, np.ndarray]:
    """One-vs-rest logistic regressions: (tags, features) coefficients and (tags,) intercepts."""
    coefficients = np.zeros((labels.shape[1], features.shape[1]))
    intercepts = np.zeros(labels.shape[1])
    for column in range(labels.shape[1]):
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
    return coefficients, intercepts


def _fit_ridge(features: Any, labels: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    # One least-squares fit for all tags at once (conjugate gradient on the sparse features: no randomness).
    ridge = Ridge(alpha=RIDGE_ALPHA, solver="sparse_cg").fit(features, labels.astype(np.float64))
    return (
        np.asarray(ridge.coef_, dtype=np.float64).reshape(labels.shape[1], -1),
        np.asarray(ridge.intercept_, dtype=np.float64).reshape(labels.shape[1]),
    )


def _fit_weights(
    data: TrainingSet, model: EmbeddingModel, regularization: float, class_weight: str | None
) -> FittedWeights:
    """The logistic regressions and the ridge fit, on all of `data`."""
    space, features, labels = _training_features(data, model)
    coefficients, intercepts = _fit_logistic(features, labels, regularization, class_weight)
    ridge_coefficients, ridge_intercepts = _fit_ridge(features, labels)
    return FittedWeights(space, coefficients, intercepts, ridge_coefficients, ridge_intercepts)


def folds(count: int, number: int) -> list[tuple[np.ndarray, np.ndarray]]:
    splitter = KFold(n_splits=min(number, count), shuffle=True, random_state=FOLD_SEED)
    return list(splitter.split(np.arange(count)))


REPORT_FILE = "tagger_report.json"


def train(
    labels_path: Path,
    output_dir: Path,
    options: TrainingOptions = TrainingOptions(),
    extra_paths: Sequence[Path] = (),
) -> dict[str, Any]:
    """Cross-validate on `labels_path` (with the `extra_paths` papers in every training part), fit on
    every labeled paper, write the artifact and its report; return the report."""
    papers = read_labeled(labels_path)
    extra = [paper for path in extra_paths for paper in read_labeled(path)]
    model = load_model()
    validation = cross_validate(papers, model, options, extra)
    tagger = fit_tagger(papers, model, options, extra)
    labels_sha256 = file_sha256(labels_path)
    extra_labels = {path.name: file_sha256(path) for path in extra_paths}
    tagger = replace(
        tagger,
        provenance={
            **tagger.provenance,
            "labels": labels_path.name,
            "labels_sha256": labels_sha256,
            "extra_labels": extra_labels,
        },
    )
    save_tagger(tagger, output_dir)
    baseline = score_tags(
        [paper.topics for paper in papers],
        [lexicon_tags(paper.title, paper.abstract, paper.categories) for paper in papers],
    )
    report: dict[str, Any] = {
        "labels": labels_path.name,
        "labels_sha256": labels_sha256,
        "extra_labels": extra_labels,
        "extra_papers": len(extra),
        "embedding_model": model.name,
        "target_tags_per_paper": options.tags_per_paper,
        "cross_validation": {
            "folds": options.folds,
            **validation.scores.to_dict(),
            "regularization_by_fold": validation.regularization,
            "class_weight_by_fold": validation.class_weights,
            "threshold_by_fold": [round(value, 4) for value in validation.thresholds],
            "relative_threshold_by_fold": validation.relative,
            "ridge_weight_by_fold": validation.ridge_weights,
        },
        "final_model": {
            "regularization": tagger.provenance["regularization"],
            "class_weight": tagger.provenance["class_weight"],
            "threshold": tagger.threshold,
            "relative_threshold": tagger.relative,
            "ridge_weight": tagger.ridge_weight,
        },
        "lexicon_baseline": {key: value for key, value in baseline.to_dict().items() if key != "per_tag"},
    }
    (output_dir / REPORT_FILE).write_text(json.dumps(report, indent=1, sort_keys=True) + "\n", "utf-8")
    return report
