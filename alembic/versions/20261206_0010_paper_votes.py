"""Readers' votes on papers (latest per subscriber and paper).

Revision ID: 0010
Revises: 0009
"""

from collections.abc import Sequence

import sqlalchemy as sa

from alembic import op

revision: str = "0010"
down_revision: str | None = "0009"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "paper_votes",
        sa.Column("subscriber_id", sa.BigInteger(), nullable=False),
        sa.Column("paper_id", sa.BigInteger(), nullable=False),
        sa.Column("vote", sa.String(length=4), nullable=False),
        sa.Column("voted_at", sa.DateTime(timezone=True), server_default=sa.text("now()"), nullable=False),
        sa.CheckConstraint("vote IN ('up', 'down')", name=op.f("ck_paper_votes_vote")),
        sa.ForeignKeyConstraint(
            ["paper_id"], ["papers.id"], name=op.f("fk_paper_votes_paper_id_papers"), ondelete="CASCADE"
        ),
        sa.ForeignKeyConstraint(
            ["subscriber_id"],
            ["subscribers.id"],
            name=op.f("fk_paper_votes_subscriber_id_subscribers"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("subscriber_id", "paper_id", name=op.f("pk_paper_votes")),
    )
    op.create_index(op.f("ix_paper_votes_paper_id"), "paper_votes", ["paper_id"], unique=False)


def downgrade() -> None:
    op.drop_index(op.f("ix_paper_votes_paper_id"), table_name="paper_votes")
    op.drop_table("paper_votes")
