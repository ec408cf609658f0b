"""Phrase evidence for each tag (data/topic_keywords.json) and arXiv categories: the learned tagger's
lexicon features, and the rule-based tags it is compared against."""

from __future__ import annotations

import json
import math
import re
from collections import Counter
from dataclasses import dataclass
from functools import cache
from importlib import resources

from newsletter.tagging.taxonomy import topic_names

MAX_TOPICS = 3
MAX_PHRASE_WORDS = 4
# The title names what a paper is about; the text mostly names the context.
TITLE_WEIGHT = 1.5
# Tuned on the tuning part of the first dev labels only (docs/tagging.md).
SECOND_TAG_RELATIVE = 0.4
THIRD_TAG_RELATIVE = 0.7
MIN_EXTRA_TAG_SCORE = 5.0
# Fewer points than this for a tag makes it a guess, used only when nothing stronger exists.
FALLBACK_TOPIC = "Theory"

# An arXiv category is strong evidence for some tags; cs.LG and stat.ML say little.
CATEGORY_EVIDENCE: dict[str, dict[str, float]] = {
    "cs.CL": {"NLP": 4.0, "Large Language Models": 2.0},
    "cs.CV": {"Computer Vision": 5.0},
    "eess.IV": {"Computer Vision": 3.0},
    "cs.RO": {"Robotics": 6.0},
    "cs.SD": {"Audio & Speech": 6.0},
    "eess.AS": {"Audio & Speech": 6.0},
    "cs.MM": {"Multimodal": 3.0},
    "cs.IR": {"NLP": 3.0},
    "cs.DC": {"Efficient ML": 4.0},
    "cs.AR": {"Efficient ML": 4.0},
    "cs.PF": {"Efficient ML": 3.0},
    "math.OC": {"Optimization": 5.0},
    "cs.GT": {"Theory": 2.0, "Reinforcement Learning": 1.0},
    "cs.DS": {"Theory": 3.0},
    "cs.IT": {"Theory": 3.0},
    "math.ST": {"Theory": 4.0},
    "stat.TH": {"Theory": 4.0},
    "cs.SI": {"Graph Learning": 4.0},
    "physics.soc-ph": {"Graph Learning": 2.0},
    "cs.CR": {"Federated Learning": 1.0},
    "cs.MA": {"Reinforcement Learning": 2.0},
    "cs.NE": {"Efficient ML": 1.0},
    "q-bio.NC": {"Theory": 2.0},
}

TOKEN = re.compile(r"[a-z0-9]+(?:[-.][a-z0-9]+)*")


@dataclass(frozen=True)
class TopicScore:
    topic: str
    score: float


def lexicon_tags(title: str, text: str, categories: tuple[str, ...] | list[str] = ()) -> list[str]:
    """The rule-based tags (the tagger before the learned one): kept as the baseline it is measured against."""
    ranked = score_topics(title, text, categories)
    if not ranked or ranked[0].score <= 0:
        return [_fallback(categories)]
    chosen = [ranked[0].topic]
    for position, candidate in enumerate(ranked[1:MAX_TOPICS], start=1):
        relative = SECOND_TAG_RELATIVE if position == 1 else THIRD_TAG_RELATIVE
        if candidate.score >= max(relative * ranked[0].score, MIN_EXTRA_TAG_SCORE):
            chosen.append(candidate.topic)
        else:
            break
    return chosen


def score_topics(title: str, text: str, categories: tuple[str, ...] | list[str] = ()) -> list[TopicScore]:
    lexicon = load_lexicon()
    scores: dict[str, float] = dict.fromkeys(topic_names(), 0.0)
    for weight, source in ((TITLE_WEIGHT, title), (1.0, text)):
        for phrase, count in _phrase_counts(source).items():
            for topic, phrase_weight in lexicon.get(phrase, ()):
                # Repetition adds evidence with diminishing returns: one noisy word must not dominate.
                scores[topic] += weight * phrase_weight * (1.0 + math.log(count))
    for category in categories:
        for topic, bonus in CATEGORY_EVIDENCE.get(category, {}).items():
            scores[topic] += bonus
    ranked = [TopicScore(topic, score) for topic, score in scores.items()]
    return sorted(ranked, key=lambda item: -item.score)


@cache
def load_lexicon() -> dict[str, tuple[tuple[str, float], ...]]:
    """Normalised phrase -> the tags it is evidence for, with weights (data/topic_keywords.json)."""
    raw = resources.files("newsletter.tagging").joinpath("data/topic_keywords.json").read_text("utf-8")
    by_phrase: dict[str, list[tuple[str, float]]] = {}
    for topic, phrases in json.loads(raw).items():
        for phrase, weight in phrases.items():
            key = " ".join(_normalize_tokens(phrase))
            by_phrase.setdefault(key, []).append((topic, float(weight)))
    return {phrase: tuple(entries) for phrase, entries in by_phrase.items()}


def _phrase_counts(text: str) -> Counter[str]:
    tokens = _normalize_tokens(text)
    counts: Counter[str] = Counter()
    for size in range(1, MAX_PHRASE_WORDS + 1):
        for start in range(len(tokens) - size + 1):
            counts[" ".join(tokens[start : start + size])] += 1
    return counts


def _normalize_tokens(text: str) -> list[str]:
    # Hyphens and plurals vary freely ("fine-tuning", "fine tuning", "LLMs"): fold them away.
    tokens = []
    for token in TOKEN.findall(text.lower().replace("-", " ")):
        if len(token) > 3 and token.endswith("s") and not token.endswith(("ss", "us", "is")):
            token = token[:-1]
        tokens.append(token)
    return tokens


def _fallback(categories: tuple[str, ...] | list[str]) -> str:
    for category in categories:
        for topic in CATEGORY_EVIDENCE.get(category, {}):
            return topic
    return FALLBACK_TOPIC
