"""Simulated readers: how much a reader's votes improve the top of their editions (docs/feedback.md, "How we
measure it").

The corpus's real papers (tests/fixtures/corpus/papers.json and the recorded Hugging Face Daily Papers) are
tagged by the product's tagger, embedded by the product's model and spread over `days` days, each day's
papers scored by the product's trending score. Each reader has a hidden interest written as rules on the
words of the title and abstract and on the tags (never on the embedding), follows the 2-3 topics such a
reader would, and votes on a few papers of each edition they open, 10 % of votes flipped. Every edition is
chosen by the product's `Selector` (caps, windows) with, once the reader has voted, their view from the
product's `ReaderViews` (blend, hidden papers; a day's voters together, as a build's chunk) of a model
fitted by the product's `fit_linear_model` from the votes cast before that day, beside the votes lent by
the readers `closest_readers` and `peer_votes` choose among those who voted so far. Nothing here ranks
papers.
"""

from __future__ import annotations

import json
import random
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path

import numpy as np
from scipy import sparse
from threadpoolctl import threadpool_limits

from benchmarks.reader_interests import INTERESTS, THEORY_INTERESTS, TITLE_END, HiddenInterest, Paper
from newsletter.config import Settings
from newsletter.digests.select import (
    DAILY_MAX_AGE,
    Candidate,
    Selector,
    Taste,
    scored_candidate,
    trending_order,
)
from newsletter.digests.trending import TrendingSignals
from newsletter.embeddings import embedding_text, load_model, load_vocabulary
from newsletter.embeddings.words import paper_words_text
from newsletter.feedback.personal import (
    BACKGROUND_PAPERS,
    PaperFeatures,
    ReaderTaste,
    closest_readers,
    fit_linear_model,
    peer_votes,
)
from newsletter.feedback.ranking import CandidateVectors, FeedbackPapers, ReaderViews
from newsletter.tagging import TaggingInput, tag_papers

ROOT = Path(__file__).resolve().parent.parent
CORPUS = ROOT / "tests" / "fixtures" / "corpus" / "papers.json"
DAILY_PAPERS = sorted((ROOT / "tests" / "fixtures" / "hf").glob("*/hf_daily_papers.json"))
FIRST_EDITION = datetime(2026, 11, 2, 8, 0, tzinfo=UTC)
TOP = 5
MAX_PAPERS = int(Settings.model_fields["default_max_papers"].default)
MAX_PER_TOPIC = int(Settings.model_fields["max_papers_per_topic"].default)
BEFORE_DAYS = (1, 2)
AFTER_FIRST_DAY = 6


@dataclass(frozen=True)
class Reader:
    index: int
    interest: HiddenInterest
    topics: frozenset[str]


@dataclass(frozen=True)
class SimulationConfig:
    readers: int = 1000
    days: int = 10
    seed: int = 0
    two_interests_rate: float = 0.3  # readers interested in two kinds of paper
    skips_theory_rate: float = 0.35  # readers who skip theory-heavy papers (not those who study theory)
    curious_rate: float = 0.75  # readers who follow one more topic than their interest needs
    opens_rate: float = 0.8  # editions a reader opens
    up_rate: float = 0.5  # a paper of interest the reader reads gets "more like this"
    down_rate: float = 0.25  # a paper not of interest the reader reads gets "less like this"
    votes_per_edition: int = 3  # at most
    flip_rate: float = 0.1  # votes cast the wrong way


@dataclass(frozen=True)
class EditionRecord:
    """One reader's edition on one day: what was picked with the votes cast before that day, what the
    trending order alone picks, and the votes cast on it."""

    reader: int
    day: int
    candidates: int
    interesting_candidates: int
    picks: tuple[int, ...]
    trending_picks: tuple[int, ...]
    is_personalized: bool
    votes: tuple[tuple[int, str], ...]


@dataclass
class Corpus:
    papers: list[Paper]
    vectors: np.ndarray  # row i: papers[i]
    words: sparse.csr_matrix  # row i: papers[i]'s word vector

    def features(self, rows: list[int]) -> PaperFeatures:
        return PaperFeatures(self.vectors[rows], sparse.csr_matrix(self.words[rows]))

    @property
    def by_id(self) -> dict[int, Paper]:
        return {paper.id: paper for paper in self.papers}


