"""Factories for rows with sensible defaults; tests name only what matters to them."""

from __future__ import annotations

import itertools
from datetime import UTC, datetime, time

from sqlalchemy import select
from sqlalchemy.orm import Session

from newsletter.models import KeywordAlert, Paper, PaperTopic, Subscriber, SubscriberTopic, Summary, Topic

_sequence = itertools.count(1)

# Five papers on attention kernels and two on other things: the nearest neighbours of the first are the
# next four (similar-paper tests).
ATTENTION_PAPERS = {
    "2611.20001": (
        "FlashAttention-3: fast exact attention on GPUs",
        "We speed up attention kernels on GPUs.",
    ),
    "2611.20002": (
        "Faster attention kernels with tiling",
        "Attention kernels on GPUs run faster with tiling.",
    ),
    "2611.20003": ("Sparse attention for long sequences", "Sparse attention kernels for long GPU sequences."),
    "2611.20004": ("Quantized attention on GPUs", "Low-bit attention kernels on modern GPUs."),
    "2611.20005": ("Memory-efficient transformers", "Transformer attention with less GPU memory."),
    "2611.20006": ("Protein folding with diffusion", "A diffusion model folds proteins."),
    "2611.20007": ("Robot grasping from demonstrations", "Robots learn to grasp objects."),
}


def topic_ids(session: Session, names: list[str]) -> list[int]:
    rows = dict(session.execute(select(Topic.name, Topic.id).where(Topic.name.in_(names))).all())
    missing = set(names) - set(rows)
    assert not missing, f"unknown topics {missing}"
    return [rows[name] for name in names]


def make_paper(
    session: Session,
    *,
    title: str | None = None,
    abstract: str = "We study a problem and report results.",
    topics: list[str] | None = None,
    published_at: datetime | None = None,
    upvotes: int | None = None,
    stars: int | None = None,
    comments: int | None = None,
    version: int = 1,
    arxiv_id: str | None = None,
    summarized: bool = True,
) -> Paper:
    number = next(_sequence)
    paper = Paper(
        arxiv_id=arxiv_id or f"2611.{number:05d}",
        version=version,
        title=title or f"Paper number {number}",
        abstract=abstract,
        published_at=published_at or datetime(2026, 11, 20, 12, 0, tzinfo=UTC),
        hf_upvotes=upvotes,
        github_stars=stars,
        hf_num_comments=comments,
        is_on_arxiv=True,
        is_on_hf=upvotes is not None,
    )
    session.add(paper)
    session.flush()
    topics = topics if topics is not None else ["NLP"]
    for rank, topic_id in enumerate(topic_ids(session, topics)):
        session.add(PaperTopic(paper_id=paper.id, topic_id=topic_id, rank=rank))
    if summarized:
        session.add(
            Summary(
                paper_id=paper.id,
                input_hash=f"hash-{paper.id}",
                backend="extractive",
                backend_version="test",
                key_points=["One.", "Two.", "Three."],
                summary="A summary.",
                methodology="A method.",
                results="Some results.",
                implications="Some implications.",
                topics=topics,
            )
        )
    session.flush()
    return paper


def make_subscriber(
    session: Session,
    email: str | None = None,
    *,
    topics: list[str] | None = None,
    keywords: list[str] | None = None,
    status: str = "active",
    timezone: str = "UTC",
    send_time: time = time(7, 0),
    frequency: str = "daily",
    weekly_day: int = 0,
    max_papers: int = 10,
    wants_empty_note: bool = False,
) -> Subscriber:
    subscriber = Subscriber(
        email=email or f"reader{next(_sequence)}@example.org",
        status=status,
        timezone=timezone,
        send_time=send_time,
        frequency=frequency,
        weekly_day=weekly_day,
        max_papers=max_papers,
        wants_empty_note=wants_empty_note,
    )
    session.add(subscriber)
    session.flush()
    for topic_id in topic_ids(session, topics if topics is not None else ["NLP"]):
        session.add(SubscriberTopic(subscriber_id=subscriber.id, topic_id=topic_id))
    for keyword in keywords or []:
        session.add(KeywordAlert(subscriber_id=subscriber.id, keyword=keyword))
    session.flush()
    return subscriber
