"""Papers still waiting for a stage's work (a summary, an embedding), claimed for one run."""

from __future__ import annotations

from collections.abc import Sequence

from sqlalchemy import ColumnElement, select
from sqlalchemy.orm import Session

from newsletter.models import Paper


def claim_papers_lacking(
    session: Session, is_current: ColumnElement[bool], limit: int, among_ids: Sequence[int] | None = None
) -> list[Paper]:
    """Papers (of `among_ids` when given) for which `is_current` (an EXISTS over the stage's table) is
    false, newest first.

    Rows are claimed with FOR NO KEY UPDATE SKIP LOCKED: a second run at the same time takes other papers.
    """
    query = select(Paper).where(~is_current)
    if among_ids is not None:
        query = query.where(Paper.id.in_(list(among_ids)))
    query = (
        query.order_by(Paper.published_at.desc().nulls_last(), Paper.id)
        .limit(limit)
        .with_for_update(skip_locked=True, key_share=True)
    )
    return list(session.scalars(query))