def load_corpus() -> Corpus:
    """The bundled real papers, tagged and embedded by the product, with their upvotes where known."""
    rows: list[tuple[str, str, int | None, int | None]] = [
        (paper["title"], paper["abstract"], paper.get("upvotes"), None)
        for paper in json.loads(CORPUS.read_text("utf-8"))
    ]
    for path in DAILY_PAPERS:
        for entry in json.loads(path.read_text("utf-8")):
            paper = entry["paper"]
            rows.append((paper["title"], paper["summary"], paper.get("upvotes"), paper.get("githubStars")))
    unique: dict[str, tuple[str, str, int | None, int | None]] = {}
    for row in rows:  # the listing pages repeat a few papers: each counts once, as first listed
        unique.setdefault(row[0].strip().lower(), row)
    rows = list(unique.values())
    tags = tag_papers([TaggingInput(title, abstract) for title, abstract, _, _ in rows])
    vectors = load_model().embed([embedding_text(title, abstract) for title, abstract, _, _ in rows])
    words = load_vocabulary().vectors(paper_words_text(title, abstract) for title, abstract, _, _ in rows)
    papers = [
        Paper(
            id=index + 1,
            arxiv_id=f"2611.{index + 1:05d}",
            title=title,
            words=f"{title}{TITLE_END}{abstract}".lower(),
            tags=tuple(paper_tags),
            upvotes=upvotes,
            stars=stars,
        )
        for index, ((title, abstract, upvotes, stars), paper_tags) in enumerate(zip(rows, tags, strict=True))
    ]
    return Corpus(papers, vectors, words)


def make_readers(config: SimulationConfig, corpus: Corpus, rng: random.Random) -> list[Reader]:
    tag_counts: dict[str, int] = {}
    for paper in corpus.papers:
        for tag in paper.tags:
            tag_counts[tag] = tag_counts.get(tag, 0) + 1
    tags = sorted(tag_counts)
    readers = []
    for index in range(config.readers):
        parts = [rng.choice(INTERESTS)]
        if rng.random() < config.two_interests_rate:
            parts.append(rng.choice([interest for interest in INTERESTS if interest is not parts[0]]))
        topics = list(parts[0].topics)
        if len(parts) == 2 and parts[1].topics[0] not in topics:
            topics.append(parts[1].topics[0])
        elif rng.random() < config.curious_rate:  # one more topic, the popular ones more often
            others = [tag for tag in tags if tag not in topics]
            topics.append(rng.choices(others, weights=[tag_counts[tag] for tag in others])[0])
        skips_theory = not THEORY_INTERESTS.intersection(part.name for part in parts) and (
            rng.random() < config.skips_theory_rate
        )
        readers.append(Reader(index, HiddenInterest(tuple(parts), skips_theory), frozenset(topics)))
    return readers


def edition_time(day: int) -> datetime:
    return FIRST_EDITION + timedelta(days=day - 1)


def spread_over_days(
    corpus: Corpus, days: int, rng: random.Random
) -> dict[int, list[tuple[Paper, datetime]]]:
    """Each paper appears on one day, published at a random moment of the 24 hours before that day's
    editions."""
    order = list(corpus.papers)
    rng.shuffle(order)
    by_day: dict[int, list[tuple[Paper, datetime]]] = {}
    for position, paper in enumerate(order):
        day = 1 + position * days // len(order)
        published = edition_time(day) - timedelta(minutes=rng.randint(30, 24 * 60 - 1))
        by_day.setdefault(day, []).append((paper, published))
    return by_day


def precision_at(picks: Sequence[int], is_interesting: dict[int, bool], top: int = TOP) -> float | None:
    """Share of the first `top` picks the reader is interested in (of the picks, if fewer); None: no pick."""
    head = picks[:top]
    return sum(is_interesting[paper_id] for paper_id in head) / len(head) if head else None


@dataclass
class ReaderState:
    votes: dict[int, str] = field(default_factory=dict)  # paper id -> up|down, in the order cast
    taste: ReaderTaste | None = None


