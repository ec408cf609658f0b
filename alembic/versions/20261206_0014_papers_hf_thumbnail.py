"""Each paper's Hugging Face thumbnail (an image URL on Hugging Face's thumbnail host).

Revision ID: 0014
Revises: 0013
"""

from collections.abc import Sequence

import sqlalchemy as sa

from alembic import op

revision: str = "0014"
down_revision: str | None = "0013"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.add_column("papers", sa.Column("hf_thumbnail_url", sa.Text(), nullable=True))


def downgrade() -> None:
    op.drop_column("papers", "hf_thumbnail_url")
