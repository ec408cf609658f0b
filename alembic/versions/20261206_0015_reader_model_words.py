"""Reader models learn from words as well as embeddings: the words that weigh most and their weights.

Revision ID: 0015
Revises: 0014
"""

from collections.abc import Sequence

import sqlalchemy as sa
from sqlalchemy.dialects import postgresql

from alembic import op

revision: str = "0015"
down_revision: str | None = "0014"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    # Existing models have no vocabulary: the stale-model sweep refits them with words.
    op.add_column("reader_models", sa.Column("word_vocabulary", sa.String(64), nullable=True))
    op.add_column(
        "reader_models",
        sa.Column("word_ids", postgresql.ARRAY(sa.Integer()), server_default="{}", nullable=False),
    )
    op.add_column(
        "reader_models",
        sa.Column("word_weights", postgresql.ARRAY(postgresql.REAL()), server_default="{}", nullable=False),
    )


def downgrade() -> None:
    op.drop_column("reader_models", "word_weights")
    op.drop_column("reader_models", "word_ids")
    op.drop_column("reader_models", "word_vocabulary")
