"""The language a subscriber reads summaries in (offered only with an LLM configured).

Revision ID: 0012
Revises: 0011
"""

from collections.abc import Sequence

import sqlalchemy as sa

from alembic import op

revision: str = "0012"
down_revision: str | None = "0011"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.add_column(
        "subscribers",
        sa.Column("summary_language", sa.String(length=8), server_default="en", nullable=False),
    )


def downgrade() -> None:
    op.drop_column("subscribers", "summary_language")
