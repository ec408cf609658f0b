"""Labeled papers (JSONL: title, abstract, topics, optional categories) and how tags are scored."""

from __future__ import annotations

import hashlib
import json
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path

from newsletter.errors import InvalidInput
from newsletter.tagging.taxonomy import topic_names


class LabelFileError(InvalidInput):
    """A labeled file that cannot be used: the message names the line and what is wrong."""


@dataclass(frozen=True)
class LabeledPaper:
    title: str
    abstract: str
    topics: tuple[str, ...]
    categories: tuple[str, ...] = ()


def read_labeled(path: Path) -> list[LabeledPaper]:
    known = set(topic_names())
    papers = []
    for number, line in enumerate(path.read_text("utf-8").splitlines(), start=1):
        if not line.strip():
            continue
        try:
            row = json.loads(line)
        except json.JSONDecodeError as error:
            raise LabelFileError(f"{path}:{number}: not JSON ({error.msg})") from error
        if not isinstance(row, dict) or not isinstance(row.get("title"), str):
            raise LabelFileError(f"{path}:{number}: expected an object with a title")
        topics = row.get("topics")
        if not isinstance(topics, list) or not 1 <= len(topics) <= 3 or len(set(topics)) != len(topics):
            raise LabelFileError(f"{path}:{number}: topics must be 1 to 3 distinct tags")
        unknown = [topic for topic in topics if topic not in known]
        if unknown:
            raise LabelFileError(
                f"{path}:{number}: tags outside the taxonomy: {', '.join(map(str, unknown))}"
            )
        categories = row.get("categories") or ()
        if isinstance(categories, str):
            categories = categories.split()
        papers.append(
            LabeledPaper(
                title=row["title"],
                abstract=str(row.get("abstract") or ""),
                topics=tuple(topics),
                categories=tuple(str(category) for category in categories),
            )
        )
    if not papers:
        raise LabelFileError(f"{path}: no labeled papers")
    return papers


def file_sha256(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


@dataclass
class TagCounts:
    true_positives: int = 0
    false_positives: int = 0
    false_negatives: int = 0

    @property
    def precision(self) -> float:
        given = self.true_positives + self.false_positives
        return self.true_positives / given if given else 0.0

    @property
    def recall(self) -> float:
        gold = self.true_positives + self.false_negatives
        return self.true_positives / gold if gold else 0.0

    @property
    def f1(self) -> float:
        denominator = 2 * self.true_positives + self.false_positives + self.false_negatives
        return 2 * self.true_positives / denominator if denominator else 0.0


@dataclass
class Scores:
    """Micro-averaged over every (paper, tag) pair, plus each tag's own counts."""

    papers: int = 0
    tags_given: int = 0
    tags_gold: int = 0
    overall: TagCounts = field(default_factory=TagCounts)
    per_tag: dict[str, TagCounts] = field(default_factory=dict)

    @property
    def micro_f1(self) -> float:
        return self.overall.f1

    @property
    def tags_per_paper(self) -> float:
        return self.tags_given / self.papers if self.papers else 0.0

    @property
    def gold_tags_per_paper(self) -> float:
        return self.tags_gold / self.papers if self.papers else 0.0

    def to_dict(self) -> dict[str, object]:
        return {
            "papers": self.papers,
            "micro_f1": round(self.micro_f1, 4),
            "precision": round(self.overall.precision, 4),
            "recall": round(self.overall.recall, 4),
            "tags_per_paper": round(self.tags_per_paper, 3),
            "gold_tags_per_paper": round(self.gold_tags_per_paper, 3),
            "per_tag": {
                tag: {
                    "gold": counts.true_positives + counts.false_negatives,
                    "given": counts.true_positives + counts.false_positives,
                    "precision": round(counts.precision, 3),
                    "recall": round(counts.recall, 3),
                    "f1": round(counts.f1, 3),
                }
                for tag, counts in sorted(self.per_tag.items())
            },
        }


def score_tags(gold: Sequence[Sequence[str]], given: Sequence[Sequence[str]]) -> Scores:
    scores = Scores(per_tag={tag: TagCounts() for tag in topic_names()})
    for gold_tags, given_tags in zip(gold, given, strict=True):
        gold_set, given_set = set(gold_tags), set(given_tags)
        scores.papers += 1
        scores.tags_gold += len(gold_set)
        scores.tags_given += len(given_set)
        for tag in gold_set | given_set:
            counts = scores.per_tag.setdefault(tag, TagCounts())
            if tag in gold_set and tag in given_set:
                counts.true_positives += 1
                scores.overall.true_positives += 1
            elif tag in given_set:
                counts.false_positives += 1
                scores.overall.false_positives += 1
            else:
                counts.false_negatives += 1
                scores.overall.false_negatives += 1
    return scores