class Simulation:
    def __init__(self, config: SimulationConfig, corpus: Corpus) -> None:
        self.config = config
        self.corpus = corpus
        self.rng = random.Random(config.seed)
        self.readers = make_readers(config, corpus, self.rng)
        self.by_day = spread_over_days(corpus, config.days, self.rng)
        self.row_of = {paper.id: row for row, paper in enumerate(corpus.papers)}
        # The topics each reader follows, as ids (the product's `followed_topics`).
        topic_id = {
            name: index for index, name in enumerate(sorted(set().union(*(r.topics for r in self.readers))))
        }
        self.topics_of = {
            reader.index: frozenset(topic_id[name] for name in reader.topics) for reader in self.readers
        }
        ids = [paper.id for paper in corpus.papers]
        self.vectors = CandidateVectors.of(ids, corpus.features(list(range(len(ids)))))
        self.feedback_papers = FeedbackPapers(
            {paper.id: corpus.vectors[row] for row, paper in enumerate(corpus.papers)},
            {paper.id: paper.title for paper in corpus.papers},
        )
        # What each reader would answer about each paper (readers with the same interest share one answer).
        answers: dict[HiddenInterest, dict[int, bool]] = {}
        self.interesting = [
            answers.setdefault(
                reader.interest, {paper.id: reader.interest.matches(paper) for paper in corpus.papers}
            )
            for reader in self.readers
        ]

    def run(self) -> list[EditionRecord]:
        states = [ReaderState() for _ in self.readers]
        voters: dict[int, set[int]] = {}  # paper id -> readers who voted on it
        tastes: dict[frozenset[str], Taste] = {}
        records = []
        arrived: list[int] = []  # paper ids, newest last
        for day in range(1, self.config.days + 1):
            now = edition_time(day)
            todays = self.by_day.get(day, [])
            candidates = trending_order(self._candidate(paper, published, now) for paper, published in todays)
            arrived.extend(paper.id for paper, _ in sorted(todays, key=lambda item: (item[1], item[0].id)))
            selector = Selector(candidates, {}, MAX_PER_TOPIC)
            since, fresh_after = now - timedelta(days=1), now - DAILY_MAX_AGE
            reader_tastes = {
                reader.index: state.taste
                for reader, state in zip(self.readers, states, strict=True)
                if state.taste is not None
            }
            relevant = {
                reader.index: selector.relevant_ids(tastes.setdefault(reader.topics, self._taste(reader)))
                for reader in self.readers
            }
            # What the edition build does for a chunk of readers who voted: all their views at once.
            views = ReaderViews(
                self.vectors,
                reader_tastes,
                self.feedback_papers,
                [candidate.id for candidate in candidates],
                {reader: relevant[reader] for reader in reader_tastes},
            )
            for reader, state in zip(self.readers, states, strict=True):
                taste = tastes[reader.topics]
                # Nothing of today's candidates was sent before: each paper comes on one day.
                trending = selector.select(taste, since, fresh_after, frozenset())
                edition = trending
                if reader.index in reader_tastes:
                    edition = selector.select(
                        taste, since, fresh_after, frozenset(), views.view(reader.index)
                    )
                picks = tuple(item.paper_id for item in edition.items)
                votes = self._votes(reader, picks)
                found = relevant[reader.index]
                records.append(
                    EditionRecord(
                        reader=reader.index,
                        day=day,
                        candidates=len(found),
                        interesting_candidates=sum(self.interesting[reader.index][i] for i in found),
                        picks=picks,
                        trending_picks=tuple(item.paper_id for item in trending.items),
                        is_personalized=reader.index in reader_tastes,
                        votes=votes,
                    )
                )
                if votes:
                    state.votes.update(votes)
                    for paper_id, _ in votes:
                        voters.setdefault(paper_id, set()).add(reader.index)
                    others = {
                        other: states[other].votes
                        for paper_id in state.votes
                        for other in voters[paper_id]
                        if other != reader.index
                    }
                    state.taste = self._refit(reader, state, arrived, others)
        return records

    def _taste(self, reader: Reader) -> Taste:
        return Taste(reader.topics, (), MAX_PAPERS)

    def _candidate(self, paper: Paper, published: datetime, now: datetime) -> Candidate:
        signals = TrendingSignals(paper.upvotes, paper.stars, published, None, None)
        return scored_candidate(paper.id, paper.arxiv_id, 1, paper.tags, signals, now, published)

    def _votes(self, reader: Reader, picks: tuple[int, ...]) -> tuple[tuple[int, str], ...]:
        """The reader opens the edition (or not), reads its first few papers and votes on some of them."""
        config, rng = self.config, self.rng
        if not picks or rng.random() >= config.opens_rate:
            return ()
        votes = []
        for paper_id in picks[: rng.randint(min(3, len(picks)), len(picks))]:
            wanted = self.interesting[reader.index][paper_id]
            if rng.random() >= (config.up_rate if wanted else config.down_rate):
                continue
            if rng.random() < config.flip_rate:
                wanted = not wanted
            votes.append((paper_id, "up" if wanted else "down"))
            if len(votes) == config.votes_per_edition:
                break
        return tuple(votes)

    def _refit(
        self, reader: Reader, state: ReaderState, arrived: list[int], others: dict[int, dict[int, str]]
    ) -> ReaderTaste | None:
        """What the product stores right after a vote: the model fitted on every vote so far and the votes
        readers like them lent, against the most recent papers the reader did not vote on, and the liked and
        hidden papers. `others`: the votes so far of every reader who voted on a paper this one voted on."""
        voted = sorted(state.votes)
        closest = closest_readers(state.votes, self.topics_of[reader.index], others, self.topics_of)
        lent = peer_votes(state.votes, closest, others)
        excluded = set(state.votes) | set(lent.paper_ids)
        background = [paper_id for paper_id in reversed(arrived) if paper_id not in excluded]
        background = sorted(background[:BACKGROUND_PAPERS])
        model = fit_linear_model(
            self.corpus.features([self.row_of[i] for i in voted]),
            [1 if state.votes[i] == "up" else 0 for i in voted],
            self.corpus.features([self.row_of[i] for i in background]),
            self.corpus.features([self.row_of[i] for i in lent.paper_ids]),
            lent,
        )
        liked = [paper_id for paper_id, vote in reversed(state.votes.items()) if vote == "up"]
        hidden = frozenset(paper_id for paper_id, vote in state.votes.items() if vote == "down")
        return ReaderTaste(
            weights=model.weights if model else None,
            intercept=model.intercept if model else 0.0,
            vote_count=len(voted) if model else 0,
            hidden_ids=hidden,
            liked_ids=tuple(liked),
            **({"word_ids": model.word_ids, "word_weights": model.word_weights} if model else {}),
        )


