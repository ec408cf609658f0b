"""The questions every reader asks of stored summaries and topic links (written by `store.py`): a paper's
current summary, its tags, whether and since when it is summarized. SQL expressions only, so the site,
the email and the edition build ask them without loading the summarizer."""

from __future__ import annotations

from typing import Any

from sqlalchemy import ColumnElement, Exists, ScalarSelect, Select, SQLColumnExpression, func, or_, select
from sqlalchemy.dialects.postgresql import aggregate_order_by

from newsletter.models import Paper, PaperTopic, Summary, Topic
from newsletter.summaries.hashing import DEFAULT_LANGUAGE, input_hash_sql


def current_summary(paper_id: int | SQLColumnExpression[int]) -> Select[Summary]:
    """A paper's current (English) summary: the newest one stored (a changed text or backend adds a row).
    Given `Paper.id`, it is correlated to a query on papers."""
    return (
        select(Summary)
        .where(Summary.paper_id == paper_id, Summary.language == DEFAULT_LANGUAGE)
        .order_by(Summary.created_at.desc(), Summary.id.desc())
        .limit(1)
    )


def key_points_in_language(language: str, version_key: str) -> ScalarSelect[Any]:
    """The key points the LLM (`version_key`: its model and `language`) wrote in `language` for the
    paper's current text, as one array column of a query on `Paper`; None when there are none (not made
    yet, made for an older text, or refused by the guard): readers then get the English ones."""
    return (
        select(Summary.key_points)
        .where(
            Summary.paper_id == Paper.id,
            Summary.language == language,
            Summary.input_hash == input_hash_sql(version_key),
            Summary.fallback_reason.is_(None),
        )
        .order_by(Summary.created_at.desc(), Summary.id.desc())
        .limit(1)
        .correlate(Paper)
        .scalar_subquery()
    )


def current_key_points() -> ScalarSelect[Any]:
    """The current summary's key points, as one array column of a query on `Paper`."""
    return current_summary(Paper.id).with_only_columns(Summary.key_points).correlate(Paper).scalar_subquery()


def paper_tags() -> ScalarSelect[Any]:
    """The paper's topic names, primary first, as one array column of a query on `Paper`."""
    return (
        select(func.array_agg(aggregate_order_by(Topic.name, PaperTopic.rank)))
        .select_from(PaperTopic)
        .join(Topic, Topic.id == PaperTopic.topic_id)
        .where(PaperTopic.paper_id == Paper.id)
        .correlate(Paper)
        .scalar_subquery()
    )


def has_topic(topic: str) -> Exists:
    """The paper is tagged with this topic, given by name or slug."""
    return (
        select(PaperTopic.paper_id)
        .join(Topic, Topic.id == PaperTopic.topic_id)
        .where(PaperTopic.paper_id == Paper.id, is_topic(topic))
        .exists()
    )


def is_topic(topic: str) -> ColumnElement[bool]:
    """The topic row named `topic` by its name or its slug."""
    return or_(Topic.slug == topic, Topic.name == topic)


def first_summarized_at() -> ScalarSelect[Any]:
    """When the paper's first summary was stored, as a column of a query on `Paper` (None: never)."""
    return (
        select(func.min(Summary.created_at))
        .where(Summary.paper_id == Paper.id)
        .correlate(Paper)
        .scalar_subquery()
    )


def is_summarized() -> Exists:
    """The paper has a stored summary (of any text or backend)."""
    return select(Summary.id).where(Summary.paper_id == Paper.id).exists()
