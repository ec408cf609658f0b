"""The language a stored summary is written in: English, or a reader's language made by the LLM.

Revision ID: 0013
Revises: 0012
"""

from collections.abc import Sequence

import sqlalchemy as sa

from alembic import op

revision: str = "0013"
down_revision: str | None = "0012"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.add_column(
        "summaries", sa.Column("language", sa.String(length=8), server_default="en", nullable=False)
    )


def downgrade() -> None:
    op.drop_column("summaries", "language")