def simulate(
    config: SimulationConfig, corpus: Corpus | None = None
) -> tuple[Simulation, list[EditionRecord]]:
    # One thread for BLAS: a few thousand small fits are slower when threads fight over two cores.
    with threadpool_limits(limits=1):
        simulation = Simulation(config, corpus or load_corpus())
        return simulation, simulation.run()


def metrics(simulation: Simulation, records: Sequence[EditionRecord]) -> dict[str, float]:
    """The figures of docs/feedback.md: precision@5 before votes (days 1-2, the trending order every reader
    gets before their first vote), after (days 6+, the editions the readers got) and unpersonalized (days 6+,
    the trending order alone, same readers and candidates), with what bounds them."""
    interesting = simulation.interesting

    def mean_precision(selected: list[EditionRecord], trending: bool) -> float:
        values = [
            precision_at(record.trending_picks if trending else record.picks, interesting[record.reader])
            for record in selected
        ]
        kept = [value for value in values if value is not None]
        return sum(kept) / len(kept) if kept else 0.0

    before = [record for record in records if record.day in BEFORE_DAYS]
    after = [record for record in records if record.day >= AFTER_FIRST_DAY]
    after_precision = mean_precision(after, trending=False)
    unpersonalized = mean_precision(after, trending=True)
    readers = len(simulation.readers)
    votes_by_day_5 = sum(len(record.votes) for record in records if record.day < AFTER_FIRST_DAY)
    return {
        "readers": readers,
        "days": simulation.config.days,
        "seed": simulation.config.seed,
        "precision_at_5_before": round(mean_precision(before, trending=True), 3),
        "precision_at_5_after": round(after_precision, 3),
        "precision_at_5_unpersonalized": round(unpersonalized, 3),
        "lift_at_5": round(after_precision - unpersonalized, 3),
        # A bound no order of the same candidates can beat: min(5, papers of interest) / min(5, picks).
        "precision_at_5_ceiling": round(
            sum(
                min(TOP, record.interesting_candidates) / min(TOP, len(record.picks))
                for record in after
                if record.picks
            )
            / max(sum(1 for record in after if record.picks), 1),
            3,
        ),
        "interest_share_of_candidates": round(
            sum(record.interesting_candidates for record in after)
            / max(sum(record.candidates for record in after), 1),
            3,
        ),
        "candidates_per_edition": round(sum(record.candidates for record in records) / len(records), 1),
        "editions_under_15_candidates_share": round(
            sum(record.candidates < 15 for record in records) / len(records), 3
        ),
        "votes_per_reader_before_day_6": round(votes_by_day_5 / readers, 2),
        "votes_per_reader": round(sum(len(record.votes) for record in records) / readers, 2),
        "up_vote_share": round(
            sum(vote == "up" for record in records for _, vote in record.votes)
            / max(sum(len(record.votes) for record in records), 1),
            3,
        ),
        "personalized_editions_after_share": round(
            sum(record.is_personalized for record in after) / max(len(after), 1), 3
        ),
    }


if __name__ == "__main__":  # python -m benchmarks.reader_simulation READERS SEED...: the spread over seeds
    import sys

    corpus = load_corpus()
    for seed in [int(word) for word in sys.argv[2:]] or [0]:
        simulation, records = simulate(SimulationConfig(readers=int(sys.argv[1]), seed=seed), corpus)
        print(json.dumps(metrics(simulation, records)), flush=True)
