"""Keyword alerts stored before a pasted list's bullets were taken off ("- rlhf", "• LoRA", "1. agents") or
semicolons separated keywords ("RLHF; LoRA") are parsed again by the rule new ones follow
(`subscribers.validation.parse_keywords`): the bullet goes, a semicolon splits, case-insensitive copies
merge. A subscriber whose keywords would not pass that rule as they stand (more than the cap once split)
keeps them unchanged. Downgrading keeps the cleaned keywords: they are what the subscriber meant.

Revision ID: 0019
Revises: 0018
"""

from collections.abc import Sequence

import sqlalchemy as sa

from alembic import op
from newsletter.errors import InvalidInput
from newsletter.subscribers.validation import LIST_MARKER, parse_keywords

revision: str = "0019"
down_revision: str | None = "0018"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    connection = op.get_bind()
    affected = connection.execute(
        sa.text(
            """
            SELECT subscriber_id, array_agg(keyword ORDER BY id)
            FROM keyword_alerts
            WHERE subscriber_id IN (
                SELECT subscriber_id FROM keyword_alerts
                WHERE keyword ~ :marker OR strpos(keyword, ';') > 0
            )
            GROUP BY subscriber_id
            """
        ),
        # The rule's own pattern (Python's syntax here is also PostgreSQL's): only subscribers it changes.
        {"marker": LIST_MARKER.pattern},
    ).all()
    for subscriber_id, keywords in affected:
        try:
            cleaned = parse_keywords("\n".join(keywords))
        except InvalidInput:
            continue
        if cleaned == list(keywords):
            continue
        connection.execute(
            sa.text("DELETE FROM keyword_alerts WHERE subscriber_id = :id"), {"id": subscriber_id}
        )
        connection.execute(
            sa.text(
                "INSERT INTO keyword_alerts (subscriber_id, keyword) SELECT :id, unnest(CAST(:keywords AS text[]))"
            ),
            {"id": subscriber_id, "keywords": cleaned},
        )


def downgrade() -> None:
    pass
