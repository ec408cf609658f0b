"""A one-line TL;DR per paper and where it came from (Hugging Face's `ai_summary`).

Revision ID: 0007
Revises: 0006
"""

from collections.abc import Sequence

import sqlalchemy as sa

from alembic import op

revision: str = "0007"
down_revision: str | None = "0006"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.add_column("papers", sa.Column("tldr", sa.Text(), nullable=True))
    op.add_column("papers", sa.Column("tldr_source", sa.String(length=16), nullable=True))
    op.create_check_constraint(
        op.f("ck_papers_tldr_source"),
        "papers",
        "tldr_source IN ('hf') AND tldr IS NOT NULL OR tldr_source IS NULL",
    )


def downgrade() -> None:
    op.drop_constraint(op.f("ck_papers_tldr_source"), "papers", type_="check")
    op.drop_column("papers", "tldr_source")
    op.drop_column("papers", "tldr")
