"""The learned tagger: the packaged artifact, its decision rule, bad input, deterministic training and an
honest cross-validation, the label file format, and the `newsletter tagger` commands."""

from dataclasses import replace
from pathlib import Path

import numpy as np
import pytest

from newsletter.embeddings import load_model
from newsletter.tagging import MAX_TAGS, load_tagger, tag_papers, tag_topics
from newsletter.tagging.labels import LabeledPaper, read_labeled
from newsletter.tagging.model import choose_tags, load_tagger_from, save_tagger
from newsletter.tagging.taxonomy import topic_names
from newsletter.tagging.training import (
    TrainingOptions,
    cross_validate,
    fit_tagger,
    folds,
    threshold_for_cardinality,
)

FIXTURES = Path(__file__).resolve().parent / "fixtures"
DEV_SET = FIXTURES / "topics_dev.jsonl"
# Small enough to train in seconds: one regularization, one class weighting and three folds.
QUICK = TrainingOptions(regularization_choices=(4.0,), class_weight_choices=("balanced",), folds=3)


@pytest.fixture(scope="module")
def dev_papers() -> list[LabeledPaper]:
    return read_labeled(DEV_SET)


def test_packaged_tagger_was_trained_on_the_packaged_embeddings_and_the_dev_labels():
    tagger = load_tagger()

    assert tagger.tags == topic_names()
    assert tagger.embedding_model == load_model().name
    assert tagger.coefficients.shape == (15, tagger.space.width)
    assert tagger.provenance["labels"] == "topics_dev.jsonl"
    assert list(tagger.provenance["extra_labels"]) == ["topics_added.jsonl", "topics_daily.jsonl"]  # type: ignore[call-overload]
    assert 0.0 < tagger.threshold < 1.0


def test_every_dev_paper_gets_one_to_three_distinct_taxonomy_tags(dev_papers):
    for tags in tag_papers(dev_papers):
        assert 1 <= len(tags) <= MAX_TAGS
        assert len(set(tags)) == len(tags)
        assert set(tags) <= set(topic_names())


def test_tags_follow_the_subject_of_the_paper():
    assert tag_topics("Federated Averaging with Heterogeneous Clients", "Clients train on private data.")[
        0
    ] == ("Federated Learning")
    assert "Audio & Speech" in tag_topics("Streaming Speech Recognition", "An ASR model for spoken audio.")
    assert "Robotics" in tag_topics("Dexterous Robot Manipulation", "A robot learns grasping from video.")
    kv_cache = tag_topics(
        "Evicting the KV Cache of Large Language Models",
        "LLM inference keeps a key-value cache; we compress it 4x with no loss on long-context benchmarks.",
    )
    assert {"Large Language Models", "Efficient ML"} <= set(kv_cache)


@pytest.mark.parametrize(
    ("title", "abstract"),
    [
        ("A New Method", ""),
        ("", ""),
        ("   ", "\x00\x00"),
        ("Graph neural networks", "We study message passing on graphs. " * 30_000),
        ("Обучение с подкреплением", "Мы предлагаем новый алгоритм обучения с подкреплением для роботов."),
        ("強化学習による自律走行", "本論文では自律走行のための新しい手法を提案する。"),
        ("\u202eevil\u202c title", "مقال عن الشبكات العصبية"),
        (
            r"$\mathcal{O}(\sqrt{T})$ Regret for \textsc{UCB}",
            r"We prove $\mathbb{E}[R_T] \le \tilde{O}(\sqrt{dT})$ via \cite{lattimore2020} and \ref{thm:1}.",
        ),
    ],
    ids=[
        "empty-abstract",
        "empty",
        "blank-nul",
        "1MB-abstract",
        "russian",
        "japanese",
        "rtl-arabic",
        "latex",
    ],
)
def test_bad_input_still_gets_one_to_three_tags(title, abstract):
    tags = tag_topics(title, abstract)

    assert 1 <= len(tags) <= MAX_TAGS
    assert set(tags) <= set(topic_names())


def test_decision_rule_gives_the_top_tag_then_those_above_the_threshold_at_most_three():
    probabilities = np.array(
        [
            [0.10, 0.20, 0.05, 0.01],  # nothing reaches the threshold: the top tag alone
            [0.90, 0.60, 0.50, 0.45],  # four reach it: the three most likely
            [0.30, 0.45, 0.44, 0.10],  # the top and the one above the threshold, most likely first
        ]
    )

    assert choose_tags(probabilities, threshold=0.44) == [[1], [0, 1, 2], [1, 2]]


def test_relative_rule_scales_each_paper_by_its_most_likely_tag():
    probabilities = np.array(
        [
            [0.95, 0.60, 0.05],  # 0.60 / 0.95 = 0.63: below 0.7
            [0.40, 0.30, 0.29],  # 0.30 / 0.40 = 0.75 and 0.29 / 0.40 = 0.725: both given
        ]
    )

    assert choose_tags(probabilities, threshold=0.7, relative=True) == [[0], [0, 1, 2]]
    assert choose_tags(probabilities, threshold=0.7) == [[0], [0]]


def test_threshold_is_set_to_give_the_asked_tags_per_paper():
    rng = np.random.default_rng(0)
    probabilities = rng.random((400, 15))

    for target in (1.5, 2.25, 2.8):
        for relative in (False, True):
            threshold = threshold_for_cardinality(probabilities, target, relative)
            given = np.mean([len(tags) for tags in choose_tags(probabilities, threshold, relative=relative)])
            assert abs(given - target) < 0.02


def test_training_is_deterministic_same_labels_same_artifact_bytes(dev_papers, tmp_path):
    model = load_model()
    for name in ("first", "second"):
        save_tagger(fit_tagger(dev_papers[:60], model, QUICK), tmp_path / name)

    for artifact in ("tagger.json", "tagger.safetensors"):
        assert (tmp_path / "first" / artifact).read_bytes() == (tmp_path / "second" / artifact).read_bytes()
    reloaded = load_tagger_from(tmp_path / "first")
    assert reloaded.tag(dev_papers[:5], model) == fit_tagger(dev_papers[:60], model, QUICK).tag(
        dev_papers[:5], model
    )


def test_cross_validation_never_sees_the_labels_of_the_papers_it_scores(dev_papers):
    """Relabeling every paper of one held-out fold leaves the tags predicted for them unchanged: neither
    the weights, the regularization nor the threshold that tagged them was chosen with their labels."""
    papers = dev_papers[:60]
    model = load_model()
    _, held_out = folds(len(papers), QUICK.folds)[0]
    relabeled = [
        replace(paper, topics=("Audio & Speech", "Robotics")) if index in set(held_out) else paper
        for index, paper in enumerate(papers)
    ]

    before = cross_validate(papers, model, QUICK)
    after = cross_validate(relabeled, model, QUICK)

    assert [after.given[index] for index in held_out] == [before.given[index] for index in held_out]
    # The relabeling does reach the folds that train on those papers.
    assert after.given != before.given
    assert len(before.thresholds) == len(before.regularization) == QUICK.folds


def test_extra_labeled_papers_train_every_fold_but_are_never_scored(dev_papers):
    papers, extra = dev_papers[:45], dev_papers[45:60]
    model = load_model()

    validation = cross_validate(papers, model, QUICK, extra)

    assert len(validation.given) == 45 and validation.scores.papers == 45
    # The extra papers change what the folds learn.
    assert validation.given != cross_validate(papers, model, QUICK).given
